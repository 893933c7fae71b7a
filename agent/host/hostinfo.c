/* Host identity: see hostinfo.h. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "hostinfo.h"

static char *read_line(const HostRoot *root, HostArea area, const char *sub) {
        _cleanup_free_ char *p = hostroot_path(root, area, "%s", sub);
        char *s = NULL;

        if (p && read_one_line_file(p, &s) >= 0 && s[0])
                return s;
        free(s);
        return NULL;
}

/* Firmware placeholders that many boards ship instead of a real UUID. */
static bool product_uuid_usable(const char *u) {
        static const char *const bogus[] = {
                "00000000-0000-0000-0000-000000000000",
                "ffffffff-ffff-ffff-ffff-ffffffffffff",
                "03000200-0400-0500-0006-000700080009",
        };
        if (strlen(u) != 36)
                return false;
        for (size_t i = 0; i < ELEMENTSOF(bogus); i++)
                if (strcasecmp(u, bogus[i]) == 0)
                        return false;
        return true;
}

static bool machine_id_valid(const char *m) {
        if (strlen(m) != 32)
                return false;
        for (const char *p = m; *p; p++)
                if (!isxdigit((unsigned char) *p))
                        return false;
        return true;
}

/* "model name\t: QEMU..." -> "QEMU...", for the first processor only. */
static int cpuinfo_line(char *line, unsigned n, void *userdata) {
        HostInfo *h = userdata;
        char *colon = strchr(line, ':'), *value, **field = NULL;
        size_t kl;

        if (!colon)
                return 0;
        value = colon + 1 + strspn(colon + 1, " \t");
        kl = (size_t) (colon - line);
        while (kl > 0 && isspace((unsigned char) line[kl - 1]))
                kl--;
        line[kl] = 0;
        if (streq(line, "processor"))
                h->n_cpus++;
        else if (streq(line, "vendor_id"))
                field = &h->cpu_vendor;
        else if (streq(line, "model name"))
                field = &h->cpu_model;
        else if (streq(line, "flags"))
                field = &h->cpu_flags;
        if (field && !*field && !(*field = strdup(value)))
                return -ENOMEM;
        return 0;
}

static int read_cpuinfo(const HostRoot *root, HostInfo *h) {
        _cleanup_free_ char *path = hostroot_path(root, AREA_PROC, "cpuinfo");
        int r;

        if (!path)
                return -ENOMEM;
        r = read_lines(path, cpuinfo_line, h);
        return r == -ENOMEM ? r : 0; /* unreadable: the CPU fields stay null */
}

/* /proc/version: "Linux version 6.1.0-56-amd64 (...". */
static char *release_from_version(const HostRoot *root) {
        _cleanup_free_ char *v = read_line(root, AREA_PROC, "version");
        const char *p = v ? startswith(v, "Linux version ") : NULL;

        return p ? strndup(p, strcspn(p, " ")) : NULL;
}

int hostinfo_read(const HostRoot *root, HostInfo *ret) {
        HostInfo h = {};
        _cleanup_free_ char *uuid = NULL, *uptime = NULL;

        h.hostname = read_line(root, AREA_PROC, "sys/kernel/hostname");
        h.machine_id = read_line(root, AREA_ETC, "machine-id");
        if (h.machine_id && !machine_id_valid(h.machine_id))
                h.machine_id = (free(h.machine_id), NULL);
        h.boot_id = read_line(root, AREA_PROC, "sys/kernel/random/boot_id");
        h.kernel_release = read_line(root, AREA_PROC, "sys/kernel/osrelease");
        if (!h.kernel_release)
                h.kernel_release = release_from_version(root);
        h.cmdline = read_line(root, AREA_PROC, "cmdline");

        uuid = read_line(root, AREA_SYS, "class/dmi/id/product_uuid");
        if (uuid && product_uuid_usable(uuid)) {
                h.host_id = TAKE_PTR(uuid);
                h.host_id_source = "dmi-product-uuid";
        } else if (h.machine_id) {
                h.host_id = strdup(h.machine_id);
                h.host_id_source = "machine-id";
        }

        uptime = read_line(root, AREA_PROC, "uptime");
        if (uptime) {
                char *end;
                h.uptime_sec = strtod(uptime, &end);
                h.has_uptime = end != uptime;
        }

        if (read_cpuinfo(root, &h) < 0) {
                hostinfo_done(&h);
                return -ENOMEM;
        }
        *ret = h;
        return 0;
}

void hostinfo_done(HostInfo *h) {
        free(h->hostname);
        free(h->host_id);
        free(h->machine_id);
        free(h->boot_id);
        free(h->kernel_release);
        free(h->cmdline);
        free(h->cpu_vendor);
        free(h->cpu_model);
        free(h->cpu_flags);
        *h = (HostInfo) {};
}

bool cpu_flags_has(const char *flags, const char *flag) {
        size_t l = strlen(flag);

        for (const char *p = flags; p && (p = strstr(p, flag)); p += l)
                if ((p == flags || p[-1] == ' ') && (p[l] == ' ' || p[l] == 0))
                        return true;
        return false;
}

/* The path builder: see hostroot.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostroot.h"
#include "macro.h"

struct HostRoot {
        char *prefix;    /* "" for "/", else an absolute path without trailing '/' */
        char *state_dir; /* --state-dir: AREA_STATE as given, not under the prefix; NULL: default */
};

static const char *const area_dirs[_AREA_MAX] = {
        [AREA_SYS] = "/sys",   [AREA_PROC] = "/proc", [AREA_ETC] = "/etc", [AREA_CONFIG] = HOSTDEVD_CONFDIR,
        [AREA_BOOT] = "/boot", [AREA_DEV] = "/dev",   [AREA_RUN] = "/run",
        [AREA_LIB] = "/lib",   [AREA_STATE] = "/var/lib/hostdevd", [AREA_ROOT] = "",
};

int hostroot_new(const char *dir, HostRoot **ret) {
        _cleanup_free_ HostRoot *r = calloc(1, sizeof(HostRoot));
        size_t l;

        if (!r)
                return -ENOMEM;
        if (!dir)
                dir = "/";
        if (dir[0] != '/')
                return -EINVAL;

        r->prefix = realpath(dir, NULL);
        if (!r->prefix)
                return -errno;
        l = strlen(r->prefix);
        if (l == 1) /* "/" */
                r->prefix[0] = 0;
        *ret = TAKE_PTR(r);
        return 0;
}

HostRoot *hostroot_free(HostRoot *r) {
        if (r) {
                free(r->prefix);
                free(r->state_dir);
                free(r);
        }
        return NULL;
}

bool hostroot_is_host(const HostRoot *r) {
        return r->prefix[0] == 0;
}

const char *hostroot_prefix(const HostRoot *r) {
        return r->prefix;
}

char *hostroot_path(const HostRoot *r, HostArea area, const char *fmt, ...) {
        _cleanup_free_ char *sub = NULL;
        char *p;
        va_list ap;
        int n;

        if (area < 0 || area >= _AREA_MAX)
                return NULL;
        va_start(ap, fmt);
        n = vasprintf(&sub, fmt, ap);
        va_end(ap);
        if (n < 0)
                return NULL;

        if (area == AREA_STATE && r->state_dir) {
                if (asprintf(&p, "%s%s%s", r->state_dir, sub[0] && sub[0] != '/' ? "/" : "", sub) < 0)
                        return NULL;
                return p;
        }
        if (asprintf(&p, "%s%s%s%s", r->prefix, area_dirs[area],
                     sub[0] && sub[0] != '/' ? "/" : "", sub) < 0)
                return NULL;
        return p;
}

int hostroot_set_state_dir(HostRoot *r, const char *dir) {
        char *copy;
        size_t l;

        if (!dir || dir[0] != '/')
                return -EINVAL;
        copy = strdup(dir);
        if (!copy)
                return -ENOMEM;
        l = strlen(copy);
        while (l > 1 && copy[l - 1] == '/')
                copy[--l] = 0;
        free(r->state_dir);
        r->state_dir = copy;
        return 0;
}

const char *hostroot_strip(const HostRoot *r, const char *path) {
        size_t l = strlen(r->prefix);

        if (strncmp(path, r->prefix, l) != 0)
                return NULL;
        if (path[l] != '/' && path[l] != 0)
                return NULL;
        return path + l;
}

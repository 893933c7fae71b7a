/* pcimock: a test double of the kernel's side of PCI driver binding, in the
 * spirit of libvirt's tests/virpcimock.c. Preloaded (LD_PRELOAD) into
 * hostdevd or a unit test, it intercepts open/openat/write/close of the
 * driver-binding attributes under a fixture tree made by
 * tests/fixtures/mksysfs.py, and does what Linux 6.1 does on such a write
 * by moving the symlinks the kernel would move:
 *
 *   devices/.../D/driver_override   "X" sets it, "\n" (or "") clears it; > 4094 bytes EINVAL
 *   bus/pci/drivers/X/unbind  "D"   D bound to X: unbinds it (removes D/driver and
 *                                   drivers/X/D); otherwise ENODEV (unbind_store)
 *   bus/pci/drivers/X/bind    "D"   no such D, or X does not match D: ENODEV; D has
 *                                   a driver: EBUSY; a failing probe: its error
 *   bus/pci/drivers_probe     "D"   no such D: ENODEV; D has a driver: nothing; else
 *                                   binds the matching driver if it is registered
 *                                   (drivers/X exists); a failing probe leaves D
 *                                   unbound and the write succeeds (the kernel only
 *                                   logs it: __device_attach_driver ignores probe errors)
 *   bus/pci/drivers/X/new_id, remove_id   EPERM, logged: hostdevd must never use them
 *   devices/.../D/sriov_numvfs "N"  sriov_numvfs_store(): not a number EINVAL; more than
 *                                   sriov_totalvfs ERANGE; N as now: nothing; D without a
 *                                   driver ENOENT; from one non-zero count to another EBUSY;
 *                                   else the count is written. The VFs themselves are
 *                                   neither made nor removed (the real-kernel tier does
 *                                   that): a test reads the count and the log
 *   devices/.../D/sriov_drivers_autoprobe "0"/"1"  written; anything else EINVAL
 *   devices/.../D/mdev_supported_types/T/create "UUID"  create_store() and
 *                                   mdev_device_create() of Linux 6.1: not a UUID EINVAL; a UUID
 *                                   already a device's EEXIST; available_instances 0 ENOSPC (the
 *                                   parent driver's answer: a guess, drivers differ); else the
 *                                   device D/UUID appears as the kernel lays it out (mdev_type,
 *                                   remove, bus/mdev/devices/UUID, T/devices/UUID, bound to
 *                                   vfio_mdev, a new IOMMU group with its node dev/vfio/N) and
 *                                   available_instances goes down by one
 *   devices/.../D/UUID/remove "1"   remove_store(): not a number EINVAL, 0 nothing, else the
 *                                   device goes and available_instances goes up. (The kernel
 *                                   blocks here while the device is open; the mock does not.)
 *
 * Matching follows pci_bus_match(): with driver_override set only that driver
 * matches; without it, the device's native driver (the one whose id table
 * would claim it), which the mock reads from ROOT/meta/pcimock-native, lines
 * "ADDRESS DRIVER" written by mksysfs.py (a device missing there gets the
 * driver it is first unbound from, when that was not an override). vfio-pci
 * refuses bridges (vfio_pci_probe: header type not normal). Binding to
 * vfio-pci creates ROOT/dev/vfio/GROUP, the group's character device node
 * (a plain file here); unbinding the group's last vfio-pci member removes it.
 *
 * Configuration, read on every intercepted write:
 *   PCIMOCK_ROOT             the fixture root; unset: the mock does nothing (a test
 *                            may change it between trees)
 *   ROOT/meta/pcimock-faults injected failures, one per line:
 *       probe-fails ADDRESS [DRIVER]      the probe of ADDRESS (by DRIVER) fails with EIO
 *       write-fails ATTR ADDRESS ERRNO    writing ADDRESS (or to ADDRESS's ATTR, for
 *                                         driver_override) fails with ERRNO (EIO, EBUSY,
 *                                         ENODEV, EINVAL, EPERM) and does nothing
 *       write-waits ATTR ADDRESS          that write blocks, as a driver's remove() can,
 *                                         until ROOT/meta/pcimock-release exists (at most
 *                                         120 s); while it waits, ROOT/meta/pcimock-waiting
 *                                         holds "ATTR ADDRESS". Only the writing thread
 *                                         waits: the mock's lock is not held.
 * Every intercepted write is appended to ROOT/meta/pcimock.log as
 * "ATTR SUBJECT VALUE -> RESULT" (RESULT "ok" or an errno name).
 *
 * Under AddressSanitizer, preload with ASAN_OPTIONS=verify_asan_link_order=0
 * (the mock then sits before libasan, whose interceptors it calls through). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define MAX_TRACKED 4096
#define PAGE_SIZE_ 4096

typedef enum Attr {
        ATTR_NONE, ATTR_OVERRIDE, ATTR_BIND, ATTR_UNBIND, ATTR_PROBE, ATTR_NEW_ID, ATTR_REMOVE_ID,
        ATTR_NUMVFS, ATTR_AUTOPROBE, ATTR_MDEV_CREATE, ATTR_MDEV_REMOVE,
} Attr;

typedef struct Tracked {
        Attr attr;
        char *dir;   /* the device dir (driver_override) or driver dir (bind, unbind) */
} Tracked;

static Tracked tracked[MAX_TRACKED];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static int (*real_open)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static ssize_t (*real_write)(int, const void *, size_t);
static int (*real_close)(int);
static int (*real_dup)(int);
static int (*real_dup2)(int, int);
static int (*real_dup3)(int, int, int);

static void init_real(void) {
        if (real_write)
                return;
        real_open = dlsym(RTLD_NEXT, "open");
        real_openat = dlsym(RTLD_NEXT, "openat");
        real_close = dlsym(RTLD_NEXT, "close");
        real_dup = dlsym(RTLD_NEXT, "dup");
        real_dup2 = dlsym(RTLD_NEXT, "dup2");
        real_dup3 = dlsym(RTLD_NEXT, "dup3");
        real_write = dlsym(RTLD_NEXT, "write");
}

/* Read again when the variable changes: a unit test moves from tree to tree. */
static const char *mock_root(void) {
        static char root[PATH_MAX], seen[PATH_MAX];
        const char *e = getenv("PCIMOCK_ROOT");

        if (!e || !*e || strlen(e) >= sizeof seen)
                return NULL;
        if (strcmp(e, seen) != 0) {
                snprintf(seen, sizeof seen, "%s", e);
                if (!realpath(e, root))
                        root[0] = 0;
        }
        return root[0] ? root : NULL;
}

/* --- small file helpers (through the real functions) -------------------- */

static char *pathf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *pathf(const char *fmt, ...) {
        va_list ap;
        char *p;
        int k;

        va_start(ap, fmt);
        k = vasprintf(&p, fmt, ap);
        va_end(ap);
        if (k < 0)
                abort();
        return p;
}

static char *read_text(const char *path) {
        char buf[PAGE_SIZE_ * 4];
        ssize_t n;
        int fd;

        fd = real_open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return NULL;
        n = read(fd, buf, sizeof buf - 1);
        real_close(fd);
        if (n < 0)
                return NULL;
        buf[n] = 0;
        return strdup(buf);
}

static void write_text(const char *path, const char *text, bool append) {
        int fd = real_open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0644);

        if (fd < 0)
                return;
        if (real_write(fd, text, strlen(text)) < 0) {
                /* a test double: the test sees the effect, or not */
        }
        real_close(fd);
}

static char *link_basename(const char *path) {
        char buf[PATH_MAX];
        ssize_t n = readlink(path, buf, sizeof buf - 1);
        char *slash;

        if (n < 0)
                return NULL;
        buf[n] = 0;
        slash = strrchr(buf, '/');
        return strdup(slash ? slash + 1 : buf);
}

static const char *errno_name(int e) {
        switch (e) {
        case 0: return "ok";
        case EIO: return "EIO";
        case EBUSY: return "EBUSY";
        case ENODEV: return "ENODEV";
        case EINVAL: return "EINVAL";
        case EPERM: return "EPERM";
        default: return "error";
        }
}

static int errno_from_name(const char *s) {
        static const struct { const char *n; int e; } t[] = {
                { "EIO", EIO }, { "EBUSY", EBUSY }, { "ENODEV", ENODEV }, { "EINVAL", EINVAL }, { "EPERM", EPERM },
        };
        for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
                if (strcmp(s, t[i].n) == 0)
                        return t[i].e;
        return EIO;
}

/* --- the fixture's model -------------------------------------------------- */

/* The device dir of address name (as bus_find_device_by_name finds it). */
static char *device_dir(const char *root, const char *name) {
        char *link, *dir;

        if (!*name || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
                return NULL;
        link = pathf("%s/sys/bus/pci/devices/%s", root, name);
        dir = realpath(link, NULL);
        free(link);
        return dir;
}

static char *device_driver(const char *devdir) {
        char *p = pathf("%s/driver", devdir), *d = link_basename(p);
        free(p);
        return d;
}

static char *device_override(const char *devdir) {
        char *p = pathf("%s/driver_override", devdir), *t = read_text(p);
        free(p);
        if (!t)
                return NULL;
        t[strcspn(t, "\n")] = 0;
        if (!*t || strcmp(t, "(null)") == 0) {
                free(t);
                return NULL;
        }
        return t;
}

/* A line "KEY ADDR [REST]" of a meta file whose first words match. */
static char *meta_lookup(const char *root, const char *file, const char *key, const char *addr) {
        char *p = pathf("%s/meta/%s", root, file), *text = read_text(p), *line, *save = NULL, *out = NULL;

        free(p);
        for (line = text ? strtok_r(text, "\n", &save) : NULL; line && !out; line = strtok_r(NULL, "\n", &save)) {
                char k[64], a[64], rest[256] = "", more[64] = "";
                int n = sscanf(line, "%63s %63s %255s %63s", k, a, rest, more);

                if (key && n >= 2 && strcmp(k, key) == 0 && strcmp(a, addr) == 0)
                        out = pathf("%s %s", rest, more);
                else if (!key && n >= 2 && strcmp(k, addr) == 0)
                        out = strdup(a);
        }
        free(text);
        return out;
}

static char *native_driver(const char *root, const char *addr) {
        return meta_lookup(root, "pcimock-native", NULL, addr);
}

static bool probe_fails(const char *root, const char *addr, const char *driver) {
        char *v = meta_lookup(root, "pcimock-faults", "probe-fails", addr);
        bool fails = false;

        if (v) {
                char d[64] = "";
                fails = sscanf(v, "%63s", d) < 1 || strcmp(d, driver) == 0;
        }
        free(v);
        return fails;
}

/* An injected failure of writing subject to attr, as an errno (0: none). */
static int write_fault(const char *root, const char *attr, const char *subject) {
        char *p = pathf("%s/meta/pcimock-faults", root), *text = read_text(p), *line, *save = NULL;
        int e = 0;

        free(p);
        for (line = text ? strtok_r(text, "\n", &save) : NULL; line && !e; line = strtok_r(NULL, "\n", &save)) {
                char k[64], a[64], s[64], en[64];
                if (sscanf(line, "%63s %63s %63s %63s", k, a, s, en) == 4 && strcmp(k, "write-fails") == 0 &&
                    strcmp(a, attr) == 0 && strcmp(s, subject) == 0)
                        e = errno_from_name(en);
        }
        free(text);
        return e;
}

/* Whether writing subject to attr is to wait (a "write-waits" line). */
static bool write_waits(const char *root, const char *attr, const char *subject) {
        char *p = pathf("%s/meta/pcimock-faults", root), *text = read_text(p), *line, *save = NULL;
        bool w = false;

        free(p);
        for (line = text ? strtok_r(text, "\n", &save) : NULL; line && !w; line = strtok_r(NULL, "\n", &save)) {
                char k[64], a[64], s[64];
                w = sscanf(line, "%63s %63s %63s", k, a, s) == 3 && strcmp(k, "write-waits") == 0 &&
                    strcmp(a, attr) == 0 && strcmp(s, subject) == 0;
        }
        free(text);
        return w;
}

static bool is_bridge(const char *devdir) {
        char *p = pathf("%s/class", devdir), *c = read_text(p);
        bool b = c && strncmp(c, "0x0604", 6) == 0;

        free(p);
        free(c);
        return b;
}

static char *group_of(const char *devdir) {
        char *p = pathf("%s/iommu_group", devdir), *g = link_basename(p);
        free(p);
        return g;
}

/* "../" once per component of dir below ROOT/sys, so that a link placed in
 * dir reaches ROOT/sys/<target> (kernfs writes relative links). */
static char *rel_from(const char *root, const char *dir, const char *target) {
        const char *rest = dir + strlen(root) + strlen("/sys");
        size_t ups = 0;
        char *out;

        for (const char *s = rest; *s; s++)
                ups += *s == '/';
        out = calloc(ups * 3 + strlen(target) + 1, 1);
        if (!out)
                abort();
        for (size_t i = 0; i < ups; i++)
                memcpy(out + 3 * i, "../", 3);
        memcpy(out + 3 * ups, target, strlen(target) + 1);
        return out;
}

static bool group_has_vfio_member(const char *root, const char *group, const char *except) {
        char *p = pathf("%s/sys/kernel/iommu_groups/%s/devices", root, group);
        DIR *d = opendir(p);
        struct dirent *de;
        bool found = false;

        free(p);
        while (d && (de = readdir(d))) {
                char *dir, *drv;

                if (de->d_name[0] == '.' || strcmp(de->d_name, except) == 0)
                        continue;
                dir = device_dir(root, de->d_name);
                drv = dir ? device_driver(dir) : NULL;
                found = found || (drv && strcmp(drv, "vfio-pci") == 0);
                free(dir);
                free(drv);
        }
        if (d)
                closedir(d);
        return found;
}

/* --- the kernel's actions -------------------------------------------------- */

static void attach(const char *root, const char *devdir, const char *addr, const char *drv) {
        char *target = pathf("bus/pci/drivers/%s", drv), *rel = rel_from(root, devdir, target);
        char *link = pathf("%s/driver", devdir);
        char *drvdir = pathf("%s/sys/bus/pci/drivers/%s", root, drv);
        char *back = rel_from(root, drvdir, devdir + strlen(root) + strlen("/sys/"));
        char *backlink = pathf("%s/%s", drvdir, addr);

        if (symlink(rel, link) < 0 || symlink(back, backlink) < 0)
                fprintf(stderr, "pcimock: cannot link %s to %s: %m\n", addr, drv);
        if (strcmp(drv, "vfio-pci") == 0) {
                char *group = group_of(devdir);
                if (group) {
                        char *dev = pathf("%s/dev", root), *vfio = pathf("%s/dev/vfio", root);
                        char *node = pathf("%s/dev/vfio/%s", root, group);
                        (void) mkdir(dev, 0755);
                        (void) mkdir(vfio, 0755);
                        write_text(node, "", false);
                        free(dev);
                        free(vfio);
                        free(node);
                        free(group);
                }
        }
        free(target);
        free(rel);
        free(link);
        free(drvdir);
        free(back);
        free(backlink);
}

static void detach(const char *root, const char *devdir, const char *addr, const char *drv) {
        char *link = pathf("%s/driver", devdir), *backlink = pathf("%s/sys/bus/pci/drivers/%s/%s", root, drv, addr);

        (void) unlink(link);
        (void) unlink(backlink);
        if (strcmp(drv, "vfio-pci") == 0) {
                char *group = group_of(devdir);
                if (group && !group_has_vfio_member(root, group, addr)) {
                        char *node = pathf("%s/dev/vfio/%s", root, group);
                        (void) unlink(node);
                        free(node);
                }
                free(group);
        }
        free(link);
        free(backlink);
}

static bool driver_registered(const char *root, const char *drv) {
        char *p = pathf("%s/sys/bus/pci/drivers/%s", root, drv);
        struct stat st;
        bool ok = stat(p, &st) == 0 && S_ISDIR(st.st_mode);

        free(p);
        return ok;
}

/* pci_bus_match(): the override alone, else the native driver. */
static bool driver_matches(const char *root, const char *devdir, const char *addr, const char *drv) {
        char *ovr = device_override(devdir), *native = NULL;
        bool m;

        if (ovr)
                m = strcmp(ovr, drv) == 0;
        else {
                native = native_driver(root, addr);
                m = native && strcmp(native, drv) == 0;
        }
        free(ovr);
        free(native);
        return m;
}

/* really_probe(): 0, or the probe's error (the device stays unbound). */
static int probe(const char *root, const char *devdir, const char *addr, const char *drv) {
        if (strcmp(drv, "vfio-pci") == 0 && is_bridge(devdir))
                return EINVAL;
        if (probe_fails(root, addr, drv))
                return EIO;
        attach(root, devdir, addr, drv);
        return 0;
}

static int do_override(const char *root, const char *devdir, const char *value, size_t len) {
        char *p, *text;
        size_t n;

        (void) root;
        if (len >= PAGE_SIZE_ - 1)
                return EINVAL;
        n = strnlen(value, len);
        n = strcspn(value, "\n") < n ? strcspn(value, "\n") : n;
        text = n ? pathf("%.*s\n", (int) n, value) : strdup("(null)\n");
        p = pathf("%s/driver_override", devdir);
        write_text(p, text, false);
        free(p);
        free(text);
        return 0;
}

static int do_unbind(const char *root, const char *drvdir, const char *name) {
        const char *drv = strrchr(drvdir, '/') + 1;
        char *devdir = device_dir(root, name), *cur = devdir ? device_driver(devdir) : NULL;
        char *native = NULL, *ovr = NULL;
        int e = ENODEV;

        if (cur && strcmp(cur, drv) == 0) {
                native = native_driver(root, name);
                ovr = device_override(devdir);
                if (!native && !(ovr && strcmp(ovr, drv) == 0)) { /* learn it: the kernel had chosen it */
                        char *f = pathf("%s/meta/pcimock-native", root), *line = pathf("%s %s\n", name, drv);
                        write_text(f, line, true);
                        free(f);
                        free(line);
                }
                detach(root, devdir, name, drv);
                e = 0;
        }
        free(devdir);
        free(cur);
        free(native);
        free(ovr);
        return e;
}

static int do_bind(const char *root, const char *drvdir, const char *name) {
        const char *drv = strrchr(drvdir, '/') + 1;
        char *devdir = device_dir(root, name), *cur = NULL;
        int e = ENODEV;

        if (devdir && driver_matches(root, devdir, name, drv)) {
                cur = device_driver(devdir);
                e = cur ? EBUSY : probe(root, devdir, name, drv);
        }
        free(devdir);
        free(cur);
        return e;
}

static int do_probe(const char *root, const char *name) {
        char *devdir = device_dir(root, name), *cur = NULL, *cand = NULL;

        if (!devdir)
                return ENODEV;
        cur = device_driver(devdir);
        if (!cur) {
                cand = device_override(devdir);
                if (!cand)
                        cand = native_driver(root, name);
                if (cand && driver_registered(root, cand) && driver_matches(root, devdir, name, cand))
                        (void) probe(root, devdir, name, cand); /* errors are only logged by the kernel */
        }
        free(devdir);
        free(cur);
        free(cand);
        return 0;
}

/* Attributes of the device itself: faults name the device, not the value. */
static bool per_device(Attr a) {
        return a == ATTR_OVERRIDE || a == ATTR_NUMVFS || a == ATTR_AUTOPROBE || a == ATTR_MDEV_CREATE ||
               a == ATTR_MDEV_REMOVE;
}

static const char *attr_name(Attr a) {
        static const char *const n[] = { "none", "driver_override", "bind", "unbind", "drivers_probe", "new_id",
                                         "remove_id", "sriov_numvfs", "sriov_drivers_autoprobe", "mdev_create",
                                         "mdev_remove" };
        return n[a];
}

static int read_number(const char *path, long *ret) {
        char *t = read_text(path), *end;

        if (!t)
                return ENOENT;
        errno = 0;
        *ret = strtol(t, &end, 10);
        free(t);
        return errno || end == NULL ? EINVAL : 0;
}

/* sriov_numvfs_store() of Linux 6.1, without the VFs. */
static int do_numvfs(const char *devdir, const char *subject) {
        char *p, *end, *driver;
        long n, total, cur;
        struct stat st;
        int e;

        errno = 0;
        n = strtol(subject, &end, 0);
        if (errno || !*subject || *end || n < 0 || n > 65535)
                return EINVAL;
        p = pathf("%s/sriov_totalvfs", devdir);
        e = read_number(p, &total);
        free(p);
        if (!e) {
                p = pathf("%s/sriov_numvfs", devdir);
                e = read_number(p, &cur);
                free(p);
        }
        if (e)
                return e;
        if (n > total)
                return ERANGE;
        if (n == cur)
                return 0;
        driver = pathf("%s/driver", devdir);
        e = lstat(driver, &st) < 0 ? ENOENT : 0;
        free(driver);
        if (e)
                return e;
        if (n > 0 && cur > 0)
                return EBUSY;
        p = pathf("%s/sriov_numvfs", devdir);
        driver = pathf("%ld\n", n);
        write_text(p, driver, false);
        free(p);
        free(driver);
        return 0;
}

static int do_autoprobe(const char *devdir, const char *subject) {
        char *p;

        if (strcmp(subject, "0") != 0 && strcmp(subject, "1") != 0)
                return EINVAL;
        p = pathf("%s/sriov_drivers_autoprobe", devdir);
        write_text(p, strcmp(subject, "1") == 0 ? "1\n" : "0\n", false);
        free(p);
        return 0;
}

/* --- mediated devices --- */

static bool is_uuid(const char *s) {
        if (strlen(s) != 36)
                return false;
        for (int i = 0; i < 36; i++)
                if ((i == 8 || i == 13 || i == 18 || i == 23) ? s[i] != '-' : !strchr("0123456789abcdefABCDEF", s[i]))
                        return false;
        return true;
}

static int next_group(const char *root) {
        char *p = pathf("%s/sys/kernel/iommu_groups", root);
        DIR *d = opendir(p);
        struct dirent *de;
        int max = -1;

        free(p);
        while (d && (de = readdir(d))) {
                char *end;
                long n = strtol(de->d_name, &end, 10);

                if (de->d_name[0] != '.' && *end == 0 && n > max && n < INT_MAX)
                        max = (int) n;
        }
        if (d)
                closedir(d);
        return max + 1;
}

static void relink(const char *root, const char *dir, const char *name, const char *target) {
        char *rel = rel_from(root, dir, target), *link = pathf("%s/%s", dir, name);

        (void) unlink(link);
        if (symlink(rel, link) < 0)
                fprintf(stderr, "pcimock: cannot link %s: %m\n", link);
        free(rel);
        free(link);
}

static void link_at(const char *dir, const char *name, const char *target) {
        char *link = pathf("%s/%s", dir, name);

        if (symlink(target, link) < 0)
                fprintf(stderr, "pcimock: cannot link %s: %m\n", link);
        free(link);
}

static void add_available(const char *typedir, long delta) {
        char *p = pathf("%s/available_instances", typedir), *text;
        long n = 0;

        if (read_number(p, &n) == 0) {
                text = pathf("%ld\n", n + delta);
                write_text(p, text, false);
                free(text);
        }
        free(p);
}

static void mkdirs(const char *path) {
        char *p = strdup(path);

        for (char *s = p + 1; s && *s; s++)
                if (*s == '/') {
                        *s = 0;
                        (void) mkdir(p, 0755);
                        *s = '/';
                }
        (void) mkdir(p, 0755);
        free(p);
}

/* mdev_device_create() as Linux 6.1 lays the device out in sysfs. */
static int do_mdev_create(const char *root, const char *typedir, const char *subject) {
        char uuid[37], *bus, *parent, *type = strrchr(typedir, '/') + 1, *dev, *p, *groupdir, *node, *bus_target;
        long available = 1;
        int group;

        if (!is_uuid(subject))
                return EINVAL;
        for (int i = 0; i < 37; i++)
                uuid[i] = (char) (subject[i] >= 'A' && subject[i] <= 'F' ? subject[i] + 32 : subject[i]);
        bus = pathf("%s/sys/bus/mdev/devices/%s", root, uuid);
        if (access(bus, F_OK) == 0) {
                free(bus);
                return EEXIST;
        }
        p = pathf("%s/available_instances", typedir);
        if (read_number(p, &available) == 0 && available <= 0) {
                free(p);
                free(bus);
                return ENOSPC;
        }
        free(p);
        parent = strndup(typedir, (size_t) (strrchr(typedir, '/') - typedir));
        *strrchr(parent, '/') = 0; /* .../D/mdev_supported_types -> .../D */
        dev = pathf("%s/%s", parent, uuid);
        (void) mkdir(dev, 0755);
        p = pathf("%s/remove", dev);
        write_text(p, "", false);
        free(p);
        p = pathf("%s/uevent", dev);
        write_text(p, "MDEV_TYPE=", false);
        free(p);
        p = pathf("../mdev_supported_types/%s", type);
        link_at(dev, "mdev_type", p);
        free(p);
        p = pathf("%s/devices", typedir);
        mkdirs(p);
        free(p);
        p = pathf("%s/devices", typedir);
        bus_target = pathf("../../../%s", uuid);
        link_at(p, uuid, bus_target);
        free(bus_target);
        free(p);
        p = pathf("%s/sys/bus/mdev/devices", root);
        mkdirs(p);
        relink(root, p, uuid, dev + strlen(root) + strlen("/sys/"));
        free(p);

        group = next_group(root);
        groupdir = pathf("%s/sys/kernel/iommu_groups/%d/devices", root, group);
        mkdirs(groupdir);
        relink(root, groupdir, uuid, dev + strlen(root) + strlen("/sys/"));
        p = pathf("kernel/iommu_groups/%d", group);
        relink(root, dev, "iommu_group", p);
        free(p);
        p = pathf("%s/sys/bus/mdev/drivers/vfio_mdev", root);
        mkdirs(p);
        relink(root, p, uuid, dev + strlen(root) + strlen("/sys/"));
        relink(root, dev, "driver", "bus/mdev/drivers/vfio_mdev");
        free(p);
        p = pathf("%s/dev/vfio", root);
        mkdirs(p);
        node = pathf("%s/%d", p, group);
        write_text(node, "", false);
        free(node);
        free(p);
        add_available(typedir, -1);
        free(groupdir);
        free(dev);
        free(parent);
        free(bus);
        return 0;
}

static void rm_rf_dir(const char *dir) {
        DIR *d = opendir(dir);
        struct dirent *de;

        while (d && (de = readdir(d))) {
                char *p;

                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                p = pathf("%s/%s", dir, de->d_name);
                if (unlink(p) < 0)
                        rm_rf_dir(p);
                free(p);
        }
        if (d)
                closedir(d);
        (void) rmdir(dir);
}

/* remove_store() and mdev_device_remove(). */
static int do_mdev_remove(const char *root, const char *dev, const char *subject) {
        char *end, *uuid = strrchr(dev, '/') + 1, *type, *parent, *typedir, *group, *p;
        unsigned long v;

        errno = 0;
        v = strtoul(subject, &end, 0);
        if (errno || end == subject || *end)
                return EINVAL;
        if (v == 0)
                return 0;
        p = pathf("%s/mdev_type", dev);
        type = link_basename(p);
        free(p);
        group = group_of(dev);
        parent = strndup(dev, (size_t) (uuid - 1 - dev));
        typedir = pathf("%s/mdev_supported_types/%s", parent, type ? type : "");
        p = pathf("%s/devices/%s", typedir, uuid);
        (void) unlink(p);
        free(p);
        p = pathf("%s/sys/bus/mdev/devices/%s", root, uuid);
        (void) unlink(p);
        free(p);
        p = pathf("%s/sys/bus/mdev/drivers/vfio_mdev/%s", root, uuid);
        (void) unlink(p);
        free(p);
        if (group) {
                p = pathf("%s/sys/kernel/iommu_groups/%s", root, group);
                rm_rf_dir(p);
                free(p);
                p = pathf("%s/dev/vfio/%s", root, group);
                (void) unlink(p);
                free(p);
        }
        rm_rf_dir(dev);
        add_available(typedir, +1);
        free(typedir);
        free(parent);
        free(group);
        free(type);
        return 0;
}

/* The write of value to a tracked attribute: 0 or an errno. */
static int kernel_write(const Tracked *t, const char *buf, size_t len) {
        const char *root = mock_root();
        char *value = strndup(buf, len), *subject, *line, *logf;
        int e;

        if (!root) {
                free(value);
                return ENODEV;
        }
        if (!value)
                return ENOMEM;
        subject = strndup(value, strcspn(value, "\n")); /* sysfs_streq() ignores one trailing newline */
        if (!subject)
                abort();
        e = write_fault(root, attr_name(t->attr), per_device(t->attr) ? strrchr(t->dir, '/') + 1 : subject);
        if (!e)
                switch (t->attr) {
                case ATTR_OVERRIDE: e = do_override(root, t->dir, buf, len); break;
                case ATTR_UNBIND: e = do_unbind(root, t->dir, subject); break;
                case ATTR_BIND: e = do_bind(root, t->dir, subject); break;
                case ATTR_PROBE: e = do_probe(root, subject); break;
                case ATTR_NUMVFS: e = do_numvfs(t->dir, subject); break;
                case ATTR_AUTOPROBE: e = do_autoprobe(t->dir, subject); break;
                case ATTR_MDEV_CREATE: e = do_mdev_create(root, t->dir, subject); break;
                case ATTR_MDEV_REMOVE: e = do_mdev_remove(root, t->dir, subject); break;
                default: e = EPERM; /* new_id, remove_id: never */
                }
        logf = pathf("%s/meta/pcimock.log", root);
        line = pathf("%s %s %s -> %s\n", attr_name(t->attr),
                     t->dir ? strrchr(t->dir, '/') + 1 : "bus",
                     t->attr == ATTR_OVERRIDE ? (*subject ? subject : "\\n") : subject, errno_name(e));
        write_text(logf, line, true);
        free(logf);
        free(line);
        free(subject);
        free(value);
        return e;
}

/* --- interception ---------------------------------------------------------- */

static Attr classify(const char *root, const char *path, char **ret_dir) {
        size_t rl = strlen(root);
        const char *rest, *base = strrchr(path, '/');
        char *probe_path = pathf("%s/sys/bus/pci/drivers_probe", root);
        bool is_probe = strcmp(path, probe_path) == 0;

        free(probe_path);
        *ret_dir = NULL;
        if (strncmp(path, root, rl) != 0 || path[rl] != '/' || !base)
                return ATTR_NONE;
        if (is_probe)
                return ATTR_PROBE;
        rest = path + rl;
        if (strncmp(rest, "/sys/bus/pci/drivers/", 21) == 0) {
                const char *drv = rest + 21, *slash = strchr(drv, '/');
                Attr a = ATTR_NONE;

                if (!slash || slash != base)
                        return ATTR_NONE;
                a = strcmp(base, "/bind") == 0      ? ATTR_BIND
                    : strcmp(base, "/unbind") == 0  ? ATTR_UNBIND
                    : strcmp(base, "/new_id") == 0  ? ATTR_NEW_ID
                    : strcmp(base, "/remove_id") == 0 ? ATTR_REMOVE_ID
                                                      : ATTR_NONE;
                if (a != ATTR_NONE)
                        *ret_dir = strndup(path, (size_t) (base - path));
                return a;
        }
        if (strncmp(rest, "/sys/devices/", 13) == 0) {
                char *dir = strndup(path, (size_t) (base - path)), *name = strrchr(dir, '/') + 1;
                Attr a = ATTR_NONE;

                if (strcmp(base, "/create") == 0) {
                        /* .../D/mdev_supported_types/T/create */
                        name[-1] = 0;
                        if (strrchr(dir, '/') && strcmp(strrchr(dir, '/'), "/mdev_supported_types") == 0)
                                a = ATTR_MDEV_CREATE;
                        name[-1] = '/';
                } else if (strcmp(base, "/remove") == 0 && is_uuid(name))
                        a = ATTR_MDEV_REMOVE; /* .../D/UUID/remove */
                if (a != ATTR_NONE) {
                        *ret_dir = dir;
                        return a;
                }
                free(dir);
                a = strcmp(base, "/driver_override") == 0           ? ATTR_OVERRIDE
                         : strcmp(base, "/sriov_numvfs") == 0            ? ATTR_NUMVFS
                         : strcmp(base, "/sriov_drivers_autoprobe") == 0 ? ATTR_AUTOPROBE
                                                                          : ATTR_NONE;
                if (a != ATTR_NONE)
                        *ret_dir = strndup(path, (size_t) (base - path));
                return a;
        }
        return ATTR_NONE;
}

/* Leaves errno as the open left it: a caller reads it after a failure. */
static void maybe_track(int fd, int flags) {
        int saved = errno;
        const char *root;
        char proc[64], path[PATH_MAX], *dir;
        ssize_t n;
        Attr a;

        if (fd < 0 || fd >= MAX_TRACKED || (flags & O_ACCMODE) == O_RDONLY || !(root = mock_root())) {
                errno = saved;
                return;
        }
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
        n = readlink(proc, path, sizeof path - 1);
        if (n >= 0) {
                path[n] = 0;
                a = classify(root, path, &dir);
                if (a != ATTR_NONE) {
                        pthread_mutex_lock(&lock);
                        free(tracked[fd].dir);
                        tracked[fd] = (Tracked) { .attr = a, .dir = dir };
                        pthread_mutex_unlock(&lock);
                }
        }
        errno = saved;
}

static int mode_arg(int flags, va_list ap) {
        return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? va_arg(ap, int) : 0;
}

int open(const char *path, int flags, ...) {
        va_list ap;
        int mode, fd;

        init_real();
        va_start(ap, flags);
        mode = mode_arg(flags, ap);
        va_end(ap);
        fd = real_open(path, flags, mode);
        maybe_track(fd, flags);
        return fd;
}

int openat(int dir_fd, const char *path, int flags, ...) {
        va_list ap;
        int mode, fd;

        init_real();
        va_start(ap, flags);
        mode = mode_arg(flags, ap);
        va_end(ap);
        fd = real_openat(dir_fd, path, flags, mode);
        maybe_track(fd, flags);
        return fd;
}

/* The 64-bit and _FORTIFY_SOURCE entry points end in the same place. */
int open64(const char *path, int flags, ...) __attribute__((alias("open")));
int openat64(int dir_fd, const char *path, int flags, ...) __attribute__((alias("openat")));

int __open_2(const char *path, int flags);
int __open_2(const char *path, int flags) {
        return open(path, flags);
}
int __open64_2(const char *path, int flags) __attribute__((alias("__open_2")));

int __openat_2(int dir_fd, const char *path, int flags);
int __openat_2(int dir_fd, const char *path, int flags) {
        return openat(dir_fd, path, flags);
}
int __openat64_2(int dir_fd, const char *path, int flags) __attribute__((alias("__openat_2")));

/* A "write-waits" write: blocks until the test releases it, outside the lock. */
static void maybe_wait(int fd, const char *buf, size_t count) {
        const char *root = mock_root();
        char *dir = NULL, *subject, *waiting, *release;
        Attr attr;

        if (!root || fd < 0 || fd >= MAX_TRACKED)
                return;
        pthread_mutex_lock(&lock);
        attr = tracked[fd].attr;
        if (attr != ATTR_NONE && tracked[fd].dir)
                dir = strdup(tracked[fd].dir);
        pthread_mutex_unlock(&lock);
        if (attr == ATTR_NONE) {
                free(dir);
                return;
        }
        if (per_device(attr))
                subject = dir ? strdup(strrchr(dir, '/') + 1) : NULL;
        else
                subject = strndup(buf, count);
        if (subject)
                subject[strcspn(subject, "\n")] = 0;
        if (subject && write_waits(root, attr_name(attr), subject)) {
                char *note = pathf("%s %s\n", attr_name(attr), subject);
                struct stat st;

                waiting = pathf("%s/meta/pcimock-waiting", root);
                release = pathf("%s/meta/pcimock-release", root);
                write_text(waiting, note, false);
                for (int i = 0; i < 120 * 50 && stat(release, &st) < 0; i++)
                        usleep(20 * 1000);
                unlink(waiting);
                free(note);
                free(waiting);
                free(release);
        }
        free(subject);
        free(dir);
}

ssize_t write(int fd, const void *buf, size_t count) {
        Tracked t = {};
        int e;

        init_real();
        maybe_wait(fd, buf, count);
        if (fd >= 0 && fd < MAX_TRACKED) {
                pthread_mutex_lock(&lock);
                if (tracked[fd].attr != ATTR_NONE) {
                        t = tracked[fd];
                        e = kernel_write(&t, buf, count);
                        pthread_mutex_unlock(&lock);
                        if (e) {
                                errno = e;
                                return -1;
                        }
                        return (ssize_t) count;
                }
                pthread_mutex_unlock(&lock);
        }
        return real_write(fd, buf, count);
}

int close(int fd) {
        init_real();
        if (fd >= 0 && fd < MAX_TRACKED) {
                pthread_mutex_lock(&lock);
                free(tracked[fd].dir);
                tracked[fd] = (Tracked) {};
                pthread_mutex_unlock(&lock);
        }
        return real_close(fd);
}

/* A shell's "echo X > attr" opens, dup2()s to 1 and writes there. */
static int follow_dup(int old_fd, int new_fd) {
        if (new_fd < 0 || new_fd >= MAX_TRACKED || old_fd < 0 || old_fd >= MAX_TRACKED)
                return new_fd;
        pthread_mutex_lock(&lock);
        free(tracked[new_fd].dir);
        tracked[new_fd] = (Tracked) {};
        if (tracked[old_fd].attr != ATTR_NONE) {
                tracked[new_fd].attr = tracked[old_fd].attr;
                tracked[new_fd].dir = tracked[old_fd].dir ? strdup(tracked[old_fd].dir) : NULL;
        }
        pthread_mutex_unlock(&lock);
        return new_fd;
}

int dup(int fd) {
        init_real();
        return follow_dup(fd, real_dup(fd));
}

int dup2(int fd, int new_fd) {
        init_real();
        if (fd == new_fd)
                return real_dup2(fd, new_fd);
        return follow_dup(fd, real_dup2(fd, new_fd));
}

int dup3(int fd, int new_fd, int flags) {
        init_real();
        return follow_dup(fd, real_dup3(fd, new_fd, flags));
}

/* VFIO holders: see vfio-holders.h.
 *
 * The fd links in proc/<pid>/fd name files as the process sees them, in the
 * host's own namespace ("/dev/vfio/12"), whatever root hostdevd reads: so a
 * target is matched against the device area of the real root and of the
 * configured one (a fixture tree may point its links either way). */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/parse-util.h"
#include "pci-addr.h"
#include "vfio-holders.h"

#define MAX_CMDLINE (256 * 1024)

typedef struct Prefixes {
        char *vfio[2];       /* "<dev>/vfio/" of the host and of the root */
        const HostRoot *root;
} Prefixes;

static void prefixes_done(Prefixes *p) {
        for (size_t i = 0; i < ELEMENTSOF(p->vfio); i++)
                p->vfio[i] = (free(p->vfio[i]), NULL);
}

static int prefixes_init(const HostRoot *root, Prefixes *ret) {
        _cleanup_(hostroot_freep) HostRoot *host = NULL;
        int r;

        r = hostroot_new("/", &host);
        if (r < 0)
                return r;
        *ret = (Prefixes) { .root = root };
        ret->vfio[0] = hostroot_path(host, AREA_DEV, "vfio/");
        ret->vfio[1] = hostroot_path(root, AREA_DEV, "vfio/");
        if (!ret->vfio[0] || !ret->vfio[1])
                return -ENOMEM; /* the caller's cleanup frees the other */
        return 0;
}

/* "vfioN" of an iommufd device node: the group of the PCI function behind it. */
static int cdev_group(const HostRoot *root, const char *name) {
        _cleanup_free_ char *path = hostroot_path(root, AREA_SYS, "class/vfio-dev/%s/device/iommu_group", name);
        _cleanup_free_ char *group = NULL;
        int id, r;

        if (!path)
                return -ENOMEM;
        r = readlink_basename(path, &group);
        if (r < 0)
                return r;
        r = safe_atoi(group, &id);
        return r < 0 ? r : id;
}

/* The group a fd link target opens, -ENOENT when it is not a VFIO group. */
static int target_group(const Prefixes *p, const char *target) {
        for (size_t i = 0; i < ELEMENTSOF(p->vfio); i++) {
                const char *rest = startswith(target, p->vfio[i]), *dev;
                int id;

                if (!rest)
                        continue;
                if ((dev = startswith(rest, "devices/")) && startswith(dev, "vfio") && !strchr(dev, '/'))
                        return cdev_group(p->root, dev);
                if (safe_atoi(rest, &id) >= 0 && id >= 0 && isdigit((unsigned char) rest[0]))
                        return id;
                return -ENOENT; /* the container, /dev/vfio/vfio */
        }
        return -ENOENT;
}

static int cmp_int(const void *a, const void *b) {
        int x = *(const int *) a, y = *(const int *) b;
        return (x > y) - (x < y);
}

/* The distinct groups a process holds open, sorted. */
static int process_groups(const Prefixes *p, int proc_fd, const char *pid, int **ret, size_t *ret_n) {
        _cleanup_free_ char *fd_path = NULL;
        _cleanup_closedir_ DIR *d = NULL;
        _cleanup_free_ int *groups = NULL;
        size_t n = 0, cap = 0;
        struct dirent *de;
        int fd;

        if (asprintf(&fd_path, "%s/fd", pid) < 0)
                return -ENOMEM;
        fd = openat(proc_fd, fd_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno; /* gone, or not ours to read */
        d = fdopendir(fd);
        if (!d) {
                close(fd);
                return -errno;
        }
        while ((de = readdir(d))) {
                _cleanup_free_ char *target = NULL;
                int g;

                if (de->d_name[0] == '.' || readlinkat_malloc(dirfd(d), de->d_name, &target) < 0)
                        continue; /* closed meanwhile */
                g = target_group(p, target);
                if (g == -ENOMEM)
                        return g;
                if (g < 0)
                        continue;
                if (n == cap) {
                        int *ng = realloc(groups, sizeof(int) * (cap = cap ? cap * 2 : 4));
                        if (!ng)
                                return -ENOMEM;
                        groups = ng;
                }
                groups[n++] = g;
        }
        if (n > 1)
                qsort_safe(groups, n, sizeof(int), cmp_int);
        {
                size_t k = 0;
                for (size_t i = 0; i < n; i++)
                        if (k == 0 || groups[k - 1] != groups[i])
                                groups[k++] = groups[i];
                n = k;
        }
        *ret = TAKE_PTR(groups);
        *ret_n = n;
        return 0;
}

int qemu_cmdline_vm_name(const char *cmdline, size_t size, char **ret) {
        const char *end = cmdline + size, *arg = NULL;

        for (const char *a = cmdline; a < end; a += strnlen(a, (size_t) (end - a)) + 1)
                if ((streq(a, "-name") || streq(a, "--name")) && a + strlen(a) + 1 < end)
                        arg = a + strlen(a) + 1;
        if (!arg)
                return -ENOENT;

        /* QEMU option syntax: key=value pairs separated by ',', ",," a comma;
         * a first element without '=' is the implied key, "guest". */
        for (unsigned index = 0; *arg; index++) {
                _cleanup_free_ char *elem = malloc(strlen(arg) + 1);
                const char *v;
                size_t k = 0;

                if (!elem)
                        return -ENOMEM;
                for (; *arg; arg++) {
                        if (*arg == ',' && arg[1] == ',')
                                elem[k++] = *arg++;
                        else if (*arg == ',') {
                                arg++;
                                break;
                        } else
                                elem[k++] = *arg;
                }
                elem[k] = 0;
                v = startswith(elem, "guest=");
                if (!v && index == 0 && !strchr(elem, '='))
                        v = elem;
                if (v && *v) {
                        char *s = strdup(v);
                        if (!s)
                                return -ENOMEM;
                        *ret = s;
                        return 0;
                }
        }
        return -ENOENT;
}

static int read_identity(int proc_fd, const char *pid, char **ret_comm, char **ret_vm) {
        _cleanup_free_ char *comm = NULL, *cmdline = NULL, *path = NULL;
        size_t size = 0;
        int r;

        if (asprintf(&path, "%s/comm", pid) < 0)
                return -ENOMEM;
        r = read_one_line_at(proc_fd, path, &comm);
        if (r == -ENOMEM)
                return r;
        free(path);
        if (asprintf(&path, "%s/cmdline", pid) < 0)
                return -ENOMEM;
        {
                _cleanup_close_ int fd = openat(proc_fd, path, O_RDONLY | O_CLOEXEC);
                if (fd >= 0) {
                        cmdline = malloc(MAX_CMDLINE + 1);
                        if (!cmdline)
                                return -ENOMEM;
                        for (ssize_t n; size < MAX_CMDLINE && (n = read(fd, cmdline + size, MAX_CMDLINE - size)) > 0;)
                                size += (size_t) n;
                        cmdline[size] = 0;
                }
        }
        *ret_vm = NULL;
        if (cmdline && size > 0) {
                const char *slash = strrchr(cmdline, '/'); /* in argv[0]: it ends at the first NUL */
                bool qemu = startswith(comm ?: "", "qemu") || startswith(slash ? slash + 1 : cmdline, "qemu");
                if (qemu) {
                        r = qemu_cmdline_vm_name(cmdline, size, ret_vm);
                        if (r == -ENOMEM)
                                return r;
                }
        }
        *ret_comm = TAKE_PTR(comm);
        return 0;
}

static int add_holders(VfioHolder **h, size_t *n, const int *groups, size_t n_groups, pid_t pid,
                       const char *comm, const char *vm) {
        VfioHolder *nh = realloc(*h, sizeof(VfioHolder) * (*n + n_groups));

        if (!nh)
                return -ENOMEM;
        *h = nh;
        for (size_t i = 0; i < n_groups; i++) {
                VfioHolder *e = &nh[*n];
                *e = (VfioHolder) { .group = groups[i], .pid = pid };
                e->comm = comm ? strdup(comm) : NULL;
                e->vm_name = vm ? strdup(vm) : NULL;
                (*n)++;
                if ((comm && !e->comm) || (vm && !e->vm_name))
                        return -ENOMEM;
        }
        return 0;
}

static int cmp_holder(const void *a, const void *b) {
        const VfioHolder *x = a, *y = b;
        if (x->group != y->group)
                return (x->group > y->group) - (x->group < y->group);
        return (x->pid > y->pid) - (x->pid < y->pid);
}

static int scan_proc(const Prefixes *p, DIR *proc, VfioHolder **h, size_t *n) {
        struct dirent *de;
        int r;

        while ((de = readdir(proc))) {
                _cleanup_free_ int *groups = NULL;
                _cleanup_free_ char *comm = NULL, *vm = NULL;
                size_t n_groups = 0;
                int pid;

                if (!isdigit((unsigned char) de->d_name[0]) || safe_atoi(de->d_name, &pid) < 0 || pid <= 0)
                        continue;
                r = process_groups(p, dirfd(proc), de->d_name, &groups, &n_groups);
                if (r == -ENOMEM)
                        return r;
                if (r < 0 || n_groups == 0)
                        continue; /* vanished, not readable, or no VFIO */
                r = read_identity(dirfd(proc), de->d_name, &comm, &vm);
                if (r < 0)
                        return r;
                r = add_holders(h, n, groups, n_groups, pid, comm, vm);
                if (r < 0)
                        return r;
        }
        return 0;
}

int vfio_holders_scan(const HostRoot *root, VfioHolder **ret, size_t *ret_n) {
        _cleanup_free_ char *proc_path = hostroot_path(root, AREA_PROC, "%s", "");
        _cleanup_closedir_ DIR *proc = NULL;
        _cleanup_(prefixes_done) Prefixes p = {};
        VfioHolder *h = NULL;
        size_t n = 0;
        int r;

        if (!proc_path)
                return -ENOMEM;
        r = prefixes_init(root, &p);
        if (r < 0)
                return r;
        proc = opendir(proc_path);
        if (!proc) {
                if (errno != ENOENT)
                        return -errno;
                *ret = NULL; /* a root without procfs: nobody holds anything */
                *ret_n = 0;
                return 0;
        }
        r = scan_proc(&p, proc, &h, &n);
        if (r < 0) {
                vfio_holders_free(h, n);
                return r;
        }
        if (n > 0)
                qsort_safe(h, n, sizeof(VfioHolder), cmp_holder);
        *ret = h;
        *ret_n = n;
        return 0;
}

void vfio_holders_free(VfioHolder *h, size_t n) {
        for (size_t i = 0; h && i < n; i++) {
                free(h[i].comm);
                free(h[i].vm_name);
        }
        free(h);
}

int vfio_holders_copy(const VfioHolder *h, size_t n, VfioHolder **ret) {
        VfioHolder *c;

        if (n == 0) {
                *ret = NULL;
                return 0;
        }
        c = calloc(n, sizeof(VfioHolder));
        if (!c)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                c[i] = (VfioHolder) { .group = h[i].group, .pid = h[i].pid };
                if ((h[i].comm && !(c[i].comm = strdup(h[i].comm))) ||
                    (h[i].vm_name && !(c[i].vm_name = strdup(h[i].vm_name)))) {
                        vfio_holders_free(c, i + 1);
                        return -ENOMEM;
                }
        }
        *ret = c;
        return 0;
}

bool vfio_holders_equal(const VfioHolder *a, size_t n_a, const VfioHolder *b, size_t n_b) {
        if (n_a != n_b)
                return false;
        for (size_t i = 0; i < n_a; i++)
                if (a[i].group != b[i].group || a[i].pid != b[i].pid || !streq_ptr(a[i].comm, b[i].comm) ||
                    !streq_ptr(a[i].vm_name, b[i].vm_name))
                        return false;
        return true;
}

const VfioHolder *vfio_holders_find(const VfioHolder *h, size_t n, int group) {
        for (size_t i = 0; i < n; i++)
                if (h[i].group == group)
                        return &h[i];
        return NULL;
}

char *vfio_holder_describe(const VfioHolder *h) {
        char *s;
        int k;

        if (h->vm_name)
                k = asprintf(&s, "process %d (%s, VM '%s')", (int) h->pid, h->comm ?: "?", h->vm_name);
        else
                k = asprintf(&s, "process %d (%s)", (int) h->pid, h->comm ?: "?");
        return k < 0 ? NULL : s;
}

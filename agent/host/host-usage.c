/* Host usage: see host-usage.h.
 *
 * Block devices: /proc/self/mountinfo names each mount's device number
 * (major:minor, field 3) and its source; /sys/class/block/<name>/dev maps
 * numbers to names; a physical disk or partition resolves (realpath) into
 * the PCI device that hosts it, a virtual one (dm, md) is followed through
 * its slaves/ directory to the disks below, a native NVMe multipath disk
 * through its subsystem's controllers. btrfs reports an anonymous 0:N
 * number, so the mount source (/dev/X, /dev/mapper/NAME) is the fallback.
 * Network: /proc/net/route, /proc/net/ipv6_route and /proc/net/if_inet6 name
 * the interfaces with routes and global addresses; bridges, bonds and VLANs
 * are followed through their lower_* links down to physical interfaces. */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/macro.h"
#include "basic/strv.h"
#include "host-usage.h"

#define MAX_STACK_DEPTH 16 /* dm over md over partitions... deeper is a loop */

typedef struct UsageScan {
        const HostRoot *root;
        PciDevice *devices;
        size_t n;
} UsageScan;

/* Resolves a path under the root to its real location, which must stay
 * under the root; -ENOENT for a dangling link or one leading out. */
static int resolve_in_root(const UsageScan *s, const char *path, char **ret) {
        char *real = realpath(path, NULL);

        if (!real)
                return errno == ENOMEM ? -ENOMEM : -ENOENT;
        if (!hostroot_strip(s->root, real)) {
                free(real);
                return -ENOENT; /* a link out of the root: ignore it */
        }
        *ret = real;
        return 0;
}

/* Resolves <root>/sys/class/<cls>/<name> to its real sysfs directory. */
static int class_device_resolve(const UsageScan *s, const char *cls, const char *name, char **ret) {
        _cleanup_free_ char *link = hostroot_path(s->root, AREA_SYS, "class/%s/%s", cls, name);

        if (!link)
                return -ENOMEM;
        return resolve_in_root(s, link, ret);
}

static int dir_pci_ancestor(const UsageScan *s, const char *dir, char ret[static PCI_ADDR_STRLEN]) {
        return sysfs_path_pci_ancestor(hostroot_strip(s->root, dir), ret);
}

static int mark(const UsageScan *s, const char *addr, HostUsageKind kind, const char *detail) {
        PciDevice *d = pci_devices_find(s->devices, s->n, addr);

        if (!d)
                return 0;
        return pci_device_add_usage(d, kind, detail);
}

/* A disk (or partition) under devices/virtual/nvme-subsystem/nvme-subsysN: every
 * controller link nvmeZ in the subsystem directory leads to a PCI function.
 * Returns 1 when dir was such a disk, 0 when not, or -errno. */
static int mark_nvme_subsystem(const UsageScan *s, const char *dir, HostUsageKind kind, const char *detail) {
        _cleanup_free_ char *subsys = NULL;
        _cleanup_closedir_ DIR *d = NULL;
        const char *p = strstr(dir, "/nvme-subsystem/nvme-subsys");
        struct dirent *de;

        if (!p)
                return 0;
        p += strlen("/nvme-subsystem/");
        subsys = strndup(dir, (size_t) (p - dir) + strcspn(p, "/")); /* up to nvme-subsysN */
        if (!subsys)
                return -ENOMEM;
        d = opendir(subsys);
        if (!d)
                return 0;
        while ((de = readdir(d))) {
                _cleanup_free_ char *link = NULL, *real = NULL;
                char addr[PCI_ADDR_STRLEN];
                int r;

                if (!startswith(de->d_name, "nvme") || de->d_type != DT_LNK)
                        continue;
                if (asprintf(&link, "%s/%s", subsys, de->d_name) < 0)
                        return -ENOMEM;
                r = resolve_in_root(s, link, &real);
                if (r == -ENOMEM)
                        return r;
                if (r < 0 || dir_pci_ancestor(s, real, addr) < 0)
                        continue;
                r = mark(s, addr, kind, detail);
                if (r < 0)
                        return r;
        }
        return 1;
}

/* Marks the PCI devices below block device name (following slaves/). */
static int mark_block(const UsageScan *s, const char *name, HostUsageKind kind,
                      const char *detail, unsigned depth) {
        _cleanup_free_ char *dir = NULL;
        char addr[PCI_ADDR_STRLEN];
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        int r;

        if (depth > MAX_STACK_DEPTH || strchr(name, '/') || name[0] == '.')
                return 0;
        r = class_device_resolve(s, "block", name, &dir);
        if (r < 0)
                return r == -ENOMEM ? r : 0;
        if (dir_pci_ancestor(s, dir, addr) >= 0)
                return mark(s, addr, kind, detail);

        /* Native NVMe multipath: the disk hangs off the subsystem, whose
         * controllers are the PCI functions. */
        r = mark_nvme_subsystem(s, dir, kind, detail);
        if (r != 0)
                return r < 0 ? r : 0;

        /* Virtual: the devices it is stacked on. */
        {
                _cleanup_free_ char *slaves = NULL;
                if (asprintf(&slaves, "%s/slaves", dir) < 0)
                        return -ENOMEM;
                d = opendir(slaves);
        }
        if (!d)
                return 0;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                r = mark_block(s, de->d_name, kind, detail, depth + 1);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Finds a block device's name from its "major:minor". */
static int block_name_by_devnum(const UsageScan *s, const char *devnum, char **ret) {
        _cleanup_free_ char *link = hostroot_path(s->root, AREA_SYS, "dev/block/%s", devnum);
        _cleanup_free_ char *real = NULL;
        const char *slash;
        int r;

        if (!link)
                return -ENOMEM;
        r = resolve_in_root(s, link, &real);
        if (r < 0)
                return r;
        slash = strrchr(real, '/');
        *ret = strdup(slash ? slash + 1 : real);
        return *ret ? 0 : -ENOMEM;
}

/* "/dev/mapper/NAME" to "dm-N" by matching dm/name; "/dev/X" to "X". */
static int block_name_by_source(const UsageScan *s, const char *source, char **ret) {
        const char *p = startswith(source, "/dev/");
        _cleanup_free_ char *dir = NULL;
        _cleanup_closedir_ DIR *d = NULL;
        const char *mapper;
        struct dirent *de;

        if (!p)
                return -ENOENT;
        mapper = startswith(p, "mapper/");
        if (!mapper) {
                if (strchr(p, '/'))
                        return -ENOENT; /* /dev/disk/by-uuid/...: resolved through devnum */
                *ret = strdup(p);
                return *ret ? 0 : -ENOMEM;
        }
        dir = hostroot_path(s->root, AREA_SYS, "class/block");
        if (!dir)
                return -ENOMEM;
        d = opendir(dir);
        if (!d)
                return -ENOENT;
        while ((de = readdir(d))) {
                _cleanup_free_ char *nf = NULL, *dmname = NULL;

                if (!startswith(de->d_name, "dm-"))
                        continue;
                if (asprintf(&nf, "%s/%s/dm/name", dir, de->d_name) < 0)
                        return -ENOMEM;
                if (read_one_line_file(nf, &dmname) >= 0 && streq(dmname, mapper)) {
                        *ret = strdup(de->d_name);
                        return *ret ? 0 : -ENOMEM;
                }
        }
        return -ENOENT;
}

/* Undoes mountinfo's octal escapes (\040 for a space) in place. */
static void unescape_octal(char *s) {
        char *w = s;

        for (char *r = s; *r; r++) {
                if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
                    r[3] >= '0' && r[3] <= '7') {
                        *w++ = (char) ((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
                        r += 3;
                } else
                        *w++ = *r;
        }
        *w = 0;
}

static HostUsageKind mount_kind(const char *where) {
        if (streq(where, "/"))
                return USAGE_ROOT_FILESYSTEM;
        if (streq(where, "/boot") || streq(where, "/boot/efi") || streq(where, "/efi"))
                return USAGE_BOOT_FILESYSTEM;
        return USAGE_FILESYSTEM;
}

typedef int (*usage_line_fn)(const UsageScan *s, char *line, unsigned n);

typedef struct LineScan {
        const UsageScan *s;
        usage_line_fn fn;
} LineScan;

static int scan_line_thunk(char *line, unsigned n, void *userdata) {
        const LineScan *ls = userdata;

        return ls->fn(ls->s, line, n);
}

/* Reads <root>/proc/<sub> line by line; a missing file is no usage. */
static int scan_proc_lines(const UsageScan *s, const char *sub, usage_line_fn fn) {
        _cleanup_free_ char *path = hostroot_path(s->root, AREA_PROC, "%s", sub);
        LineScan ctx = { s, fn };
        int r;

        if (!path)
                return -ENOMEM;
        r = read_lines(path, scan_line_thunk, &ctx);
        return r == -ENOENT || r == -EACCES ? 0 : r;
}

/* mountinfo: id parent maj:min root mountpoint options... - fstype source superoptions */
static int scan_mount_line(const UsageScan *s, char *line, unsigned n_line) {
        _cleanup_strv_free_ char **f = NULL;
        _cleanup_free_ char *name = NULL, *detail = NULL;
        size_t n, dash;
        int r;

        r = strv_split(line, " ", &f);
        if (r < 0)
                return r;
        n = strv_length(f);
        for (dash = 6; dash < n && !streq(f[dash], "-"); dash++)
                ;
        if (n < 5 || dash + 2 >= n)
                return 0; /* malformed line: skip */
        unescape_octal(f[4]);
        unescape_octal(f[dash + 2]);

        if (block_name_by_devnum(s, f[2], &name) < 0 &&
            block_name_by_source(s, f[dash + 2], &name) < 0)
                return 0; /* not block-backed (tmpfs, proc, nfs...) */

        if (asprintf(&detail, "%s (%s) mounted on %s", name, f[dash + 1], f[4]) < 0)
                return -ENOMEM;
        return mark_block(s, name, mount_kind(f[4]), detail, 0);
}

static int scan_mounts(const UsageScan *s) {
        return scan_proc_lines(s, "self/mountinfo", scan_mount_line);
}

/* /proc/swaps: Filename Type Size Used Priority, after a header line. */
static int scan_swap_line(const UsageScan *s, char *line, unsigned n) {
        _cleanup_free_ char *name = NULL, *detail = NULL;

        if (n == 1)
                return 0;
        line[strcspn(line, " \t")] = 0;
        unescape_octal(line);
        if (block_name_by_source(s, line, &name) < 0)
                return 0; /* a swap file: its filesystem is already counted */
        if (asprintf(&detail, "swap on %s", name) < 0)
                return -ENOMEM;
        return mark_block(s, name, USAGE_SWAP, detail, 0);
}

static int scan_swaps(const UsageScan *s) {
        return scan_proc_lines(s, "swaps", scan_swap_line);
}

/* Marks the PCI devices below network interface name (following lower_*). */
static int mark_netdev(const UsageScan *s, const char *name, HostUsageKind kind,
                       const char *detail, unsigned depth) {
        _cleanup_free_ char *dir = NULL;
        _cleanup_closedir_ DIR *d = NULL;
        char addr[PCI_ADDR_STRLEN];
        struct dirent *de;
        int r;

        if (depth > MAX_STACK_DEPTH || strchr(name, '/') || name[0] == '.' || streq(name, "lo"))
                return 0;
        r = class_device_resolve(s, "net", name, &dir);
        if (r < 0)
                return r == -ENOMEM ? r : 0;
        if (dir_pci_ancestor(s, dir, addr) >= 0)
                return mark(s, addr, kind, detail);

        d = opendir(dir);
        if (!d)
                return 0;
        while ((de = readdir(d))) {
                const char *lower = startswith(de->d_name, "lower_");
                if (!lower)
                        continue;
                r = mark_netdev(s, lower, kind, detail, depth + 1);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int mark_netdev_fmt(const UsageScan *s, const char *ifname, HostUsageKind kind, const char *what) {
        _cleanup_free_ char *detail = NULL;

        if (asprintf(&detail, "%s %s", ifname, what) < 0)
                return -ENOMEM;
        return mark_netdev(s, ifname, kind, detail, 0);
}

/* /proc/net/route: Iface Destination Gateway Flags RefCnt Use Metric Mask ...
 * with addresses as little-endian hex. */
static int scan_route4_line(const UsageScan *s, char *line, unsigned n) {
        char ifname[IF_NAMESIZE], what[64];
        unsigned dst, gw, flags, mask;

        if (sscanf(line, "%15s %x %x %x %*d %*d %*d %x", ifname, &dst, &gw, &flags, &mask) != 5)
                return 0; /* the header line */
        if (dst == 0 && mask == 0)
                return mark_netdev_fmt(s, ifname, USAGE_DEFAULT_ROUTE, "has the IPv4 default route");
        snprintf(what, sizeof what, "carries %u.%u.%u.%u/%d", dst & 0xff, (dst >> 8) & 0xff, (dst >> 16) & 0xff,
                 dst >> 24, __builtin_popcount(mask));
        return mark_netdev_fmt(s, ifname, USAGE_NETWORK_ADDRESS, what);
}

static int scan_route4(const UsageScan *s) {
        return scan_proc_lines(s, "net/route", scan_route4_line);
}

/* /proc/net/ipv6_route: dst plen src plen nexthop metric refcnt use flags iface */
static int scan_route6_line(const UsageScan *s, char *line, unsigned n) {
        char dst[33], ifname[IF_NAMESIZE];
        unsigned plen, flags;

        if (sscanf(line, "%32s %x %*s %*x %*s %*x %*x %*x %x %15s", dst, &plen, &flags, ifname) != 4)
                return 0;
        if (plen != 0 || strspn(dst, "0") != 32 || (flags & 0x0200 /* RTF_REJECT */))
                return 0;
        return mark_netdev_fmt(s, ifname, USAGE_DEFAULT_ROUTE, "has the IPv6 default route");
}

static int scan_route6(const UsageScan *s) {
        return scan_proc_lines(s, "net/ipv6_route", scan_route6_line);
}

/* /proc/net/if_inet6: address ifindex plen scope flags name; scope 00 is global. */
static int scan_addr6_line(const UsageScan *s, char *line, unsigned n) {
        char addr[33], ifname[IF_NAMESIZE];
        unsigned scope;

        if (sscanf(line, "%32s %*x %*x %x %*x %15s", addr, &scope, ifname) != 3 || scope != 0)
                return 0;
        return mark_netdev_fmt(s, ifname, USAGE_NETWORK_ADDRESS, "has a global IPv6 address");
}

static int scan_addr6(const UsageScan *s) {
        return scan_proc_lines(s, "net/if_inet6", scan_addr6_line);
}

static int scan_boot_vga(const UsageScan *s) {
        _cleanup_free_ char *dir = hostroot_path(s->root, AREA_SYS, "class/graphics");
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;

        for (size_t i = 0; i < s->n; i++)
                if (s->devices[i].boot_vga == 1) {
                        int r = pci_device_add_usage(&s->devices[i], USAGE_BOOT_VGA,
                                                     "the firmware's boot display (boot_vga)");
                        if (r < 0)
                                return r;
                }

        if (!dir)
                return -ENOMEM;
        d = opendir(dir);
        if (!d)
                return 0;
        while ((de = readdir(d))) {
                _cleanup_free_ char *real = NULL, *detail = NULL;
                char addr[PCI_ADDR_STRLEN];
                int r;

                if (!startswith(de->d_name, "fb"))
                        continue;
                r = class_device_resolve(s, "graphics", de->d_name, &real);
                if (r == -ENOMEM)
                        return r;
                if (r < 0 || dir_pci_ancestor(s, real, addr) < 0)
                        continue;
                if (asprintf(&detail, "framebuffer %s (console)", de->d_name) < 0)
                        return -ENOMEM;
                r = mark(s, addr, USAGE_FRAMEBUFFER, detail);
                if (r < 0)
                        return r;
        }
        return 0;
}

int host_usage_scan(const HostRoot *root, PciDevice *devices, size_t n) {
        const UsageScan s = { .root = root, .devices = devices, .n = n };
        int (*const scanners[])(const UsageScan *) = {
                scan_mounts, scan_swaps, scan_route4, scan_route6, scan_addr6, scan_boot_vga,
        };

        for (size_t i = 0; i < ELEMENTSOF(scanners); i++) {
                int r = scanners[i](&s);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* What sysfs says about a PCI function beyond libpci's view, and the small
 * vocabulary (reasons, host usage) the inventory attaches to it. */
#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/parse-util.h"
#include "basic/strv.h"
#include "mdev.h"
#include "pci-device.h"

bool pci_class_is_bridge(uint32_t class_code) {
        uint32_t cls = class_code >> 8;
        /* PCI-to-PCI (0604), CardBus (0607), semi-transparent PCI-to-PCI (0609) */
        return cls == 0x0604 || cls == 0x0607 || cls == 0x0609;
}

bool pci_class_is_platform(uint32_t class_code) {
        uint32_t cls = class_code >> 8;
        /* Host (0600), ISA (0601), EISA (0602), MCA (0603) bridges; IOMMU (0806). */
        return (cls >= 0x0600 && cls <= 0x0603) || cls == 0x0806;
}

static int read_int_at(int dir_fd, const char *name, int *ret) {
        _cleanup_free_ char *s = NULL;
        int r;

        r = read_one_line_at(dir_fd, name, &s);
        if (r < 0)
                return r;
        return safe_atoi(s, ret);
}

/* The VFs of a PF are the virtfnN links, N from 0 to sriov_numvfs - 1. */
static int read_vfs(PciDevice *d, int dir_fd) {
        for (int i = 0; i < d->enabled_vfs; i++) {
                char link[32]; /* "virtfn" and a number: not a path */
                char *vf;
                int r;

                snprintf(link, sizeof link, "virtfn%d", i);
                r = readlink_basename_at(dir_fd, link, &vf);
                if (r == -ENOENT)
                        continue;
                if (r < 0)
                        return r;
                r = strv_push(&d->vfs, vf);
                if (r < 0) {
                        free(vf);
                        return r;
                }
        }
        return 0;
}

static int read_sriov(PciDevice *d, int dir_fd) {
        int r;

        r = readlink_basename_at(dir_fd, "physfn", &d->physfn);
        if (r < 0 && r != -ENOENT)
                return r;

        r = read_int_at(dir_fd, "sriov_totalvfs", &d->total_vfs);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        d->is_pf = true;
        if (read_int_at(dir_fd, "sriov_numvfs", &d->enabled_vfs) < 0 || d->enabled_vfs < 0)
                d->enabled_vfs = 0;
        /* The PCIe TotalVFs field is 16 bits: an odd file cannot make us
         * look for billions of virtfn links. */
        if (d->total_vfs < 0 || d->total_vfs > 65535)
                d->total_vfs = 65535;
        if (d->enabled_vfs > d->total_vfs)
                d->enabled_vfs = d->total_vfs;
        return read_vfs(d, dir_fd);
}

static int read_link(PciDevice *d, int dir_fd) {
        int r;

        r = read_one_line_at(dir_fd, "current_link_speed", &d->link.current_speed);
        if (r == -ENOENT || r == -EINVAL || r == -ENODEV)
                return 0; /* conventional PCI: no link */
        if (r < 0)
                return r;
        d->has_link = true;
        (void) read_one_line_at(dir_fd, "max_link_speed", &d->link.max_speed);
        /* Lane counts: anything but a count is unknown. */
        if (read_int_at(dir_fd, "current_link_width", &d->link.current_width) < 0 || d->link.current_width < 0)
                d->link.current_width = -1;
        if (read_int_at(dir_fd, "max_link_width", &d->link.max_width) < 0 || d->link.max_width < 0)
                d->link.max_width = -1;
        return 0;
}

static int read_reset_methods(PciDevice *d, int dir_fd) {
        _cleanup_free_ char *s = NULL;
        int r;

        r = read_one_line_at(dir_fd, "reset_method", &s);
        if (r == -ENOENT)
                return 0; /* kernels before 5.15 do not say */
        if (r < 0)
                return r;
        d->has_reset_method = true;
        return strv_split(s, " ", &d->reset_methods);
}

/* sys/bus/pci/devices/<addr> links to ".../0000:00:02.0/0000:01:00.0": the
 * component before the device's own is its upstream bridge, if a function. */
static int read_parent(PciDevice *d, int bus_fd) {
        _cleanup_free_ char *target = NULL;
        char parent[PCI_ADDR_STRLEN];
        char *slash;
        int r;

        r = readlinkat_malloc(bus_fd, d->name, &target);
        if (r < 0)
                return r;
        slash = strrchr(target, '/');
        if (!slash)
                return 0;
        *slash = 0;
        slash = strrchr(target, '/');
        if (sysfs_path_pci_ancestor(slash ? slash + 1 : target, parent) < 0)
                return 0; /* on a root bus */
        d->parent = strdup(parent);
        return d->parent ? 0 : -ENOMEM;
}

int pci_device_read_sysfs(PciDevice *d, int bus_fd, int dir_fd) {
        _cleanup_free_ char *override = NULL;
        int r;

        r = readlink_basename_at(dir_fd, "driver", &d->driver);
        if (r < 0 && r != -ENOENT)
                return r;
        r = read_parent(d, bus_fd);
        if (r < 0 && r != -ENOENT)
                return r;

        r = read_one_line_at(dir_fd, "driver_override", &override);
        if (r >= 0 && !streq(override, "(null)") && override[0])
                d->driver_override = TAKE_PTR(override);

        {
                _cleanup_free_ char *group = NULL;

                r = readlink_basename_at(dir_fd, "iommu_group", &group);
                if (r < 0 || safe_atoi(group, &d->iommu_group) < 0 || d->iommu_group < 0)
                        d->iommu_group = -ENOENT;
        }

        (void) read_one_line_at(dir_fd, "local_cpulist", &d->local_cpulist);
        /* The kernel gives boot_vga to VGA devices only (pci_is_vga(): display
         * controllers, and pre-2.0 VGA class 0001). */
        if (((d->class_code >> 16) != 0x03 && (d->class_code >> 8) != 0x0001) || read_int_at(dir_fd, "boot_vga", &d->boot_vga) < 0)
                d->boot_vga = -1;

        r = read_sriov(d, dir_fd);
        if (r < 0)
                return r;
        r = read_link(d, dir_fd);
        if (r < 0)
                return r;
        r = mdev_parent_read(dir_fd, &d->mdev);
        if (r < 0)
                return r;
        return read_reset_methods(d, dir_fd);
}

static int dup_ptr(const char *s, char **ret) {
        *ret = s ? strdup(s) : NULL;
        return s && !*ret ? -ENOMEM : 0;
}

int pci_device_copy(const PciDevice *src, PciDevice *ret) {
        PciDevice d = *src;

        d.driver = d.driver_override = d.local_cpulist = d.parent = d.physfn = NULL;
        d.link.current_speed = d.link.max_speed = NULL;
        d.vfs = d.reset_methods = NULL;
        d.mdev = NULL;
        d.usage = NULL;
        d.n_usage = 0;
        d.reasons = (ReasonList) {};
        d.assignable = false;
        if (dup_ptr(src->driver, &d.driver) < 0 || dup_ptr(src->driver_override, &d.driver_override) < 0 ||
            dup_ptr(src->local_cpulist, &d.local_cpulist) < 0 || dup_ptr(src->parent, &d.parent) < 0 ||
            dup_ptr(src->physfn, &d.physfn) < 0 || dup_ptr(src->link.current_speed, &d.link.current_speed) < 0 ||
            dup_ptr(src->link.max_speed, &d.link.max_speed) < 0 || strv_copy(src->vfs, &d.vfs) < 0 ||
            strv_copy(src->reset_methods, &d.reset_methods) < 0 || mdev_parent_copy(src->mdev, &d.mdev) < 0) {
                pci_device_done(&d);
                return -ENOMEM;
        }
        *ret = d;
        return 0;
}

void pci_device_done(PciDevice *d) {
        free(d->driver);
        free(d->driver_override);
        free(d->local_cpulist);
        free(d->parent);
        free(d->link.current_speed);
        free(d->link.max_speed);
        strv_free(d->vfs);
        free(d->physfn);
        strv_free(d->reset_methods);
        d->mdev = mdev_parent_free(d->mdev);
        for (size_t i = 0; i < d->n_usage; i++)
                free(d->usage[i].detail);
        free(d->usage);
        reason_list_done(&d->reasons);
}

int reason_list_add(ReasonList *l, const char *code, ReasonSeverity severity,
                    const char *device, const char *fmt, ...) {
        Reason *items, *n;
        va_list ap;
        int k;

        items = realloc(l->items, sizeof(Reason) * (l->n + 1));
        if (!items)
                return -ENOMEM;
        l->items = items;
        n = &items[l->n];
        *n = (Reason) { .severity = severity };

        va_start(ap, fmt);
        k = vasprintf(&n->message, fmt, ap);
        va_end(ap);
        n->code = strdup(code);
        n->device = device ? strdup(device) : NULL;
        if (k < 0 || !n->code || (device && !n->device)) {
                if (k >= 0)
                        free(n->message);
                free(n->code);
                free(n->device);
                return -ENOMEM;
        }
        l->n++;
        return 0;
}

void reason_list_done(ReasonList *l) {
        for (size_t i = 0; i < l->n; i++) {
                free(l->items[i].code);
                free(l->items[i].device);
                free(l->items[i].message);
        }
        free(l->items);
        *l = (ReasonList) {};
}

bool reason_list_has_blocker(const ReasonList *l) {
        return reason_list_first_blocker(l) != NULL;
}

bool reason_list_has_code(const ReasonList *l, const char *code) {
        for (size_t i = 0; i < l->n; i++)
                if (streq(l->items[i].code, code))
                        return true;
        return false;
}

const char *reason_list_first_blocker(const ReasonList *l) {
        for (size_t i = 0; i < l->n; i++)
                if (l->items[i].severity == REASON_BLOCKER)
                        return l->items[i].message;
        return NULL;
}

const char *host_usage_kind_to_string(HostUsageKind k) {
        static const char *const table[_USAGE_MAX] = {
                [USAGE_ROOT_FILESYSTEM] = "root-filesystem",
                [USAGE_BOOT_FILESYSTEM] = "boot-filesystem",
                [USAGE_FILESYSTEM] = "filesystem",
                [USAGE_SWAP] = "swap",
                [USAGE_DEFAULT_ROUTE] = "default-route",
                [USAGE_NETWORK_ADDRESS] = "network-address",
                [USAGE_BOOT_VGA] = "boot-vga",
                [USAGE_FRAMEBUFFER] = "framebuffer",
        };
        return k >= 0 && k < _USAGE_MAX ? table[k] : NULL;
}

int pci_device_add_usage(PciDevice *d, HostUsageKind kind, const char *detail) {
        HostUsage *u;
        char *copy;

        for (size_t i = 0; i < d->n_usage; i++)
                if (d->usage[i].kind == kind && streq(d->usage[i].detail, detail))
                        return 0;
        copy = strdup(detail);
        if (!copy)
                return -ENOMEM;
        u = realloc(d->usage, sizeof(HostUsage) * (d->n_usage + 1));
        if (!u) {
                free(copy);
                return -ENOMEM;
        }
        d->usage = u;
        d->usage[d->n_usage++] = (HostUsage) { .kind = kind, .detail = copy };
        return 0;
}

PciDevice *pci_devices_find(PciDevice *devices, size_t n, const char *addr) {
        PciAddr a;
        size_t lo = 0, hi = n;

        if (pci_addr_parse(addr, &a) < 0)
                return NULL;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int c = pci_addr_compare(&a, &devices[mid].addr);
                if (c == 0)
                        return &devices[mid];
                if (c < 0)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        return NULL;
}

int sysfs_path_pci_ancestor(const char *path, char ret[static PCI_ADDR_STRLEN]) {
        const char *found = NULL, *p = path;
        size_t found_len = 0;

        while (*p) {
                size_t l;
                char comp[PCI_ADDR_STRLEN + 1]; /* one path component, bounded */

                p += strspn(p, "/");
                l = strcspn(p, "/");
                if (l > 0 && l < sizeof comp) {
                        memcpy(comp, p, l);
                        comp[l] = 0;
                        if (pci_addr_is_valid(comp)) {
                                found = p;
                                found_len = l;
                        }
                }
                p += l;
        }
        if (!found)
                return -ENOENT;
        memcpy(ret, found, found_len);
        ret[found_len] = 0;
        return 0;
}

/* The consistency check behind the periodic pass: which functions sysfs
 * shows differently from the snapshot, found cheaply. Netlink drops
 * messages when a burst overflows the socket (ENOBUFS), and a write to a
 * sysfs attribute (driver_override, an IOMMU group's type) sends no uevent
 * at all: what the events missed is found here and read again through the
 * same refresh as an event's devices. Per function: one readdir entry and
 * a few readlinks and small reads (driver, iommu_group, driver_override,
 * sriov_numvfs), not the libpci scan. */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/parse-util.h"
#include "basic/strv.h"
#include "inventory-check.h"

/* Whether what the device's sysfs directory says now matches d. */
static bool device_matches(const PciDevice *d, int dir_fd) {
        _cleanup_free_ char *driver = NULL, *group = NULL, *override = NULL, *numvfs = NULL;
        int id = -ENOENT, vfs;

        if (readlink_basename_at(dir_fd, "driver", &driver) < 0)
                driver = NULL;
        if (!streq_ptr(driver, d->driver))
                return false;
        if (readlink_basename_at(dir_fd, "iommu_group", &group) >= 0 && safe_atoi(group, &id) < 0)
                id = -ENOENT;
        if (id != d->iommu_group)
                return false;
        if (read_one_line_at(dir_fd, "driver_override", &override) >= 0 &&
            (streq(override, "(null)") || !override[0]))
                override = (free(override), NULL);
        if (!streq_ptr(override, d->driver_override))
                return false;
        if (d->is_pf && read_one_line_at(dir_fd, "sriov_numvfs", &numvfs) >= 0 &&
            (safe_atoi(numvfs, &vfs) < 0 || vfs != d->enabled_vfs))
                return false;
        return true;
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

int inventory_check(const Inventory *inv, const HostRoot *root, char ***ret_stale) {
        _cleanup_free_ char *path = hostroot_path(root, AREA_SYS, "bus/pci/devices");
        _cleanup_strv_free_ char **present = NULL, **stale = NULL;
        _cleanup_(closedirp) DIR *dir = NULL;
        size_t n_present;

        if (!path)
                return -ENOMEM;
        dir = opendir(path);
        if (!dir && errno != ENOENT)
                return -errno;
        for (struct dirent *de; dir && (de = readdir(dir));) {
                PciAddr a;

                if (pci_addr_parse(de->d_name, &a) < 0)
                        continue;
                if (strv_extend(&present, de->d_name) < 0)
                        return -ENOMEM;
        }
        n_present = strv_length(present);
        if (present)
                qsort_safe(present, n_present, sizeof(char *), cmp_str);

        for (size_t i = 0; i < n_present; i++) {
                const PciDevice *d = inventory_find(inv, present[i]);
                _cleanup_close_ int fd = -EBADF;

                if (d)
                        fd = openat(dirfd(dir), present[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if ((!d || fd < 0 || !device_matches(d, fd)) && strv_extend(&stale, present[i]) < 0)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < inv->n_devices; i++) {
                const char *name = inv->devices[i].name;

                if ((!present || !bsearch(&name, present, n_present, sizeof(char *), cmp_str)) &&
                    strv_extend(&stale, name) < 0)
                        return -ENOMEM;
        }
        *ret_stale = TAKE_PTR(stale);
        return 0;
}

/* Inventory scan and verdicts: see inventory.h.
 *
 * Viability follows the kernel (6.1, iommu_group_claim_dma_owner()): a group
 * is usable by VFIO once one member is bound to vfio-pci and every other
 * member either has no driver or a driver that manages DMA itself (vfio-pci,
 * pci-stub, and pcieport on bridges). Assignability is hostdevd's policy: a
 * group is given away whole, so a group holding a device the host uses, or a
 * piece of the platform (host or ISA bridge, the IOMMU), is never assignable;
 * bridges stay with the host and endpoints behind them may go. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/macro.h"
#include "basic/strv.h"
#include "basic/time-util.h"
#include "host-usage.h"
#include "inventory-internal.h"

int inventory_read_extras(const HostRoot *root, PciNames *names, PciDevice *devices, size_t n) {
        _cleanup_free_ char *path = hostroot_path(root, AREA_SYS, "bus/pci/devices");
        _cleanup_close_ int bus_fd = -EBADF;

        if (!path)
                return -ENOMEM;
        if (n == 0)
                return 0;
        bus_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (bus_fd < 0)
                return -errno;

        for (size_t i = 0; i < n; i++) {
                _cleanup_close_ int fd = openat(bus_fd, devices[i].name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                int r;

                if (fd < 0) {
                        log_debug("Cannot open sysfs directory of %s: %m", devices[i].name);
                        continue; /* removed since the scan: keep what libpci said */
                }
                r = pci_device_read_sysfs(&devices[i], bus_fd, fd);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        log_debug_errno(r, "Cannot read sysfs attributes of %s: %m", devices[i].name);
                if (names) {
                        r = pci_names_fill(names, &devices[i]);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* Since 5.15 the kernel shows reset_method only on devices that have a reset
 * method: where any device has the file, a device without it has none.
 * Where no device has it, the kernel does not say, and neither do we. */
static int infer_missing_reset_methods(PciDevice *devices, size_t n) {
        bool kernel_reports = false;

        for (size_t i = 0; i < n && !kernel_reports; i++)
                kernel_reports = devices[i].has_reset_method;
        for (size_t i = 0; kernel_reports && i < n; i++) {
                if (devices[i].has_reset_method)
                        continue;
                devices[i].reset_methods = calloc(1, sizeof(char *));
                if (!devices[i].reset_methods)
                        return -ENOMEM;
                devices[i].has_reset_method = true;
        }
        return 0;
}

static int cmp_int(const void *a, const void *b) {
        int x = *(const int *) a, y = *(const int *) b;
        return (x > y) - (x < y);
}

/* The kernel's domain type of a group: from the previous snapshot unless
 * the group is new or one of its members was read again (stale, sorted). */
static int group_type(const HostRoot *root, const Inventory *old, const int *stale, size_t n_stale, int id,
                      char **ret) {
        const IommuGroup *og = old ? inventory_group(old, id) : NULL;
        _cleanup_free_ char *tf = NULL;

        *ret = NULL;
        if (og && !bsearch(&id, stale, n_stale, sizeof(int), cmp_int)) {
                *ret = og->type ? strdup(og->type) : NULL;
                return og->type && !*ret ? -ENOMEM : 0;
        }
        tf = hostroot_path(root, AREA_SYS, "kernel/iommu_groups/%d/type", id);
        if (!tf)
                return -ENOMEM;
        (void) read_one_line_file(tf, ret);
        return 0;
}

/* Collects the groups named by the devices, members in address order. */
static int build_groups(const HostRoot *root, Inventory *inv, const Inventory *old, const int *stale,
                        size_t n_stale) {
        _cleanup_free_ int *ids = malloc(sizeof(int) * (inv->n_devices + 1));
        size_t n_ids = 0;

        if (!ids)
                return -ENOMEM;
        for (size_t i = 0; i < inv->n_devices; i++)
                if (inv->devices[i].iommu_group >= 0)
                        ids[n_ids++] = inv->devices[i].iommu_group;
        qsort_safe(ids, n_ids, sizeof(int), cmp_int);

        inv->groups = calloc(n_ids + 1, sizeof(IommuGroup));
        if (!inv->groups)
                return -ENOMEM;
        for (size_t i = 0, run; i < n_ids; i += run) {
                IommuGroup *g = &inv->groups[inv->n_groups++];

                for (run = 1; i + run < n_ids && ids[i + run] == ids[i]; run++)
                        ;
                g->id = ids[i];
                g->members = malloc(sizeof(size_t) * run);
                if (!g->members)
                        return -ENOMEM;
                if (group_type(root, old, stale, n_stale, g->id, &g->type) < 0)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < inv->n_devices; i++) {
                IommuGroup *g = (IommuGroup *) inventory_group(inv, inv->devices[i].iommu_group);
                if (!g)
                        continue;
                g->members[g->n_members++] = i;
                if (!inv->devices[i].is_bridge)
                        g->n_endpoints++;
        }
        inv->iommu_active = inv->n_groups > 0;
        return 0;
}

bool pci_driver_keeps_group_viable(const char *driver, bool is_bridge) {
        if (!driver)
                return true;
        if (streq(driver, "vfio-pci") || streq(driver, "pci-stub"))
                return true;
        return is_bridge && streq(driver, "pcieport");
}

static int judge_viability(const Inventory *inv, IommuGroup *g) {
        bool on_vfio = false;
        int r;

        for (size_t i = 0; i < g->n_members; i++) {
                const PciDevice *d = &inv->devices[g->members[i]];

                if (streq_ptr(d->driver, "vfio-pci"))
                        on_vfio = true;
                if (pci_driver_keeps_group_viable(d->driver, d->is_bridge))
                        continue;
                r = reason_list_add(&g->viable_reasons, "driver-bound", REASON_BLOCKER, d->name,
                                    "%s is bound to %s, not vfio-pci", d->name, d->driver);
                if (r < 0)
                        return r;
        }
        if (!on_vfio) {
                r = reason_list_add(&g->viable_reasons, "not-on-vfio", REASON_BLOCKER, NULL,
                                    "no member of group %d is bound to vfio-pci", g->id);
                if (r < 0)
                        return r;
        }
        g->viable = !reason_list_has_blocker(&g->viable_reasons);
        return 0;
}

/* Why a member keeps its whole group with the host, as predicates of a
 * sentence about it ("is part of the platform (ISA bridge)"), with codes. */
static int member_blockers(const PciDevice *d, char ***ret_codes, char ***ret_predicates) {
        _cleanup_strv_free_ char **codes = NULL, **preds = NULL;
        char *p;

        if (pci_class_is_platform(d->class_code)) {
                if (asprintf(&p, "is part of the platform (%s)", d->class_name ? d->class_name : "system device") < 0)
                        return -ENOMEM;
                if (strv_push(&preds, p) < 0 || strv_extend(&codes, "platform-device") < 0)
                        return -ENOMEM;
        }
        for (size_t u = 0; u < d->n_usage; u++) {
                if (asprintf(&p, "is used by the host: %s", d->usage[u].detail) < 0)
                        return -ENOMEM;
                if (strv_push(&preds, p) < 0 || strv_extend(&codes, "host-uses-device") < 0)
                        return -ENOMEM;
        }
        *ret_codes = TAKE_PTR(codes);
        *ret_predicates = TAKE_PTR(preds);
        return 0;
}

static int judge_group(const Inventory *inv, IommuGroup *g) {
        int r;

        for (size_t i = 0; i < g->n_members; i++) {
                const PciDevice *d = &inv->devices[g->members[i]];
                _cleanup_strv_free_ char **codes = NULL, **preds = NULL;

                r = member_blockers(d, &codes, &preds);
                if (r < 0)
                        return r;
                for (size_t k = 0; preds && preds[k]; k++) {
                        r = reason_list_add(&g->reasons, codes[k], REASON_BLOCKER, d->name,
                                            "contains %s, which %s", d->name, preds[k]);
                        if (r < 0)
                                return r;
                }
        }
        if (g->n_endpoints == 0) {
                r = reason_list_add(&g->reasons, "no-endpoints", REASON_BLOCKER, NULL,
                                    "group %d holds only bridges, which stay with the host", g->id);
                if (r < 0)
                        return r;
        }
        g->assignable = !reason_list_has_blocker(&g->reasons);
        return judge_viability(inv, g);
}

static int judge_device_own(const Inventory *inv, PciDevice *d) {
        int r = 0;

        if (d->iommu_group < 0)
                r = reason_list_add(&d->reasons, "no-iommu-group", REASON_BLOCKER, d->name,
                                    inv->iommu_active ? "%s is in no IOMMU group: the IOMMU does not isolate it"
                                                      : "%s is in no IOMMU group: no IOMMU is active",
                                    d->name);
        else if (d->is_bridge)
                r = reason_list_add(&d->reasons, "bridge", REASON_BLOCKER, d->name,
                                    "%s is a PCI bridge: bridges are never unbound or passed through", d->name);
        if (r < 0)
                return r;

        if (d->has_reset_method && !d->reset_methods[0] && !d->is_bridge && !pci_class_is_platform(d->class_code)) {
                r = reason_list_add(&d->reasons, "no-reset", REASON_WARNING, d->name,
                                    "%s has no reset method: its state may leak from one VM to the next",
                                    d->name);
                if (r < 0)
                        return r;
        }
        if (d->is_pf && d->enabled_vfs > 0) {
                r = reason_list_add(&d->reasons, "sriov-vfs-enabled", REASON_WARNING, d->name,
                                    "%s has %d virtual functions enabled; assign the VFs, or disable them first",
                                    d->name, d->enabled_vfs);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The device's own reasons, then what its group mates say against it. */
static int judge_device(const Inventory *inv, PciDevice *d) {
        const IommuGroup *g = inventory_group(inv, d->iommu_group);
        int r;

        r = judge_device_own(inv, d);
        if (r < 0)
                return r;
        for (size_t i = 0; g && i < g->n_members; i++) {
                const PciDevice *m = &inv->devices[g->members[i]];
                _cleanup_strv_free_ char **codes = NULL, **preds = NULL;
                bool self = m == d;

                r = member_blockers(m, &codes, &preds);
                if (r < 0)
                        return r;
                for (size_t k = 0; preds && preds[k]; k++) {
                        r = self ? reason_list_add(&d->reasons, codes[k], REASON_BLOCKER, m->name,
                                                   "%s %s", m->name, preds[k])
                                 : reason_list_add(&d->reasons, "group-shared", REASON_BLOCKER, m->name,
                                                   "IOMMU group %d also holds %s, which %s", g->id, m->name,
                                                   preds[k]);
                        if (r < 0)
                                return r;
                }
        }
        d->assignable = !reason_list_has_blocker(&d->reasons);
        return 0;
}

/* Holders of a group, as a warning: a VM (or another VFIO user) has it now.
 * Not a blocker: assignability is policy, and a plan for the VM that holds
 * the group must stay feasible (passthrough-plan.c judges holders itself). */
static int judge_holders(const Inventory *inv, int group, ReasonList *l) {
        const VfioHolder *h = group >= 0 ? vfio_holders_find(inv->holders, inv->n_holders, group) : NULL;

        for (; h && h < inv->holders + inv->n_holders && h->group == group; h++) {
                _cleanup_free_ char *who = vfio_holder_describe(h);
                int r;

                if (!who)
                        return -ENOMEM;
                r = reason_list_add(l, "group-in-use", REASON_WARNING, NULL, "IOMMU group %d is in use: open by %s", group, who);
                if (r < 0)
                        return r;
        }
        return 0;
}

int inventory_assemble(const HostRoot *root, Inventory *inv, const Inventory *old, const int *stale_groups,
                       size_t n_stale) {
        int r;

        r = infer_missing_reset_methods(inv->devices, inv->n_devices);
        if (r < 0)
                return r;
        r = host_usage_scan(root, inv->devices, inv->n_devices);
        if (r < 0)
                return r;
        r = build_groups(root, inv, old, stale_groups, n_stale);
        if (r < 0)
                return r;
        for (size_t i = 0; i < inv->n_groups; i++) {
                r = judge_group(inv, &inv->groups[i]);
                if (r >= 0)
                        r = judge_holders(inv, inv->groups[i].id, &inv->groups[i].reasons);
                if (r < 0)
                        return r;
                inv->groups[i].assignable = !reason_list_has_blocker(&inv->groups[i].reasons);
        }
        for (size_t i = 0; i < inv->n_devices; i++) {
                r = judge_holders(inv, inv->devices[i].iommu_group, &inv->devices[i].reasons);
                if (r >= 0)
                        r = judge_device(inv, &inv->devices[i]);
                if (r < 0)
                        return r;
        }
        inv->scanned_at_usec = now_realtime_usec();
        return 0;
}

int inventory_scan(const HostRoot *root, PciNames *names, Inventory **ret, char **ret_error) {
        _cleanup_(inventory_unrefp) Inventory *inv = calloc(1, sizeof(Inventory));
        int r;

        if (!inv)
                return -ENOMEM;
        inv->n_ref = 1;
        r = pci_scan(root, &inv->devices, &inv->n_devices, ret_error);
        if (r < 0)
                return r;
        r = inventory_read_extras(root, names, inv->devices, inv->n_devices);
        if (r < 0)
                return r;
        r = vfio_holders_scan(root, &inv->holders, &inv->n_holders);
        if (r < 0)
                return r;
        r = inventory_assemble(root, inv, NULL, NULL, 0);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(inv);
        return 0;
}

Inventory *inventory_ref(Inventory *inv) {
        if (inv)
                inv->n_ref++;
        return inv;
}

Inventory *inventory_unref(Inventory *inv) {
        if (!inv || --inv->n_ref > 0)
                return NULL;
        for (size_t i = 0; i < inv->n_devices; i++)
                pci_device_done(&inv->devices[i]);
        free(inv->devices);
        for (size_t i = 0; i < inv->n_groups; i++) {
                free(inv->groups[i].members);
                free(inv->groups[i].type);
                reason_list_done(&inv->groups[i].viable_reasons);
                reason_list_done(&inv->groups[i].reasons);
        }
        free(inv->groups);
        vfio_holders_free(inv->holders, inv->n_holders);
        free(inv);
        return NULL;
}

const PciDevice *inventory_find(const Inventory *inv, const char *addr) {
        return pci_devices_find(inv->devices, inv->n_devices, addr);
}

const IommuGroup *inventory_group(const Inventory *inv, int id) {
        size_t lo = 0, hi = inv->n_groups;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (inv->groups[mid].id == id)
                        return &inv->groups[mid];
                if (inv->groups[mid].id < id)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return NULL;
}

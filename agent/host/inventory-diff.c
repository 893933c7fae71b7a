/* Inventory differences: see inventory-diff.h. Both snapshots are sorted
 * (devices by address, groups by id), so one merge walk over each finds
 * what came, went and changed. A field is named when its API value would
 * differ: the comparisons follow agent/web/views.c field by field. */
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"
#include "basic/strv.h"
#include "inventory-diff.h"
#include "mdev.h"

static const char *const change_kinds[_CHANGE_KIND_MAX] = {
        [CHANGE_ADDED] = "added",
        [CHANGE_REMOVED] = "removed",
        [CHANGE_CHANGED] = "changed",
};

const char *change_kind_to_string(ChangeKind k) {
        return k >= 0 && k < _CHANGE_KIND_MAX ? change_kinds[k] : NULL;
}

static bool reasons_equal(const ReasonList *a, const ReasonList *b) {
        if (a->n != b->n)
                return false;
        for (size_t i = 0; i < a->n; i++)
                if (a->items[i].severity != b->items[i].severity || !streq_ptr(a->items[i].code, b->items[i].code) ||
                    !streq_ptr(a->items[i].device, b->items[i].device) ||
                    !streq_ptr(a->items[i].message, b->items[i].message))
                        return false;
        return true;
}

static bool usage_equal(const PciDevice *a, const PciDevice *b) {
        if (a->n_usage != b->n_usage)
                return false;
        for (size_t i = 0; i < a->n_usage; i++)
                if (a->usage[i].kind != b->usage[i].kind || !streq_ptr(a->usage[i].detail, b->usage[i].detail))
                        return false;
        return true;
}

static bool link_equal(const PciDevice *a, const PciDevice *b) {
        if (a->has_link != b->has_link)
                return false;
        return !a->has_link || (streq_ptr(a->link.current_speed, b->link.current_speed) &&
                                streq_ptr(a->link.max_speed, b->link.max_speed) &&
                                a->link.current_width == b->link.current_width &&
                                a->link.max_width == b->link.max_width);
}

static bool sriov_equal(const PciDevice *a, const PciDevice *b) {
        if (a->is_pf != b->is_pf)
                return false;
        return !a->is_pf || (a->total_vfs == b->total_vfs && a->enabled_vfs == b->enabled_vfs &&
                             strv_equal(a->vfs, b->vfs));
}

static bool reset_equal(const PciDevice *a, const PciDevice *b) {
        return a->has_reset_method == b->has_reset_method &&
               (!a->has_reset_method || strv_equal(a->reset_methods, b->reset_methods));
}

static int device_fields(const PciDevice *a, const PciDevice *b, char ***ret) {
        const struct {
                const char *name;
                bool same;
        } f[] = {
                { "vendor_id", a->vendor_id == b->vendor_id },
                { "device_id", a->device_id == b->device_id },
                { "vendor_name", streq_ptr(a->vendor_name, b->vendor_name) },
                { "device_name", streq_ptr(a->device_name, b->device_name) },
                { "subsystem_vendor_id", a->has_subsys == b->has_subsys && a->subsys_vendor_id == b->subsys_vendor_id },
                { "subsystem_device_id", a->has_subsys == b->has_subsys && a->subsys_device_id == b->subsys_device_id },
                { "subsystem_name", streq_ptr(a->subsys_name, b->subsys_name) },
                { "class", a->class_code == b->class_code },
                { "class_name", streq_ptr(a->class_name, b->class_name) },
                { "revision", a->revision == b->revision },
                { "driver", streq_ptr(a->driver, b->driver) },
                { "driver_override", streq_ptr(a->driver_override, b->driver_override) },
                { "iommu_group", a->iommu_group == b->iommu_group },
                { "numa_node", a->numa_node == b->numa_node },
                { "local_cpus", streq_ptr(a->local_cpulist, b->local_cpulist) },
                { "parent", streq_ptr(a->parent, b->parent) },
                { "is_bridge", a->is_bridge == b->is_bridge },
                { "link", link_equal(a, b) },
                { "sriov", sriov_equal(a, b) },
                { "physfn", streq_ptr(a->physfn, b->physfn) },
                { "reset_methods", reset_equal(a, b) },
                { "mdev", mdev_parent_equal(a->mdev, b->mdev) },
                { "boot_vga", a->boot_vga == b->boot_vga },
                { "host_usage", usage_equal(a, b) },
                { "assignable", a->assignable == b->assignable },
                { "reasons", reasons_equal(&a->reasons, &b->reasons) },
        };
        _cleanup_strv_free_ char **fields = NULL;

        for (size_t i = 0; i < ELEMENTSOF(f); i++)
                if (!f[i].same && strv_extend(&fields, f[i].name) < 0)
                        return -ENOMEM;
        *ret = TAKE_PTR(fields);
        return 0;
}

static bool members_equal(const Inventory *ia, const IommuGroup *a, const Inventory *ib, const IommuGroup *b) {
        if (a->n_members != b->n_members)
                return false;
        for (size_t i = 0; i < a->n_members; i++)
                if (!streq(ia->devices[a->members[i]].name, ib->devices[b->members[i]].name) ||
                    !streq_ptr(ia->devices[a->members[i]].driver, ib->devices[b->members[i]].driver))
                        return false;
        return true;
}

static bool holders_equal(const Inventory *ia, const Inventory *ib, int id) {
        const VfioHolder *a = vfio_holders_find(ia->holders, ia->n_holders, id);
        const VfioHolder *b = vfio_holders_find(ib->holders, ib->n_holders, id);
        size_t na = 0, nb = 0;

        while (a && a + na < ia->holders + ia->n_holders && a[na].group == id)
                na++;
        while (b && b + nb < ib->holders + ib->n_holders && b[nb].group == id)
                nb++;
        return vfio_holders_equal(a, na, b, nb);
}

static int group_fields(const Inventory *ia, const IommuGroup *a, const Inventory *ib, const IommuGroup *b,
                        char ***ret) {
        const struct {
                const char *name;
                bool same;
        } f[] = {
                { "type", streq_ptr(a->type, b->type) },
                { "members", members_equal(ia, a, ib, b) },
                { "viable", a->viable == b->viable && reasons_equal(&a->viable_reasons, &b->viable_reasons) },
                { "assignable", a->assignable == b->assignable },
                { "reasons", reasons_equal(&a->reasons, &b->reasons) },
                { "in_use_by", holders_equal(ia, ib, a->id) },
        };
        _cleanup_strv_free_ char **fields = NULL;

        for (size_t i = 0; i < ELEMENTSOF(f); i++)
                if (!f[i].same && strv_extend(&fields, f[i].name) < 0)
                        return -ENOMEM;
        *ret = TAKE_PTR(fields);
        return 0;
}

static int add_device(InventoryDiff *d, ChangeKind kind, const char *address, char **fields) {
        DeviceChange *m = realloc(d->devices, sizeof(DeviceChange) * (d->n_devices + 1));

        if (!m)
                return -ENOMEM;
        d->devices = m;
        m[d->n_devices] = (DeviceChange) { .kind = kind, .fields = fields };
        memcpy(m[d->n_devices].address, address, PCI_ADDR_STRLEN);
        d->n_devices++;
        return 0;
}

static int add_group(InventoryDiff *d, ChangeKind kind, int id, char **fields) {
        GroupChange *m = realloc(d->groups, sizeof(GroupChange) * (d->n_groups + 1));

        if (!m)
                return -ENOMEM;
        d->groups = m;
        m[d->n_groups++] = (GroupChange) { .kind = kind, .id = id, .fields = fields };
        return 0;
}

static int diff_devices(const Inventory *a, const Inventory *b, InventoryDiff *d) {
        size_t i = 0, j = 0;
        int r = 0;

        while (r >= 0 && (i < a->n_devices || j < b->n_devices)) {
                int c = i == a->n_devices ? 1 : j == b->n_devices ? -1
                                              : pci_addr_compare(&a->devices[i].addr, &b->devices[j].addr);
                char **fields = NULL;

                if (c < 0)
                        r = add_device(d, CHANGE_REMOVED, a->devices[i++].name, NULL);
                else if (c > 0)
                        r = add_device(d, CHANGE_ADDED, b->devices[j++].name, NULL);
                else {
                        r = device_fields(&a->devices[i], &b->devices[j], &fields);
                        if (r >= 0 && fields && (r = add_device(d, CHANGE_CHANGED, a->devices[i].name, fields)) < 0)
                                strv_free(fields);
                        i++, j++;
                }
        }
        return r;
}

static int diff_groups(const Inventory *a, const Inventory *b, InventoryDiff *d) {
        size_t i = 0, j = 0;
        int r = 0;

        while (r >= 0 && (i < a->n_groups || j < b->n_groups)) {
                int c = i == a->n_groups ? 1 : j == b->n_groups ? -1
                                                                : (a->groups[i].id > b->groups[j].id) -
                                                                          (a->groups[i].id < b->groups[j].id);
                char **fields = NULL;

                if (c < 0)
                        r = add_group(d, CHANGE_REMOVED, a->groups[i++].id, NULL);
                else if (c > 0)
                        r = add_group(d, CHANGE_ADDED, b->groups[j++].id, NULL);
                else {
                        r = group_fields(a, &a->groups[i], b, &b->groups[j], &fields);
                        if (r >= 0 && fields && (r = add_group(d, CHANGE_CHANGED, a->groups[i].id, fields)) < 0)
                                strv_free(fields);
                        i++, j++;
                }
        }
        return r;
}

int inventory_diff(const Inventory *a, const Inventory *b, InventoryDiff *ret) {
        InventoryDiff d = {};
        int r;

        r = diff_devices(a, b, &d);
        if (r >= 0)
                r = diff_groups(a, b, &d);
        if (r < 0) {
                inventory_diff_done(&d);
                return r;
        }
        *ret = d;
        return 0;
}

void inventory_diff_done(InventoryDiff *d) {
        for (size_t i = 0; i < d->n_devices; i++)
                strv_free(d->devices[i].fields);
        free(d->devices);
        for (size_t i = 0; i < d->n_groups; i++)
                strv_free(d->groups[i].fields);
        free(d->groups);
        *d = (InventoryDiff) {};
}

bool inventory_diff_is_empty(const InventoryDiff *d) {
        return d->n_devices == 0 && d->n_groups == 0;
}

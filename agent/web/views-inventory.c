/* Inventory views: see views-inventory.h. Unknown values are JSON null,
 * never 0 or -1. */
#include <errno.h>
#include <string.h>

#include "basic/macro.h"
#include "host/mdev.h"
#include "views-inventory.h"

static const char *const device_field_names[_DEVICE_FIELD_MAX] = {
        [DEVICE_ADDRESS] = "address",
        [DEVICE_VENDOR_ID] = "vendor_id",
        [DEVICE_VENDOR_NAME] = "vendor_name",
        [DEVICE_DEVICE_ID] = "device_id",
        [DEVICE_DEVICE_NAME] = "device_name",
        [DEVICE_SUBSYSTEM_VENDOR_ID] = "subsystem_vendor_id",
        [DEVICE_SUBSYSTEM_DEVICE_ID] = "subsystem_device_id",
        [DEVICE_SUBSYSTEM_NAME] = "subsystem_name",
        [DEVICE_CLASS] = "class",
        [DEVICE_CLASS_NAME] = "class_name",
        [DEVICE_REVISION] = "revision",
        [DEVICE_DRIVER] = "driver",
        [DEVICE_DRIVER_OVERRIDE] = "driver_override",
        [DEVICE_IOMMU_GROUP] = "iommu_group",
        [DEVICE_NUMA_NODE] = "numa_node",
        [DEVICE_LOCAL_CPUS] = "local_cpus",
        [DEVICE_PARENT] = "parent",
        [DEVICE_IS_BRIDGE] = "is_bridge",
        [DEVICE_LINK] = "link",
        [DEVICE_SRIOV] = "sriov",
        [DEVICE_PHYSFN] = "physfn",
        [DEVICE_MDEV] = "mdev",
        [DEVICE_RESET_METHODS] = "reset_methods",
        [DEVICE_BOOT_VGA] = "boot_vga",
        [DEVICE_HOST_USAGE] = "host_usage",
        [DEVICE_ASSIGNABLE] = "assignable",
        [DEVICE_REASONS] = "reasons",
};

int device_fields_parse(const char *s, DeviceFieldSet *ret, const char **ret_bad, size_t *ret_bad_len) {
        DeviceFieldSet set = 0;
        const char *p = s;

        for (;;) {
                size_t l = strcspn(p, ",");
                DeviceField f = _DEVICE_FIELD_MAX;

                for (unsigned i = 0; i < _DEVICE_FIELD_MAX && f == _DEVICE_FIELD_MAX; i++)
                        if (strlen(device_field_names[i]) == l && strncmp(device_field_names[i], p, l) == 0)
                                f = i;
                if (f == _DEVICE_FIELD_MAX || (set & (UINT32_C(1) << f))) {
                        *ret_bad = p;
                        *ret_bad_len = l;
                        return -EINVAL;
                }
                set |= UINT32_C(1) << f;
                if (p[l] == 0)
                        break;
                p += l + 1;
        }
        *ret = set;
        return 0;
}

void write_reasons(JsonWriter *w, const ReasonList *l) {
        jw_array_begin(w);
        for (size_t i = 0; i < l->n; i++) {
                jw_object_begin(w);
                jw_kstring(w, "code", l->items[i].code);
                jw_kstring(w, "severity", l->items[i].severity == REASON_BLOCKER ? "blocker" : "warning");
                jw_kstring(w, "device", l->items[i].device);
                jw_kstring(w, "message", l->items[i].message);
                jw_object_end(w);
        }
        jw_array_end(w);
}

static void write_link(JsonWriter *w, const PciDevice *d) {
        if (!d->has_link) {
                jw_null(w);
                return;
        }
        jw_object_begin(w);
        jw_kstring(w, "current_speed", d->link.current_speed);
        jw_kint_or_null(w, "current_width", d->link.current_width);
        jw_kstring(w, "max_speed", d->link.max_speed);
        jw_kint_or_null(w, "max_width", d->link.max_width);
        jw_object_end(w);
}

void write_mdev_instance(JsonWriter *w, const MdevInstance *x) {
        jw_object_begin(w);
        jw_kstring(w, "uuid", x->uuid);
        jw_kstring(w, "type", x->type);
        jw_kint_or_null(w, "iommu_group", x->iommu_group);
        jw_kstring(w, "driver", x->driver);
        jw_object_end(w);
}

static void write_sriov(JsonWriter *w, const PciDevice *d) {
        if (!d->is_pf) {
                jw_null(w);
                return;
        }
        jw_object_begin(w);
        jw_kint(w, "total_vfs", d->total_vfs);
        jw_kint(w, "enabled_vfs", d->enabled_vfs);
        jw_key(w, "vfs");
        jw_strv(w, d->vfs);
        jw_object_end(w);
}

/* null, or the mediated device types the device offers and its instances. */
static void write_mdev(JsonWriter *w, const MdevParent *p) {
        if (!p) {
                jw_null(w);
                return;
        }
        jw_object_begin(w);
        jw_key(w, "types");
        jw_array_begin(w);
        for (size_t i = 0; i < p->n_types; i++) {
                const MdevType *t = &p->types[i];

                jw_object_begin(w);
                jw_kstring(w, "id", t->id);
                jw_kstring(w, "name", t->name);
                jw_kstring(w, "description", t->description);
                jw_kstring(w, "device_api", t->device_api);
                jw_kint_or_null(w, "available_instances", t->available);
                jw_object_end(w);
        }
        jw_array_end(w);
        jw_key(w, "instances");
        jw_array_begin(w);
        for (size_t i = 0; i < p->n_instances; i++)
                write_mdev_instance(w, &p->instances[i]);
        jw_array_end(w);
        jw_object_end(w);
}

static void write_usage(JsonWriter *w, const PciDevice *d) {
        jw_array_begin(w);
        for (size_t i = 0; i < d->n_usage; i++) {
                jw_object_begin(w);
                jw_kstring(w, "kind", host_usage_kind_to_string(d->usage[i].kind));
                jw_kstring(w, "detail", d->usage[i].detail);
                jw_object_end(w);
        }
        jw_array_end(w);
}

static void write_hex_or_null(JsonWriter *w, bool known, uint32_t v, int width) {
        if (known)
                jw_hex(w, v, width);
        else
                jw_null(w);
}

void write_device(JsonWriter *w, const Inventory *inv, const PciDevice *d, DeviceFieldSet fields) {
        jw_object_begin(w);
        for (unsigned f = 0; f < _DEVICE_FIELD_MAX; f++) {
                if (!(fields & (UINT32_C(1) << f)))
                        continue;
                jw_key(w, device_field_names[f]);
                switch ((DeviceField) f) {
                case DEVICE_ADDRESS:
                        jw_string(w, d->name);
                        break;
                case DEVICE_VENDOR_ID:
                        jw_hex(w, d->vendor_id, 4);
                        break;
                case DEVICE_VENDOR_NAME:
                        jw_string(w, d->vendor_name);
                        break;
                case DEVICE_DEVICE_ID:
                        jw_hex(w, d->device_id, 4);
                        break;
                case DEVICE_DEVICE_NAME:
                        jw_string(w, d->device_name);
                        break;
                case DEVICE_SUBSYSTEM_VENDOR_ID:
                        write_hex_or_null(w, d->has_subsys, d->subsys_vendor_id, 4);
                        break;
                case DEVICE_SUBSYSTEM_DEVICE_ID:
                        write_hex_or_null(w, d->has_subsys, d->subsys_device_id, 4);
                        break;
                case DEVICE_SUBSYSTEM_NAME:
                        jw_string(w, d->subsys_name);
                        break;
                case DEVICE_CLASS:
                        jw_hex(w, d->class_code, 6);
                        break;
                case DEVICE_CLASS_NAME:
                        jw_string(w, d->class_name);
                        break;
                case DEVICE_REVISION:
                        jw_hex(w, d->revision, 2);
                        break;
                case DEVICE_DRIVER:
                        jw_string(w, d->driver);
                        break;
                case DEVICE_DRIVER_OVERRIDE:
                        jw_string(w, d->driver_override);
                        break;
                case DEVICE_IOMMU_GROUP:
                        jw_int_or_null(w, d->iommu_group);
                        break;
                case DEVICE_NUMA_NODE:
                        jw_int_or_null(w, d->numa_node);
                        break;
                case DEVICE_LOCAL_CPUS:
                        jw_string(w, d->local_cpulist);
                        break;
                case DEVICE_PARENT:
                        jw_string(w, d->parent);
                        break;
                case DEVICE_IS_BRIDGE:
                        jw_bool(w, d->is_bridge);
                        break;
                case DEVICE_LINK:
                        write_link(w, d);
                        break;
                case DEVICE_SRIOV:
                        write_sriov(w, d);
                        break;
                case DEVICE_PHYSFN:
                        jw_string(w, d->physfn);
                        break;
                case DEVICE_MDEV:
                        write_mdev(w, d->mdev);
                        break;
                case DEVICE_RESET_METHODS:
                        if (d->has_reset_method)
                                jw_strv(w, d->reset_methods);
                        else
                                jw_null(w);
                        break;
                case DEVICE_BOOT_VGA:
                        if (d->boot_vga >= 0)
                                jw_bool(w, d->boot_vga);
                        else
                                jw_null(w);
                        break;
                case DEVICE_HOST_USAGE:
                        write_usage(w, d);
                        break;
                case DEVICE_ASSIGNABLE:
                        jw_bool(w, d->assignable);
                        break;
                case DEVICE_REASONS:
                        write_reasons(w, &d->reasons);
                        break;
                case _DEVICE_FIELD_MAX:
                        break;
                }
        }
        jw_object_end(w);
}

/* [{"iommu_group", "pid", "process", "vm"}]: who has the group's VFIO node open. */
static void write_group_holders(JsonWriter *w, const Inventory *inv, int id) {
        const VfioHolder *h = vfio_holders_find(inv->holders, inv->n_holders, id);

        jw_array_begin(w);
        for (; h && h < inv->holders + inv->n_holders && h->group == id; h++) {
                jw_object_begin(w);
                jw_kint(w, "iommu_group", h->group);
                jw_kint(w, "pid", h->pid);
                jw_kstring(w, "process", h->comm);
                jw_kstring(w, "vm", h->vm_name);
                jw_object_end(w);
        }
        jw_array_end(w);
}

void write_group(JsonWriter *w, const Inventory *inv, const IommuGroup *g) {
        jw_object_begin(w);
        jw_kint(w, "id", g->id);
        jw_kstring(w, "type", g->type);
        jw_key(w, "members");
        jw_array_begin(w);
        for (size_t i = 0; i < g->n_members; i++) {
                const PciDevice *d = &inv->devices[g->members[i]];

                jw_object_begin(w);
                jw_kstring(w, "address", d->name);
                jw_kstring(w, "role", d->is_bridge ? "bridge" : "endpoint");
                jw_key(w, "class");
                jw_hex(w, d->class_code, 6);
                jw_kstring(w, "class_name", d->class_name);
                jw_kstring(w, "vendor_name", d->vendor_name);
                jw_kstring(w, "device_name", d->device_name);
                jw_kstring(w, "driver", d->driver);
                jw_key(w, "host_usage");
                write_usage(w, d);
                jw_object_end(w);
        }
        jw_array_end(w);
        jw_kbool(w, "viable", g->viable);
        jw_key(w, "viable_reasons");
        write_reasons(w, &g->viable_reasons);
        jw_kbool(w, "assignable", g->assignable);
        jw_key(w, "reasons");
        write_reasons(w, &g->reasons);
        jw_key(w, "in_use_by");
        write_group_holders(w, inv, g->id);
        jw_object_end(w);
}

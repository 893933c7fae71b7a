/* JSON views: see views.h. Unknown values are JSON null, never 0 or -1. */
#include <stdio.h>

#include "json-util.h"
#include "views.h"

json_object *view_reasons(const ReasonList *l) {
        json_object *a = json_object_new_array();

        for (size_t i = 0; a && i < l->n; i++) {
                json_object *o = json_object_new_object();
                json_add_str(o, "code", l->items[i].code);
                json_add_str(o, "severity", l->items[i].severity == REASON_BLOCKER ? "blocker" : "warning");
                json_add_str(o, "device", l->items[i].device);
                json_add_str(o, "message", l->items[i].message);
                json_object_array_add(a, o);
        }
        return a;
}

static json_object *view_link(const PciDevice *d) {
        json_object *o;

        if (!d->has_link)
                return NULL;
        o = json_object_new_object();
        json_add_str(o, "current_speed", d->link.current_speed);
        json_add(o, "current_width", d->link.current_width >= 0 ? json_object_new_int(d->link.current_width) : NULL);
        json_add_str(o, "max_speed", d->link.max_speed);
        json_add(o, "max_width", d->link.max_width >= 0 ? json_object_new_int(d->link.max_width) : NULL);
        return o;
}

static json_object *view_sriov(const PciDevice *d) {
        json_object *o;

        if (!d->is_pf)
                return NULL;
        o = json_object_new_object();
        json_add_int(o, "total_vfs", d->total_vfs);
        json_add_int(o, "enabled_vfs", d->enabled_vfs);
        json_add(o, "vfs", json_strv(d->vfs));
        return o;
}

static json_object *view_usage(const PciDevice *d) {
        json_object *a = json_object_new_array();

        for (size_t i = 0; a && i < d->n_usage; i++) {
                json_object *o = json_object_new_object();
                json_add_str(o, "kind", host_usage_kind_to_string(d->usage[i].kind));
                json_add_str(o, "detail", d->usage[i].detail);
                json_object_array_add(a, o);
        }
        return a;
}

json_object *view_device(const Inventory *inv, const PciDevice *d) {
        json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        json_add_str(o, "address", d->name);
        json_add(o, "vendor_id", json_hex(d->vendor_id, 4));
        json_add_str(o, "vendor_name", d->vendor_name);
        json_add(o, "device_id", json_hex(d->device_id, 4));
        json_add_str(o, "device_name", d->device_name);
        json_add(o, "subsystem_vendor_id", d->has_subsys ? json_hex(d->subsys_vendor_id, 4) : NULL);
        json_add(o, "subsystem_device_id", d->has_subsys ? json_hex(d->subsys_device_id, 4) : NULL);
        json_add_str(o, "subsystem_name", d->subsys_name);
        json_add(o, "class", json_hex(d->class_code, 6));
        json_add_str(o, "class_name", d->class_name);
        json_add(o, "revision", json_hex(d->revision, 2));
        json_add_str(o, "driver", d->driver);
        json_add_str(o, "driver_override", d->driver_override);
        json_add(o, "iommu_group", d->iommu_group >= 0 ? json_object_new_int(d->iommu_group) : NULL);
        json_add(o, "numa_node", d->numa_node >= 0 ? json_object_new_int(d->numa_node) : NULL);
        json_add_str(o, "local_cpus", d->local_cpulist);
        json_add_str(o, "parent", d->parent);
        json_add_bool(o, "is_bridge", d->is_bridge);
        json_add(o, "link", view_link(d));
        json_add(o, "sriov", view_sriov(d));
        json_add_str(o, "physfn", d->physfn);
        json_add(o, "reset_methods", d->has_reset_method ? json_strv(d->reset_methods) : NULL);
        json_add(o, "boot_vga", d->boot_vga >= 0 ? json_object_new_boolean(d->boot_vga) : NULL);
        json_add(o, "host_usage", view_usage(d));
        json_add_bool(o, "assignable", d->assignable);
        json_add(o, "reasons", view_reasons(&d->reasons));
        return o;
}

/* [{"pid", "process", "vm"}]: who has the group's VFIO node open. */
static json_object *view_group_holders(const Inventory *inv, int id) {
        const VfioHolder *h = vfio_holders_find(inv->holders, inv->n_holders, id);
        json_object *a = json_object_new_array();

        for (; a && h && h < inv->holders + inv->n_holders && h->group == id; h++) {
                json_object *o = json_object_new_object();
                json_add_int(o, "iommu_group", h->group);
                json_add_int(o, "pid", h->pid);
                json_add_str(o, "process", h->comm);
                json_add_str(o, "vm", h->vm_name);
                json_object_array_add(a, o);
        }
        return a;
}

json_object *view_group(const Inventory *inv, const IommuGroup *g) {
        json_object *o = json_object_new_object(), *members = json_object_new_array();

        if (!o || !members) {
                json_object_put(o);
                json_object_put(members);
                return NULL;
        }
        for (size_t i = 0; i < g->n_members; i++) {
                const PciDevice *d = &inv->devices[g->members[i]];
                json_object *m = json_object_new_object();

                json_add_str(m, "address", d->name);
                json_add_str(m, "role", d->is_bridge ? "bridge" : "endpoint");
                json_add(m, "class", json_hex(d->class_code, 6));
                json_add_str(m, "class_name", d->class_name);
                json_add_str(m, "vendor_name", d->vendor_name);
                json_add_str(m, "device_name", d->device_name);
                json_add_str(m, "driver", d->driver);
                json_add(m, "host_usage", view_usage(d));
                json_object_array_add(members, m);
        }
        json_add_int(o, "id", g->id);
        json_add_str(o, "type", g->type);
        json_add(o, "members", members);
        json_add_bool(o, "viable", g->viable);
        json_add(o, "viable_reasons", view_reasons(&g->viable_reasons));
        json_add_bool(o, "assignable", g->assignable);
        json_add(o, "reasons", view_reasons(&g->reasons));
        json_add(o, "in_use_by", view_group_holders(inv, g->id));
        return o;
}

json_object *view_capabilities(const Capabilities *c) {
        json_object *o = json_object_new_object(), *checks = json_object_new_array(), *args;

        if (!o || !checks) {
                json_object_put(o);
                json_object_put(checks);
                return NULL;
        }
        for (size_t i = 0; i < c->n_checks; i++) {
                json_object *k = json_object_new_object();
                json_add_str(k, "id", c->checks[i].id);
                json_add_str(k, "status", check_status_to_string(c->checks[i].status));
                json_add_str(k, "detail", c->checks[i].detail);
                json_add_str(k, "hint", c->checks[i].hint);
                json_object_array_add(checks, k);
        }
        args = json_object_new_object();
        json_add(args, "add", json_strv(c->args_add));
        json_add(args, "remove", json_strv(c->args_remove));
        json_add(args, "optional", json_strv(c->args_optional));

        json_add_str(o, "verdict", c->verdict);
        json_add_str(o, "iommu", iommu_kind_to_string(c->iommu));
        json_add_str(o, "iommu_source", c->iommu_source);
        json_add_str(o, "cpu_iommu_vendor", iommu_kind_to_string(c->cpu_iommu));
        json_add_bool(o, "iommu_active", c->iommu_active);
        json_add_int(o, "iommu_groups", c->n_groups);
        json_add(o, "kernel_arguments", args);
        json_add(o, "checks", checks);
        return o;
}

json_object *view_host(const HostInfo *h, const char *agent_version) {
        json_object *o = json_object_new_object(), *cpu = json_object_new_object();

        if (!o || !cpu) {
                json_object_put(o);
                json_object_put(cpu);
                return NULL;
        }
        json_add_str(cpu, "vendor", h->cpu_vendor);
        json_add_str(cpu, "model", h->cpu_model);
        json_add(cpu, "count", h->n_cpus > 0 ? json_object_new_int(h->n_cpus) : NULL);

        json_add_str(o, "hostname", h->hostname);
        json_add_str(o, "host_id", h->host_id);
        json_add_str(o, "host_id_source", h->host_id_source);
        json_add_str(o, "machine_id", h->machine_id);
        json_add_str(o, "boot_id", h->boot_id);
        json_add_str(o, "kernel_release", h->kernel_release);
        json_add_str(o, "cmdline", h->cmdline);
        json_add(o, "uptime_seconds", h->has_uptime ? json_object_new_double(h->uptime_sec) : NULL);
        json_add(o, "cpu", cpu);
        json_add_str(o, "agent_version", agent_version);
        return o;
}

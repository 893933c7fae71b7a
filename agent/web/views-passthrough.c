/* Views of plans and bindings: see views-passthrough.h. */
#include <stdlib.h>

#include "basic/macro.h"
#include "json-util.h"
#include "views-passthrough.h"
#include "views.h"

static json_object *view_plan_device(const PlanDevice *d) {
        json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        json_add_str(o, "address", d->address);
        json_add_str(o, "role", plan_role_to_string(d->role));
        json_add_str(o, "driver", d->driver);
        json_add(o, "numa_node", d->numa_node >= 0 ? json_object_new_int(d->numa_node) : NULL);
        json_add_str(o, "local_cpus", d->local_cpus);
        return o;
}

static json_object *view_action(const PlanAction *a) {
        json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        json_add_str(o, "device", a->address);
        json_add_str(o, "from", a->from);
        json_add_str(o, "to", a->to);
        return o;
}

static json_object *view_plan_group(const PlanGroup *g) {
        json_object *o = json_object_new_object(), *devs = json_object_new_array(), *acts = json_object_new_array();

        if (!o || !devs || !acts) {
                json_object_put(o);
                json_object_put(devs);
                json_object_put(acts);
                return NULL;
        }
        for (size_t i = 0; i < g->n_devices; i++)
                json_object_array_add(devs, view_plan_device(&g->devices[i]));
        for (size_t i = 0; i < g->n_actions; i++)
                json_object_array_add(acts, view_action(&g->actions[i]));
        json_add(o, "iommu_group", g->id >= 0 ? json_object_new_int(g->id) : NULL);
        json_add(o, "devices", devs);
        json_add(o, "actions", acts);
        json_add(o, "reasons", view_reasons(&g->reasons));
        return o;
}

static json_object *view_pinning(const PassthroughPlan *p) {
        json_object *o = json_object_new_object(), *nodes = json_object_new_array();

        if (!o || !nodes) {
                json_object_put(o);
                json_object_put(nodes);
                return NULL;
        }
        for (size_t i = 0; i < p->n_numa_nodes; i++)
                json_object_array_add(nodes, json_object_new_int(p->numa_nodes[i]));
        json_add_str(o, "host_id", p->host_id);
        json_add_str(o, "host_id_source", p->host_id_source);
        json_add_bool(o, "live_migration", false);
        json_add(o, "numa_nodes", nodes);
        json_add_str(o, "local_cpus", p->local_cpus);
        return o;
}

json_object *view_plan(const PassthroughPlan *p) {
        json_object *o = json_object_new_object(), *groups = json_object_new_array();

        if (!o || !groups) {
                json_object_put(o);
                json_object_put(groups);
                return NULL;
        }
        for (size_t i = 0; i < p->n_groups; i++)
                json_object_array_add(groups, view_plan_group(&p->groups[i]));
        json_add_str(o, "vm", p->vm);
        json_add(o, "requested", json_strv(p->requested));
        json_add_bool(o, "feasible", p->feasible);
        json_add(o, "groups", groups);
        json_add(o, "reasons", view_reasons(&p->reasons));
        json_add(o, "pinning", view_pinning(p));
        return o;
}

static bool binding_in_effect(const Binding *b, const Inventory *inv) {
        for (size_t i = 0; i < b->n_members; i++) {
                const PciDevice *d = inventory_find(inv, b->members[i].address);
                if (!b->members[i].bridge && (!d || !streq_ptr(d->driver, "vfio-pci")))
                        return false;
        }
        return true;
}

static json_object *view_member(const BindingMember *m, const Inventory *inv) {
        const PciDevice *d = inventory_find(inv, m->address);
        json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        json_add_str(o, "address", m->address);
        json_add_str(o, "role", m->bridge ? "bridge" : "endpoint");
        json_add(o, "vendor_id", json_hex(m->vendor_id, 4));
        json_add(o, "device_id", json_hex(m->device_id, 4));
        json_add_str(o, "original_driver", m->driver);
        json_add_str(o, "original_driver_override", m->override);
        json_add_str(o, "driver", d ? d->driver : NULL);
        return o;
}

json_object *view_binding(const Binding *b, const Inventory *inv) {
        json_object *o = json_object_new_object(), *members = json_object_new_array();
        ReasonList drift = {};

        if (!o || !members || binding_check_drift(b, inv, &drift) < 0) {
                json_object_put(o);
                json_object_put(members);
                return NULL;
        }
        for (size_t i = 0; i < b->n_members; i++)
                json_object_array_add(members, view_member(&b->members[i], inv));
        json_add_int(o, "iommu_group", b->group);
        json_add_str(o, "requested", b->requested);
        json_add_bool(o, "persistent", b->persistent);
        json_add(o, "created", json_timestamp(b->created_usec));
        json_add_str(o, "boot_id", b->boot_id);
        json_add_bool(o, "in_effect", binding_in_effect(b, inv));
        json_add(o, "members", members);
        json_add(o, "drift", view_reasons(&drift));
        reason_list_done(&drift);
        return o;
}

json_object *view_driver_state(const PciDevice *d, const Binding *b, const Inventory *inv) {
        json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        json_add_str(o, "address", d->name);
        json_add_str(o, "driver", d->driver);
        json_add_str(o, "driver_override", d->driver_override);
        json_add(o, "iommu_group", d->iommu_group >= 0 ? json_object_new_int(d->iommu_group) : NULL);
        json_add(o, "binding", b ? view_binding(b, inv) : NULL);
        return o;
}

static json_object *view_change_device(const BindDeviceResult *x) {
        json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        json_add_str(o, "address", x->address);
        json_add_str(o, "role", x->bridge ? "bridge" : "endpoint");
        json_add_str(o, "before", x->before);
        json_add_str(o, "after", x->after);
        return o;
}

json_object *view_driver_change(const BindReport *rep, const Binding *b, const Inventory *inv) {
        json_object *o = json_object_new_object(), *devs = json_object_new_array();

        if (!o || !devs) {
                json_object_put(o);
                json_object_put(devs);
                return NULL;
        }
        for (size_t i = 0; i < rep->n_devices; i++)
                json_object_array_add(devs, view_change_device(&rep->devices[i]));
        json_add_str(o, "outcome", bind_outcome_to_string(rep->outcome));
        json_add_bool(o, "changed", rep->outcome == BIND_DONE);
        json_add(o, "iommu_group", rep->group >= 0 ? json_object_new_int(rep->group) : NULL);
        json_add(o, "devices", devs);
        json_add(o, "warnings", view_reasons(&rep->reasons));
        json_add(o, "binding", b ? view_binding(b, inv) : NULL);
        return o;
}

/* JSON views: see views.h. Unknown values are JSON null, never 0 or -1. */
#include <stdio.h>

#include "json-util.h"
#include "views.h"

const char *view_first_blocker(const ReasonList *l) {
        return reason_list_first_blocker(l) ?: "refused";
}

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

/* GET/PUT /v1/maintenance: the host's maintenance mode. Entering it is
 * refused while running VMs hold passthrough devices, unless forced; both
 * directions are idempotent. The state lives in the state directory. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "basic/log.h"
#include "basic/time-util.h"
#include "basic/macro.h"
#include "host/vfio-holders.h"
#include "json-util.h"
#include "problem.h"
#include "reply.h"
#include "resources.h"
#include "views.h"

#define REASON_MAX 512

json_object *view_maintenance(const Maintenance *m) {
        json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        json_add_bool(o, "enabled", m->enabled);
        json_add_str(o, "reason", m->reason);
        json_add(o, "since", json_timestamp(m->since_usec));
        json_add_str(o, "by", m->by);
        return o;
}

enum MHD_Result get_maintenance(Request *r) {
        json_object *o = view_maintenance(&r->ctx->store->maintenance);

        if (!o)
                return problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {}, "out of memory");
        return reply_json(r, MHD_HTTP_OK, o);
}

static json_object *view_holders(const VfioHolder *h, size_t n) {
        json_object *a = json_object_new_array();

        for (size_t i = 0; a && i < n; i++) {
                json_object *o = json_object_new_object();

                if (!o)
                        break;
                json_add_int(o, "iommu_group", h[i].group);
                json_add_int(o, "pid", h[i].pid);
                json_add_str(o, "process", h[i].comm);
                json_add_str(o, "vm", h[i].vm_name);
                json_object_array_add(a, o);
        }
        return a;
}

/* "group 12 (process 4242 (qemu-system-x86, VM 'win10')), group 13 (...)" */
static char *describe_holders(const VfioHolder *h, size_t n) {
        char *s = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&s, &size);

        if (!f)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *d = vfio_holder_describe(&h[i]);

                fprintf(f, "%sgroup %d held by %s", i ? ", " : "", h[i].group, strempty(d));
        }
        if (fclose(f) != 0) {
                free(s);
                return NULL;
        }
        return s;
}

static bool is_printable(const char *s) {
        for (; *s; s++)
                if ((unsigned char) *s < 0x20 || *s == 0x7f)
                        return false;
        return true;
}

bool maintenance_body_parse(Request *r, json_object **ret_body, MaintenanceBody *ret, enum MHD_Result *ret_mhd) {
        static const char *const fields[] = { "enabled", "reason", "force", NULL };
        _cleanup_(json_object_putp) json_object *body = NULL;
        MaintenanceBody b = {};
        json_object *v;

        if (!request_json_body(r, fields, &body, ret_mhd))
                return false;
        if (!json_object_object_get_ex(body, "enabled", &v) || !json_object_is_type(v, json_type_boolean)) {
                *ret_mhd = problem_reply(r, PROBLEM_INVALID_BODY, (ProblemField) { .pointer = "/enabled" },
                                         "'enabled' is required: true or false");
                return false;
        }
        b.enabled = json_object_get_boolean(v);
        if (json_object_object_get_ex(body, "reason", &v) && v) {
                if (!json_object_is_type(v, json_type_string) || json_object_get_string_len(v) > REASON_MAX ||
                    !is_printable(json_object_get_string(v))) {
                        *ret_mhd = problem_reply(r, PROBLEM_INVALID_BODY, (ProblemField) { .pointer = "/reason" },
                                                 "'reason' must be a string of printable characters, at most %d "
                                                 "bytes", REASON_MAX);
                        return false;
                }
                b.reason = json_object_get_string(v);
        }
        if (json_object_object_get_ex(body, "force", &v)) {
                if (!json_object_is_type(v, json_type_boolean)) {
                        *ret_mhd = problem_reply(r, PROBLEM_INVALID_BODY, (ProblemField) { .pointer = "/force" },
                                                 "'force' must be true or false");
                        return false;
                }
                b.force = json_object_get_boolean(v);
        }
        *ret_body = TAKE_PTR(body);
        *ret = b;
        return true;
}

enum MHD_Result put_maintenance(Request *r) {
        _cleanup_(json_object_putp) json_object *body = NULL;
        Maintenance *m = &r->ctx->store->maintenance;
        VfioHolder *holders = NULL;
        size_t n_holders = 0;
        MaintenanceBody b;
        json_object *o;
        const char *reason;
        bool enabled, changed, force;
        enum MHD_Result ret;
        int k;

        if (!maintenance_body_parse(r, &body, &b, &ret))
                return ret;
        enabled = b.enabled;
        reason = b.reason;
        force = b.force;

        changed = enabled != m->enabled;
        if (changed) {
                if (enabled) {
                        k = vfio_holders_scan(r->state->root, &holders, &n_holders);
                        if (k < 0)
                                return problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {},
                                                     "cannot tell which processes hold VFIO groups: %s", strerror(-k));
                }
                if (n_holders > 0 && !force) {
                        _cleanup_free_ char *d = describe_holders(holders, n_holders);
                        json_object *extra = json_object_new_object();

                        json_add(extra, "holders", view_holders(holders, n_holders));
                        vfio_holders_free(holders, n_holders);
                        return problem_reply_extra(r, PROBLEM_DEVICES_IN_USE, (ProblemField) { .pointer = "/enabled" },
                                                   extra, "running VMs hold passthrough devices: %s; stop them, or "
                                                   "send \"force\": true", strempty(d));
                }
                if (n_holders > 0) {
                        _cleanup_free_ char *d = describe_holders(holders, n_holders);
                        log_warning("Entering maintenance by force while %s.", strempty(d));
                }
                vfio_holders_free(holders, n_holders);

                k = store_set_maintenance(r->ctx->store, enabled, enabled ? reason : NULL, r->who, now_realtime_usec());
                if (k < 0) {
                        log_error_errno(k, "Cannot save the maintenance state: %m");
                        return problem_reply(r, PROBLEM_STATE_WRITE_FAILED, (ProblemField) {},
                                             "writing the state directory failed (%s): the host is still %s",
                                             strerror(-k), m->enabled ? "in maintenance" : "active");
                }
                log_notice("Maintenance mode %s by %s%s%s.", enabled ? "entered" : "left", r->who,
                           reason && enabled ? ": " : "", reason && enabled ? reason : "");
                o = view_maintenance(m);
                if (!o || event_log_publish(r->ctx->events, "maintenance-changed", o) < 0)
                        log_warning("Cannot publish the maintenance change: out of memory.");
        }
        o = view_maintenance(m);
        if (!o)
                return problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {}, "out of memory");
        json_add_bool(o, "changed", changed);
        return reply_json(r, MHD_HTTP_OK, o);
}

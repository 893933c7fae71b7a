/* POST /v1/passthrough/plan: what giving devices to a VM takes on this host
 * (changes nothing, so a reader may ask); GET /v1/passthrough/bindings: the
 * groups hostdevd bound to vfio-pci, with their original drivers and drift. */
#include <string.h>

#include "basic/log.h"
#include "basic/macro.h"
#include "basic/strv.h"
#include "host/passthrough-plan.h"
#include "host/vfio-bind.h"
#include "host/vfio-holders.h"
#include "json-util.h"
#include "problem.h"
#include "reply.h"
#include "resources.h"
#include "views-passthrough.h"

#define VM_NAME_MAX 256

static bool is_printable(const char *s) {
        for (; *s; s++)
                if ((unsigned char) *s < 0x20 || *s == 0x7f)
                        return false;
        return true;
}

/* The request's devices as strings; on a bad entry queues the 400. */
static bool parse_devices(Request *r, json_object *body, char ***ret, enum MHD_Result *ret_mhd) {
        _cleanup_strv_free_ char **devices = NULL;
        json_object *v;
        size_t n;

        if (!json_object_object_get_ex(body, "devices", &v) || !json_object_is_type(v, json_type_array)) {
                *ret_mhd = problem_reply(r, PROBLEM_INVALID_BODY, (ProblemField) { .pointer = "/devices" },
                                         "'devices' is required: a list of PCI addresses");
                return false;
        }
        n = json_object_array_length(v);
        if (n > PLAN_MAX_DEVICES) {
                *ret_mhd = problem_reply(r, PROBLEM_INVALID_BODY, (ProblemField) { .pointer = "/devices" },
                                         "%zu devices given, at most %d are accepted", n, PLAN_MAX_DEVICES);
                return false;
        }
        devices = calloc(n + 1, sizeof(char *));
        if (!devices) {
                *ret_mhd = problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {}, "out of memory");
                return false;
        }
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(v, i);
                char pointer[32];

                if (!json_object_is_type(e, json_type_string)) {
                        snprintf(pointer, sizeof pointer, "/devices/%zu", i);
                        *ret_mhd = problem_reply(r, PROBLEM_INVALID_BODY, (ProblemField) { .pointer = pointer },
                                                 "entry %zu of 'devices' is not a string", i);
                        return false;
                }
                devices[i] = strdup(json_object_get_string(e));
                if (!devices[i]) {
                        *ret_mhd = problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {}, "out of memory");
                        return false;
                }
        }
        *ret = TAKE_PTR(devices);
        return true;
}

static bool parse_vm(Request *r, json_object *body, const char **ret, enum MHD_Result *ret_mhd) {
        json_object *v;

        *ret = NULL;
        if (!json_object_object_get_ex(body, "vm", &v) || !v)
                return true;
        if (!json_object_is_type(v, json_type_string) || json_object_get_string_len(v) == 0 ||
            json_object_get_string_len(v) > VM_NAME_MAX || !is_printable(json_object_get_string(v))) {
                *ret_mhd = problem_reply(r, PROBLEM_INVALID_BODY, (ProblemField) { .pointer = "/vm" },
                                         "'vm' must be a name of 1 to %d printable characters, or null", VM_NAME_MAX);
                return false;
        }
        *ret = json_object_get_string(v);
        return true;
}

static enum MHD_Result plan_error_reply(Request *r, const PlanError *e) {
        char pointer[32];

        if (e->kind == PLAN_ERROR_EMPTY || e->kind == PLAN_ERROR_TOO_MANY)
                snprintf(pointer, sizeof pointer, "/devices");
        else
                snprintf(pointer, sizeof pointer, "/devices/%zu", e->index);
        if (e->kind == PLAN_ERROR_UNKNOWN)
                return problem_reply(r, PROBLEM_NO_SUCH_DEVICE, (ProblemField) { .pointer = pointer }, "%s",
                                     e->message);
        return problem_reply(r, PROBLEM_INVALID_BODY, (ProblemField) { .pointer = pointer }, "%s", e->message);
}

bool plan_body_parse(Request *r, json_object **ret_body, char ***ret_devices, const char **ret_vm,
                     enum MHD_Result *ret_mhd) {
        static const char *const fields[] = { "devices", "vm", NULL };
        _cleanup_(json_object_putp) json_object *body = NULL;
        _cleanup_strv_free_ char **devices = NULL;
        const char *vm;

        if (!request_json_body(r, fields, &body, ret_mhd) || !parse_devices(r, body, &devices, ret_mhd) ||
            !parse_vm(r, body, &vm, ret_mhd))
                return false;
        *ret_devices = TAKE_PTR(devices);
        *ret_vm = vm;
        *ret_body = TAKE_PTR(body);
        return true;
}

enum MHD_Result post_passthrough_plan(Request *r) {
        _cleanup_(json_object_putp) json_object *body = NULL;
        _cleanup_(passthrough_plan_freep) PassthroughPlan *plan = NULL;
        _cleanup_(hostinfo_done) HostInfo host = {};
        _cleanup_strv_free_ char **devices = NULL;
        VfioHolder *holders = NULL;
        size_t n_holders = 0;
        PlanError error = {};
        enum MHD_Result ret;
        const char *vm;
        json_object *o;
        int k;

        if (!plan_body_parse(r, &body, &devices, &vm, &ret))
                return ret;
        k = vfio_holders_scan(r->state->root, &holders, &n_holders);
        if (k < 0)
                return problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {},
                                     "cannot tell which processes hold VFIO groups: %s", strerror(-k));
        (void) hostinfo_read(r->state->root, &host); /* unknown fields stay null */
        k = passthrough_plan_build(&(PlanInput) { .inv = r->state->inventory, .host = &host, .holders = holders,
                                                  .n_holders = n_holders,
                                                  .vfio_pci_loaded = vfio_pci_loaded(r->state->root),
                                                  .devices = devices, .n_devices = strv_length(devices), .vm = vm },
                                   &plan, &error);
        vfio_holders_free(holders, n_holders);
        if (k == -EINVAL) {
                ret = plan_error_reply(r, &error);
                plan_error_done(&error);
                return ret;
        }
        o = k < 0 ? NULL : view_plan(plan);
        if (!o)
                return problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {}, "out of memory");
        return reply_json(r, MHD_HTTP_OK, o);
}

enum MHD_Result get_passthrough_bindings(Request *r) {
        _cleanup_(binding_table_done) BindingTable t = {};
        json_object *o, *a;
        int k;

        k = binding_table_load(r->ctx->store->dir, &t);
        if (k < 0)
                return problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {}, "cannot read the bindings in %s: %s",
                                     r->ctx->store->dir, strerror(-k));
        o = json_object_new_object();
        a = json_object_new_array();
        for (size_t i = 0; o && a && i < t.n; i++)
                json_object_array_add(a, view_binding(&t.items[i], r->state->inventory));
        if (!o || !a) {
                json_object_put(o);
                json_object_put(a);
                return problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {}, "out of memory");
        }
        json_add_int(o, "count", (int64_t) t.n);
        json_add(o, "bindings", a);
        return reply_json(r, MHD_HTTP_OK, o);
}

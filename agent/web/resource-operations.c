/* POST /v1/reboot and the operations it creates: GET /v1/operations,
 * GET /v1/operations/{id}. A reboot is asked for after its 202 has left,
 * only in maintenance mode, and only once at a time: a second request while
 * one is under way gets the same operation. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "basic/log.h"
#include "basic/time-util.h"
#include "basic/macro.h"
#include "basic/strv.h"
#include "host/hostinfo.h"
#include "json-util.h"
#include "problem.h"
#include "reply.h"
#include "resources.h"
#include "views.h"

static json_object *view_result(const Operation *op) {
        json_object *o = json_object_new_object(), *a = json_object_new_array();
        bool all_running = true;

        if (!o || !a) {
                json_object_put(o);
                json_object_put(a);
                return NULL;
        }
        for (size_t i = 0; i < op->n_expected; i++) {
                json_object *e = json_object_new_object();

                if (!e)
                        break;
                json_add_str(e, "argument", op->expected[i].argument);
                json_add_bool(e, "running", op->expected[i].running);
                json_object_array_add(a, e);
                all_running = all_running && op->expected[i].running;
        }
        json_add(o, "expected_arguments", a);
        json_add_bool(o, "all_running", all_running);
        json_add_bool(o, "iommu_expected", op->iommu_expected);
        json_add_bool(o, "iommu_active", op->iommu_active > 0);
        json_add_bool(o, "took_effect", all_running && (!op->iommu_expected || op->iommu_active > 0));
        return o;
}

json_object *view_operation(const Operation *op) {
        json_object *o = json_object_new_object();
        char self[64];

        if (!o)
                return NULL;
        snprintf(self, sizeof self, "/v1/operations/%s", op->id);
        json_add_str(o, "id", op->id);
        json_add_str(o, "self", self);
        json_add_str(o, "kind", op->kind);
        json_add_str(o, "state", operation_state_to_string(op->state));
        json_add_str(o, "requested_by", op->requested_by);
        json_add(o, "created", json_timestamp(op->created_usec));
        json_add(o, "updated", json_timestamp(op->updated_usec));
        json_add_str(o, "error", op->error);
        json_add_str(o, "method", op->method);
        json_add_str(o, "boot_id_before", op->boot_id_before);
        json_add_str(o, "boot_id_after", op->boot_id_after);
        json_add(o, "result", op->state == OPERATION_SUCCEEDED ? view_result(op) : NULL);
        return o;
}

static enum MHD_Result reply_operation(Request *r, unsigned status, const Operation *op) {
        json_object *o = view_operation(op);

        if (!o)
                return problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {}, "out of memory");
        if (status == MHD_HTTP_ACCEPTED && asprintf(&r->location, "/v1/operations/%s", op->id) < 0) {
                r->location = NULL;
                json_object_put(o);
                return problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {}, "out of memory");
        }
        return reply_json(r, status, o);
}

static void start_reboot(Request *r, void *userdata) {
        Operation *op = store_find_operation(r->ctx->store, userdata);

        if (op && op->state == OPERATION_ACCEPTED)
                rebooter_start(r->ctx->rebooter, op);
}

/* The kernel arguments the next boot adds: recorded so the completed
 * operation can say whether they run. */
static int record_expected_arguments(Request *r, Operation *op) {
        char **pending = NULL;
        int k;

        k = pending_kernel_arguments(r->ctx, &pending);
        if (k < 0)
                return k;
        for (char **p = pending; p && *p && k >= 0; p++) {
                k = operation_add_expected(op, *p);
                if (startswith(*p, "intel_iommu=on") || startswith(*p, "amd_iommu=on") ||
                    startswith(*p, "iommu=pt") || startswith(*p, "iommu=on"))
                        op->iommu_expected = true;
        }
        strv_free(pending);
        return k < 0 ? k : 0;
}

/* Without the boot id the next start could not tell a reboot from a restart. */
static enum MHD_Result boot_id_unavailable(Request *r) {
        _cleanup_free_ char *path = hostroot_path(r->state->root, AREA_PROC, "sys/kernel/random/boot_id");

        if (!path)
                return problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {}, "out of memory");
        return problem_reply(r, PROBLEM_BOOT_ID_UNAVAILABLE, (ProblemField) {},
                             "cannot read the boot id from '%s' (missing, unreadable or empty), so the reboot "
                             "could not be proven afterwards: not rebooting; make that file readable (procfs "
                             "mounted under the root) and ask again", path);
}

enum MHD_Result post_reboot(Request *r) {
        _cleanup_(json_object_putp) json_object *body = NULL;
        _cleanup_(operation_freep) Operation *op = NULL;
        _cleanup_(hostinfo_done) HostInfo info = {};
        Operation *active;
        enum MHD_Result ret;
        int k;

        if (!request_json_body(r, NULL, &body, &ret))
                return ret;
        active = store_active_operation(r->ctx->store, "reboot");
        if (active) {
                log_info("Reboot requested by %s while operation %s is under way: answering with it.", r->who,
                         active->id);
                return reply_operation(r, MHD_HTTP_ACCEPTED, active);
        }
        if (!r->ctx->store->maintenance.enabled)
                return problem_reply(r, PROBLEM_NOT_IN_MAINTENANCE, (ProblemField) {},
                                     "a reboot needs maintenance mode: PUT /v1/maintenance {\"enabled\": true} first");

        k = hostinfo_read(r->state->root, &info);
        if (k == -ENOMEM)
                return problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {}, "out of memory");
        if (k < 0 || !info.boot_id)
                return boot_id_unavailable(r);
        k = operation_new("reboot", r->who, now_realtime_usec(), &op);
        if (k >= 0 && !(op->boot_id_before = strdup(info.boot_id)))
                k = -ENOMEM;
        if (k >= 0)
                k = record_expected_arguments(r, op);
        if (k >= 0 && !(op->method = strdup(reboot_method_to_string(r->ctx->rebooter->method))))
                k = -ENOMEM;
        if (k < 0)
                return problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {}, "cannot prepare the reboot: %s",
                                     strerror(-k));
        k = store_add_operation(r->ctx->store, op);
        if (k < 0) {
                log_error_errno(k, "Cannot record the reboot operation: %m");
                return problem_reply(r, PROBLEM_STATE_WRITE_FAILED, (ProblemField) {},
                                     "cannot record the reboot operation (%s): not rebooting", strerror(-k));
        }
        active = TAKE_PTR(op);
        log_notice("Reboot operation %s accepted from %s (boot %s).", active->id, r->who, active->boot_id_before);
        r->after = start_reboot;
        r->after_userdata = active->id;
        return reply_operation(r, MHD_HTTP_ACCEPTED, active);
}

enum MHD_Result get_operations(Request *r) {
        const Store *s = r->ctx->store;
        json_object *o = json_object_new_object(), *a = json_object_new_array();

        if (!o || !a) {
                json_object_put(o);
                json_object_put(a);
                return problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {}, "out of memory");
        }
        for (size_t i = s->n_operations; i > 0; i--) /* newest first */
                json_object_array_add(a, view_operation(s->operations[i - 1]));
        json_add(o, "operations", a);
        return reply_json(r, MHD_HTTP_OK, o);
}

enum MHD_Result get_operation(Request *r) {
        const char *id = request_param(r, "id");
        const Operation *op;

        if (strlen(id) != 32 || strspn(id, "0123456789abcdef") != 32)
                return problem_reply(r, PROBLEM_INVALID_PARAMETER, (ProblemField) { .parameter = "id" },
                                     "'%s' is not an operation id (32 lower-case hex digits)", id);
        op = store_find_operation(r->ctx->store, id);
        if (!op)
                return problem_reply(r, PROBLEM_NO_SUCH_OPERATION, (ProblemField) { .parameter = "id" },
                                     "no operation '%s'", id);
        return reply_operation(r, MHD_HTTP_OK, op);
}

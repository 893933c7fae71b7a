/* POST /v1/reboot, and the operations of every kind: GET /v1/operations,
 * GET /v1/operations/{id}. A reboot is asked for after its 202 has left,
 * only in maintenance mode, and only once at a time: a second request while
 * one is under way gets the same operation; while another change is under
 * way (a kernel command-line edit, a driver change) it is refused. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "basic/log.h"
#include "basic/time-util.h"
#include "basic/macro.h"
#include "basic/strv.h"
#include "host/hostinfo.h"
#include "host/kcmdline-state.h"
#include "json-util.h"
#include "operations.h"
#include "problem.h"
#include "reply.h"
#include "resources.h"

static void start_reboot(Request *r, void *userdata) {
        Operation *op = store_find_operation(r->ctx->store, userdata);

        if (op && op->state == OPERATION_ACCEPTED)
                rebooter_start(r->ctx->rebooter, op);
}

/* The kernel arguments the next boot adds: recorded so the completed
 * operation can say whether they run. */
static int record_expected_arguments(Request *r, Operation *op) {
        _cleanup_free_ char *why = NULL;
        char **pending = NULL;
        int k;

        k = kc_pending_additions(r->state->root, &pending, &why);
        if (k < 0)
                return k;
        if (why)
                log_info("No pending kernel arguments are known: %s.", why);
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
        if (refuse_while_busy(r, &ret))
                return ret;
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

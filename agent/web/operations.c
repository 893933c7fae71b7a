/* Operations in the HTTP layer: see operations.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/log.h"
#include "basic/macro.h"
#include "basic/time-util.h"
#include "json-util.h"
#include "operations.h"
#include "problem.h"
#include "reply.h"

/* A reboot's result: which of the expected arguments run now. */
static json_object *view_reboot_result(const Operation *op) {
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

static json_object *view_result(const Operation *op) {
        if (op->state != OPERATION_SUCCEEDED)
                return NULL;
        if (streq(op->kind, "reboot"))
                return view_reboot_result(op);
        return json_object_get(op->result);
}

static json_object *view_steps(const Operation *op) {
        json_object *a = json_object_new_array();

        for (size_t i = 0; a && i < op->n_steps; i++) {
                json_object *e = json_object_new_object();

                if (!e)
                        break;
                json_add_str(e, "step", op->steps[i].step);
                json_add(e, "time", json_timestamp(op->steps[i].time_usec));
                json_object_array_add(a, e);
        }
        return a;
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
        json_add(o, "problem", op->state == OPERATION_FAILED ? json_object_get(op->problem) : NULL);
        json_add(o, "progress", view_steps(op));
        json_add_str(o, "method", op->method);
        json_add_str(o, "boot_id_before", op->boot_id_before);
        json_add_str(o, "boot_id_after", op->boot_id_after);
        json_add(o, "result", view_result(op));
        return o;
}

enum MHD_Result reply_operation(Request *r, unsigned status, const Operation *op) {
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

bool refuse_while_busy(Request *r, enum MHD_Result *ret_mhd) {
        const Operation *op = store_active_operation(r->ctx->store, NULL);
        json_object *extra, *o;
        char self[64];

        if (!op)
                return false;
        snprintf(self, sizeof self, "/v1/operations/%s", op->id);
        extra = json_object_new_object();
        o = json_object_new_object();
        json_add_str(o, "id", op->id);
        json_add_str(o, "kind", op->kind);
        json_add_str(o, "state", operation_state_to_string(op->state));
        json_add_str(o, "self", self);
        json_add(extra, "operation", o);
        log_info("%s %s from %s refused: operation %s (%s) is under way.", r->method, r->url, strempty(r->who),
                 op->id, op->kind);
        *ret_mhd = problem_reply_extra(r, PROBLEM_OPERATION_IN_PROGRESS, (ProblemField) {}, extra,
                                       "operation %s (%s) is %s: wait until it is done (GET %s)", op->id, op->kind,
                                       operation_state_to_string(op->state), self);
        return true;
}

void operation_job_done(OperationJob *j) {
        free(j->instance);
}

Operation *operation_job_find(const OperationJob *j) {
        Operation *op = store_find_operation(j->ctx->store, j->id);

        if (!op)
                log_error("Operation %s is gone from the store: its outcome is only logged.", j->id);
        return op;
}

void operation_save(AgentContext *ctx, Operation *op) {
        int k = store_save_operation(ctx->store, op);

        if (k < 0)
                log_error_errno(k, "Cannot record the state of operation %s: %m", op->id);
}

void operation_job_progress(const char *step, void *data) {
        OperationJob *j = data;
        Operation *op = operation_job_find(j);

        log_info("Operation %s: %s.", j->id, step);
        if (!op || operation_add_step(op, step, now_realtime_usec()) < 0)
                return;
        operation_save(j->ctx, op);
}

enum MHD_Result operation_start(Request *r, const char *kind, const WorkerJobType *type, void *data) {
        _cleanup_(operation_freep) Operation *op = NULL;
        OperationJob *j = data;
        Operation *added;
        int k;

        k = operation_new(kind, r->who, now_realtime_usec(), &op);
        if (k >= 0) {
                op->state = OPERATION_RUNNING;
                *j = (OperationJob) { .ctx = r->ctx, .instance = strdup(r->url) };
                memcpy(j->id, op->id, sizeof j->id);
                k = j->instance ? store_add_operation(r->ctx->store, op) : -ENOMEM;
        }
        if (k < 0) {
                type->free(data);
                log_error_errno(k, "Cannot record the %s operation: %m", kind);
                return problem_reply(r, PROBLEM_STATE_WRITE_FAILED, (ProblemField) {},
                                     "cannot record the operation (%s): nothing was changed", strerror(-k));
        }
        added = TAKE_PTR(op);
        k = worker_submit(r->ctx->worker, type, data);
        if (k < 0) {
                log_error_errno(k, "Cannot start operation %s (%s): %m", added->id, kind);
                if (operation_fail(added, "the work could not be started", NULL, now_realtime_usec()) >= 0)
                        operation_save(r->ctx, added);
                return problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {},
                                     "cannot start the work (%s): nothing was changed", strerror(-k));
        }
        log_notice("Operation %s (%s) accepted from %s.", added->id, kind, strempty(r->who));
        return reply_operation(r, MHD_HTTP_ACCEPTED, added);
}

/* GET/PUT/DELETE /v1/devices/{address}/driver: which driver a device is on
 * and what hostdevd bound; binding the device's whole IOMMU group to
 * vfio-pci, and giving it back to the drivers it had. The work is
 * host/vfio-bind.c's. PUT and DELETE check synchronously (400, 404, and the
 * 409 of a refusal, found without writing), then run the change as a
 * "bind" or "release" operation on the worker (202): sysfs writes can block
 * in the kernel for seconds. Its result is the body the 200 of a
 * synchronous change had; the group's devices are read again before it
 * succeeds.
 * Every change is logged with who asked. */
#include <stdlib.h>
#include <string.h>

#include "basic/log.h"
#include "basic/macro.h"
#include "basic/strv.h"
#include "basic/time-util.h"
#include "host/vfio-bind.h"
#include "json-util.h"
#include "operations.h"
#include "problem.h"
#include "reply.h"
#include "resources.h"
#include "views-passthrough.h"
#include "views.h"

static enum MHD_Result reply_state(Request *r, const PciDevice *d) {
        _cleanup_(binding_table_done) BindingTable t = {};
        const Binding *b;
        json_object *o;
        int k;

        k = binding_table_load(r->ctx->store->dir, &t);
        if (k < 0)
                return problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {}, "cannot read the bindings in %s: %s",
                                     r->ctx->store->dir, strerror(-k));
        b = binding_table_find(&t, d->name);
        o = view_driver_state(d, b, r->state->inventory);
        if (!o)
                return problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {}, "out of memory");
        return reply_json(r, MHD_HTTP_OK, o);
}

enum MHD_Result get_device_driver(Request *r) {
        enum MHD_Result ret;
        const PciDevice *d = request_device(r, &ret);

        return d ? reply_state(r, d) : ret;
}

static ProblemCode refusal_code(const BindReport *rep) {
        return reason_list_has_code(&rep->reasons, "group-in-use") ? PROBLEM_DEVICES_IN_USE : PROBLEM_BINDING_REFUSED;
}

static json_object *refusal_extra(const BindReport *rep) {
        json_object *extra = json_object_new_object();

        json_add(extra, "reasons", view_reasons(&rep->reasons));
        return extra;
}

/* ---- the job ---- */

typedef struct BindJob {
        OperationJob op;          /* first: operations.h */
        const HostRoot *root;     /* immutable while the agent runs */
        Inventory *inv;           /* a reference taken on the loop, dropped there (bind_job_free) */
        char *state_dir;
        char address[PCI_ADDR_STRLEN];
        bool bind, persistent;
        const char *what;         /* "Binding to vfio-pci", for the log */
        int r;                    /* the engine's */
        BindReport rep;
} BindJob;

static void bind_job_free(void *data) {
        BindJob *j = data;

        inventory_unref(j->inv);
        free(j->state_dir);
        bind_report_done(&j->rep);
        operation_job_done(&j->op);
        free(j);
}

/* A step for each device that moved (or was meant to), as re-read from sysfs. */
static void report_members(WorkerJob *job, const BindJob *j) {
        for (size_t i = 0; i < j->rep.n_devices; i++) {
                const BindDeviceResult *x = j->rep.devices + i;
                _cleanup_free_ char *s = NULL;

                if (x->bridge || streq_ptr(x->before, x->after))
                        continue;
                if (asprintf(&s, "%s moved from %s to %s", x->address, x->before ?: "no driver",
                             x->after ?: "no driver") >= 0)
                        worker_job_progress(job, s);
        }
}

/* On the worker's thread: only j and what it owns. */
static void bind_job_run(WorkerJob *job, void *data) {
        BindJob *j = data;
        const PciDevice *d = inventory_find(j->inv, j->address);
        _cleanup_free_ char *step = NULL;

        if (d && asprintf(&step, "%s IOMMU group %d of %s", j->bind ? "binding to vfio-pci:" : "giving back to "
                          "the drivers it had:", d->iommu_group, j->address) >= 0)
                worker_job_progress(job, step);
        j->r = j->bind ? vfio_bind_group(j->root, j->inv, j->state_dir, j->address, j->persistent, &j->rep)
                       : vfio_unbind_group(j->root, j->inv, j->state_dir, j->address, &j->rep);
        if (j->r >= 0 && (j->rep.outcome == BIND_DONE || j->rep.outcome == BIND_FAILED))
                report_members(job, j);
}

/* The sysfs of the group's members may have changed (done, or failed
 * half-way): they are read again, as a uevent would have them, so that every
 * GET and the event stream show it before the operation ends. */
static void refresh(BindJob *j) {
        _cleanup_free_ char *error = NULL;
        _cleanup_strv_free_ char **addrs = NULL;
        HostState *state = j->op.ctx->host;
        size_t n = 0;
        int k;

        operation_job_progress("reading the group's devices again", j);
        addrs = calloc(j->rep.n_devices + 1, sizeof(char *));
        k = addrs ? 0 : -ENOMEM;
        for (size_t i = 0; k >= 0 && i < j->rep.n_devices; i++)
                if (!(addrs[n++] = strdup(j->rep.devices[i].address)))
                        k = -ENOMEM;
        if (k >= 0)
                k = host_state_refresh(state, addrs, true, "operation", NULL, &error);
        if (k < 0)
                log_warning_errno(k, "Reading the devices again after a driver change failed: %s",
                                  error ?: strerror(-k));
}

static json_object *failure_problem(const BindJob *j, char **ret_error) {
        const BindReport *rep = &j->rep;
        json_object *extra;

        if (j->r < 0) {
                *ret_error = strdup(j->r == -ENOENT ? "the device is gone from the inventory"
                                                   : "the binding state could not be read or written");
                return problem_new(j->r == -ENOENT ? PROBLEM_NO_SUCH_DEVICE : PROBLEM_STATE_WRITE_FAILED,
                                   j->op.instance, NULL, "%s: %s; nothing was changed", j->address, strerror(-j->r));
        }
        if (rep->outcome == BIND_REFUSED) {
                *ret_error = strdup(view_first_blocker(&rep->reasons));
                return problem_new(refusal_code(rep), j->op.instance, refusal_extra(rep), "%s of %s refused: %s",
                                   j->what, j->address, view_first_blocker(&rep->reasons));
        }
        *ret_error = strdup(strempty(rep->error));
        extra = json_object_new_object();
        json_add_str(extra, "rollback", rep->rollback);
        json_add(extra, "reasons", view_reasons(&rep->reasons));
        return problem_new(PROBLEM_BINDING_FAILED, j->op.instance, extra, "%s", strempty(rep->error));
}

static void log_outcome(const BindJob *j, const Operation *op) {
        const BindReport *rep = &j->rep;

        if (j->r < 0)
                log_error_errno(j->r, "%s of %s for %s (operation %s) failed: %m", j->what, j->address,
                                op->requested_by, op->id);
        else if (rep->outcome == BIND_REFUSED)
                log_notice("%s of IOMMU group %d (%s) for %s refused: %s.", j->what, rep->group, j->address,
                           op->requested_by, view_first_blocker(&rep->reasons));
        else if (rep->outcome == BIND_FAILED)
                log_error("%s of IOMMU group %d (%s) for %s failed: %s; rollback: %s.", j->what, rep->group,
                          j->address, op->requested_by, strempty(rep->error), rep->rollback ?: "nothing to undo");
        else
                log_info("%s of IOMMU group %d (%s) for %s (operation %s): %s.", j->what, rep->group, j->address,
                         op->requested_by, op->id, rep->outcome == BIND_DONE ? "done" : "nothing to change");
        for (size_t i = 0; j->r >= 0 && rep->outcome != BIND_REFUSED && i < rep->reasons.n; i++)
                log_warning("%s: %s.", j->address, rep->reasons.items[i].message);
}

/* The body a synchronous change answered with. */
static json_object *view_result(const BindJob *j) {
        _cleanup_(binding_table_done) BindingTable t = {};
        const Inventory *inv = j->op.ctx->host->inventory;
        int k;

        k = binding_table_load(j->state_dir, &t);
        if (k < 0) {
                log_error_errno(k, "Cannot read the bindings in %s: %m", j->state_dir);
                return NULL;
        }
        return view_driver_change(&j->rep, binding_table_find(&t, j->address), inv);
}

static void bind_job_done(void *data) {
        BindJob *j = data;
        Operation *op = operation_job_find(&j->op);
        uint64_t now = now_realtime_usec();
        bool ok = j->r >= 0 && (j->rep.outcome == BIND_DONE || j->rep.outcome == BIND_UNCHANGED);
        _cleanup_free_ char *error = NULL;
        json_object *v;

        if (!op)
                return;
        log_outcome(j, op);
        if (j->r >= 0 && (j->rep.outcome == BIND_DONE || j->rep.outcome == BIND_FAILED))
                refresh(j);
        if (ok && (v = view_result(j))) {
                json_object_put(op->result);
                op->result = v;
                op->state = OPERATION_SUCCEEDED;
                op->updated_usec = now;
        } else if (ok)
                (void) operation_fail(op, "the change was made, but its report could not be built: GET "
                                      "/v1/devices/{address}/driver shows the state", NULL, now);
        else {
                v = failure_problem(j, &error);
                (void) operation_fail(op, error ?: "failed", v, now);
        }
        operation_save(j->op.ctx, op);
}

static const WorkerJobType bind_job_type = {
        .run = bind_job_run,
        .progress = operation_job_progress,
        .done = bind_job_done,
        .free = bind_job_free,
};

/* ---- PUT and DELETE ---- */

static enum MHD_Result engine_error(Request *r, const char *addr, int k) {
        log_error_errno(k, "Cannot change the driver of %s: state in %s: %m", addr, r->ctx->store->dir);
        return problem_reply(r, PROBLEM_STATE_WRITE_FAILED, (ProblemField) {},
                             "the binding state in %s could not be read or written (%s): nothing was changed",
                             r->ctx->store->dir, strerror(-k));
}

/* Refusals found before anything is written answer at once, as before. */
static bool refused(Request *r, const PciDevice *d, bool bind, const char *what, enum MHD_Result *ret_mhd) {
        _cleanup_(bind_report_done) BindReport rep = {};
        int k = vfio_check_group(r->state->root, r->state->inventory, r->ctx->store->dir, d->name, bind, &rep);

        if (k == 0)
                return false;
        if (k < 0) {
                *ret_mhd = engine_error(r, d->name, k);
                return true;
        }
        log_notice("%s of IOMMU group %d (%s) for %s refused: %s.", what, rep.group, d->name, strempty(r->who),
                   view_first_blocker(&rep.reasons));
        *ret_mhd = problem_reply_extra(r, refusal_code(&rep), (ProblemField) {}, refusal_extra(&rep),
                                       "%s of %s refused: %s", what, d->name, view_first_blocker(&rep.reasons));
        return true;
}

static enum MHD_Result start_change(Request *r, const PciDevice *d, bool bind, bool persistent) {
        const char *what = !bind ? "Release from vfio-pci"
                         : persistent ? "Persistent binding to vfio-pci" : "Binding to vfio-pci";
        enum MHD_Result ret;
        BindJob *j;

        if (refuse_while_busy(r, &ret) || refused(r, d, bind, what, &ret))
                return ret;
        j = calloc(1, sizeof(BindJob));
        if (!j || !(j->state_dir = strdup(r->ctx->store->dir))) {
                free(j);
                return problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {}, "out of memory");
        }
        j->root = r->state->root;
        j->inv = inventory_ref(r->state->inventory);
        memcpy(j->address, d->name, sizeof j->address);
        j->bind = bind;
        j->persistent = persistent;
        j->what = what;
        return operation_start(r, bind ? "bind" : "release", &bind_job_type, j);
}

bool driver_body_parse(Request *r, bool *ret_persistent, enum MHD_Result *ret_mhd) {
        static const char *const fields[] = { "driver", "persistent", NULL };
        _cleanup_(json_object_putp) json_object *body = NULL;
        bool persistent = false;
        json_object *v;

        if (!request_json_body(r, fields, &body, ret_mhd))
                return false;
        if (!json_object_object_get_ex(body, "driver", &v) || !json_object_is_type(v, json_type_string) ||
            !streq(json_object_get_string(v), "vfio-pci")) {
                *ret_mhd = problem_reply(r, PROBLEM_INVALID_BODY, (ProblemField) { .pointer = "/driver" },
                                         "'driver' is required and must be \"vfio-pci\": the only driver hostdevd "
                                         "binds");
                return false;
        }
        if (json_object_object_get_ex(body, "persistent", &v)) {
                if (!json_object_is_type(v, json_type_boolean)) {
                        *ret_mhd = problem_reply(r, PROBLEM_INVALID_BODY, (ProblemField) { .pointer = "/persistent" },
                                                 "'persistent' must be true or false");
                        return false;
                }
                persistent = json_object_get_boolean(v);
        }
        *ret_persistent = persistent;
        return true;
}

enum MHD_Result put_device_driver(Request *r) {
        const PciDevice *d;
        bool persistent;
        enum MHD_Result ret;

        if (!(d = request_device(r, &ret)) || !driver_body_parse(r, &persistent, &ret))
                return ret;
        return start_change(r, d, true, persistent);
}

enum MHD_Result delete_device_driver(Request *r) {
        _cleanup_(json_object_putp) json_object *body = NULL;
        const PciDevice *d;
        enum MHD_Result ret;

        if (!(d = request_device(r, &ret)))
                return ret;
        if (r->body_size > 0 && !request_json_body(r, NULL, &body, &ret)) /* none, or {} */
                return ret;
        return start_change(r, d, false, false);
}

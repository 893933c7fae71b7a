/* GET/PUT /v1/devices/{address}/sriov: a physical function's VFs, and
 * changing how many it has (VDSM's hostdevChangeNumvfs). The work is
 * host/sriov.c's. PUT checks synchronously (400, 404, 409 not-sr-iov and
 * the refusals found without writing), then runs the change as an "sriov"
 * operation on the worker (202): enabling VFs probes their drivers, which
 * can take seconds. Its result is the resource after the PF and its VFs
 * were read again. Every change is logged with who asked. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "basic/log.h"
#include "basic/macro.h"
#include "basic/time-util.h"
#include "host/sriov-state.h"
#include "host/sriov.h"
#include "json-util.h"
#include "operations.h"
#include "problem.h"
#include "reply.h"
#include "resources.h"
#include "views.h"

static json_object *bool_or_null(int v) {
        return v < 0 ? NULL : json_object_new_boolean(v);
}

/* The resource: the kernel's state, and what is recorded for the next start. */
static json_object *view_sriov(const HostRoot *root, const PciDevice *d, const SriovRecord *rec) {
        json_object *o = json_object_new_object(), *vfs = json_object_new_array(), *p = NULL;
        _cleanup_free_ char *drift = NULL;

        if (!o || !vfs) {
                json_object_put(o);
                json_object_put(vfs);
                return NULL;
        }
        for (char **v = d->vfs; v && *v; v++)
                json_object_array_add(vfs, json_object_new_string(*v));
        json_add_str(o, "address", d->name);
        json_add(o, "driver", json_string_or_null(d->driver));
        json_add_int(o, "total_vfs", d->total_vfs);
        json_add_int(o, "numvfs", d->enabled_vfs);
        json_add(o, "drivers_autoprobe", bool_or_null(sriov_read_autoprobe(root, d->name)));
        json_add(o, "vfs", vfs);
        if (rec) {
                int k = 0;

                p = json_object_new_object();
                json_add_int(p, "numvfs", rec->numvfs);
                json_add(p, "drivers_autoprobe", bool_or_null(rec->drivers_autoprobe));

                if (rec->vendor_id != d->vendor_id || rec->device_id != d->device_id)
                        k = asprintf(&drift, "recorded for %04x:%04x, the device is %04x:%04x: not applied at start",
                                     rec->vendor_id, rec->device_id, d->vendor_id, d->device_id);
                else if (rec->numvfs != (unsigned) d->enabled_vfs)
                        k = asprintf(&drift, "%u VFs are recorded, %d are enabled", rec->numvfs, d->enabled_vfs);
                if (k < 0)
                        drift = NULL;
        }
        json_add(o, "persistent", p);
        json_add(o, "drift", json_string_or_null(drift));
        return o;
}

static enum MHD_Result reply_state(Request *r, const PciDevice *d) {
        _cleanup_(sriov_table_done) SriovTable t = {};
        json_object *o;
        int k;

        k = sriov_table_load(r->ctx->store->dir, &t);
        if (k < 0)
                return problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {}, "cannot read the VF counts in %s: %s",
                                     r->ctx->store->dir, strerror(-k));
        o = view_sriov(r->state->root, d, sriov_table_find(&t, d->name));
        if (!o)
                return problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {}, "out of memory");
        return reply_json(r, MHD_HTTP_OK, o);
}

/* The PF, or the 400/404/409 already queued. */
static const PciDevice *path_pf(Request *r, enum MHD_Result *ret_mhd) {
        const PciDevice *d = request_device(r, ret_mhd);

        if (d && !d->is_pf) {
                *ret_mhd = problem_reply(r, PROBLEM_NOT_SRIOV, (ProblemField) {},
                                         "%s has no SR-IOV capability (no sriov_totalvfs)%s%s", d->name,
                                         d->physfn ? ": it is a virtual function of " : "", strempty(d->physfn));
                return NULL;
        }
        return d;
}

enum MHD_Result get_device_sriov(Request *r) {
        enum MHD_Result ret;
        const PciDevice *d = path_pf(r, &ret);

        return d ? reply_state(r, d) : ret;
}

static ProblemCode refusal_code(const SriovReport *rep) {
        return reason_list_has_code(&rep->reasons, "group-in-use") ? PROBLEM_DEVICES_IN_USE : PROBLEM_SRIOV_REFUSED;
}

static json_object *refusal_extra(const SriovReport *rep) {
        json_object *extra = json_object_new_object();

        json_add(extra, "reasons", view_reasons(&rep->reasons));
        return extra;
}

/* ---- the job ---- */

typedef struct SriovJob {
        OperationJob op;          /* first: operations.h */
        const HostRoot *root;     /* immutable while the agent runs */
        Inventory *inv;           /* a reference taken on the loop, dropped there */
        char *state_dir;
        char address[PCI_ADDR_STRLEN];
        SriovRequest req;
        int r;
        SriovReport rep;
} SriovJob;

static void sriov_job_free(void *data) {
        SriovJob *j = data;

        inventory_unref(j->inv);
        free(j->state_dir);
        sriov_report_done(&j->rep);
        operation_job_done(&j->op);
        free(j);
}

/* On the worker's thread: only j and what it owns. */
static void sriov_job_run(WorkerJob *job, void *data) {
        SriovJob *j = data;
        _cleanup_free_ char *step = NULL;

        if (asprintf(&step, "setting %u VFs on %s", j->req.numvfs, j->address) >= 0)
                worker_job_progress(job, step);
        j->r = sriov_set(j->root, j->inv, j->state_dir, j->address, &j->req, &j->rep);
        for (char **w = j->rep.writes; w && *w; w++)
                worker_job_progress(job, *w);
}

/* The PF and its VFs read again, as their uevents would have them, so that
 * every GET and the event stream show them before the operation ends. */
static void refresh(SriovJob *j) {
        _cleanup_free_ char *error = NULL;
        char *addrs[] = { j->address, NULL };
        int k;

        operation_job_progress("reading the physical function and its VFs again", j);
        k = host_state_refresh(j->op.ctx->host, addrs, true, "operation", NULL, &error);
        if (k < 0)
                log_warning_errno(k, "Reading %s again after a VF count change failed: %s", j->address,
                                  error ?: strerror(-k));
}

static json_object *result_view(const SriovJob *j) {
        _cleanup_(sriov_table_done) SriovTable t = {};
        const PciDevice *d = inventory_find(j->op.ctx->host->inventory, j->address);
        json_object *o, *writes;

        if (!d || sriov_table_load(j->state_dir, &t) < 0 ||
            !(o = view_sriov(j->root, d, sriov_table_find(&t, j->address))))
                return NULL;
        writes = json_object_new_array();
        for (char **w = j->rep.writes; writes && w && *w; w++)
                json_object_array_add(writes, json_object_new_string(*w));
        json_add_str(o, "outcome", sriov_outcome_to_string(j->rep.outcome));
        json_add_int(o, "numvfs_before", j->rep.before);
        json_add(o, "writes", writes);
        return o;
}

static void sriov_job_done(void *data) {
        SriovJob *j = data;
        Operation *op = operation_job_find(&j->op);
        uint64_t now = now_realtime_usec();
        json_object *v = NULL, *extra;

        if (!op)
                return;
        if (j->r >= 0 && j->rep.outcome != SRIOV_REFUSED && j->rep.outcome != SRIOV_UNCHANGED)
                refresh(j);
        if (j->r < 0) {
                log_error_errno(j->r, "Changing the VF count of %s for %s failed: %m", j->address, op->requested_by);
                (void) operation_fail(op, strerror(-j->r),
                                      problem_new(PROBLEM_STATE_WRITE_FAILED, j->op.instance, NULL,
                                                  "%s: %s", j->address, strerror(-j->r)), now);
        } else if (j->rep.outcome == SRIOV_REFUSED) {
                log_notice("VF count of %s for %s refused: %s.", j->address, op->requested_by,
                           view_first_blocker(&j->rep.reasons));
                (void) operation_fail(op, view_first_blocker(&j->rep.reasons),
                                      problem_new(refusal_code(&j->rep), j->op.instance, refusal_extra(&j->rep),
                                                  "changing the VF count of %s is refused: %s", j->address,
                                                  view_first_blocker(&j->rep.reasons)), now);
        } else if (j->rep.outcome == SRIOV_FAILED) {
                log_error("VF count of %s for %s: %s; %s.", j->address, op->requested_by, strempty(j->rep.error),
                          j->rep.rollback ?: "nothing to put back");
                extra = json_object_new_object();
                json_add(extra, "rollback", json_string_or_null(j->rep.rollback));
                json_add(extra, "reasons", view_reasons(&j->rep.reasons));
                (void) operation_fail(op, strempty(j->rep.error),
                                      problem_new(PROBLEM_SRIOV_FAILED, j->op.instance, extra, "%s",
                                                  strempty(j->rep.error)), now);
        } else if ((v = result_view(j))) {
                log_info("VF count of %s for %s (operation %s): %d before, %d now%s.", j->address,
                         op->requested_by, op->id, j->rep.before, j->rep.after,
                         j->rep.recorded ? ", recorded for every start" : "");
                json_object_put(op->result);
                op->result = v;
                op->state = OPERATION_SUCCEEDED;
                op->updated_usec = now;
        } else
                (void) operation_fail(op, "the change was made, but its report could not be built: GET "
                                      "/v1/devices/{address}/sriov shows the state", NULL, now);
        operation_save(j->op.ctx, op);
}

static const WorkerJobType sriov_job_type = {
        .run = sriov_job_run,
        .progress = operation_job_progress,
        .done = sriov_job_done,
        .free = sriov_job_free,
};

/* ---- PUT ---- */

/* An optional boolean field: 1, 0, or -1 when absent; false with the 400 queued. */
static bool optional_bool(Request *r, json_object *body, const char *field, int *ret, enum MHD_Result *ret_mhd) {
        _cleanup_free_ char *pointer = NULL;
        json_object *v;

        *ret = -1;
        if (!json_object_object_get_ex(body, field, &v))
                return true;
        if (json_object_is_type(v, json_type_boolean)) {
                *ret = json_object_get_boolean(v);
                return true;
        }
        if (asprintf(&pointer, "/%s", field) < 0)
                pointer = NULL;
        *ret_mhd = problem_reply(r, PROBLEM_INVALID_BODY, (ProblemField) { .pointer = pointer ?: "" },
                                 "'%s' must be true or false", field);
        return false;
}

bool sriov_body_parse(Request *r, json_object **ret_body, enum MHD_Result *ret_mhd) {
        static const char *const fields[] = { "numvfs", "drivers_autoprobe", "persistent", NULL };

        return request_json_body(r, fields, ret_body, ret_mhd);
}

bool sriov_body_check(Request *r, const PciDevice *d, json_object *body, SriovRequest *req,
                      enum MHD_Result *ret_mhd) {
        json_object *v;
        int64_t n;

        if (!json_object_object_get_ex(body, "numvfs", &v) || !json_object_is_type(v, json_type_int)) {
                *ret_mhd = problem_reply(r, PROBLEM_INVALID_BODY, (ProblemField) { .pointer = "/numvfs" },
                                         "'numvfs' is required: the number of VFs, an integer from 0 to %d",
                                         d->total_vfs);
                return false;
        }
        n = json_object_get_int64(v);
        if (n < 0 || n > d->total_vfs) {
                *ret_mhd = problem_reply(r, PROBLEM_INVALID_BODY, (ProblemField) { .pointer = "/numvfs" },
                                         "'numvfs' must be from 0 to %d (sriov_totalvfs of %s), not %" PRId64,
                                         d->total_vfs, d->name, n);
                return false;
        }
        req->numvfs = (unsigned) n;
        if (!optional_bool(r, body, "drivers_autoprobe", &req->drivers_autoprobe, ret_mhd) ||
            !optional_bool(r, body, "persistent", &req->persistent, ret_mhd))
                return false;
        if (req->persistent < 0)
                req->persistent = 0; /* the request says what the next start does too: nothing, unless asked */
        return true;
}

enum MHD_Result put_device_sriov(Request *r) {
        _cleanup_(json_object_putp) json_object *body = NULL;
        _cleanup_(sriov_report_done) SriovReport rep = {};
        SriovRequest req = {};
        const PciDevice *d;
        enum MHD_Result ret;
        SriovJob *j;
        int k;

        /* a malformed body is 400 whichever device it is sent to */
        if (!request_device(r, &ret) || !sriov_body_parse(r, &body, &ret) || !(d = path_pf(r, &ret)) ||
            !sriov_body_check(r, d, body, &req, &ret) || refuse_while_busy(r, &ret))
                return ret;
        k = sriov_check(r->state->root, r->state->inventory, d->name, &req, &rep);
        if (k < 0)
                return problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {}, "cannot read the SR-IOV state of %s: %s",
                                     d->name, strerror(-k));
        if (k > 0) {
                log_notice("VF count of %s for %s refused: %s.", d->name, strempty(r->who),
                           view_first_blocker(&rep.reasons));
                return problem_reply_extra(r, refusal_code(&rep), (ProblemField) {}, refusal_extra(&rep),
                                           "changing the VF count of %s is refused: %s", d->name,
                                           view_first_blocker(&rep.reasons));
        }
        j = calloc(1, sizeof(SriovJob));
        if (!j || !(j->state_dir = strdup(r->ctx->store->dir))) {
                free(j);
                return problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {}, "out of memory");
        }
        j->root = r->state->root;
        j->inv = inventory_ref(r->state->inventory);
        memcpy(j->address, d->name, sizeof j->address);
        j->req = req;
        return operation_start(r, "sriov", &sriov_job_type, j);
}

/* Mediated devices: GET and POST /v1/devices/{address}/mdevs (a parent's
 * types, instances and definitions; creating one), GET /v1/mdevs (every
 * instance and definition of the host) and DELETE /v1/mdevs/{uuid}. The
 * work is host/mdev-change.c's. POST and DELETE check synchronously (400,
 * 404, 409 and the refusals found without writing), then run the write as
 * an "mdev" operation on the worker (202): a vGPU driver's create can take
 * a while, and a remove blocks in the kernel until the device's user lets
 * go. Definitions are mdevctl's files (host/mdev-config.h); where they and
 * the kernel differ, "differs" says how. */
#include <stdlib.h>
#include <string.h>

#include "basic/log.h"
#include "basic/macro.h"
#include "basic/time-util.h"
#include "host/mdev-change.h"
#include "host/mdev-config.h"
#include "json-util.h"
#include "operations.h"
#include "problem.h"
#include "reply.h"
#include "resources.h"
#include "views.h"

typedef struct Definitions {
        MdevDefinition *items;
        size_t n;
} Definitions;

static void definitions_done(Definitions *d) {
        mdev_definitions_free(d->items, d->n);
}

static json_object *view_instance(const PciDevice *parent, const MdevInstance *x, const Definitions *defs) {
        const MdevDefinition *def = mdev_definitions_find(defs->items, defs->n, x->uuid);
        json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        json_add_str(o, "uuid", x->uuid);
        json_add_str(o, "parent", parent->name);
        json_add_str(o, "type", x->type);
        json_add(o, "iommu_group", x->iommu_group >= 0 ? json_object_new_int(x->iommu_group) : NULL);
        json_add_str(o, "driver", x->driver);
        json_add(o, "defined", json_object_new_boolean(def != NULL));
        return o;
}

/* How a definition and the kernel differ, for people; NULL when they agree.
 * p and x: the instance with the definition's UUID and its parent, or NULL. */
static char *definition_differs(const Inventory *inv, const MdevDefinition *def, const PciDevice *p,
                                const MdevInstance *x) {
        const PciDevice *want = inventory_find(inv, def->parent);
        char *s = NULL;
        int k = 0;

        if (def->error)
                k = asprintf(&s, "the definition cannot be used: %s", def->error);
        else if (p && !streq(p->name, def->parent))
                k = asprintf(&s, "defined on %s, active on %s", def->parent, p->name);
        else if (x && !streq_ptr(x->type, def->type))
                k = asprintf(&s, "defined as %s, active as %s", def->type, strempty(x->type));
        else if (!x && !want)
                k = asprintf(&s, "its parent %s is not on this host", def->parent);
        else if (!x && !mdev_parent_find_type(want->mdev, def->type))
                k = asprintf(&s, "%s does not offer the type %s", def->parent, def->type);
        else if (!x && def->auto_start)
                k = asprintf(&s, "defined to start automatically, but not active");
        return k < 0 ? NULL : s;
}

static json_object *view_definition(const Inventory *inv, const MdevDefinition *def) {
        json_object *o = json_object_new_object();
        _cleanup_free_ char *differs = NULL;
        const MdevInstance *x;
        const PciDevice *p = mdev_find_parent(inv, def->uuid, &x);

        if (!o)
                return NULL;
        differs = definition_differs(inv, def, p, x);
        json_add_str(o, "uuid", def->uuid);
        json_add_str(o, "parent", def->parent);
        json_add_str(o, "type", def->type);
        json_add_str(o, "start", def->error ? NULL : def->auto_start ? "auto" : "manual");
        json_add_int(o, "attrs", (int64_t) def->n_attrs);
        json_add(o, "active", json_object_new_boolean(p != NULL));
        json_add_str(o, "differs", differs);
        return o;
}

static json_object *view_types(const MdevParent *p) {
        json_object *a = json_object_new_array();

        for (size_t i = 0; a && i < p->n_types; i++) {
                const MdevType *t = &p->types[i];
                json_object *o = json_object_new_object();

                json_add_str(o, "id", t->id);
                json_add_str(o, "name", t->name);
                json_add_str(o, "description", t->description);
                json_add_str(o, "device_api", t->device_api);
                json_add(o, "available_instances", t->available >= 0 ? json_object_new_int(t->available) : NULL);
                json_object_array_add(a, o);
        }
        return a;
}

/* {"parent", "types", "instances", "definitions"} of one parent; with
 * parent NULL, {"instances", "definitions"} of the whole host. */
static json_object *view_mdevs(const Inventory *inv, const PciDevice *parent, const Definitions *defs) {
        json_object *o = json_object_new_object(), *inst = json_object_new_array(), *d = json_object_new_array();

        if (!o || !inst || !d) {
                json_object_put(o);
                json_object_put(inst);
                json_object_put(d);
                return NULL;
        }
        for (size_t i = 0; i < inv->n_devices; i++) {
                const PciDevice *p = &inv->devices[i];

                if (!p->mdev || (parent && p != parent))
                        continue;
                for (size_t j = 0; j < p->mdev->n_instances; j++)
                        json_object_array_add(inst, view_instance(p, &p->mdev->instances[j], defs));
        }
        for (size_t i = 0; i < defs->n; i++)
                if (!parent || streq(defs->items[i].parent, parent->name))
                        json_object_array_add(d, view_definition(inv, &defs->items[i]));
        if (parent) {
                json_add_str(o, "parent", parent->name);
                json_add(o, "types", view_types(parent->mdev));
        }
        json_add(o, "instances", inst);
        json_add(o, "definitions", d);
        return o;
}

static enum MHD_Result reply_mdevs(Request *r, const PciDevice *parent) {
        _cleanup_(definitions_done) Definitions defs = {};
        json_object *o;
        int k;

        k = mdev_definitions_load(r->state->root, &defs.items, &defs.n);
        if (k < 0)
                return problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {}, "cannot read the mdevctl definitions: %s",
                                     strerror(-k));
        o = view_mdevs(r->state->inventory, parent, &defs);
        if (!o)
                return problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {}, "out of memory");
        return reply_json(r, MHD_HTTP_OK, o);
}

/* The parent, or the 400/404/409 already queued. */
static const PciDevice *path_parent(Request *r, enum MHD_Result *ret_mhd) {
        const PciDevice *d = request_device(r, ret_mhd);

        if (d && !d->mdev) {
                *ret_mhd = problem_reply(r, PROBLEM_NOT_MDEV_PARENT, (ProblemField) {},
                                         "%s offers no mediated device types (no mdev_supported_types: its driver "
                                         "is %s)", d->name, d->driver ?: "none");
                return NULL;
        }
        return d;
}

enum MHD_Result get_device_mdevs(Request *r) {
        enum MHD_Result ret;
        const PciDevice *d = path_parent(r, &ret);

        return d ? reply_mdevs(r, d) : ret;
}

enum MHD_Result get_mdevs(Request *r) {
        return reply_mdevs(r, NULL);
}

static ProblemCode refusal_code(const MdevReport *rep) {
        return reason_list_has_code(&rep->reasons, "group-in-use") ? PROBLEM_DEVICES_IN_USE : PROBLEM_MDEV_REFUSED;
}

static enum MHD_Result reply_refused(Request *r, const char *what, const MdevReport *rep) {
        json_object *extra = json_object_new_object();

        json_add(extra, "reasons", view_reasons(&rep->reasons));
        log_notice("%s for %s refused: %s.", what, strempty(r->who), view_first_blocker(&rep->reasons));
        return problem_reply_extra(r, refusal_code(rep), (ProblemField) {}, extra, "%s is refused: %s", what,
                                   view_first_blocker(&rep->reasons));
}

/* ---- the job ---- */

typedef struct MdevJob {
        OperationJob op;          /* first: operations.h */
        const HostRoot *root;     /* immutable while the agent runs */
        Inventory *inv;           /* a reference taken on the loop, dropped there */
        bool create;
        char parent[PCI_ADDR_STRLEN];
        MdevCreateRequest req;    /* create; req.uuid is the subject of a removal too */
        int r;
        MdevReport rep;
} MdevJob;

static void mdev_job_free(void *data) {
        MdevJob *j = data;

        inventory_unref(j->inv);
        free(j->req.type);
        mdev_report_done(&j->rep);
        operation_job_done(&j->op);
        free(j);
}

/* On the worker's thread: only j and what it owns. */
static void mdev_job_run(WorkerJob *job, void *data) {
        MdevJob *j = data;

        worker_job_progress(job, j->create ? "creating the mediated device" : "removing the mediated device");
        j->r = j->create ? mdev_create(j->root, j->inv, j->parent, &j->req, &j->rep)
                         : mdev_remove(j->root, j->inv, j->req.uuid, &j->rep);
        for (char **w = j->rep.writes; w && *w; w++)
                worker_job_progress(job, *w);
}

static json_object *result_view(const MdevJob *j) {
        const Inventory *inv = j->op.ctx->host->inventory;
        _cleanup_(definitions_done) Definitions defs = {};
        const MdevInstance *x = NULL;
        const PciDevice *p = mdev_find_parent(inv, j->rep.uuid, &x);
        json_object *o, *writes;

        if (mdev_definitions_load(j->root, &defs.items, &defs.n) < 0)
                return NULL;
        o = json_object_new_object();
        writes = json_object_new_array();
        for (char **w = j->rep.writes; writes && w && *w; w++)
                json_object_array_add(writes, json_object_new_string(*w));
        json_add_str(o, "uuid", j->rep.uuid);
        json_add_str(o, "parent", j->rep.parent);
        json_add(o, "instance", x ? view_instance(p, x, &defs) : NULL);
        json_add(o, "defined", json_object_new_boolean(mdev_definitions_find(defs.items, defs.n, j->rep.uuid) != NULL));
        json_add(o, "writes", writes);
        return o;
}

static void mdev_job_done(void *data) {
        MdevJob *j = data;
        Operation *op = operation_job_find(&j->op);
        const char *verb = j->create ? "Creating" : "Removing";
        uint64_t now = now_realtime_usec();
        json_object *v = NULL;

        if (!op)
                return;
        if (j->r >= 0 && j->rep.outcome != MDEV_REFUSED) {
                _cleanup_free_ char *error = NULL;
                char *addrs[] = { j->rep.parent, NULL };
                int k;

                operation_job_progress("reading the parent again", j);
                k = host_state_refresh(j->op.ctx->host, addrs, true, "operation", NULL, &error);
                if (k < 0)
                        log_warning_errno(k, "Reading %s again after a mediated device change failed: %s",
                                          j->rep.parent, error ?: strerror(-k));
        }
        if (j->r < 0) {
                log_error_errno(j->r, "%s the mediated device %s for %s failed: %m", verb, j->req.uuid,
                                op->requested_by);
                (void) operation_fail(op, strerror(-j->r),
                                      problem_new(PROBLEM_MDEV_FAILED, j->op.instance, NULL, "%s: %s", j->req.uuid,
                                                  strerror(-j->r)), now);
        } else if (j->rep.outcome == MDEV_REFUSED) {
                (void) operation_fail(op, view_first_blocker(&j->rep.reasons),
                                      problem_new(refusal_code(&j->rep), j->op.instance, NULL, "%s %s is refused: %s",
                                                  verb, j->rep.uuid, view_first_blocker(&j->rep.reasons)), now);
        } else if (j->rep.outcome == MDEV_FAILED) {
                log_error("%s the mediated device %s on %s for %s: %s.", verb, j->rep.uuid, j->rep.parent,
                          op->requested_by, strempty(j->rep.error));
                (void) operation_fail(op, strempty(j->rep.error),
                                      problem_new(PROBLEM_MDEV_FAILED, j->op.instance, NULL, "%s",
                                                  strempty(j->rep.error)), now);
        } else if ((v = result_view(j))) {
                log_info("%s the mediated device %s on %s for %s (operation %s): done%s.", verb, j->rep.uuid,
                         j->rep.parent, op->requested_by, op->id,
                         j->rep.defined ? ", defined to start at every start" : "");
                json_object_put(op->result);
                op->result = v;
                op->state = OPERATION_SUCCEEDED;
                op->updated_usec = now;
        } else
                (void) operation_fail(op, "the change was made, but its report could not be built: GET /v1/mdevs "
                                      "shows the state", NULL, now);
        operation_save(j->op.ctx, op);
}

static const WorkerJobType mdev_job_type = {
        .run = mdev_job_run,
        .progress = operation_job_progress,
        .done = mdev_job_done,
        .free = mdev_job_free,
};

static MdevJob *job_new(Request *r, bool create) {
        MdevJob *j = calloc(1, sizeof(MdevJob));

        if (!j)
                return NULL;
        j->root = r->state->root;
        j->inv = inventory_ref(r->state->inventory);
        j->create = create;
        return j;
}

/* ---- POST /v1/devices/{address}/mdevs ---- */

static bool parse_create(Request *r, const PciDevice *d, json_object *body, MdevCreateRequest *req,
                         enum MHD_Result *ret_mhd) {
        json_object *v;

        if (!json_object_object_get_ex(body, "type", &v) || !json_object_is_type(v, json_type_string)) {
                *ret_mhd = problem_reply(r, PROBLEM_INVALID_BODY, (ProblemField) { .pointer = "/type" },
                                         "'type' is required: one of the mediated device types %s offers "
                                         "(GET /v1/devices/%s/mdevs)", d->name, d->name);
                return false;
        }
        if (!mdev_parent_find_type(d->mdev, json_object_get_string(v))) {
                *ret_mhd = problem_reply(r, PROBLEM_INVALID_BODY, (ProblemField) { .pointer = "/type" },
                                         "%s offers no mediated device type '%s' (GET /v1/devices/%s/mdevs lists "
                                         "them)", d->name, json_object_get_string(v), d->name);
                return false;
        }
        req->type = strdup(json_object_get_string(v));
        if (json_object_object_get_ex(body, "uuid", &v) &&
            (!json_object_is_type(v, json_type_string) ||
             mdev_uuid_canonical(json_object_get_string(v), req->uuid) < 0)) {
                *ret_mhd = problem_reply(r, PROBLEM_INVALID_BODY, (ProblemField) { .pointer = "/uuid" },
                                         "'uuid' must be a UUID (8-4-4-4-12 hex digits), or left out for a random one");
                return false;
        }
        if (json_object_object_get_ex(body, "persistent", &v)) {
                if (!json_object_is_type(v, json_type_boolean)) {
                        *ret_mhd = problem_reply(r, PROBLEM_INVALID_BODY, (ProblemField) { .pointer = "/persistent" },
                                                 "'persistent' must be true or false");
                        return false;
                }
                req->persistent = json_object_get_boolean(v);
        }
        return true;
}

enum MHD_Result post_device_mdevs(Request *r) {
        static const char *const fields[] = { "type", "uuid", "persistent", NULL };
        _cleanup_(json_object_putp) json_object *body = NULL;
        _cleanup_(mdev_report_done) MdevReport rep = {};
        MdevCreateRequest req = {};
        const PciDevice *d;
        enum MHD_Result ret;
        MdevJob *j;
        int k;

        if (!request_device(r, &ret) || !request_json_body(r, fields, &body, &ret) || !(d = path_parent(r, &ret)))
                return ret;
        if (!parse_create(r, d, body, &req, &ret)) {
                free(req.type);
                return ret;
        }
        if (!req.type || refuse_while_busy(r, &ret)) {
                free(req.type);
                return req.type ? ret : problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {}, "out of memory");
        }
        k = mdev_create_check(r->state->root, r->state->inventory, d->name, &req, &rep);
        if (k != 0) {
                free(req.type);
                return k > 0 ? reply_refused(r, "creating the mediated device", &rep)
                             : problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {},
                                             "cannot check the mediated devices of %s: %s", d->name, strerror(-k));
        }
        j = job_new(r, true);
        if (!j) {
                free(req.type);
                return problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {}, "out of memory");
        }
        memcpy(j->parent, d->name, sizeof j->parent);
        j->req = req; /* with the UUID the check chose, when none was asked */
        return operation_start(r, "mdev", &mdev_job_type, j);
}

/* ---- DELETE /v1/mdevs/{uuid} ---- */

enum MHD_Result delete_mdev(Request *r) {
        _cleanup_(json_object_putp) json_object *body = NULL;
        _cleanup_(mdev_report_done) MdevReport rep = {};
        char uuid[MDEV_UUID_STRLEN];
        enum MHD_Result ret;
        MdevJob *j;
        int k;

        if (mdev_uuid_canonical(request_param(r, "uuid"), uuid) < 0)
                return problem_reply(r, PROBLEM_INVALID_PARAMETER, (ProblemField) { .parameter = "uuid" },
                                     "'%s' is not a UUID (8-4-4-4-12 hex digits)", request_param(r, "uuid"));
        if (r->body_size > 0 && !request_json_body(r, NULL, &body, &ret)) /* none, or {} */
                return ret;
        if (refuse_while_busy(r, &ret))
                return ret;
        k = mdev_remove_check(r->state->root, r->state->inventory, uuid, &rep);
        if (k == -ENOENT)
                return problem_reply(r, PROBLEM_NO_SUCH_MDEV, (ProblemField) { .parameter = "uuid" },
                                     "no mediated device is active or defined with the UUID %s", uuid);
        if (k < 0)
                return problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {}, "cannot check the mediated device %s: %s",
                                     uuid, strerror(-k));
        if (k > 0)
                return reply_refused(r, "removing the mediated device", &rep);
        j = job_new(r, false);
        if (!j)
                return problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {}, "out of memory");
        memcpy(j->req.uuid, uuid, sizeof j->req.uuid);
        return operation_start(r, "mdev", &mdev_job_type, j);
}

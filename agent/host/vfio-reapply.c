/* Re-applying bindings at agent start: see vfio_bind_reapply() in
 * vfio-bind.h. A persistent binding from an earlier boot is checked for
 * drift (ids and group membership, as Proxmox checks its mappings) and bound
 * again; one that is not persistent ends with its boot; a binding of this
 * boot (the agent restarted) stands as it is, unless the agent stopped in the
 * middle of changing it: then the bind or the release its record marks as
 * pending is finished, so that the group is wholly bound or wholly given back. */
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"
#include "vfio-bind-internal.h"

static const char *const reapply_names[_REAPPLY_OUTCOME_MAX] = {
        [REAPPLY_APPLIED] = "applied", [REAPPLY_ALREADY] = "already", [REAPPLY_KEPT] = "kept",
        [REAPPLY_DROPPED] = "dropped", [REAPPLY_DRIFTED] = "drifted", [REAPPLY_REFUSED] = "refused",
        [REAPPLY_FAILED] = "failed", [REAPPLY_RELEASED] = "released",
};

const char *reapply_outcome_to_string(ReapplyOutcome o) {
        return o >= 0 && o < _REAPPLY_OUTCOME_MAX ? reapply_names[o] : NULL;
}

static char *join_reasons(const ReasonList *l) {
        char *s = NULL;

        for (size_t i = 0; i < l->n; i++)
                if (vfio_appendf(&s, "%s", l->items[i].message) < 0) {
                        free(s);
                        return NULL;
                }
        return s;
}

/* 1 with the outcome set when the device under the record changed (ids,
 * group): then the record is not acted on. */
static int check_drift(Ctx *c, Binding *b, ReapplyResult *res) {
        _cleanup_(reason_list_done) ReasonList drift = {};
        int r;

        r = binding_check_drift(b, c->inv, &drift);
        if (r < 0 || drift.n == 0)
                return r;
        res->outcome = REAPPLY_DRIFTED;
        res->detail = join_reasons(&drift);
        return res->detail ? 1 : -ENOMEM;
}

static int reapply_one(Ctx *c, Binding *b, ReapplyResult *res) {
        _cleanup_(bind_report_done) BindReport rep = { .group = -1 };
        int r;

        r = check_drift(c, b, res);
        if (r != 0)
                return r < 0 ? r : 0;
        r = vfio_bind_locked(c, inventory_find(c->inv, b->requested), b->persistent, &rep);
        if (r < 0)
                return r;
        switch (rep.outcome) {
        case BIND_DONE: res->outcome = REAPPLY_APPLIED; break;
        case BIND_UNCHANGED: res->outcome = REAPPLY_ALREADY; break;
        case BIND_REFUSED:
                res->outcome = REAPPLY_REFUSED;
                res->detail = join_reasons(&rep.reasons);
                return res->detail ? 0 : -ENOMEM;
        default:
                res->outcome = REAPPLY_FAILED;
                if (asprintf(&res->detail, "%s; rollback: %s", strempty(rep.error), rep.rollback ?: "nothing to undo") < 0)
                        return -ENOMEM;
        }
        return 0;
}

/* Finishes an interrupted release: 1 when the record is gone. */
static int release_one(Ctx *c, Binding *b, ReapplyResult *res) {
        _cleanup_(bind_report_done) BindReport rep = { .group = -1 };
        int r;

        r = check_drift(c, b, res);
        if (r != 0)
                return r < 0 ? r : 0;
        r = vfio_unbind_locked(c, inventory_find(c->inv, b->requested), &rep);
        if (r < 0)
                return r;
        switch (rep.outcome) {
        case BIND_DONE:
        case BIND_UNCHANGED:
                res->outcome = REAPPLY_RELEASED;
                return 1;
        case BIND_REFUSED:
                res->outcome = REAPPLY_REFUSED;
                res->detail = join_reasons(&rep.reasons);
                return res->detail ? 0 : -ENOMEM;
        default:
                res->outcome = REAPPLY_FAILED;
                res->detail = strdup(strempty(rep.error));
                return res->detail ? 0 : -ENOMEM;
        }
}

static int reapply_all(Ctx *c, ReapplyResult *res, size_t *n_res) {
        bool dropped = false;
        int r;

        for (size_t i = 0; i < c->table.n;) {
                Binding *b = &c->table.items[i];
                ReapplyResult *x = &res[(*n_res)++];
                bool same_boot = c->boot_id && streq_ptr(b->boot_id, c->boot_id);

                *x = (ReapplyResult) { .group = b->group };
                memcpy(x->requested, b->requested, sizeof x->requested);
                if ((!b->persistent || b->pending == BINDING_PENDING_RELEASE) && !same_boot) {
                        x->outcome = REAPPLY_DROPPED;
                        binding_table_remove(&c->table, b);
                        dropped = true;
                        continue;
                }
                if (b->pending == BINDING_PENDING_RELEASE) {
                        r = release_one(c, b, x); /* saves the table */
                        if (r < 0)
                                return r;
                        i += r == 0; /* released: the next record took its place */
                        continue;
                }
                i++;
                if (!b->persistent && b->pending != BINDING_PENDING_BIND) {
                        x->outcome = REAPPLY_KEPT;
                        continue;
                }
                r = reapply_one(c, b, x);
                if (r < 0)
                        return r;
        }
        return dropped ? binding_table_save(c->state_dir, &c->table) : 0;
}

int vfio_bind_reapply(const HostRoot *root, const Inventory *inv, const char *state_dir, ReapplyResult **ret,
                      size_t *ret_n) {
        _cleanup_(vfio_ctx_done) Ctx c = CTX_NULL;
        ReapplyResult *res;
        size_t n = 0;
        int r;

        r = vfio_ctx_open(&c, root, inv, state_dir);
        if (r < 0)
                return r;
        res = calloc(c.table.n + 1, sizeof(ReapplyResult));
        if (!res)
                return -ENOMEM;
        r = reapply_all(&c, res, &n);
        if (r < 0) {
                reapply_results_free(res, n);
                return r;
        }
        *ret = res;
        *ret_n = n;
        return 0;
}

void reapply_results_free(ReapplyResult *r, size_t n) {
        for (size_t i = 0; r && i < n; i++)
                free(r[i].detail);
        free(r);
}

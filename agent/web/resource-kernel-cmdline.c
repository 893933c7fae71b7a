/* GET/PATCH /v1/kernel-cmdline: the kernel command line that runs, the one
 * the bootloader gives the next boot, what hostdevd added, what a reboot
 * would change; and edits of it with rpm-ostree kargs' semantics, planned
 * on every file the bootloader setup reads, written atomically (with
 * rollback) in maintenance mode only.
 *
 * PATCH applies its edits in one fixed order, each on the result of the
 * previous: replace, (vfio_pci_ids when the key is configured: replace),
 * delete, delete_if_present, delete_owned, (remove_presets: delete_owned),
 * append, append_if_missing, (presets: append_if_missing), (vfio_pci_ids
 * when the key is not configured: append_if_missing). Checks, in order:
 * the body (400), maintenance unless dry_run (409), the bootloader (409),
 * presets that do not apply to this host (409), the plan (400/409 naming
 * the entry), conflicts (409); a dry run stops there and answers 200.
 * Otherwise the write, the regeneration tool and the reading back run as a
 * "kernel-cmdline" operation on the worker (202): its result is what a
 * dry run shows, for what was written. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/log.h"
#include "basic/macro.h"
#include "basic/strv.h"
#include "basic/time-util.h"
#include "json-util.h"
#include "host/kcmdline-apply.h"
#include "host/kcmdline-edits.h"
#include "host/kcmdline-presets.h"
#include "kcmdline-body.h"
#include "kcmdline-views.h"
#include "operations.h"
#include "problem.h"
#include "reply.h"
#include "resources.h"

/* ---- Shared by GET and PATCH ---- */

/* "pending" and "reboot_required", null when either line is unknown. */
static int add_pending(json_object *o, const KCmdline *running, const KCmdline *configured, BootloaderKind kind) {
        _cleanup_free_ PendingArg *p = NULL;
        size_t n = 0;
        json_object *v;
        int r;

        if (!running || !configured) {
                json_add(o, "pending", NULL);
                json_add(o, "reboot_required", NULL);
                return 0;
        }
        r = kcmdline_pending(running, configured, kind, &p, &n);
        if (r < 0)
                return r;
        v = view_pending(p, n);
        if (!v)
                return -ENOMEM;
        json_add(o, "pending", v);
        json_add_bool(o, "reboot_required", n > 0);
        return 0;
}

/* "owned": the ledger's arguments that configured has; null when unknown. */
static int add_owned(json_object *o, const BootLedger *ledger, const KCmdline *configured) {
        _cleanup_strv_free_ char **owned = NULL;
        int r;

        if (!ledger || !configured) {
                json_add(o, "owned", NULL);
                return 0;
        }
        r = boot_ledger_owned_in(ledger, configured, &owned);
        if (r < 0)
                return r;
        json_add(o, "owned", json_strv(owned));
        return 0;
}

static int add_warnings(json_object *o, const KcState *s, char *const *more) {
        json_object *a = json_strv(s->config ? s->config->warnings : NULL);

        if (!a)
                return -ENOMEM;
        if (s->ledger_error < 0) {
                _cleanup_free_ char *w = NULL;

                if (asprintf(&w, "hostdevd's ledger of the arguments it added is unreadable (%s): nothing is "
                             "known to be owned", strerror(-s->ledger_error)) < 0)
                        w = NULL;
                json_object_array_add(a, json_string_or_null(w));
        }
        for (char *const *m = more; m && *m; m++)
                json_object_array_add(a, json_object_new_string(*m));
        json_add(o, "warnings", a);
        return 0;
}

/* ---- GET ---- */

static json_object *view_state(const KcState *s, char *const *more_warnings) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        const BootConfig *c = s->config;
        const KCmdline *configured = c ? c->configured : NULL;

        if (!o)
                return NULL;
        json_add(o, "running", view_kcmdline(s->running, NULL, false));
        json_add(o, "configured", c ? view_kcmdline(c->configured, c->configured_source, true) : NULL);
        json_add(o, "future", c && c->future ? view_kcmdline(c->future, c->future_source, true) : NULL);
        json_add(o, "bootloader", s->bootloader ? view_bootloader(s->bootloader) : NULL);
        json_add_str(o, "bootloader_error", s->error);
        json_add(o, "entries", view_boot_entries(c));
        if (add_owned(o, s->ledger, configured) < 0 || add_pending(o, s->running, configured, kc_state_kind(s)) < 0 ||
            add_warnings(o, s, more_warnings) < 0)
                return NULL;
        return TAKE_PTR(o);
}

enum MHD_Result get_kernel_cmdline(Request *r) {
        _cleanup_(kc_state_done) KcState s = {};
        _cleanup_free_ char *taken = NULL;
        json_object *o;
        int k;

        k = kc_state_load(r->state->root, &s);
        if (k < 0)
                return problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {}, "reading the kernel command line: %s",
                                     strerror(-k));
        /* A vfio-pci.ids written by hand that takes a device the host uses. */
        k = vfio_ids_host_devices_taken(r->state->inventory, NULL, s.config ? s.config->configured : NULL, &taken);
        if (k < 0)
                return problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {}, "out of memory");
        o = view_state(&s, (char *[]) { taken, NULL });
        if (!o)
                return problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {}, "out of memory");
        return reply_json(r, MHD_HTTP_OK, o);
}

/* ---- PATCH: planning ---- */

/* The first edit whose prefix of the list fails to plan, or -1. */
static ssize_t failing_edit(const Bootloader *b, const Edits *e, const BootLedger *ledger, BootPlanFlags flags,
                            int *ret_r, char **ret_error) {
        for (size_t i = 1; i <= e->n; i++) {
                _cleanup_(boot_plan_freep) BootPlan *plan = NULL;
                _cleanup_free_ char *error = NULL;
                int r = bootloader_plan(b, e->edits, i, ledger, flags, &plan, &error);

                if (r < 0) {
                        *ret_r = r;
                        *ret_error = TAKE_PTR(error);
                        return (ssize_t) i - 1;
                }
        }
        return -1;
}

static enum MHD_Result plan_refused(Request *r, const Bootloader *b, const Edits *e, const BootLedger *ledger,
                                    BootPlanFlags flags, int k, const char *error) {
        _cleanup_free_ char *culprit_error = NULL;
        ssize_t i;

        if (k == -EOPNOTSUPP || k == -EBADMSG)
                return problem_reply(r, PROBLEM_BOOTLOADER_NOT_EDITABLE, (ProblemField) {}, "%s",
                                     error ?: "this bootloader setup cannot be edited");
        if (k == -ENOMEM)
                return problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {}, "out of memory");
        i = failing_edit(b, e, ledger, flags, &k, &culprit_error);
        if (i < 0 || k == -ENOMEM)
                return problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {}, "planning the edit failed: %s",
                                     error ?: strerror(-k));
        error = culprit_error ?: error;
        if (k == -EINVAL)
                return problem_reply(r, PROBLEM_INVALID_BODY, (ProblemField) { .pointer = e->pointers[i] },
                                     "%s", error ?: "not a valid kernel argument");
        if (k == -ENOENT || k == -EEXIST || k == -ENOTUNIQ || k == -E2BIG || k == -EDOM)
                return problem_reply(r, PROBLEM_EDIT_NOT_APPLICABLE, (ProblemField) { .pointer = e->pointers[i] },
                                     "%s; nothing was written", error ?: strerror(-k));
        return problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {}, "planning the edit failed: %s",
                             error ?: strerror(-k));
}

/* ---- PATCH: the reply ---- */

typedef struct Outcome {
        const BootPlan *plan;
        bool dry_run;
        const KCmdline *running;
        const KCmdline *configured;   /* after the edit (read back, or as planned) */
        BootloaderKind kind;
        const BootLedger *ledger;     /* with the plan's ownership recorded */
        bool ledger_saved;
        const BootRegenResult *regen;
        char *const *warnings;
} Outcome;

static json_object *view_files(const BootPlan *plan) {
        json_object *a = json_object_new_array();

        for (size_t i = 0; a && i < plan->n_files; i++)
                json_object_array_add(a, json_object_new_string(plan->files[i].display_path));
        return a;
}

static json_object *view_outcome(const Outcome *x) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        _cleanup_free_ char *before = NULL, *after = NULL;
        const BootPlan *plan = x->plan;
        json_object *warnings;

        if (!o)
                return NULL;
        before = kcmdline_format(plan->before);
        after = kcmdline_format(plan->after);
        json_add_bool(o, "changed", plan->changed);
        json_add_bool(o, "dry_run", x->dry_run);
        json_add_str(o, "bootloader_kind", bootloader_kind_to_string(plan->kind));
        json_add(o, "files", view_files(plan));
        json_add_str(o, "diff", plan->diff ?: "");
        json_add_str(o, "before", before);
        json_add_str(o, "after", after);
        json_add(o, "notes", json_strv(plan->notes));
        json_add_bool(o, "ledger_saved", x->ledger_saved);
        json_add(o, "regeneration", view_regeneration(x->regen));
        warnings = json_strv(x->warnings);
        if (!warnings)
                return NULL;
        json_add(o, "warnings", warnings);
        if (add_owned(o, x->ledger, x->configured) < 0 || add_pending(o, x->running, x->configured, x->kind) < 0)
                return NULL;
        return TAKE_PTR(o);
}

/* ---- PATCH ---- */

/* The bootloader found, editable, readable, with a readable ledger. */
static bool check_setup(Request *r, const KcState *s, enum MHD_Result *ret_mhd) {
        const char *reason = NULL;

        if (!s->bootloader)
                *ret_mhd = problem_reply(r, PROBLEM_NO_BOOTLOADER, (ProblemField) {}, "%s: nothing to edit", s->error);
        else if (!bootloader_editable(s->bootloader, &reason))
                *ret_mhd = problem_reply(r, PROBLEM_BOOTLOADER_NOT_EDITABLE, (ProblemField) {}, "%s: %s",
                                         bootloader_kind_to_string(bootloader_kind(s->bootloader)),
                                         reason ?: "hostdevd cannot edit this setup");
        else if (!s->config)
                *ret_mhd = problem_reply(r, PROBLEM_BOOTLOADER_NOT_EDITABLE, (ProblemField) {},
                                         "%s: its files cannot be read safely: %s",
                                         bootloader_kind_to_string(bootloader_kind(s->bootloader)), s->error);
        else if (!s->ledger)
                *ret_mhd = problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {},
                                         "hostdevd's ledger of the arguments it added is unreadable (%s): not "
                                         "editing, so that ownership is not lost", strerror(-s->ledger_error));
        else
                return true;
        return false;
}

static enum MHD_Result conflicts_refused(Request *r, const BootPlan *plan) {
        json_object *extra = json_object_new_object();
        _cleanup_free_ char *list = strv_join(plan->conflicts, " ");

        json_add(extra, "conflicts", json_strv(plan->conflicts));
        return problem_reply_extra(r, PROBLEM_KARG_CONFLICT, (ProblemField) {}, extra,
                                   "%s Nothing was written: resolve it with replace, or delete then append, or "
                                   "send \"allow_conflicts\": true", strempty(list));
}

/* ---- PATCH: the operation ---- */

typedef struct KcJob {
        OperationJob op;       /* first: operations.h */
        const HostRoot *root;  /* immutable while the agent runs */
        KcApply apply;
        int r;                 /* kc_apply()'s */
} KcJob;

static void kc_job_free(void *data) {
        KcJob *j = data;

        kc_apply_done(&j->apply);
        operation_job_done(&j->op);
        free(j);
}

static void on_kc_step(const char *step, void *userdata) {
        worker_job_progress(userdata, step);
}

/* On the worker's thread: only j and what it owns. */
static void kc_job_run(WorkerJob *job, void *data) {
        KcJob *j = data;

        j->r = j->apply.plan->changed ? kc_apply(j->root, &j->apply, on_kc_step, job) : 0;
}

static void log_change(const Operation *op, const BootPlan *plan) {
        _cleanup_free_ char *before = kcmdline_format(plan->before), *after = kcmdline_format(plan->after);

        log_notice("Kernel command line (%s) changed by %s in %zu files (operation %s): '%s' -> '%s'.",
                   bootloader_kind_to_string(plan->kind), op->requested_by, plan->n_files, op->id,
                   strempty(before), strempty(after));
}

/* The reply a synchronous PATCH gave, for what was written. */
static json_object *view_applied(const KcApply *a) {
        const Outcome x = {
                .plan = a->plan,
                .running = a->running,
                .configured = kc_apply_configured(a),
                .kind = bootloader_kind(a->bootloader),
                .ledger = a->ledger,
                .ledger_saved = a->plan->changed ? a->ledger_saved : true,
                .regen = a->regen,
                .warnings = a->warnings,
        };

        return view_outcome(&x);
}

static json_object *write_failed(const KcJob *j, const Operation *op) {
        const KcApply *a = &j->apply;
        const char *why = a->error_message ?: strerror(-a->error);

        log_error("Editing the kernel command line for %s failed (operation %s), the files were restored: %s",
                  op->requested_by, op->id, why);
        return problem_new(PROBLEM_BOOTLOADER_WRITE_FAILED, j->op.instance, NULL,
                           "%s; every bootloader file was rolled back to what it was", why);
}

/* kernel-cmdline-changed: what the bootloader is now configured with, and
 * what is pending until the next boot, taken from the operation's result. */
static void publish_change(AgentContext *ctx, const Operation *op) {
        static const char *const keys[] = { "after", "owned", "pending", "reboot_required" };
        json_object *o = json_object_new_object();

        if (o)
                json_add_str(o, "operation", op->id);
        for (size_t i = 0; o && i < ELEMENTSOF(keys); i++) {
                json_object *v = NULL;

                json_object_object_get_ex(op->result, keys[i], &v);
                json_add(o, keys[i], json_object_get(v));
        }
        if (!o || event_log_publish(ctx->events, "kernel-cmdline-changed", o) < 0)
                log_warning("Cannot publish the kernel command line change: out of memory.");
}

/* Where a finished kernel-cmdline operation is completed, on the loop: the
 * outcome recorded (result, or error with problem details) and saved. */
static void kernel_cmdline_operation_complete(KcJob *j, Operation *op) {
        const KcApply *a = &j->apply;
        json_object *result = NULL;
        uint64_t now = now_realtime_usec();
        int k;

        if (j->r >= 0 && a->error >= 0)
                result = view_applied(a);
        if (j->r >= 0 && a->error < 0)
                k = operation_fail(op, a->error_message ?: strerror(-a->error), write_failed(j, op), now);
        else if (!result)
                k = operation_fail(op, "out of memory while the kernel command line was written; GET "
                                   "/v1/kernel-cmdline shows what the files say", NULL, now);
        else {
                json_object_put(op->result);
                op->result = result;
                op->state = OPERATION_SUCCEEDED;
                op->updated_usec = now;
                k = 0;
                if (a->plan->changed) {
                        log_change(op, a->plan);
                        publish_change(j->op.ctx, op);
                }
                STRV_FOREACH(w, a->warnings)
                        log_warning("Kernel command line (operation %s): %s.", op->id, *w);
        }
        if (k < 0)
                log_oom();
        operation_save(j->op.ctx, op);
}

static void kc_job_done(void *data) {
        KcJob *j = data;
        Operation *op = operation_job_find(&j->op);

        if (op)
                kernel_cmdline_operation_complete(j, op);
}

static const WorkerJobType kc_job_type = {
        .run = kc_job_run,
        .progress = operation_job_progress,
        .done = kc_job_done,
        .free = kc_job_free,
};

/* Hands what was checked over to the job: the bootloader, its ledger, the
 * running line and the plan. */
static enum MHD_Result start_apply(Request *r, KcState *s, BootPlan **plan, char ***warnings) {
        KcJob *j = calloc(1, sizeof(KcJob));

        if (!j)
                return problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {}, "out of memory");
        j->root = r->state->root;
        j->apply = (KcApply) {
                .bootloader = TAKE_PTR(s->bootloader),
                .ledger = TAKE_PTR(s->ledger),
                .running = TAKE_PTR(s->running),
                .plan = TAKE_PTR(*plan),
                .warnings = TAKE_PTR(*warnings),
                .regen_flags = r->ctx->run_tools_in_root ? BOOT_REGEN_IN_ROOT : 0,
        };
        return operation_start(r, "kernel-cmdline", &kc_job_type, j);
}

/* ---- PATCH ---- */

static enum MHD_Result dry_run_reply(Request *r, const KcState *s, const BootPlan *plan, char *const *warnings) {
        const Outcome x = { .plan = plan, .dry_run = true, .running = s->running, .configured = plan->after,
                            .kind = bootloader_kind(s->bootloader), .ledger = s->ledger, .ledger_saved = true,
                            .warnings = warnings };
        json_object *o = boot_ledger_record(s->ledger, plan) < 0 ? NULL : view_outcome(&x); /* "owned" as it would be */

        if (!o)
                return problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {}, "out of memory");
        return reply_json(r, MHD_HTTP_OK, o);
}

static bool edits_built(Request *r, const KcEditRequest *p, const KcState *s, const PresetHost *host, Edits *e,
                        enum MHD_Result *ret_mhd) {
        _cleanup_free_ char *pointer = NULL, *reason = NULL;
        int k = kc_build_edits(p, s, host, e, &pointer, &reason);

        if (k == -EOPNOTSUPP)
                *ret_mhd = problem_reply(r, PROBLEM_PRESET_NOT_APPLICABLE, (ProblemField) { .pointer = pointer },
                                         "%s", strempty(reason));
        else if (k < 0)
                *ret_mhd = problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {}, "out of memory");
        return k >= 0;
}

/* A plan whose vfio-pci.ids would take a device the host uses is refused. */
static bool host_devices_kept(Request *r, const Edits *e, const BootPlan *plan, enum MHD_Result *ret_mhd) {
        _cleanup_free_ char *reason = NULL;
        int k = vfio_ids_host_devices_taken(r->state->inventory, plan->before, plan->after, &reason);

        if (k < 0)
                *ret_mhd = problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {}, "out of memory");
        else if (reason)
                *ret_mhd = problem_reply(r, PROBLEM_EDIT_NOT_APPLICABLE,
                                         (ProblemField) { .pointer = edits_last_writing(e, "vfio-pci.ids") },
                                         "%s; nothing was written", reason);
        return k >= 0 && !reason;
}

/* Everything a PATCH reads: the host for presets and ids, the state. */
static bool read_host(Request *r, const KcEditRequest *p, PresetHost *host, KcState *s, char ***warnings,
                      enum MHD_Result *ret_mhd) {
        int k = p->presets || p->ids ? preset_host_read(r->state, host) : 0;

        if (k >= 0)
                k = kc_state_load(r->state->root, s);
        if (k >= 0 && p->ids)
                k = vfio_ids_warnings(r->state->inventory, p->ids, warnings);
        if (k < 0)
                *ret_mhd = problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {}, "reading the host: %s",
                                         strerror(-k));
        return k >= 0;
}

enum MHD_Result patch_kernel_cmdline(Request *r) {
        _cleanup_(kc_edit_request_done) KcEditRequest p = {};
        _cleanup_(kc_state_done) KcState s = {};
        _cleanup_(preset_host_done) PresetHost host = {};
        _cleanup_(edits_done) Edits e = {};
        _cleanup_(boot_plan_freep) BootPlan *plan = NULL;
        _cleanup_strv_free_ char **warnings = NULL;
        _cleanup_free_ char *error = NULL;
        BootPlanFlags flags;
        enum MHD_Result ret;
        int k;

        if (!parse_patch(r, &p, &ret))
                return ret;
        if (!p.dry_run && refuse_while_busy(r, &ret))
                return ret;
        if (!p.dry_run && !r->ctx->store->maintenance.enabled)
                return problem_reply(r, PROBLEM_NOT_IN_MAINTENANCE, (ProblemField) {},
                                     "changing the kernel command line needs maintenance mode: PUT /v1/maintenance "
                                     "{\"enabled\": true} first (a dry run does not)");
        if (!read_host(r, &p, &host, &s, &warnings, &ret) || !check_setup(r, &s, &ret) ||
            !edits_built(r, &p, &s, &host, &e, &ret))
                return ret;

        flags = p.allow_conflicts ? BOOT_PLAN_ALLOW_CONFLICTS : 0;
        k = bootloader_plan(s.bootloader, e.edits, e.n, s.ledger, flags, &plan, &error);
        if (k < 0)
                return plan_refused(r, s.bootloader, &e, s.ledger, flags, k, error);
        if (strv_length(plan->conflicts) > 0)
                return conflicts_refused(r, plan);
        if (!host_devices_kept(r, &e, plan, &ret))
                return ret;
        if (p.dry_run)
                return dry_run_reply(r, &s, plan, warnings);
        return start_apply(r, &s, &plan, &warnings);
}

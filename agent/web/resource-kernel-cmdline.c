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
 * the entry), conflicts (409); a dry run stops there. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/log.h"
#include "basic/macro.h"
#include "basic/strv.h"
#include "json-util.h"
#include "kcmdline-edits.h"
#include "kcmdline-presets.h"
#include "kcmdline-state.h"
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

static BootloaderKind state_kind(const KcState *s) {
        return s->bootloader ? bootloader_kind(s->bootloader) : _BOOTLOADER_KIND_MAX;
}

/* ---- GET ---- */

static json_object *view_state(const KcState *s) {
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
        if (add_owned(o, s->ledger, configured) < 0 || add_pending(o, s->running, configured, state_kind(s)) < 0 ||
            add_warnings(o, s, NULL) < 0)
                return NULL;
        return TAKE_PTR(o);
}

enum MHD_Result get_kernel_cmdline(Request *r) {
        _cleanup_(kc_state_done) KcState s = {};
        json_object *o;
        int k;

        k = kc_state_load(r->state->root, &s);
        if (k < 0)
                return problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {}, "reading the kernel command line: %s",
                                     strerror(-k));
        o = view_state(&s);
        if (!o)
                return problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {}, "out of memory");
        return reply_json(r, MHD_HTTP_OK, o);
}

int pending_kernel_arguments(AgentContext *ctx, char ***ret) {
        _cleanup_(kc_state_done) KcState s = {};
        _cleanup_free_ PendingArg *p = NULL;
        _cleanup_strv_free_ char **l = NULL;
        size_t n = 0;
        int k;

        k = kc_state_load(ctx->host->root, &s);
        if (k < 0)
                return k;
        if (!s.running || !s.config) {
                log_info("No pending kernel arguments are known: %s.",
                         s.error ?: "the running command line is unreadable");
                *ret = NULL;
                return 0;
        }
        k = kcmdline_pending(s.running, s.config->configured, state_kind(&s), &p, &n);
        if (k < 0)
                return k;
        for (size_t i = 0; i < n; i++) {
                char *t;

                if (!p[i].add)
                        continue;
                t = karg_to_text(p[i].arg);
                if (!t || strv_push(&l, t) < 0) {
                        free(t);
                        return -ENOMEM;
                }
        }
        *ret = TAKE_PTR(l);
        return 0;
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

        if (k == -EOPNOTSUPP)
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
        if (k == -ENOENT || k == -EEXIST || k == -ENOTUNIQ || k == -E2BIG)
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
        char **warnings;              /* owned */
} Outcome;

static void outcome_done(Outcome *x) {
        strv_free(x->warnings);
}

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

/* ---- PATCH: writing ---- */

/* "a b c", or NULL for none (or out of memory). */
static char *join_words(char *const *l) {
        char *s = NULL;
        size_t size = 0;
        FILE *f;

        if (strv_length(l) == 0 || !(f = open_memstream(&s, &size)))
                return NULL;
        for (char *const *w = l; *w; w++)
                fprintf(f, "%s%s", w == l ? "" : " ", *w);
        if (fclose(f) != 0) {
                free(s);
                return NULL;
        }
        return s;
}

/* The ledger after a written plan: recorded and saved; a failure is
 * logged and reported, the files stay written. */
static bool record_ownership(Request *r, BootLedger *ledger, const BootPlan *plan, char ***warnings) {
        _cleanup_free_ char *added = NULL;
        int k;

        if (strv_length(plan->owned_added) == 0 && strv_length(plan->owned_removed) == 0)
                return true;
        k = boot_ledger_record(ledger, plan);
        if (k >= 0)
                k = boot_ledger_save(r->state->root, ledger);
        if (k >= 0)
                return true;
        added = join_words(plan->owned_added);
        log_error_errno(k, "The bootloader files were written, but the ledger of the arguments hostdevd added "
                        "could not be saved: %m. hostdevd will not remember adding: %s", strempty(added));
        strv_extendf(warnings, "the bootloader files were written, but hostdevd's ledger of the arguments it added "
                     "could not be saved (%s): delete_owned and remove_presets will not remove %s",
                     strerror(-k), added ? added : "them");
        return false;
}

/* Writes the plan, records ownership, regenerates. On a write failure the
 * library has restored every file: queue the 500 and return false. */
static bool write_plan(Request *r, const Bootloader *b, const BootPlan *plan, BootLedger *ledger, Outcome *x,
                       BootRegenResult **ret_regen, enum MHD_Result *ret_mhd) {
        _cleanup_free_ char *error = NULL;
        int k;

        k = bootloader_apply(r->state->root, plan, &error);
        if (k < 0) {
                log_error_errno(k, "Editing the kernel command line for %s failed, the files were restored: %s",
                                r->who, error ?: strerror(-k));
                *ret_mhd = problem_reply(r, PROBLEM_BOOTLOADER_WRITE_FAILED, (ProblemField) {},
                                         "%s; every bootloader file was rolled back to what it was",
                                         error ?: strerror(-k));
                return false;
        }
        x->ledger_saved = record_ownership(r, ledger, plan, &x->warnings);
        k = bootloader_regenerate(b, ret_regen);
        if (k < 0) {
                log_error_errno(k, "Cannot run the bootloader's regeneration tool: %m");
                strv_extendf(&x->warnings, "the bootloader's regeneration tool could not be run (%s): run it by hand",
                             strerror(-k));
        } else if ((*ret_regen)->ran && (*ret_regen)->exit_status != 0)
                log_error("'%s' failed (exit status %d): %s", strempty((*ret_regen)->command),
                          (*ret_regen)->exit_status, strempty((*ret_regen)->output));
        return true;
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
        _cleanup_free_ char *list = join_words(plan->conflicts);

        json_add(extra, "conflicts", json_strv(plan->conflicts));
        return problem_reply_extra(r, PROBLEM_KARG_CONFLICT, (ProblemField) {}, extra,
                                   "%s Nothing was written: resolve it with replace, or delete then append, or "
                                   "send \"allow_conflicts\": true", strempty(list));
}

static void log_change(const Request *r, const BootPlan *plan) {
        _cleanup_free_ char *before = kcmdline_format(plan->before), *after = kcmdline_format(plan->after);

        log_notice("Kernel command line (%s) changed by %s in %zu files: '%s' -> '%s'.",
                   bootloader_kind_to_string(plan->kind), r->who, plan->n_files, strempty(before), strempty(after));
}

enum MHD_Result patch_kernel_cmdline(Request *r) {
        _cleanup_(patch_request_done) PatchRequest p = {};
        _cleanup_(kc_state_done) KcState s = {}, now = {};
        _cleanup_(preset_host_done) PresetHost host = {};
        _cleanup_(edits_done) Edits e = {};
        _cleanup_(boot_plan_freep) BootPlan *plan = NULL;
        _cleanup_(boot_regen_result_freep) BootRegenResult *regen = NULL;
        _cleanup_(outcome_done) Outcome x = { .ledger_saved = true };
        _cleanup_free_ char *error = NULL;
        BootPlanFlags flags;
        enum MHD_Result ret;
        json_object *o;
        int k;

        if (!parse_patch(r, &p, &ret))
                return ret;
        if (!p.dry_run && !r->ctx->store->maintenance.enabled)
                return problem_reply(r, PROBLEM_NOT_IN_MAINTENANCE, (ProblemField) {},
                                     "changing the kernel command line needs maintenance mode: PUT /v1/maintenance "
                                     "{\"enabled\": true} first (a dry run does not)");
        k = p.presets || p.ids ? preset_host_read(r->state, &host) : 0;
        if (k >= 0)
                k = kc_state_load(r->state->root, &s);
        if (k >= 0 && p.ids)
                k = vfio_ids_warnings(r->state->inventory, p.ids, &x.warnings);
        if (k < 0)
                return problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {}, "reading the host: %s", strerror(-k));
        if (!check_setup(r, &s, &ret) || !build_edits(r, &p, &s, &host, &e, &ret))
                return ret;

        flags = p.allow_conflicts ? BOOT_PLAN_ALLOW_CONFLICTS : 0;
        k = bootloader_plan(s.bootloader, e.edits, e.n, s.ledger, flags, &plan, &error);
        if (k < 0)
                return plan_refused(r, s.bootloader, &e, s.ledger, flags, k, error);
        if (strv_length(plan->conflicts) > 0)
                return conflicts_refused(r, plan);

        x.plan = plan;
        x.dry_run = p.dry_run;
        x.running = s.running;
        x.configured = plan->after;
        x.kind = bootloader_kind(s.bootloader);
        x.ledger = s.ledger;
        if (p.dry_run)
                k = boot_ledger_record(s.ledger, plan); /* in memory only: what "owned" would be */
        else if (plan->changed) {
                if (!write_plan(r, s.bootloader, plan, s.ledger, &x, &regen, &ret))
                        return ret;
                log_change(r, plan);
                x.regen = regen;
                k = kc_state_load(r->state->root, &now); /* what the files say now */
                if (k >= 0 && now.config)
                        x.configured = now.config->configured;
        }
        o = k < 0 ? NULL : view_outcome(&x);
        if (!o)
                return problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {}, "out of memory");
        return reply_json(r, MHD_HTTP_OK, o);
}

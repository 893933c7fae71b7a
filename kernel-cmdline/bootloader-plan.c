/* Planning an edit: the edits of kcmdline-edit.h applied to every target of
 * a setup (entries, /etc/kernel/cmdline, grubenv kernelopts, the GRUB
 * variables), with ownership and conflicts, rendered into per-file new
 * contents and checked by reading them back before anything is written. */

/*
 * Design. A target's arguments may be spread over several segments (the
 * options lines of a systemd-boot entry, GRUB_CMDLINE_LINUX and
 * GRUB_CMDLINE_LINUX_DEFAULT). Each edit has the meaning it has on the
 * concatenation: we run it on a copy of the concatenation for its errors
 * and its effect, then apply it per segment (appends to the target's append
 * segment; deletes and replaces in every segment holding the argument) and
 * check that deletes and replaces give the same concatenation.
 *
 * Across targets: an edit's error (-ENOENT, -EEXIST) is judged on the
 * primary target (the default entry, or what it reads), so drift in other
 * targets is repaired rather than refused: append_if_missing also adds the
 * argument to an entry that lacks it, delete removes it wherever it is (and
 * fails only when no target has it). Ownership is judged on the primary target too: an append that
 * adds the pair there makes it owned; a pair that was already there (the
 * administrator's) stays not owned.
 *
 * Conflicts: appending KEY=V where a target has KEY with another value (and
 * KEY is not one of the keys that legitimately repeat, like console=) is
 * not done but listed in plan->conflicts, unless BOOT_PLAN_ALLOW_CONFLICTS.
 * The caller resolves it explicitly (replace, or delete then append).
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/strv.h"
#include "bootloader-internal.h"
#include "kcmdline-edit.h"

static const char *const edit_names[_BOOT_EDIT_TYPE_MAX] = {
        [BOOT_EDIT_APPEND] = "append",
        [BOOT_EDIT_APPEND_IF_MISSING] = "append_if_missing",
        [BOOT_EDIT_DELETE] = "delete",
        [BOOT_EDIT_DELETE_IF_PRESENT] = "delete_if_present",
        [BOOT_EDIT_DELETE_OWNED] = "delete_owned",
        [BOOT_EDIT_REPLACE] = "replace",
};

const char *boot_edit_type_to_string(BootEditType t) {
        return t >= 0 && t < _BOOT_EDIT_TYPE_MAX ? edit_names[t] : NULL;
}

BootPlan *boot_plan_free(BootPlan *p) {
        if (!p)
                return NULL;
        for (size_t i = 0; i < p->n_files; i++) {
                free(p->files[i].path);
                free(p->files[i].display_path);
                free(p->files[i].old_contents);
                free(p->files[i].new_contents);
        }
        free(p->files);
        for (size_t i = 0; i < p->n_targets; i++) {
                free(p->targets[i].name);
                kcmdline_free(p->targets[i].before);
                kcmdline_free(p->targets[i].after);
        }
        free(p->targets);
        free(p->diff);
        kcmdline_free(p->before);
        kcmdline_free(p->after);
        strv_free(p->conflicts);
        strv_free(p->notes);
        strv_free(p->owned_added);
        strv_free(p->owned_removed);
        free(p);
        return NULL;
}

/* The planning state. */
typedef struct Planner {
        const Bootloader *b;
        Target *work;        /* copies of b->targets, edited */
        size_t n;
        size_t primary;
        char **owned;        /* the ledger as edited */
        BootPlan *plan;
        BootPlanFlags flags;
        char *error;
} Planner;

static int set_error(Planner *p, int r, const BootEdit *e, const char *why) {
        free(p->error);
        if (asprintf(&p->error, "%s '%s': %s", boot_edit_type_to_string(e->type), e->spec, why) < 0)
                p->error = NULL;
        return r;
}

static void planner_done(Planner *p) {
        for (size_t i = 0; i < p->n; i++)
                target_done(p->work + i);
        free(p->work);
        strv_free(p->owned);
        free(p->error);
}

static int copy_targets(Planner *p) {
        const Bootloader *b = p->b;

        p->work = calloc(b->n_targets + 1, sizeof(Target));
        if (!p->work)
                return -ENOMEM;
        p->primary = 0;
        for (size_t i = 0; i < b->n_targets; i++) {
                const Target *s = b->targets + i;
                Target *t = p->work + i;

                *t = (Target) {
                        .append_seg = s->append_seg,
                        .primary = s->primary,
                        .name = strdup(s->name),
                        .segs = calloc(s->n_segs + 1, sizeof(Segment)),
                };
                p->n++;
                if (!t->segs || !t->name)
                        return -ENOMEM;
                for (size_t k = 0; k < s->n_segs; k++) {
                        Segment *d = t->segs + k;

                        *d = (Segment) { .kind = s->segs[k].kind, .file = s->segs[k].file, .line = s->segs[k].line };
                        t->n_segs++;
                        if (kcmdline_copy(s->segs[k].args, &d->args) < 0 ||
                            (s->segs[k].prefix && !(d->prefix = strdup(s->segs[k].prefix))) ||
                            (s->segs[k].suffix && !(d->suffix = strdup(s->segs[k].suffix))))
                                return -ENOMEM;
                }
                if (s->primary)
                        p->primary = i;
        }
        return 0;
}

/* ---- Ownership ---- */

static bool owned_has(char *const *owned, const KArg *a) {
        for (size_t i = 0; owned && owned[i]; i++) {
                _cleanup_(karg_done) KArg o = {};

                if (karg_parse(owned[i], &o) >= 0 && kcmdline_key_equal(o.key, a->key) &&
                    streq_ptr(o.value, a->value))
                        return true;
        }
        return false;
}

static int owned_remove(char **owned, const KArg *a) {
        size_t j = 0;

        for (size_t i = 0; owned && owned[i]; i++) {
                _cleanup_(karg_done) KArg o = {};

                if (karg_parse(owned[i], &o) >= 0 && kcmdline_key_equal(o.key, a->key) &&
                    streq_ptr(o.value, a->value)) {
                        free(owned[i]);
                        continue;
                }
                owned[j++] = owned[i];
        }
        if (owned)
                owned[j] = NULL;
        return 0;
}

static int owned_add(char ***owned, const KArg *a) {
        _cleanup_free_ char *f = NULL;

        if (owned_has(*owned, a))
                return 0;
        f = karg_format(a);
        if (!f)
                return -ENOMEM;
        return strv_push(owned, TAKE_PTR(f));
}

/* Moves ownership from what an edit changed on the primary target. */
static int track_ownership(Planner *p, BootEditType type, const KCmdline *before, const KCmdline *after) {
        bool lost = false;
        int r;

        for (size_t i = 0; i < before->n_args; i++) {
                const KArg *a = before->args + i;

                if (type >= BOOT_EDIT_DELETE && !kcmdline_has_pair(after, a) && owned_has(p->owned, a)) {
                        owned_remove(p->owned, a);
                        lost = true;
                }
        }
        if (type != BOOT_EDIT_APPEND && type != BOOT_EDIT_APPEND_IF_MISSING &&
            !(type == BOOT_EDIT_REPLACE && lost))
                return 0;
        for (size_t i = 0; i < after->n_args; i++) {
                const KArg *a = after->args + i;

                if (a->section != KARG_KERNEL || a->noise || kcmdline_has_pair(before, a))
                        continue;
                r = owned_add(&p->owned, a);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- One edit on one target ---- */

static size_t count_exact(const KCmdline *c, const KArg *a) {
        size_t n = 0;

        for (size_t i = 0; i < c->n_args; i++) {
                const KArg *x = c->args + i;
                if (x->section == KARG_KERNEL && !x->noise && kcmdline_key_equal(x->key, a->key) &&
                    streq_ptr(x->value, a->value))
                        n++;
        }
        return n;
}

/* The pair that "KEY" (no value) stands for in c: the flag if there is
 * one, else the value all KEY arguments share. */
static int resolve_delete(const KCmdline *c, const KArg *spec, KArg *ret) {
        const char *value = NULL;
        bool found = false;

        ret->key = strdup(spec->key);
        if (!ret->key)
                return -ENOMEM;
        if (spec->value || count_exact(c, spec) > 0) {
                ret->value = spec->value ? strdup(spec->value) : NULL;
                return spec->value && !ret->value ? -ENOMEM : 0;
        }
        for (size_t i = 0; i < c->n_args; i++) {
                const KArg *x = c->args + i;
                if (x->section != KARG_KERNEL || x->noise || !kcmdline_key_equal(x->key, spec->key))
                        continue;
                if (found && !streq_ptr(value, x->value))
                        return -ENOTUNIQ;
                value = x->value;
                found = true;
        }
        if (!found)
                return -ENOENT;
        ret->value = strdup(value); /* not a flag: count_exact() found none */
        return ret->value ? 0 : -ENOMEM;
}

static int delete_in_segments(Target *t, const KArg *pair) {
        _cleanup_free_ char *spec = karg_format(pair);

        if (!spec)
                return errno == ENOMEM ? -ENOMEM : -EINVAL;
        for (size_t k = 0; k < t->n_segs; k++)
                if (count_exact(t->segs[k].args, pair) > 0) {
                        int r = kcmdline_delete_if_present(t->segs[k].args, spec, NULL);
                        if (r < 0)
                                return r;
                }
        return 0;
}

/* Applies e to t; *ret_changed; errors as kcmdline-edit.h. */
static int edit_target(Target *t, const BootEdit *e, bool *ret_changed) {
        _cleanup_(kcmdline_freep) KCmdline *all = NULL, *after = NULL;
        _cleanup_(karg_done) KArg spec = {}, pair = {};
        bool changed = false;
        int r;

        r = bl_target_args(t, &all);
        if (r < 0)
                return r;

        switch (e->type) {
        case BOOT_EDIT_APPEND:
        case BOOT_EDIT_APPEND_IF_MISSING:
                r = karg_parse(e->spec, &spec);
                if (r < 0)
                        return r;
                if (count_exact(all, &spec) > 0) {
                        *ret_changed = false;
                        return e->type == BOOT_EDIT_APPEND ? -EEXIST : 0;
                }
                r = kcmdline_append(t->segs[t->append_seg].args, e->spec, &changed);
                break;

        case BOOT_EDIT_DELETE:
        case BOOT_EDIT_DELETE_IF_PRESENT:
        case BOOT_EDIT_DELETE_OWNED:
                r = karg_parse(e->spec, &spec);
                if (r < 0)
                        return r;
                r = resolve_delete(all, &spec, &pair);
                if (r == -ENOENT) {
                        *ret_changed = false;
                        return e->type == BOOT_EDIT_DELETE ? -ENOENT : 0;
                }
                if (r < 0)
                        return r;
                r = kcmdline_delete_if_present(all, e->spec, &changed);
                if (r >= 0 && changed)
                        r = delete_in_segments(t, &pair);
                break;

        case BOOT_EDIT_REPLACE:
                r = kcmdline_replace(all, e->spec, &changed);
                if (r < 0)
                        return r;
                for (size_t k = 0; k < t->n_segs && changed; k++) {
                        r = kcmdline_replace(t->segs[k].args, e->spec, NULL);
                        if (r < 0 && r != -ENOENT)
                                return r;
                }
                r = 0;
                break;

        default:
                return -EINVAL;
        }
        if (r < 0)
                return r;

        if (changed && e->type != BOOT_EDIT_APPEND && e->type != BOOT_EDIT_APPEND_IF_MISSING) {
                r = bl_target_args(t, &after);
                if (r < 0)
                        return r;
                if (!kcmdline_equal(after, all))
                        return -EINVAL; /* the segments disagree with the whole: refuse */
        }
        *ret_changed = changed;
        return 0;
}

/* ---- Conflicts ---- */

static int find_conflicts(Planner *p, const BootEdit *e, bool *ret_conflict) {
        _cleanup_(karg_done) KArg a = {};
        int r;

        *ret_conflict = false;
        r = karg_parse(e->spec, &a);
        if (r < 0)
                return r;
        if (karg_key_cumulative(a.key))
                return 0;

        for (size_t i = 0; i < p->n; i++) {
                _cleanup_(kcmdline_freep) KCmdline *all = NULL;

                r = bl_target_args(p->work + i, &all);
                if (r < 0)
                        return r;
                if (count_exact(all, &a) > 0)
                        continue; /* nothing appended there */
                for (size_t k = 0; k < all->n_args; k++) {
                        const KArg *x = all->args + k;
                        _cleanup_free_ char *have = NULL;

                        if (x->section != KARG_KERNEL || x->noise || !kcmdline_key_equal(x->key, a.key) ||
                            streq_ptr(x->value, a.value))
                                continue;
                        have = karg_format(x);
                        if (!have)
                                return -ENOMEM;
                        if (p->flags & BOOT_PLAN_ALLOW_CONFLICTS)
                                r = strv_extendf(&p->plan->notes, "'%s' appended although %s has '%s': "
                                                 "the last one wins for most parameters.",
                                                 e->spec, p->work[i].name, have);
                        else
                                r = strv_extendf(&p->plan->conflicts, "'%s' conflicts with '%s' in %s.",
                                                 e->spec, have, p->work[i].name);
                        if (r < 0)
                                return r;
                        *ret_conflict = !(p->flags & BOOT_PLAN_ALLOW_CONFLICTS);
                        return 0;
                }
        }
        return 0;
}

/* ---- One edit on every target ---- */

static const char *errno_why(int r) {
        switch (r) {
        case -ENOENT:
                return "no such argument";
        case -EEXIST:
                return "the argument is already there";
        case -ENOTUNIQ:
                return "the key has several different values: name the value";
        case -EINVAL:
                return "not a valid argument, or not one hostdevd may add";
        default:
                return strerror(-r);
        }
}

static int check_spec(const BootEdit *e) {
        if (!e->spec || e->type < 0 || e->type >= _BOOT_EDIT_TYPE_MAX)
                return -EINVAL;
        if (e->spec[0] == '$' || (e->spec[0] == '"' && e->spec[1] == '$'))
                return -EINVAL; /* bootloader variables are kept verbatim */
        return 0;
}

static int delete_owned_allowed(Planner *p, const BootEdit *e, bool *ret_allowed) {
        _cleanup_(kcmdline_freep) KCmdline *primary = NULL;
        _cleanup_(karg_done) KArg spec = {}, pair = {};
        int r;

        r = karg_parse(e->spec, &spec);
        if (r < 0)
                return r;
        r = bl_target_args(p->work + p->primary, &primary);
        if (r < 0)
                return r;
        r = resolve_delete(primary, &spec, &pair);
        if (r == -ENOENT) {
                *ret_allowed = true; /* nothing there: a no-op either way */
                return 0;
        }
        if (r < 0)
                return r;
        *ret_allowed = owned_has(p->owned, &pair);
        if (!*ret_allowed)
                return strv_extendf(&p->plan->notes, "'%s' kept: hostdevd did not add it (delete it explicitly "
                                    "to remove it anyway).", e->spec);
        return 0;
}

static int apply_edit(Planner *p, const BootEdit *e) {
        _cleanup_(kcmdline_freep) KCmdline *before = NULL, *after = NULL;
        bool any = false, primary_changed = false, conflict = false, allowed = true;
        int r, primary_r = 0;

        r = check_spec(e);
        if (r < 0)
                return set_error(p, r, e, errno_why(r));
        if (e->type == BOOT_EDIT_APPEND || e->type == BOOT_EDIT_APPEND_IF_MISSING || e->type == BOOT_EDIT_REPLACE) {
                _cleanup_free_ char *why = NULL;

                r = bootloader_check_argument(p->b->kind, e->spec, &why);
                if (r < 0)
                        return set_error(p, why ? r : -ENOMEM, e, why ?: errno_why(-ENOMEM));
        }
        if (e->type == BOOT_EDIT_APPEND || e->type == BOOT_EDIT_APPEND_IF_MISSING) {
                r = find_conflicts(p, e, &conflict);
                if (r < 0)
                        return set_error(p, r, e, errno_why(r));
                if (conflict)
                        return 0;
        }
        if (e->type == BOOT_EDIT_DELETE_OWNED) {
                r = delete_owned_allowed(p, e, &allowed);
                if (r < 0)
                        return set_error(p, r, e, errno_why(r));
                if (!allowed)
                        return 0;
        }

        r = bl_target_args(p->work + p->primary, &before);
        if (r < 0)
                return r;
        for (size_t i = 0; i < p->n; i++) {
                bool changed = false;

                r = edit_target(p->work + i, e, &changed);
                if (i == p->primary)
                        primary_r = r, primary_changed = changed;
                if (r < 0 && r != -ENOENT && r != -EEXIST)
                        return set_error(p, r, e, errno_why(r));
                any = any || changed;
        }
        /* Judged on the primary target (see the design comment); delete
         * and replace fail only when no target had the argument. */
        if (primary_r < 0 && !((e->type == BOOT_EDIT_REPLACE || e->type == BOOT_EDIT_DELETE) && any))
                return set_error(p, primary_r, e, errno_why(primary_r));
        if (!primary_changed)
                return 0;
        r = bl_target_args(p->work + p->primary, &after);
        if (r < 0)
                return r;
        return track_ownership(p, e->type, before, after);
}

/* ---- The plan ---- */

static int targets_into_plan(Planner *p) {
        BootPlan *plan = p->plan;
        int r;

        plan->targets = calloc(p->n + 1, sizeof(BootTarget));
        if (!plan->targets)
                return -ENOMEM;
        for (size_t i = 0; i < p->n; i++, plan->n_targets++) {
                BootTarget *t = plan->targets + i;

                t->name = strdup(p->work[i].name);
                if (!t->name)
                        return -ENOMEM;
                r = bl_target_args(p->b->targets + i, &t->before);
                if (r >= 0)
                        r = bl_target_args(p->work + i, &t->after);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int ownership_into_plan(Planner *p, const BootLedger *ledger) {
        BootPlan *plan = p->plan;

        for (char **o = p->owned; o && *o; o++) {
                _cleanup_(karg_done) KArg a = {};
                if (karg_parse(*o, &a) < 0)
                        continue;
                if (!(ledger && owned_has(ledger->owned, &a)) && strv_extend(&plan->owned_added, *o) < 0)
                        return -ENOMEM;
        }
        for (char **o = ledger ? ledger->owned : NULL; o && *o; o++) {
                _cleanup_(karg_done) KArg a = {};
                if (karg_parse(*o, &a) < 0)
                        continue;
                if (!owned_has(p->owned, &a) && strv_extend(&plan->owned_removed, *o) < 0)
                        return -ENOMEM;
        }
        return 0;
}

/* Reads the planned files back as the setup, over the snapshot the plan
 * was made from (not the disk, which may have changed since, and does not
 * hold a setup loaded from an overlay), and compares every target. */
static int check_plan(Planner *p) {
        _cleanup_(bootloader_freep) Bootloader *n = NULL;
        _cleanup_free_ BootFileChange *files = NULL;
        BootPlan *plan = p->plan;
        size_t n_files = plan->n_files;
        int r;

        files = calloc(plan->n_files + p->b->n_files + 1, sizeof(BootFileChange));
        if (!files)
                return -ENOMEM;
        memcpy_safe(files, plan->files, plan->n_files * sizeof(BootFileChange)); /* borrowed: found first */
        for (size_t i = 0; i < p->b->n_files; i++)
                if (p->b->files[i].contents)
                        files[n_files++] = (BootFileChange) {
                                .path = p->b->files[i].path,
                                .new_contents = p->b->files[i].contents,
                                .new_size = p->b->files[i].size,
                                .mode = p->b->files[i].mode,
                        };
        r = bl_load(p->b->root, files, n_files, &n, &p->error);
        if (r < 0)
                return r;
        for (size_t i = 0; i < plan->n_targets; i++) {
                const Target *t = NULL;
                _cleanup_(kcmdline_freep) KCmdline *got = NULL;

                for (size_t k = 0; k < n->n_targets && !t; k++)
                        if (streq(n->targets[k].name, plan->targets[i].name))
                                t = n->targets + k;
                r = t ? bl_target_args(t, &got) : -ENOENT;
                if (r == -ENOMEM)
                        return r;
                if (r < 0 || !kcmdline_equal(got, plan->targets[i].after)) {
                        free(p->error);
                        if (asprintf(&p->error, "The planned files do not give %s the intended arguments%s",
                                     plan->targets[i].name,
                                     n->read_error_text ? n->read_error_text :
                                     p->b->kind == BOOTLOADER_GRUB_DEBIAN && !p->b->grub.dropin_last ?
                                     " (a file in grub.d sorting after hostdevd's drop-in "
                                     "changes them)" : "") < 0)
                                p->error = NULL;
                        return -EINVAL;
                }
        }
        return n->configured ? kcmdline_copy(n->configured, &plan->after) : 0;
}

static int make_diff(BootPlan *plan) {
        _cleanup_(sb_done) StrBuf d = {};
        int r;

        for (size_t i = 0; i < plan->n_files; i++) {
                const BootFileChange *f = plan->files + i;

                r = bl_diff(f->display_path, f->old_contents ?: "", f->new_contents, &d);
                if (r < 0)
                        return r;
        }
        plan->diff = sb_steal(&d);
        return plan->diff ? 0 : -ENOMEM;
}

static int plan_init(Planner *p, const BootLedger *ledger) {
        BootPlan *plan = p->plan;

        plan->kind = p->b->kind;
        plan->conflicts = strv_new_empty();
        plan->notes = strv_new_empty();
        plan->owned_added = strv_new_empty();
        plan->owned_removed = strv_new_empty();
        p->owned = strv_new_empty();
        if (!plan->conflicts || !plan->notes || !plan->owned_added || !plan->owned_removed || !p->owned)
                return -ENOMEM;
        for (char **o = ledger ? ledger->owned : NULL; o && *o; o++)
                if (strv_extend(&p->owned, *o) < 0)
                        return -ENOMEM;
        if (p->b->configured && kcmdline_copy(p->b->configured, &plan->before) < 0)
                return -ENOMEM;
        return copy_targets(p);
}

static int plan_fail(Planner *p, int r, char **ret_error) {
        if (ret_error)
                *ret_error = p->error ? TAKE_PTR(p->error) : r == -ENOMEM ? NULL : strdup(strerror(-r));
        return r;
}

/* The GRUB drop-in that assigns a variable in full overrides the files
 * before it from then on: say so. */
static int note_full_assignment(BootPlan *plan) {
        for (size_t i = 0; plan->kind == BOOTLOADER_GRUB_DEBIAN && i < plan->n_files; i++)
                if (strstr(plan->files[i].new_contents, "# Replaces the value"))
                        return strv_extendf(&plan->notes, "%s assigns the GRUB variable in full (an argument of the "
                                            "files before it was removed or changed): later edits of those files "
                                            "no longer change it.", plan->files[i].display_path);
        return 0;
}

int bootloader_plan(const Bootloader *b, const BootEdit *edits, size_t n_edits,
                    const BootLedger *ledger, BootPlanFlags flags,
                    BootPlan **ret, char **ret_error) {
        _cleanup_(planner_done) Planner p = { .b = b, .flags = flags };
        _cleanup_(boot_plan_freep) BootPlan *plan = NULL;
        int r;

        if (!b || (!edits && n_edits > 0) || !ret)
                return -EINVAL;
        if (b->not_editable) {
                if (ret_error)
                        *ret_error = strdup(b->not_editable);
                return -EOPNOTSUPP;
        }
        if (b->read_error < 0) {
                if (ret_error)
                        *ret_error = b->read_error_text ? strdup(b->read_error_text) : NULL;
                return b->read_error;
        }
        if (b->n_targets == 0) {
                if (ret_error)
                        *ret_error = strdup("The bootloader configuration has nothing hostdevd can edit.");
                return -ENOENT;
        }

        plan = p.plan = calloc(1, sizeof(BootPlan));
        if (!plan)
                return -ENOMEM;
        r = plan_init(&p, ledger);
        for (size_t i = 0; r >= 0 && i < n_edits; i++)
                r = apply_edit(&p, edits + i);
        if (r >= 0)
                r = targets_into_plan(&p);
        if (r >= 0)
                r = ownership_into_plan(&p, ledger);
        if (r >= 0)
                r = bl_render(b, p.work, p.n, plan, &p.error);
        if (r >= 0)
                r = note_full_assignment(plan);
        if (r >= 0 && plan->n_files > 0)
                r = check_plan(&p);
        else if (r >= 0 && plan->before)
                r = kcmdline_copy(plan->before, &plan->after);
        if (r >= 0)
                r = make_diff(plan);
        if (r < 0)
                return plan_fail(&p, r, ret_error);

        plan->changed = plan->n_files > 0;
        *ret = TAKE_PTR(plan);
        return 0;
}

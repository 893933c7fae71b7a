/* Debian/Ubuntu GRUB: the effective GRUB_CMDLINE_LINUX and
 * GRUB_CMDLINE_LINUX_DEFAULT after /etc/default/grub and its grub.d
 * drop-ins, and the drop-in through which hostdevd changes them. */

/*
 * Design. grub-mkconfig sources /etc/default/grub, then every
 * /etc/default/grub.d/<name>.cfg in glob order (Debian's default_grub_d patch;
 * we sort bytewise, as the C locale does), and 10_linux writes
 *     normal entries:   linux ... root=<dev> ro $GRUB_CMDLINE_LINUX $GRUB_CMDLINE_LINUX_DEFAULT
 *     recovery entries: linux ... root=<dev> ro single $GRUB_CMDLINE_LINUX
 * The configured command line is therefore GRUB_CMDLINE_LINUX followed by
 * GRUB_CMDLINE_LINUX_DEFAULT (root= and ro are added by grub-mkconfig and
 * not shown); edits see that concatenation, appends go to
 * GRUB_CMDLINE_LINUX (so recovery entries get them too, as IOMMU and vfio
 * arguments should), deletes and replaces act wherever the argument is.
 *
 * hostdevd never rewrites the administrator's files. It owns one drop-in,
 * /etc/default/grub.d/zz-hostdevd.cfg, named to sort after the usual
 * "NN-name.cfg" files, and regenerates it whole from the values that the
 * files before it produce ("base") and the wanted values:
 *  - wanted == base: no assignment;
 *  - wanted == base + more arguments: an append that keeps later changes
 *    of the administrator's files effective:
 *        GRUB_CMDLINE_LINUX="${GRUB_CMDLINE_LINUX:+$GRUB_CMDLINE_LINUX }a b"
 *  - otherwise (an argument of the base was deleted or replaced, or the
 *    base cannot be evaluated): a full assignment of the wanted value,
 *    which from then on overrides what the files before it say (the plan
 *    notes it).
 * A file sorting after the drop-in that changes these variables makes the
 * plan's check fail rather than silently win.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/strv.h"
#include "bootloader-internal.h"
#include "bootloader-shell.h"

#define DROPIN_NAME "zz-hostdevd.cfg"

static const char *const grub_vars[2] = { "GRUB_CMDLINE_LINUX", "GRUB_CMDLINE_LINUX_DEFAULT" };

/* The value of a variable after the files so far: a copy, "" when unset,
 * NULL (and *ret_unknown, borrowed) when it cannot be known. */
static int value_of(ShellVars *v, const char *name, char **ret, const char **ret_unknown) {
        const char *value;
        int r = shell_vars_get(v, name, &value);

        *ret = NULL;
        *ret_unknown = NULL;
        if (r == -EDOM) {
                *ret_unknown = value;
                return 0;
        }
        *ret = strdup(r == -ENOENT ? "" : value);
        return *ret ? 0 : -ENOMEM;
}

static int eval_file(Bootloader *b, ShellVars *v, size_t f) {
        _cleanup_free_ char *error = NULL;
        int r;

        if (!b->files[f].contents)
                return 0;
        /* The evaluator reads a C string; dash drops NUL bytes and reads on: they would disagree. */
        if (memchr(b->files[f].contents, 0, b->files[f].size)) {
                (void) bl_fail(b, -EINVAL, "%s holds a NUL byte: it cannot be evaluated safely",
                               b->files[f].display);
                return -EINVAL;
        }
        r = shell_eval(v, b->files[f].contents, b->files[f].display, &error);
        if (r == -EINVAL)
                (void) bl_fail(b, r, "%s", error ?: "cannot evaluate a GRUB fragment");
        return r;
}

/* Evaluates the fragments in order; the base values are taken just
 * before the drop-in. */
static int evaluate(Bootloader *b, size_t *files, size_t n) {
        _cleanup_(shell_vars_freep) ShellVars *v = NULL;
        const char *unknown;
        bool based = false;
        int r;

        r = shell_vars_new(&v);
        if (r < 0)
                return r;
        for (size_t i = 0; i <= n; i++) {
                if ((i == n || files[i] == b->grub.dropin) && !based) {
                        based = true;
                        r = value_of(v, grub_vars[0], &b->grub.linux_base, &unknown);
                        if (r >= 0)
                                r = value_of(v, grub_vars[1], &b->grub.default_base, &unknown);
                        if (r < 0)
                                return r;
                }
                if (i == n)
                        break;
                r = eval_file(b, v, files[i]);
                if (r == -EINVAL)
                        return 0; /* the read error is set */
                if (r < 0)
                        return r;
        }
        for (size_t k = 0; k < 2; k++) {
                char **value = k == 0 ? &b->grub.linux_value : &b->grub.default_value;

                r = value_of(v, grub_vars[k], value, &unknown);
                if (r < 0)
                        return r;
                if (!*value)
                        return bl_fail(b, -EINVAL, "%s cannot be evaluated safely: %s", grub_vars[k], unknown);
        }
        return 0;
}

static int load_files(Bootloader *b, size_t **ret, size_t *ret_n) {
        _cleanup_free_ char *dir = hostroot_path(b->root, AREA_ETC, "default/grub.d");
        _cleanup_strv_free_ char **names = NULL;
        _cleanup_free_ size_t *files = NULL;
        size_t n = 0;
        int i, r;

        if (!dir)
                return -ENOMEM;
        b->grub.dropin_last = true;
        r = bl_list(b, dir, ".cfg", &names);
        if (r < 0)
                return r;
        files = calloc(strv_length(names) + 1, sizeof(size_t));
        if (!files)
                return -ENOMEM;

        i = bl_add_file(b, hostroot_path(b->root, AREA_ETC, "default/grub"));
        if (i < 0)
                return i;
        files[n++] = (size_t) i;
        for (size_t k = 0; names[k]; k++) {
                i = bl_add_file(b, hostroot_path(b->root, AREA_ETC, "default/grub.d/%s", names[k]));
                if (i < 0)
                        return i;
                files[n++] = (size_t) i;
                if (streq(names[k], DROPIN_NAME))
                        b->grub.dropin = (size_t) i;
                else if (strcmp(names[k], DROPIN_NAME) > 0)
                        b->grub.dropin_last = false;
        }
        if (b->grub.dropin == BL_NONE) {
                i = bl_add_file(b, hostroot_path(b->root, AREA_ETC, "default/grub.d/%s", DROPIN_NAME));
                if (i < 0)
                        return i;
                b->grub.dropin = (size_t) i;
        }
        *ret = TAKE_PTR(files);
        *ret_n = n;
        return 0;
}

static int grub_target(Bootloader *b) {
        Target *t;
        int r;

        t = bl_target_new(b, "GRUB_CMDLINE_LINUX GRUB_CMDLINE_LINUX_DEFAULT");
        if (!t)
                return -ENOMEM;
        t->primary = true;
        t->segs = calloc(2, sizeof(Segment));
        if (!t->segs)
                return -ENOMEM;
        for (size_t k = 0; k < 2; k++) {
                Segment *s = t->segs + k;

                *s = (Segment) { .kind = SEG_SHELL, .file = b->grub.dropin };
                t->n_segs++;
                s->suffix = strdup(grub_vars[k]);
                if (!s->suffix)
                        return -ENOMEM;
                r = kcmdline_parse(k == 0 ? b->grub.linux_value : b->grub.default_value, &s->args);
                if (r < 0)
                        return r;
        }
        t->append_seg = 0;
        return bl_target_args(t, &b->configured);
}

int grub_debian_setup(Bootloader *b) {
        _cleanup_free_ size_t *files = NULL;
        size_t n = 0;
        int r;

        b->kind = BOOTLOADER_GRUB_DEBIAN;
        r = load_files(b, &files, &n);
        if (r >= 0)
                r = evaluate(b, files, n);
        if (r < 0 || b->read_error < 0)
                return r;
        b->configured_source = strdup("GRUB_CMDLINE_LINUX GRUB_CMDLINE_LINUX_DEFAULT");
        if (!b->configured_source)
                return -ENOMEM;
        if (!b->grub.dropin_last)
                r = bl_warn(b, "A file in grub.d sorts after hostdevd's %s: if it changes "
                            "GRUB_CMDLINE_LINUX, hostdevd cannot edit the command line.", DROPIN_NAME);
        if (r >= 0)
                r = grub_target(b);
        return r;
}

/* ---- The drop-in ---- */

/* Whether the first n arguments of c are exactly base's. */
static bool has_prefix(const KCmdline *c, const KCmdline *base) {
        if (base->n_args > c->n_args)
                return false;
        for (size_t i = 0; i < base->n_args; i++) {
                const KArg *x = c->args + i, *y = base->args + i;
                if (x->section != y->section || !streq(x->key, y->key) || !streq_ptr(x->value, y->value))
                        return false;
        }
        return true;
}

static int format_tail(const KCmdline *c, size_t from, char **ret) {
        KCmdline view = { .args = from < c->n_args ? c->args + from : NULL, .n_args = c->n_args - from };

        return kcmdline_format_full(&view, ret);
}

/* Whether the value the append form gives, "BASE TAIL" (or TAIL when
 * BASE is empty), reads as want: not when BASE ends in an unterminated
 * quote, which would swallow the tail. */
static int append_reads_back(const char *base, const char *tail, const KCmdline *want) {
        _cleanup_(kcmdline_freep) KCmdline *got = NULL;
        _cleanup_free_ char *value = NULL;
        int r;

        if (asprintf(&value, "%s%s%s", base, *base ? " " : "", tail) < 0)
                return -ENOMEM;
        r = kcmdline_parse(value, &got);
        if (r < 0)
                return r == -ENOMEM ? r : 0;
        return kcmdline_equal(got, want);
}

static int assignment(StrBuf *out, const char *name, const char *base, const KCmdline *want) {
        _cleanup_(kcmdline_freep) KCmdline *base_args = NULL;
        _cleanup_free_ char *text = NULL, *quoted = NULL;
        bool append;
        int r;

        if (base) {
                r = kcmdline_parse(base, &base_args);
                if (r < 0)
                        return r;
        }
        if (base_args && kcmdline_equal(base_args, want))
                return 0;
        append = base_args && has_prefix(want, base_args);
        r = format_tail(want, append ? base_args->n_args : 0, &text);
        if (r >= 0 && append) {
                r = append_reads_back(base, text, want);
                if (r == 0) { /* the whole value then */
                        append = false;
                        free(text);
                        text = NULL;
                        r = format_tail(want, 0, &text);
                }
        }
        if (r < 0)
                return r;
        r = shell_quote(text, &quoted);
        if (r < 0)
                return r;
        if (append)
                return sb_printf(out, "%s=\"${%s:+$%s }%s\n", name, name, name, quoted + 1);
        return sb_printf(out, "# Replaces the value that the files before this one set.\n%s=%s\n",
                         name, quoted);
}

int grub_render_dropin(const Bootloader *b, const Target *t, char **ret, char **ret_error) {
        _cleanup_(sb_done) StrBuf out = {};
        int r;

        r = sb_put(&out,
                   "# Written by hostdevd, which owns this file and rewrites it whole: change the kernel\n"
                   "# command line through hostdevd, or delete this file and run update-grub.\n"
                   "# Sourced by grub-mkconfig after the defaults file and the grub.d files before it.\n");
        if (r >= 0)
                r = assignment(&out, grub_vars[0], b->grub.linux_base, t->segs[0].args);
        if (r >= 0)
                r = assignment(&out, grub_vars[1], b->grub.default_base, t->segs[1].args);
        if (r == -EINVAL && ret_error)
                *ret_error = strdup("The edited GRUB command line cannot be written as text.");
        if (r < 0)
                return r;
        *ret = sb_steal(&out);
        return *ret ? 0 : -ENOMEM;
}

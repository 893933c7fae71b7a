/* From edited targets to files: each changed segment is written back where
 * it was read (a line, grubenv's kernelopts, the GRUB drop-in), every other
 * byte of a file stays as it was; and the unified diff that a dry run
 * shows. */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/strv.h"
#include "bootloader-internal.h"

/* A file's new contents while segments are rendered into it. */
typedef struct Work {
        char **lines;    /* SEG_LINE files, split */
        bool final_newline;
        char *text;      /* whole-file renderers */
        bool touched;
} Work;

static int line_text(const Segment *s, char **ret) {
        _cleanup_free_ char *args = NULL;
        int r;

        r = kcmdline_format_full(s->args, &args);
        if (r < 0)
                return r;
        if (asprintf(ret, "%s%s%s%s", s->prefix ?: "", args,
                     *args && s->suffix && *s->suffix ? " " : "", s->suffix ?: "") < 0)
                return -ENOMEM;
        return 0;
}

static int render_line(const Bootloader *b, Work *w, const Segment *s, char **ret_error) {
        const BlFile *f = b->files + s->file;
        char *text = NULL;
        int r;

        /* Lines are C strings: the bytes after a NUL would be lost from a line that is not edited. */
        if (f->contents && memchr(f->contents, 0, f->size)) {
                if (ret_error && asprintf(ret_error, "%s holds a NUL byte: hostdevd edits text files only",
                                          f->display) < 0)
                        *ret_error = NULL;
                return -EBADMSG;
        }
        if (!w->lines) {
                r = split_lines(f->contents ?: "", f->contents ? f->size : 0, &w->lines, &w->final_newline);
                if (r < 0)
                        return r;
                if (!f->contents || f->size == 0)
                        w->final_newline = true;
        }
        while (strv_length(w->lines) <= s->line)
                if (strv_extend(&w->lines, "") < 0)
                        return -ENOMEM;
        r = line_text(s, &text);
        if (r < 0)
                return r;
        /* A line of /etc/kernel/cmdline that starts with '#' is a comment:
         * deleting the arguments before one that starts with '#' would
         * turn the rest of its line into one. */
        if (s->file == b->cmdline_file && text[0] == '#') {
                if (ret_error && asprintf(ret_error, "after this edit, line %zu of %s would start with '%s' and "
                                          "be read as a comment: move that argument by hand first",
                                          s->line + 1, f->display, text) < 0)
                        *ret_error = NULL;
                free(text);
                return -EDOM;
        }
        free(w->lines[s->line]);
        w->lines[s->line] = text;
        return 0;
}

static int render_grubenv(const Bootloader *b, Work *w, const Segment *s, char **ret_error) {
        const BlFile *f = b->files + s->file;
        _cleanup_free_ char *value = NULL;
        char *text = NULL;
        int r;

        r = kcmdline_format_full(s->args, &value);
        if (r < 0)
                return r;
        r = grubenv_set(w->text ?: f->contents, f->size, "kernelopts", value, &text, ret_error);
        if (r < 0)
                return r;
        free(w->text);
        w->text = text;
        return 0;
}

static bool segment_changed(const Segment *now, const Segment *was) {
        return !kcmdline_equal(now->args, was->args);
}

static int add_change(const Bootloader *b, size_t f, Work *w, BootPlan *plan) {
        const BlFile *file = b->files + f;
        _cleanup_free_ char *text = NULL;
        BootFileChange *c;
        size_t size;
        int r;

        if (w->lines) {
                r = join_lines(w->lines, w->final_newline, &text, &size);
                if (r < 0)
                        return r;
        } else {
                text = TAKE_PTR(w->text);
                size = strlen(text);
        }
        if (file->contents && size == file->size && memcmp(text, file->contents, size) == 0)
                return 0;

        c = realloc(plan->files, (plan->n_files + 1) * sizeof(BootFileChange));
        if (!c)
                return -ENOMEM;
        plan->files = c;
        c = plan->files + plan->n_files;
        *c = (BootFileChange) {
                .path = strdup(file->path),
                .display_path = strdup(file->display),
                .existed = !!file->contents,
                /* every byte and the NUL after them: a rollback writes old_size bytes back */
                .old_contents = file->contents ? memdup_suffix0(file->contents, file->size) : NULL,
                .old_size = file->contents ? file->size : 0,
                .new_contents = TAKE_PTR(text),
                .new_size = size,
                .mode = file->mode,
        };
        plan->n_files++;
        if (!c->path || !c->display_path || (file->contents && !c->old_contents))
                return -ENOMEM;
        return 0;
}

int bl_render(const Bootloader *b, Target *work, size_t n, BootPlan *plan, char **ret_error) {
        _cleanup_free_ Work *w = calloc(b->n_files + 1, sizeof(Work));
        int r = 0;

        if (!w)
                return -ENOMEM;
        for (size_t i = 0; i < n && r >= 0; i++) {
                const Target *t = work + i, *was = b->targets + i;

                for (size_t k = 0; k < t->n_segs && r >= 0; k++) {
                        const Segment *s = t->segs + k;

                        if (!segment_changed(s, was->segs + k))
                                continue;
                        w[s->file].touched = true;
                        if (s->kind == SEG_LINE)
                                r = render_line(b, w + s->file, s, ret_error);
                        else if (s->kind == SEG_GRUBENV)
                                r = render_grubenv(b, w + s->file, s, ret_error);
                        else if (!w[s->file].text) {
                                free(w[s->file].text);
                                r = grub_render_dropin(b, t, &w[s->file].text, ret_error);
                        }
                }
        }
        if (r == -EINVAL && ret_error && !*ret_error)
                *ret_error = strdup("An edited command line cannot be written back as text.");
        for (size_t f = 0; f < b->n_files && r >= 0; f++)
                if (w[f].touched)
                        r = add_change(b, f, w + f, plan);
        for (size_t f = 0; f < b->n_files; f++) {
                strv_free(w[f].lines);
                free(w[f].text);
        }
        return r;
}

/* ---- Unified diff ---- */

#define DIFF_CONTEXT 3
#define DIFF_MAX_CELLS (4U * 1024U * 1024U)

typedef struct DiffOp {
        char kind; /* ' ', '-', '+' */
        size_t a, b; /* line indexes (a for ' ' and '-', b for '+') */
} DiffOp;

/* The edit script from the longest common subsequence. */
static int diff_ops(char **a, size_t n, char **b, size_t m, DiffOp **ret, size_t *ret_n) {
        _cleanup_free_ uint32_t *t = NULL;
        _cleanup_free_ DiffOp *ops = calloc(n + m + 1, sizeof(DiffOp));
        size_t i = 0, j = 0, k = 0;
        bool lcs = (n + 1) * (m + 1) <= DIFF_MAX_CELLS;

        if (!ops)
                return -ENOMEM;
        if (lcs) {
                t = calloc((n + 1) * (m + 1), sizeof(uint32_t));
                if (!t)
                        return -ENOMEM;
                for (size_t x = n; x-- > 0;)
                        for (size_t y = m; y-- > 0;)
                                t[x * (m + 1) + y] = streq(a[x], b[y]) ? t[(x + 1) * (m + 1) + y + 1] + 1 :
                                        t[(x + 1) * (m + 1) + y] > t[x * (m + 1) + y + 1] ?
                                        t[(x + 1) * (m + 1) + y] : t[x * (m + 1) + y + 1];
        }
        while (i < n || j < m) {
                if (lcs && i < n && j < m && streq(a[i], b[j]))
                        ops[k++] = (DiffOp) { ' ', i++, j++ };
                else if (i < n && (j >= m || !lcs || t[(i + 1) * (m + 1) + j] >= t[i * (m + 1) + j + 1]))
                        ops[k++] = (DiffOp) { '-', i++, j };
                else
                        ops[k++] = (DiffOp) { '+', i, j++ };
        }
        *ret = TAKE_PTR(ops);
        *ret_n = k;
        return 0;
}

static int emit_hunk(StrBuf *out, const DiffOp *ops, size_t from, size_t to, char **a, char **b,
                     bool a_nl, bool b_nl, size_t n, size_t m) {
        size_t la = 0, lb = 0, sa = 0, sb = 0;
        int r;

        for (size_t k = from; k < to; k++) {
                if (ops[k].kind != '+')
                        la++;
                if (ops[k].kind != '-')
                        lb++;
        }
        sa = ops[from].a + (la ? 1 : 0);
        sb = ops[from].b + (lb ? 1 : 0);
        r = sb_printf(out, "@@ -%zu,%zu +%zu,%zu @@\n", sa, la, sb, lb);
        for (size_t k = from; k < to && r >= 0; k++) {
                const DiffOp *o = ops + k;
                const char *line = o->kind == '+' ? b[o->b] : a[o->a];
                bool last = o->kind == '+' ? o->b == m - 1 && !b_nl : o->a == n - 1 && !a_nl;

                r = sb_printf(out, "%c%s\n%s", o->kind, line, last ? "\\ No newline at end of file\n" : "");
        }
        return r;
}

int bl_diff(const char *name, const char *old, const char *new, StrBuf *out) {
        _cleanup_strv_free_ char **a = NULL, **b = NULL;
        _cleanup_free_ DiffOp *ops = NULL;
        bool a_nl, b_nl;
        size_t n, m, n_ops, k = 0;
        int r;

        r = split_lines(old, strlen(old), &a, &a_nl);
        if (r >= 0)
                r = split_lines(new, strlen(new), &b, &b_nl);
        if (r < 0)
                return r;
        n = strv_length(a);
        m = strv_length(b);
        r = diff_ops(a, n, b, m, &ops, &n_ops);
        if (r < 0)
                return r;

        r = sb_printf(out, "--- %s%s\n+++ b%s\n", *old ? "a" : "", *old ? name : "/dev/null", name);
        while (r >= 0 && k < n_ops) {
                size_t start, end, last_change;

                while (k < n_ops && ops[k].kind == ' ')
                        k++;
                if (k >= n_ops)
                        break;
                start = k > DIFF_CONTEXT ? k - DIFF_CONTEXT : 0;
                last_change = k;
                for (end = k; end < n_ops; end++) {
                        if (ops[end].kind != ' ')
                                last_change = end;
                        else if (end - last_change > 2 * DIFF_CONTEXT)
                                break;
                }
                end = last_change + 1 + DIFF_CONTEXT < n_ops ? last_change + 1 + DIFF_CONTEXT : n_ops;
                r = emit_hunk(out, ops, start, end, a, b, a_nl, b_nl, n, m);
                k = end;
        }
        return r;
}

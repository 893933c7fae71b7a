/* The shell-word evaluator for GRUB's /etc/default/grub fragments. */

/*
 * Design. grub-mkconfig (a /bin/sh script: dash on Debian) sources
 * /etc/default/grub, then each /etc/default/grub.d/<name>.cfg in glob order. We
 * follow the subset that such files use and refuse the rest, rather than
 * guess:
 *
 *  - Statements end at a newline or ';'; '#' at the start of a word begins
 *    a comment; a backslash-newline outside quotes joins lines.
 *  - A statement is one or more assignments NAME=WORD, "export" followed by
 *    NAMEs or assignments, or "unset" NAMEs. Anything else (a command, an
 *    "if", a pipe, "A=1 cmd", bash's "+=") stops the evaluation with an
 *    error: it might change any variable.
 *  - Words: 'single quotes' (literal); "double quotes", where a backslash
 *    escapes only $ ` " \ and newline (a backslash-newline vanishes);
 *    outside quotes a backslash quotes any character. Assignments are
 *    neither field-split nor globbed.
 *  - Expansions: $NAME, ${NAME}, ${NAME:-w} ${NAME-w} ${NAME:+w} ${NAME+w}
 *    with w itself expanded. A variable the fragments never set expands to
 *    "" when its name starts with GRUB_ (grub-mkconfig's environment has
 *    none), else it is unknown (it comes from the environment).
 *  - Unknown values: `...`, $(...), $((...)), $1 $@ $? $$..., other ${...}
 *    operators, $'...' and $"..." (dash and bash differ) make the value of
 *    the assignment unknown (with the reason). That is an error only if a
 *    variable we need (GRUB_CMDLINE_LINUX, GRUB_CMDLINE_LINUX_DEFAULT) ends
 *    up unknown; GRUB_DISTRIBUTOR=`...` is common and harmless.
 *  - Expansions nest (${A:-${B:-"$C"}}) at most SHELL_MAX_NESTING deep: the
 *    parser recurses once per level, and a file is up to 256 KiB.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"
#include "bootloader-internal.h"
#include "bootloader-shell.h"

typedef struct ShellVar {
        char *name;
        char *value;   /* NULL when unknown */
        char *unknown; /* the reason, when unknown */
} ShellVar;

struct ShellVars {
        ShellVar *vars;
        size_t n;
};

int shell_vars_new(ShellVars **ret) {
        ShellVars *v = calloc(1, sizeof(ShellVars));

        if (!v)
                return -ENOMEM;
        *ret = v;
        return 0;
}

ShellVars *shell_vars_free(ShellVars *v) {
        if (!v)
                return NULL;
        for (size_t i = 0; i < v->n; i++) {
                free(v->vars[i].name);
                free(v->vars[i].value);
                free(v->vars[i].unknown);
        }
        free(v->vars);
        free(v);
        return NULL;
}

static ShellVar *find_var(const ShellVars *v, const char *name, size_t len) {
        for (size_t i = 0; i < v->n; i++)
                if (strlen(v->vars[i].name) == len && memcmp(v->vars[i].name, name, len) == 0)
                        return v->vars + i;
        return NULL;
}

int shell_vars_get(const ShellVars *v, const char *name, const char **ret_value) {
        ShellVar *x = find_var(v, name, strlen(name));

        if (!x)
                return -ENOENT;
        *ret_value = x->value ?: x->unknown;
        return x->value ? 0 : -EDOM;
}

/* Sets (value or unknown reason; both NULL: unset). Takes the strings. */
static int set_var(ShellVars *v, const char *name, size_t len, char *value, char *unknown) {
        ShellVar *x = find_var(v, name, len);

        if (!x) {
                ShellVar *p;

                if (!value && !unknown)
                        return 0;
                p = realloc(v->vars, (v->n + 1) * sizeof(ShellVar));
                if (!p)
                        goto oom;
                v->vars = p;
                x = v->vars + v->n;
                *x = (ShellVar) { .name = strndup(name, len) };
                if (!x->name)
                        goto oom;
                v->n++;
        }
        free(x->value);
        free(x->unknown);
        x->value = value;
        x->unknown = unknown;
        if (!value && !unknown) { /* unset: drop it */
                free(x->name);
                *x = v->vars[--v->n];
        }
        return 0;
oom:
        free(value);
        free(unknown);
        return -ENOMEM;
}

/* ---- The parser ---- */

#define SHELL_MAX_NESTING 64

typedef struct Parser {
        const char *p, *end;
        unsigned line;
        unsigned depth;  /* ${...} open now */
        const char *file;
        ShellVars *vars;
        char *error;
} Parser;

/* The value of one word being built. */
typedef struct Word {
        StrBuf buf;
        char *unknown; /* first reason the value is unknown */
} Word;

static void word_done(Word *w) {
        sb_done(&w->buf);
        free(w->unknown);
}

static int fail(Parser *ps, const char *what) {
        free(ps->error);
        if (asprintf(&ps->error, "%s:%u: cannot evaluate safely: %s", ps->file, ps->line, what) < 0)
                ps->error = NULL;
        return -EINVAL;
}

static int mark_unknown(Parser *ps, Word *w, const char *what) {
        if (w->unknown)
                return 0;
        if (asprintf(&w->unknown, "%s:%u: %s", ps->file, ps->line, what) < 0) {
                w->unknown = NULL;
                return -ENOMEM;
        }
        return 0;
}

static bool is_name_start(char c) {
        return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_name_char(char c) {
        return is_name_start(c) || (c >= '0' && c <= '9');
}

static size_t name_len(const char *p, const char *end) {
        size_t n = 0;

        if (p >= end || !is_name_start(*p))
                return 0;
        while (p + n < end && is_name_char(p[n]))
                n++;
        return n;
}

static char peek(const Parser *ps, size_t off) {
        return ps->p + off < ps->end ? ps->p[off] : '\0';
}

static void advance(Parser *ps, size_t n) {
        for (size_t i = 0; i < n && ps->p < ps->end; i++, ps->p++)
                if (*ps->p == '\n')
                        ps->line++;
}

/* Skips a command substitution: after "$(" (depth 1) or after '`'. */
static int skip_substitution(Parser *ps, bool backtick) {
        unsigned depth = 1;

        while (ps->p < ps->end) {
                char c = *ps->p;

                if (c == '\\') {
                        advance(ps, 2);
                        continue;
                }
                if (backtick) {
                        advance(ps, 1);
                        if (c == '`')
                                return 0;
                        continue;
                }
                if (c == '\'') {
                        const char *q = memchr(ps->p + 1, '\'', (size_t) (ps->end - ps->p - 1));
                        if (!q)
                                break;
                        advance(ps, (size_t) (q - ps->p) + 1);
                        continue;
                }
                if (c == '"') {
                        advance(ps, 1);
                        while (ps->p < ps->end && *ps->p != '"')
                                advance(ps, *ps->p == '\\' ? 2 : 1);
                        if (ps->p >= ps->end)
                                break;
                }
                if (c == '(')
                        depth++;
                if (c == ')' && --depth == 0) {
                        advance(ps, 1);
                        return 0;
                }
                advance(ps, 1);
        }
        return fail(ps, "unterminated command substitution");
}

static int parse_chars(Parser *ps, Word *w, bool dq, bool brace);

/* Looks a variable up for an expansion: *ret_value NULL when unset. */
static int lookup(Parser *ps, Word *w, const char *name, size_t len, const char **ret_value) {
        ShellVar *x = find_var(ps->vars, name, len);
        _cleanup_free_ char *why = NULL;

        *ret_value = NULL;
        if (x && x->value) {
                *ret_value = x->value;
                return 0;
        }
        if (!x && len > 5 && memcmp(name, "GRUB_", 5) == 0)
                return 0; /* unset, and grub-mkconfig's environment has none */
        if (x)
                return w->unknown ? 0 : (w->unknown = strdup(x->unknown)) ? 0 : -ENOMEM;
        if (asprintf(&why, "$%.*s comes from the environment", (int) len, name) < 0)
                return -ENOMEM;
        return mark_unknown(ps, w, why);
}

static int parse_braced_word(Parser *ps, Word *w, bool dq);

/* After "${": the expansion, one level deeper. */
static int parse_braced(Parser *ps, Word *w, bool dq) {
        int r;

        if (ps->depth >= SHELL_MAX_NESTING)
                return fail(ps, "expansions nested too deeply");
        ps->depth++;
        r = parse_braced_word(ps, w, dq);
        ps->depth--;
        return r;
}

/* NAME, then '}' or one of :- - :+ + and a word. */
static int parse_braced_word(Parser *ps, Word *w, bool dq) {
        _cleanup_(word_done) Word alt = {};
        const char *name = ps->p, *value;
        size_t len = name_len(ps->p, ps->end);
        bool colon = false, use_alt;
        char op;
        int r;

        if (len == 0) {
                r = mark_unknown(ps, w, "unsupported ${...} expansion");
                if (r < 0)
                        return r;
                while (ps->p < ps->end && *ps->p != '}')
                        advance(ps, 1);
                if (ps->p >= ps->end)
                        return fail(ps, "unterminated ${");
                advance(ps, 1);
                return 0;
        }
        advance(ps, len);
        r = lookup(ps, w, name, len, &value);
        if (r < 0)
                return r;

        if (peek(ps, 0) == '}') {
                advance(ps, 1);
                return value ? sb_put(&w->buf, value) : 0;
        }
        if (peek(ps, 0) == ':') {
                colon = true;
                advance(ps, 1);
        }
        op = peek(ps, 0);
        if (op != '-' && op != '+')
                return fail(ps, "unsupported ${NAME...} operator");
        advance(ps, 1);

        r = parse_chars(ps, &alt, dq, true);
        if (r < 0)
                return r;

        /* An unknown variable makes the choice unknown, whatever the word. */
        if (w->unknown && !value)
                return 0;
        if (op == '-')
                use_alt = !value || (colon && !*value);
        else
                use_alt = value && (!colon || *value);
        if (use_alt) {
                if (alt.unknown && !w->unknown)
                        w->unknown = TAKE_PTR(alt.unknown);
                return alt.buf.s ? sb_put(&w->buf, alt.buf.s) : 0;
        }
        return op == '-' && value ? sb_put(&w->buf, value) : 0;
}

/* At '$'. */
static int parse_dollar(Parser *ps, Word *w, bool dq) {
        char c = peek(ps, 1);
        size_t len;
        const char *value;
        int r;

        if (c == '{') {
                advance(ps, 2);
                return parse_braced(ps, w, dq);
        }
        if (c == '(') {
                advance(ps, 2);
                r = skip_substitution(ps, false);
                return r < 0 ? r : mark_unknown(ps, w, "command substitution $(...)");
        }
        len = name_len(ps->p + 1, ps->end);
        if (len > 0) {
                advance(ps, 1);
                r = lookup(ps, w, ps->p, len, &value);
                advance(ps, len);
                if (r < 0)
                        return r;
                return value ? sb_put(&w->buf, value) : 0;
        }
        if (c && strchr("0123456789@*#?$!-", c)) {
                advance(ps, 2);
                return mark_unknown(ps, w, "special parameter");
        }
        if (!dq && (c == '\'' || c == '"')) {
                advance(ps, 1);
                return mark_unknown(ps, w, "$'...' or $\"...\" (bash and dash differ)");
        }
        advance(ps, 1);
        return sb_putc(&w->buf, '$');
}

/* Unquoted characters of a word (dq false) or the inside of double quotes
 * (dq true, after the opening quote). brace: the word of ${NAME:+word},
 * ended by '}'. Otherwise an unquoted word ends at a blank, ';', newline or
 * EOF, and double quotes at the closing quote. */
static int parse_chars(Parser *ps, Word *w, bool dq, bool brace) {
        for (;;) {
                char c = peek(ps, 0);
                int r = 0;

                if (ps->p >= ps->end) {
                        if (dq || brace)
                                return fail(ps, dq ? "unterminated double quote" : "unterminated ${");
                        return 0;
                }
                if (brace && c == '}') {
                        advance(ps, 1);
                        return 0;
                }
                if (dq && !brace && c == '"') {
                        advance(ps, 1);
                        return 0;
                }
                if (!dq && !brace && strchr(" \t\n;", c))
                        return 0;
                if (!dq && !brace && strchr("&|<>()", c))
                        return fail(ps, "shell operator");

                if (c == '\\') {
                        char n = peek(ps, 1);

                        if (ps->p + 1 >= ps->end)
                                r = sb_putc(&w->buf, '\\');
                        else if (n == '\n')
                                ; /* a continuation: both vanish */
                        else if (!dq || strchr("$`\"\\", n) || (brace && n == '}'))
                                r = sb_putc(&w->buf, n);
                        else
                                r = sb_putc(&w->buf, '\\') < 0 ? -ENOMEM : sb_putc(&w->buf, n);
                        advance(ps, 2);
                } else if (c == '\'' && !dq) {
                        const char *q = memchr(ps->p + 1, '\'', (size_t) (ps->end - ps->p - 1));

                        if (!q)
                                return fail(ps, "unterminated single quote");
                        r = sb_putn(&w->buf, ps->p + 1, (size_t) (q - ps->p - 1));
                        advance(ps, (size_t) (q - ps->p) + 1);
                } else if (c == '"' && (!dq || brace)) {
                        advance(ps, 1);
                        r = parse_chars(ps, w, true, false);
                } else if (c == '$')
                        r = parse_dollar(ps, w, dq);
                else if (c == '`') {
                        advance(ps, 1);
                        r = skip_substitution(ps, true);
                        if (r >= 0)
                                r = mark_unknown(ps, w, "command substitution `...`");
                } else {
                        r = sb_putc(&w->buf, c);
                        advance(ps, 1);
                }
                if (r < 0)
                        return r;
        }
}

/* NAME=WORD at ps->p (the caller checked the shape). */
static int parse_assignment(Parser *ps) {
        _cleanup_(word_done) Word w = {};
        const char *name = ps->p;
        size_t len = name_len(ps->p, ps->end);
        char *value;
        int r;

        advance(ps, len + 1);
        r = parse_chars(ps, &w, false, false);
        if (r < 0)
                return r;
        if (w.unknown)
                return set_var(ps->vars, name, len, NULL, TAKE_PTR(w.unknown));
        value = sb_steal(&w.buf);
        if (!value)
                return -ENOMEM;
        return set_var(ps->vars, name, len, value, NULL);
}

static bool at_assignment(const Parser *ps) {
        size_t len = name_len(ps->p, ps->end);

        return len > 0 && ps->p + len < ps->end && ps->p[len] == '=';
}

static void skip_blanks(Parser *ps) {
        for (;;) {
                if (peek(ps, 0) == ' ' || peek(ps, 0) == '\t')
                        advance(ps, 1);
                else if (peek(ps, 0) == '\\' && peek(ps, 1) == '\n')
                        advance(ps, 2);
                else
                        return;
        }
}

static bool at_statement_end(const Parser *ps) {
        char c = peek(ps, 0);

        return ps->p >= ps->end || c == '\n' || c == ';' || c == '#';
}

/* "export" or "unset" and their operands. */
static int parse_builtin(Parser *ps, bool unset) {
        for (;;) {
                size_t len;

                skip_blanks(ps);
                if (at_statement_end(ps))
                        return 0;
                if (!unset && at_assignment(ps)) {
                        int r = parse_assignment(ps);
                        if (r < 0)
                                return r;
                        continue;
                }
                len = name_len(ps->p, ps->end);
                if (len == 0 || (ps->p + len < ps->end && !strchr(" \t\n;#", ps->p[len])))
                        return fail(ps, unset ? "unsupported unset operand" : "unsupported export operand");
                if (unset) {
                        int r = set_var(ps->vars, ps->p, len, NULL, NULL);
                        if (r < 0)
                                return r;
                }
                advance(ps, len);
        }
}

static bool at_word(const Parser *ps, const char *word) {
        size_t l = strlen(word);

        return (size_t) (ps->end - ps->p) >= l && memcmp(ps->p, word, l) == 0 &&
                (ps->p + l == ps->end || strchr(" \t\n;", ps->p[l]));
}

static int parse_statement(Parser *ps) {
        int r;

        if (at_word(ps, "export")) {
                advance(ps, 6);
                return parse_builtin(ps, false);
        }
        if (at_word(ps, "unset")) {
                advance(ps, 5);
                return parse_builtin(ps, true);
        }
        if (!at_assignment(ps))
                return fail(ps, "not an assignment");

        while (at_assignment(ps)) {
                r = parse_assignment(ps);
                if (r < 0)
                        return r;
                skip_blanks(ps);
        }
        if (!at_statement_end(ps))
                return fail(ps, "a command after assignments");
        return 0;
}

int shell_eval(ShellVars *v, const char *text, const char *file, char **ret_error) {
        Parser ps = { .p = text, .end = text + strlen(text), .line = 1, .file = file, .vars = v };
        int r;

        for (;;) {
                skip_blanks(&ps);
                if (ps.p >= ps.end)
                        return 0;
                if (*ps.p == '\n' || *ps.p == ';') {
                        advance(&ps, 1);
                        continue;
                }
                if (*ps.p == '#') {
                        while (ps.p < ps.end && *ps.p != '\n')
                                advance(&ps, 1);
                        continue;
                }
                r = parse_statement(&ps);
                if (r < 0) {
                        if (ret_error)
                                *ret_error = TAKE_PTR(ps.error);
                        free(ps.error);
                        return r;
                }
        }
}

int shell_quote(const char *value, char **ret) {
        _cleanup_(sb_done) StrBuf b = {};
        char *s;

        if (sb_putc(&b, '"') < 0)
                return -ENOMEM;
        for (const char *p = value; *p; p++)
                if ((strchr("\\\"$`", *p) && sb_putc(&b, '\\') < 0) || sb_putc(&b, *p) < 0)
                        return -ENOMEM;
        if (sb_putc(&b, '"') < 0)
                return -ENOMEM;
        s = sb_steal(&b);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

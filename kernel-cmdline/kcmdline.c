/* The kernel command-line tokenizer and formatter: splits a line into
 * (key, value) arguments exactly as the kernel does at boot, and writes
 * arguments back as text that the kernel splits the same way again. */

/*
 * Design: the grammar, as lib/cmdline.c next_arg() and kernel/params.c
 * parse_args() apply it (there is no other specification).
 *
 * Whitespace is the kernel's isspace(): '\t' '\n' '\v' '\f' '\r' ' ' and the
 * byte 0xa0 (lib/ctype.c files Latin-1 NBSP as space, so the second byte of
 * UTF-8 "à" splits an unquoted token).
 *
 * A token, after skipping whitespace:
 *  1. If it starts with '"', that quote is dropped, the token is "quoted" and
 *     a quote is open.
 *  2. It runs to the first whitespace outside quotes, or to the end of the
 *     line. Every '"' toggles the quote; there are no escapes (a backslash is
 *     an ordinary byte), so an unterminated quote swallows the rest of the
 *     line, including any later "--".
 *  3. The first '=' at offset >= 1 (after the dropped quote) splits key from
 *     value, even inside quotes. An '=' at offset 0 is skipped: "=x" is a
 *     flag named "=x". No '=': a flag (value NULL); "key=": the value "".
 *  4. If the value starts with '"', that quote is dropped, and so is a '"'
 *     that ends the token.
 *  5. Otherwise, if the token was quoted, a '"' ending the token is dropped.
 *  Nothing else is removed: foo="a b"c is 'a b"c', foo=a" b" is 'a" b"',
 *  "a b"=c is key 'a b"' with value 'c', a lone '"' is a flag named "".
 *
 * Sections: the first token that is a flag named "--" (after step 5, so a
 * quoted "--" counts; "--=x" and "foo=--" do not) ends the kernel's
 * parameters and is not an argument itself; what follows goes to init. The
 * kernel stops once more at a second such "--" (the init-argument pass of
 * parse_args() returns there and drops the rest); we keep that "--" and what
 * follows as ordinary KARG_INIT arguments, so a KARG_INIT flag "--" marks
 * where init's argv ends and nothing of the line is lost.
 *
 * Input: one trailing '\n' is removed first (/proc/cmdline appends it to the
 * kernel's string, which has none).
 *
 * Noise: "BOOT_IMAGE=<path>" (GRUB prepends it) in the kernel section, and
 * every "initrd=<path>" in the leading run of noise (systemd-boot and the EFI
 * stub prepend one per initrd). A flag BOOT_IMAGE or initrd is not noise.
 *
 * Formatting: every token has the shape
 *     ["] key [ = ["] value ["] ]
 * (optional leading quote, optional opening quote of the value, optional
 * closing quote): steps 1-5 can only strip those quotes. So we build each
 * shape, keep the ones that the tokenizer above reads back as the argument,
 * and prefer, among them, ones whose quotes balance (they can stand anywhere
 * on a line), in this order: key=value, key="value" (what kernel-install,
 * grubby and BLS files write for values with whitespace), "key=value" (GRUB's
 * re-quoting), then the odd shapes. Any argument that the tokenizer produced
 * has its original token among the shapes, so a round trip always works.
 * One wrinkle: a last token with an open quote may end in a newline, which
 * a reader would take for /proc/cmdline's; such a line gets one more '\n'.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"
#include "kcmdline.h"

bool kcmdline_isspace(char c) {
        unsigned char u = (unsigned char) c;

        return u == ' ' || (u >= '\t' && u <= '\r') || u == 0xa0;
}

static const char *skip_spaces(const char *p, const char *end) {
        while (p < end && kcmdline_isspace(*p))
                p++;
        return p;
}

/* One token as next_arg() cuts it: pointers into the input, nothing copied. */
typedef struct KToken {
        const char *key;
        size_t key_len;
        const char *value; /* NULL: a flag */
        size_t value_len;
        bool balanced;     /* no quote left open at the end of the token */
        const char *end;   /* first byte after the token */
} KToken;

/* next_arg() on [p, end), where p < end and *p is not whitespace. Where the
 * kernel writes NULs into its buffer, we shorten lengths instead. */
static void next_token(const char *p, const char *end, KToken *ret) {
        bool quoted = false, in_quote = false, tail_quote;
        size_t i, n, equals = 0, stop;

        if (*p == '"') {
                p++;
                quoted = in_quote = true;
        }

        n = (size_t) (end - p);
        for (i = 0; i < n; i++) {
                if (kcmdline_isspace(p[i]) && !in_quote)
                        break;
                if (equals == 0 && p[i] == '=')
                        equals = i;
                if (p[i] == '"')
                        in_quote = !in_quote;
        }

        stop = i;
        tail_quote = i > 0 && p[i - 1] == '"';
        *ret = (KToken) { .key = p, .balanced = !in_quote, .end = p + i };

        if (equals == 0) {
                if (quoted && tail_quote)
                        stop--;
                ret->key_len = stop;
                return;
        }

        size_t v = equals + 1;
        if (v < i && p[v] == '"') {
                v++;
                if (tail_quote) {
                        stop--;
                        tail_quote = false; /* the kernel's args[i-1] is NUL now */
                }
        }
        if (quoted && tail_quote)
                stop--;

        ret->key_len = equals;
        ret->value = p + v;
        ret->value_len = stop > v ? stop - v : 0;
}

/* Walks the tokens of a line, handling the "--" that starts init's part. */
typedef struct KScanner {
        const char *p, *end;
        KArgSection section;
} KScanner;

static bool scanner_next(KScanner *s, KToken *ret, KArgSection *ret_section) {
        for (;;) {
                KToken t;

                s->p = skip_spaces(s->p, s->end);
                if (s->p >= s->end)
                        return false;

                next_token(s->p, s->end, &t);
                s->p = t.end;

                if (s->section == KARG_KERNEL && !t.value &&
                    t.key_len == 2 && memcmp(t.key, "--", 2) == 0) {
                        s->section = KARG_INIT;
                        continue;
                }

                *ret = t;
                *ret_section = s->section;
                return true;
        }
}

void karg_done(KArg *a) {
        if (!a)
                return;
        free(a->key);
        free(a->value);
        *a = (KArg) {};
}

KCmdline *kcmdline_free(KCmdline *c) {
        if (!c)
                return NULL;
        for (size_t i = 0; i < c->n_args; i++)
                karg_done(c->args + i);
        free(c->args);
        free(c);
        return NULL;
}

static int karg_from_token(const KToken *t, KArgSection section, KArg *ret) {
        _cleanup_free_ char *key = NULL, *value = NULL;

        key = strndup(t->key, t->key_len);
        if (!key)
                return -ENOMEM;
        if (t->value) {
                value = strndup(t->value, t->value_len);
                if (!value)
                        return -ENOMEM;
        }

        *ret = (KArg) {
                .key = TAKE_PTR(key),
                .value = TAKE_PTR(value),
                .section = section,
        };
        return 0;
}

void kcmdline_mark_noise(KCmdline *c) {
        bool leading = true;

        if (!c)
                return;

        for (size_t i = 0; i < c->n_args; i++) {
                KArg *a = c->args + i;

                a->noise = a->section == KARG_KERNEL && a->value &&
                        (streq(a->key, "BOOT_IMAGE") || (leading && streq(a->key, "initrd")));
                if (!a->noise)
                        leading = false;
        }
}

int kcmdline_parse(const char *s, KCmdline **ret) {
        _cleanup_(kcmdline_freep) KCmdline *c = NULL;
        KScanner scan;
        KArgSection section;
        KToken t;
        size_t len, n = 0;
        int r;

        if (!s || !ret)
                return -EINVAL;

        len = strnlen(s, KCMDLINE_SIZE_MAX + 2);
        if (len > 0 && s[len - 1] == '\n')
                len--;
        if (len > KCMDLINE_SIZE_MAX)
                return -E2BIG;

        /* Count first, so that the array is allocated once. */
        scan = (KScanner) { .p = s, .end = s + len };
        while (scanner_next(&scan, &t, &section))
                n++;

        c = calloc(1, sizeof(KCmdline));
        if (!c)
                return -ENOMEM;
        if (n > 0) {
                c->args = calloc(n, sizeof(KArg));
                if (!c->args)
                        return -ENOMEM;
        }

        scan = (KScanner) { .p = s, .end = s + len };
        while (c->n_args < n && scanner_next(&scan, &t, &section)) {
                r = karg_from_token(&t, section, c->args + c->n_args);
                if (r < 0)
                        return r;
                c->n_args++;
        }

        kcmdline_mark_noise(c);
        *ret = TAKE_PTR(c);
        return 0;
}

static char dash2underscore(char c) {
        return c == '-' ? '_' : c;
}

bool kcmdline_key_equal(const char *a, const char *b) {
        if (!a || !b)
                return a == b;

        for (;; a++, b++) {
                if (dash2underscore(*a) != dash2underscore(*b))
                        return false;
                if (*a == '\0')
                        return true;
        }
}

int kcmdline_key_canonical(const char *key, char **ret) {
        char *k;

        if (!key || !ret)
                return -EINVAL;

        k = strdup(key);
        if (!k)
                return -ENOMEM;
        for (char *p = k; *p; p++)
                *p = dash2underscore(*p);

        *ret = k;
        return 0;
}

const KArg *kcmdline_get(const KCmdline *c, const char *key) {
        if (!c || !key)
                return NULL;

        for (size_t i = c->n_args; i > 0; i--) {
                const KArg *a = c->args + i - 1;

                if (a->section == KARG_KERNEL && !a->noise && kcmdline_key_equal(a->key, key))
                        return a;
        }
        return NULL;
}

bool kcmdline_has(const KCmdline *c, const char *key, const char *value) {
        const KArg *a = kcmdline_get(c, key);

        return a && streq_ptr(a->value, value);
}

bool kcmdline_equal(const KCmdline *a, const KCmdline *b) {
        if (!a || !b)
                return a == b;
        if (a->n_args != b->n_args)
                return false;

        for (size_t i = 0; i < a->n_args; i++) {
                const KArg *x = a->args + i, *y = b->args + i;

                if (x->section != y->section || x->noise != y->noise ||
                    !streq_ptr(x->key, y->key) || !streq_ptr(x->value, y->value))
                        return false;
        }
        return true;
}

/* ---- Formatting ---- */

enum {
        SHAPE_QUOTED = 1 << 0, /* a leading quote before the key */
        SHAPE_OPEN = 1 << 1,   /* a quote opening the value */
        SHAPE_CLOSE = 1 << 2,  /* a quote ending the token */
};

/* Preference order; the tokenizer decides which ones are right. */
static const unsigned flag_shapes[] = {
        0,                             /* quiet */
        SHAPE_QUOTED | SHAPE_CLOSE,    /* "a b" */
        SHAPE_QUOTED,                  /* "a"b */
};
static const unsigned value_shapes[] = {
        0,                                         /* key=value */
        SHAPE_OPEN | SHAPE_CLOSE,                  /* key="value" */
        SHAPE_QUOTED | SHAPE_CLOSE,                /* "key=value" */
        SHAPE_OPEN,                                /* key="value */
        SHAPE_QUOTED,                              /* "key=value */
        SHAPE_QUOTED | SHAPE_OPEN | SHAPE_CLOSE,   /* "key="value" */
        SHAPE_QUOTED | SHAPE_OPEN,                 /* "key="value */
};

static char *token_build(const KArg *a, unsigned shape) {
        size_t kl = strlen(a->key), vl = a->value ? strlen(a->value) : 0;
        char *t, *p;

        t = malloc(kl + vl + 5);
        if (!t)
                return NULL;

        p = t;
        if (shape & SHAPE_QUOTED)
                *p++ = '"';
        p = mempcpy(p, a->key, kl);
        if (a->value) {
                *p++ = '=';
                if (shape & SHAPE_OPEN)
                        *p++ = '"';
                p = mempcpy(p, a->value, vl);
        }
        if (shape & SHAPE_CLOSE)
                *p++ = '"';
        *p = '\0';
        return t;
}

/* Whether the tokenizer reads t as exactly one token equal to a. */
static bool token_reads_as(const char *t, const KArg *a, bool *ret_balanced) {
        size_t n = strlen(t);
        KToken tok;

        if (n == 0 || kcmdline_isspace(t[0]))
                return false;

        next_token(t, t + n, &tok);
        if (tok.end != t + n)
                return false;
        if (tok.key_len != strlen(a->key) || memcmp(tok.key, a->key, tok.key_len) != 0)
                return false;
        if (!tok.value != !a->value)
                return false;
        if (a->value && (tok.value_len != strlen(a->value) ||
                         memcmp(tok.value, a->value, tok.value_len) != 0))
                return false;
        *ret_balanced = tok.balanced;
        return true;
}

int karg_format_full(const KArg *a, char **ret) {
        _cleanup_free_ char *fallback = NULL;
        const unsigned *shapes = a && a->value ? value_shapes : flag_shapes;
        size_t n = a && a->value ? ELEMENTSOF(value_shapes) : ELEMENTSOF(flag_shapes);

        if (!a || !a->key || !ret)
                return -EINVAL;

        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *t = NULL;
                bool balanced;

                t = token_build(a, shapes[i]);
                if (!t)
                        return -ENOMEM;
                if (!token_reads_as(t, a, &balanced))
                        continue;
                if (balanced) {
                        *ret = TAKE_PTR(t);
                        return 0;
                }
                if (!fallback)
                        fallback = TAKE_PTR(t);
        }

        if (!fallback)
                return -EINVAL;
        *ret = TAKE_PTR(fallback);
        return 1;
}

char *karg_format(const KArg *a) {
        char *t = NULL;
        int r;

        r = karg_format_full(a, &t);
        if (r != 0) {
                free(t);
                errno = r < 0 ? -r : EINVAL;
                return NULL;
        }
        return t;
}

/* A growing string. */
typedef struct Buf {
        char *s;
        size_t len, size;
} Buf;

static void buf_done(Buf *b) {
        free(b->s);
}

static int buf_put(Buf *b, const char *s) {
        size_t n = strlen(s);

        if (b->len + n + 1 > b->size) {
                size_t size = b->size > 0 ? b->size * 2 : 64;
                char *p;

                if (size < b->len + n + 1)
                        size = b->len + n + 1;
                p = realloc(b->s, size);
                if (!p)
                        return -ENOMEM;
                b->s = p;
                b->size = size;
        }
        memcpy(b->s + b->len, s, n + 1);
        b->len += n;
        return 0;
}

/* Appends one argument; *open says whether the previous token left a quote
 * open (then nothing may follow it). */
static int format_one(Buf *b, const KArg *a, bool *in_init, bool *open) {
        _cleanup_free_ char *t = NULL;
        int r;

        if (*open)
                return -EINVAL;
        if (a->section == KARG_KERNEL && (*in_init || (!a->value && streq_ptr(a->key, "--"))))
                return -EINVAL;

        if (a->section == KARG_INIT && !*in_init) {
                r = buf_put(b, b->len > 0 ? " --" : "--");
                if (r < 0)
                        return r;
                *in_init = true;
        }

        r = karg_format_full(a, &t);
        if (r < 0)
                return r;
        *open = r > 0;

        if (b->len > 0) {
                r = buf_put(b, " ");
                if (r < 0)
                        return r;
        }
        return buf_put(b, t);
}

int kcmdline_format_full(const KCmdline *c, char **ret) {
        _cleanup_(buf_done) Buf b = {};
        bool in_init = false, open = false;
        int r;

        if (!c || !ret)
                return -EINVAL;

        for (size_t i = 0; i < c->n_args; i++) {
                r = format_one(&b, c->args + i, &in_init, &open);
                if (r < 0)
                        return r;
        }

        /* Only a last token with an open quote can end in a newline; the
         * reader drops one newline (/proc/cmdline's), so give it one more. */
        r = buf_put(&b, b.len > 0 && b.s[b.len - 1] == '\n' ? "\n" : "");
        if (r < 0)
                return r;

        *ret = TAKE_PTR(b.s);
        return 0;
}

char *kcmdline_format(const KCmdline *c) {
        char *s = NULL;
        int r;

        r = kcmdline_format_full(c, &s);
        if (r < 0) {
                errno = -r;
                return NULL;
        }
        return s;
}

/* Unit test of the kernel command-line tokenizer and formatter: the
 * conformance corpus (tests/data/proc-cmdline, or the directory in argv[1])
 * checked field by field, hand-written quirks, lookups, formatting, limits
 * and a randomized round trip. Prints TAP; exits non-zero on any failure. */

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "kernel-cmdline/kcmdline.h"
#include "tap.h"

#ifndef KCMDLINE_CORPUS_DIR
#define KCMDLINE_CORPUS_DIR "tests/data/proc-cmdline"
#endif


/* Prints s C-escaped, for diagnostics. */
static void put_escaped(const char *s) {
        if (!s) {
                fputs("(null)", stdout);
                return;
        }
        putchar('\'');
        for (; *s; s++) {
                unsigned char u = (unsigned char) *s;

                if (u == '\\' || u == '\'')
                        printf("\\%c", u);
                else if (u >= 0x20 && u < 0x7f)
                        putchar(u);
                else
                        printf("\\x%02x", u);
        }
        putchar('\'');
}

static void diag_cmdline(const KCmdline *c) {
        for (size_t i = 0; c && i < c->n_args; i++) {
                printf("#   [%zu] %s%s ", i, c->args[i].section == KARG_INIT ? "init " : "",
                       c->args[i].noise ? "noise " : "");
                put_escaped(c->args[i].key);
                fputs(" = ", stdout);
                put_escaped(c->args[i].value);
                putchar('\n');
        }
}

/* ---- The corpus ---- */

/* Undoes Python's unicode_escape for what the corpus uses. */
static int unescape(const char *s, char **ret) {
        _cleanup_free_ char *out = malloc(strlen(s) + 1);
        char *o = out;

        if (!out)
                return -ENOMEM;
        for (; *s; s++) {
                if (*s != '\\') {
                        *o++ = *s;
                        continue;
                }
                s++;
                switch (*s) {
                case '\\': *o++ = '\\'; break;
                case 't': *o++ = '\t'; break;
                case 'n': *o++ = '\n'; break;
                case 'r': *o++ = '\r'; break;
                case 'x': {
                        char hex[3] = { s[1], s[2], 0 };
                        char *end;
                        unsigned long v;

                        if (!s[1] || !s[2])
                                return -EINVAL;
                        errno = 0;
                        v = strtoul(hex, &end, 16);
                        if (errno != 0 || *end || v == 0)
                                return -EINVAL;
                        *o++ = (char) v;
                        s += 2;
                        break;
                }
                default:
                        return -EINVAL;
                }
        }
        *o = '\0';
        *ret = TAKE_PTR(out);
        return 0;
}

typedef struct Expected {
        char *fields[6]; /* idx, section, key, canonical_key, has_value, value */
} Expected;

/* Splits one TSV line in place into exactly six fields. */
static int split_tsv(char *line, Expected *ret) {
        size_t n = 0;

        for (char *p = line;; ) {
                char *tab = strchr(p, '\t');

                if (n >= ELEMENTSOF(ret->fields))
                        return -EINVAL;
                ret->fields[n++] = p;
                if (!tab)
                        break;
                *tab = '\0';
                p = tab + 1;
        }
        return n == ELEMENTSOF(ret->fields) ? 0 : -EINVAL;
}

/* Compares one parsed argument with one TSV line; prints why not. */
static bool arg_matches_line(const KArg *a, size_t section_idx, char *line) {
        _cleanup_free_ char *key = NULL, *canon = NULL, *value = NULL, *mine = NULL;
        Expected e;
        bool init;

        if (split_tsv(line, &e) < 0 || unescape(e.fields[2], &key) < 0 ||
            unescape(e.fields[3], &canon) < 0 || unescape(e.fields[5], &value) < 0) {
                printf("# malformed expected line\n");
                return false;
        }
        init = streq(e.fields[1], "init");
        if (!init && !streq(e.fields[1], "kernel"))
                return false;

        char idx[32];
        snprintf(idx, sizeof idx, "%zu", section_idx);
        if (!streq(idx, e.fields[0]) || (a->section == KARG_INIT) != init) {
                printf("# idx/section: got %s %s, want %s %s\n", idx,
                       a->section == KARG_INIT ? "init" : "kernel", e.fields[0], e.fields[1]);
                return false;
        }
        if (!streq(a->key, key)) {
                printf("# key: got "); put_escaped(a->key); printf(" want "); put_escaped(key); putchar('\n');
                return false;
        }
        if (kcmdline_key_canonical(a->key, &mine) < 0 ||
            (!init && (!streq(mine, canon) || !kcmdline_key_equal(a->key, canon))) ||
            (init && !streq(canon, ""))) {
                printf("# canonical key: got "); put_escaped(mine); printf(" want "); put_escaped(canon); putchar('\n');
                return false;
        }
        if (!streq(e.fields[4], a->value ? "1" : "0") ||
            (a->value && !streq(a->value, value)) || (!a->value && !streq(value, ""))) {
                printf("# value of "); put_escaped(key); printf(": got "); put_escaped(a->value);
                printf(" want has_value=%s ", e.fields[4]); put_escaped(value); putchar('\n');
                return false;
        }
        return true;
}

static bool check_against_tsv(const KCmdline *c, char *tsv) {
        size_t i = 0, idx[2] = {};
        char *line = tsv;

        while (line && *line) {
                char *nl = strchr(line, '\n');

                if (nl)
                        *nl = '\0';
                if (line[0] != '#' && line[0] != '\0') {
                        if (i >= c->n_args) {
                                printf("# missing argument %zu\n", i);
                                return false;
                        }
                        const KArg *a = c->args + i++;
                        if (!arg_matches_line(a, idx[a->section == KARG_INIT]++, line))
                                return false;
                }
                line = nl ? nl + 1 : NULL;
        }
        if (i != c->n_args) {
                printf("# %zu arguments, expected %zu\n", c->n_args, i);
                return false;
        }
        return true;
}

/* format_full() works, its output parses back to c, and formatting that
 * again gives the same text. */
static bool round_trips(const KCmdline *c, bool verbose) {
        _cleanup_(kcmdline_freep) KCmdline *again = NULL;
        _cleanup_free_ char *text = NULL, *text2 = NULL;
        int r;

        r = kcmdline_format_full(c, &text);
        if (r < 0) {
                if (verbose)
                        printf("# format failed: %s\n", strerror(-r));
                return false;
        }
        if (kcmdline_parse(text, &again) < 0 || !kcmdline_equal(c, again)) {
                if (verbose) {
                        printf("# formatted as "); put_escaped(text); printf(", which reads as:\n");
                        diag_cmdline(again);
                }
                return false;
        }
        if (kcmdline_format_full(again, &text2) < 0 || !streq(text, text2))
                return false;
        return true;
}

static int is_cmdline_file(const struct dirent *de) {
        size_t l = strlen(de->d_name);

        return l > 8 && streq(de->d_name + l - 8, ".cmdline");
}

static void test_corpus(const char *dir) {
        struct dirent **list = NULL;
        int n;

        n = scandir(dir, &list, is_cmdline_file, alphasort);
        tap_check(n >= 22, "corpus %s has the 22 cases (found %d)", dir, n);

        for (int i = 0; i < n; i++) {
                _cleanup_free_ char *path = NULL, *tsv_path = NULL, *input = NULL, *tsv = NULL;
                _cleanup_(kcmdline_freep) KCmdline *c = NULL;
                const char *name = list[i]->d_name;
                size_t base = strlen(name) - 8;

                if (asprintf(&path, "%s/%s", dir, name) < 0 ||
                    asprintf(&tsv_path, "%s/%.*s.expected.tsv", dir, (int) base, name) < 0)
                        abort();

                bool ok = read_full_file(path, 65535, &input, NULL) >= 0 && read_full_file(tsv_path, 65535, &tsv, NULL) >= 0 &&
                        kcmdline_parse(input, &c) >= 0;
                if (!tap_check(ok && check_against_tsv(c, tsv), "%.*s: parse matches expected.tsv", (int) base, name))
                        diag_cmdline(c);
                tap_check(c && round_trips(c, true), "%.*s: format/parse round trip", (int) base, name);
                free(list[i]);
        }
        free(list);
}

/* ---- Hand-written cases ---- */

typedef struct Want {
        KArgSection section;
        const char *key, *value;
        bool noise;
} Want;

#define END { .key = NULL }

static void expect(const char *input, const Want *want, const char *what) {
        _cleanup_(kcmdline_freep) KCmdline *c = NULL;
        size_t n = 0;
        bool ok;

        while (want[n].key)
                n++;

        ok = kcmdline_parse(input, &c) >= 0 && c->n_args == n;
        for (size_t i = 0; ok && i < n; i++)
                ok = c->args[i].section == want[i].section && streq(c->args[i].key, want[i].key) &&
                        streq_ptr(c->args[i].value, want[i].value) && c->args[i].noise == want[i].noise;
        if (!tap_check(ok, "%s", what)) {
                printf("# input "); put_escaped(input); printf(" read as:\n");
                diag_cmdline(c);
        }
        if (c)
                tap_check(round_trips(c, true), "%s: round trip", what);
}

#define K(k, v) { KARG_KERNEL, k, v, false }
#define N(k, v) { KARG_KERNEL, k, v, true }
#define I(k, v) { KARG_INIT, k, v, false }
#define EXPECT(input, what, ...) expect(input, (const Want[]) { __VA_ARGS__, END }, what)

static void test_quirks(void) {
        EXPECT("", "empty string", END);
        EXPECT("   \t \n", "only whitespace", END);
        EXPECT("\n", "only the /proc newline", END);
        EXPECT("a\nb\n", "embedded newline separates", K("a", NULL), K("b", NULL));
        EXPECT("a\tb\vc\fd\re f", "every isspace byte separates",
               K("a", NULL), K("b", NULL), K("c", NULL), K("d", NULL), K("e", NULL), K("f", NULL));
        EXPECT("a\xa0" "b", "0xa0 is whitespace to the kernel", K("a", NULL), K("b", NULL));
        EXPECT("a\x1f" "b \x1c", "0x1c-0x1f are not", K("a\x1f" "b", NULL), K("\x1c", NULL));
        EXPECT("x=\"a\xa0" "b\"", "0xa0 inside quotes", K("x", "a\xa0" "b"));
        EXPECT("a=b=c", "split at the first '='", K("a", "b=c"));
        EXPECT("=x", "'=' at offset 0 does not split", K("=x", NULL));
        EXPECT("==y =", "'=' at offset 1 does", K("=", "y"), K("=", NULL));
        EXPECT("\"=x\"", "nor after a leading quote", K("=x", NULL));
        EXPECT("\" \"", "a quoted space is a flag named ' '", K(" ", NULL));
        EXPECT("\"\" \"\"\"\"", "quoted flags made of quotes", K("", NULL), K("\"\"", NULL));
        EXPECT("\"", "a lone quote", K("", NULL));
        EXPECT("foo=\"\" bar=\"", "quoted empty values", K("foo", ""), K("bar", ""));
        EXPECT("\"foo=bar\" x", "GRUB-style whole-token quotes", K("foo", "bar"), K("x", NULL));
        EXPECT("\"foo=\"bar\"\"", "both quote strips", K("foo", "bar\""));
        EXPECT("\"a b\"=c", "quotes do not hide '='", K("a b\"", "c"));
        EXPECT("a\"b c\"d e", "a quote opens mid-token", K("a\"b c\"d", NULL), K("e", NULL));
        EXPECT("foo=a\\\"b c", "no backslash escapes", K("foo", "a\\\"b c"));
        EXPECT("x \"y z", "unterminated quote runs to the end", K("x", NULL), K("y z", NULL));
        EXPECT("foo=\"a -- b", "an open quote swallows '--'", K("foo", "a -- b"));
        EXPECT("foo=\"a\n\n", "only one trailing newline is dropped", K("foo", "a\n"));
        EXPECT("\"--\" a", "a quoted -- still separates", I("a", NULL));
        EXPECT("-- a -- b", "a second -- stays an init argument", I("a", NULL), I("--", NULL), I("b", NULL));
        EXPECT("--= --=x a", "--= is no separator", K("--", ""), K("--", "x"), K("a", NULL));
        EXPECT("a --", "a trailing --", K("a", NULL));
        EXPECT("BOOT_IMAGE=/k initrd=\\a initrd=\\b root=/r initrd=/c BOOT_IMAGE=/x",
               "noise: BOOT_IMAGE= anywhere, initrd= while leading",
               N("BOOT_IMAGE", "/k"), N("initrd", "\\a"), N("initrd", "\\b"),
               K("root", "/r"), K("initrd", "/c"), N("BOOT_IMAGE", "/x"));
        EXPECT("BOOT_IMAGE initrd=/a -- BOOT_IMAGE=/b", "no noise: flag BOOT_IMAGE, init section",
               K("BOOT_IMAGE", NULL), K("initrd", "/a"), I("BOOT_IMAGE", "/b"));
        EXPECT("initrd BOOT_IMAGE=/k initrd=/a", "a flag initrd ends the leading run",
               K("initrd", NULL), N("BOOT_IMAGE", "/k"), K("initrd", "/a"));
}

static void test_lookup(void) {
        _cleanup_(kcmdline_freep) KCmdline *c = NULL;
        const KArg *a;

        kcmdline_parse("initrd=/i BOOT_IMAGE=/k iommu=off kvm-intel.nested=1 kvm_intel.nested=0 quiet rd.break= "
                       "console=tty0 console=ttyS0 iommu=pt -- iommu=on single\n", &c);
        tap_check(c != NULL, "lookup line parses");
        if (!c)
                return;

        a = kcmdline_get(c, "iommu");
        tap_check(a && streq_ptr(a->value, "pt"), "get: the last kernel occurrence wins, init ignored");
        a = kcmdline_get(c, "kvm-intel.nested");
        tap_check(a && streq_ptr(a->value, "0") && streq(a->key, "kvm_intel.nested"), "get: '-' and '_' equivalent");
        tap_check(kcmdline_has(c, "kvm-intel.nested", "0") && !kcmdline_has(c, "kvm_intel.nested", "1"),
              "has: last occurrence decides, with '-'/'_' equivalence");
        tap_check(kcmdline_has(c, "quiet", NULL) && !kcmdline_has(c, "quiet", ""), "has: flag is not empty value");
        tap_check(kcmdline_has(c, "rd.break", "") && !kcmdline_has(c, "rd.break", NULL), "has: empty value is not flag");
        tap_check(!kcmdline_get(c, "initrd") && !kcmdline_get(c, "BOOT_IMAGE") &&
              !kcmdline_has(c, "BOOT_IMAGE", "/k"), "get/has ignore noise");
        tap_check(!kcmdline_get(c, "single") && !kcmdline_has(c, "single", NULL), "get/has ignore init arguments");
        tap_check(kcmdline_has(c, "console", "ttyS0") && !kcmdline_has(c, "console", "tty0"),
              "has: an earlier occurrence does not count");
        tap_check(!kcmdline_get(c, "iommu_x") && !kcmdline_get(c, "iomm"), "get: whole key only");
        tap_check(!kcmdline_get(NULL, "a") && !kcmdline_get(c, NULL), "get: NULL");
}

static void test_key_equal(void) {
        _cleanup_free_ char *canon = NULL;

        tap_check(kcmdline_key_equal("vfio-pci.ids", "vfio_pci.ids"), "key_equal: dash and underscore");
        tap_check(kcmdline_key_equal("a-b_c", "a_b-c") && kcmdline_key_equal("", ""), "key_equal: mixed, empty");
        tap_check(!kcmdline_key_equal("a-b", "a_bc") && !kcmdline_key_equal("a", "a-") &&
              !kcmdline_key_equal("a.b", "a_b") && !kcmdline_key_equal("A", "a"),
              "key_equal: prefixes, dots and case differ");
        tap_check(kcmdline_key_canonical("print-fatal-signals", &canon) == 0 &&
              streq(canon, "print_fatal_signals"), "key_canonical");
}

/* ---- Formatting ---- */

static void expect_format(const char *key, const char *value, int want_r, const char *want) {
        _cleanup_free_ char *t = NULL;
        KArg a = { .key = (char *) key, .value = (char *) value };
        int r;

        r = karg_format_full(&a, &t);
        if (!tap_check(r == want_r && (!want || streq_ptr(t, want)), "format %s%s%s -> %s", key,
                   value ? "=" : "", value ? value : "", want ? want : "(refused)")) {
                printf("# got %d ", r); put_escaped(t); putchar('\n');
        }
}

static void expect_line(const char *input, const char *want) {
        _cleanup_(kcmdline_freep) KCmdline *c = NULL;
        _cleanup_free_ char *text = NULL;

        tap_check(kcmdline_parse(input, &c) >= 0 && kcmdline_format_full(c, &text) >= 0 &&
              streq(text, want), "format line '%s'", want);
}

static void test_format(void) {
        expect_format("quiet", NULL, 0, "quiet");
        expect_format("rd.break", "", 0, "rd.break=");
        expect_format("root", "UUID=x", 0, "root=UUID=x");
        expect_format("dyndbg", "module vfio_pci +p", 0, "dyndbg=\"module vfio_pci +p\"");
        expect_format("k", "a\tb", 0, "k=\"a\tb\"");
        expect_format("k", "a\xa0" "b", 0, "k=\"a\xa0" "b\"");
        expect_format("k", "\"x", 0, "k=\"\"x");
        expect_format("foo", "a b\"c", 0, "foo=\"a b\"c");
        expect_format("", NULL, 0, "\"\"");
        expect_format("a b", NULL, 0, "\"a b\"");
        expect_format("a b\"", NULL, 1, "\"a b\"\"");
        expect_format("a=b", NULL, -EINVAL, NULL);
        expect_format("", "x", -EINVAL, NULL);
        expect_format("a b", "c d\"e f", -EINVAL, NULL);

        expect_line("BOOT_IMAGE=/boot/vmlinuz \"dyndbg=module vfio_pci +p\"  ro\n",
                    "BOOT_IMAGE=/boot/vmlinuz dyndbg=\"module vfio_pci +p\" ro");
        expect_line("a -- b", "a -- b");
        expect_line("\"--\" b", "-- b");
        expect_line("a --", "a");
        expect_line("", "");
        expect_line("foo=\"a b", "foo=\"a b\"");
        expect_line("x \"a b\"\"", "x \"a b\"\"");
        expect_line("x a\"\t\n\n", "x a\"\t\n\n");

        /* Lines that cannot be written. */
        KArg args[2] = {
                { .key = (char *) "a b\"", .section = KARG_KERNEL },
                { .key = (char *) "x", .section = KARG_KERNEL },
        };
        KCmdline c = { .args = args, .n_args = 2 };
        _cleanup_free_ char *t = NULL;
        tap_check(kcmdline_format_full(&c, &t) == -EINVAL && !t, "format: an open quote before another argument is refused");
        c.n_args = 1;
        tap_check(kcmdline_format_full(&c, &t) == 0 && streq_ptr(t, "\"a b\"\""), "format: an open quote as the last token is fine");
        args[0] = (KArg) { .key = (char *) "--", .section = KARG_KERNEL };
        tap_check(kcmdline_format(&c) == NULL && errno == EINVAL, "format: a kernel flag -- is refused");
        args[0].section = KARG_INIT;
        free(t);
        t = kcmdline_format(&c);
        tap_check(streq_ptr(t, "-- --"), "format: an init flag -- is fine");
        args[0].section = KARG_INIT;
        args[1].section = KARG_KERNEL;
        c.n_args = 2;
        tap_check(kcmdline_format(&c) == NULL, "format: kernel after init is refused");
}

/* ---- Limits ---- */

static void test_long(void) {
        _cleanup_(kcmdline_freep) KCmdline *c = NULL;
        _cleanup_free_ char *s = NULL, *text = NULL;
        const size_t n = 50000;
        size_t len = 0;

        s = malloc(n * 16 + 1);
        if (!s)
                abort();
        for (size_t i = 0; i < n; i++)
                len += (size_t) snprintf(s + len, 17, "k%zu=v%zu ", i, i);

        tap_check(kcmdline_parse(s, &c) == 0 && c->n_args == n && streq(c->args[n - 1].key, "k49999") &&
              streq(c->args[n - 1].value, "v49999"), "50000 arguments (%zu bytes)", len);
        tap_check(c && kcmdline_format_full(c, &text) == 0 && text && strlen(text) == len - 1,
              "50000 arguments format back to the same length");
        c = kcmdline_free(c);

        _cleanup_free_ char *big = malloc(KCMDLINE_SIZE_MAX + 3);
        if (!big)
                abort();
        memset(big, 'x', KCMDLINE_SIZE_MAX);
        big[0] = '"';
        big[KCMDLINE_SIZE_MAX] = '\n';
        big[KCMDLINE_SIZE_MAX + 1] = '\0';
        tap_check(kcmdline_parse(big, &c) == 0 && c->n_args == 1 && strlen(c->args[0].key) == KCMDLINE_SIZE_MAX - 1,
              "a single token of KCMDLINE_SIZE_MAX bytes plus newline");
        c = kcmdline_free(c);
        big[KCMDLINE_SIZE_MAX] = 'x';
        tap_check(kcmdline_parse(big, &c) == -E2BIG && !c, "one byte more is -E2BIG");
        tap_check(kcmdline_parse(NULL, &c) == -EINVAL, "NULL is -EINVAL");
}

/* ---- Random lines: the round trip must hold for anything ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void) {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        return rng_state;
}

static void test_random(void) {
        static const char alphabet[] = { 'a', 'b', '=', '"', '"', ' ', '\t', '\n', '-', '_', '\\', (char) 0xa0 };
        unsigned failed = 0, total = 20000;
        char s[48];

        for (unsigned i = 0; i < total; i++) {
                _cleanup_(kcmdline_freep) KCmdline *c = NULL;
                size_t len = rng() % (sizeof s - 1);

                for (size_t j = 0; j < len; j++)
                        s[j] = alphabet[rng() % sizeof alphabet];
                s[len] = '\0';

                if (kcmdline_parse(s, &c) < 0 || !round_trips(c, failed == 0)) {
                        if (failed++ == 0) {
                                printf("# first failure: "); put_escaped(s); putchar('\n');
                        }
                }
        }
        tap_check(failed == 0, "round trip of %u random lines (%u failed)", total, failed);
}

int main(int argc, char **argv) {
        test_corpus(argc > 1 ? argv[1] : KCMDLINE_CORPUS_DIR);
        test_quirks();
        test_lookup();
        test_key_equal();
        test_format();
        test_long();
        test_random();

        return tap_done();
}

/* libFuzzer target for the kernel command-line library: parse any input,
 * format it, parse that again and insist on the same arguments; then apply
 * edits built from the input and insist that they keep their promises and
 * that the result still formats and reads back the same. A replay of the
 * corpus tries every edit on each input; libFuzzer one per execution, the
 * input's length choosing which (the next executions try the others).
 *
 * Under `make check` it is linked with fuzz-main.c and run over its corpus;
 * to fuzz it: tests/fuzz/fuzz.sh --time 60 kcmdline.
 */

#include "basic/macro.h"
#include "fuzz.h"
#include "kernel-cmdline/kcmdline-edit.h"
#include "kernel-cmdline/kcmdline.h"

/* Formats, parses back, and requires the very same arguments. */
static void assert_round_trip(const KCmdline *c) {
        _cleanup_(kcmdline_freep) KCmdline *again = NULL;
        _cleanup_free_ char *text = NULL, *text2 = NULL;

        FUZZ_ASSERT(kcmdline_format_full(c, &text) == 0);
        FUZZ_ASSERT(kcmdline_parse(text, &again) == 0);
        FUZZ_ASSERT(kcmdline_equal(c, again));
        FUZZ_ASSERT(kcmdline_format_full(again, &text2) == 0);
        FUZZ_ASSERT(streq(text, text2));
}

static size_t count_pairs(const KCmdline *c, const char *key, const char *value) {
        size_t n = 0;

        for (size_t i = 0; i < c->n_args; i++) {
                const KArg *a = c->args + i;

                if (a->section == KARG_KERNEL && !a->noise && kcmdline_key_equal(a->key, key) &&
                    streq_ptr(a->value, value))
                        n++;
        }
        return n;
}

/* Applies one edit to a fresh parse of s and checks what it promises. */
static void try_edit(const char *s, unsigned op, const char *spec) {
        _cleanup_(kcmdline_freep) KCmdline *c = NULL, *before = NULL;
        _cleanup_(karg_done) KArg a = {};
        bool changed = false, parsed;
        int r;

        FUZZ_ASSERT(kcmdline_parse(s, &c) == 0);
        FUZZ_ASSERT(kcmdline_parse(s, &before) == 0);
        parsed = karg_parse(spec, &a) == 0;

        switch (op % 5) {
        case 0: r = kcmdline_append(c, spec, &changed); break;
        case 1: r = kcmdline_append_if_missing(c, spec, &changed); break;
        case 2: r = kcmdline_delete(c, spec, &changed); break;
        case 3: r = kcmdline_delete_if_present(c, spec, &changed); break;
        default: r = kcmdline_replace(c, spec, &changed); break;
        }

        if (r < 0) {
                FUZZ_ASSERT(r != -ENOMEM);
                FUZZ_ASSERT(kcmdline_equal(c, before)); /* failures change nothing */
                return;
        }
        FUZZ_ASSERT(changed == !kcmdline_equal(c, before));
        assert_round_trip(c);

        if (op % 5 <= 1) /* appended or already there */
                FUZZ_ASSERT(parsed && count_pairs(c, a.key, a.value) >= 1);
        if (op % 5 == 0)
                FUZZ_ASSERT(changed && c->n_args == before->n_args + 1);
        if (op % 5 == 2 || op % 5 == 3)
                FUZZ_ASSERT(parsed && count_pairs(c, a.key, a.value) == 0);
}

/* Edits with three arguments of the line (spread over it, chosen by seed),
 * each written back as a spec: every edit with each, or (under libFuzzer)
 * the one edit of one argument that the seed selects. */
static void edit_with_args(const char *s, const KCmdline *c, unsigned seed) {
        bool all = fuzz_every_case();

        for (size_t k = 0; k < c->n_args && k < 3; k++) {
                size_t i = (seed + k * (c->n_args / 3 + 1)) % c->n_args;
                _cleanup_free_ char *spec = NULL, *spec2 = NULL;
                _cleanup_(karg_done) KArg a = {};

                if (!all && k != seed % (c->n_args < 3 ? c->n_args : 3))
                        continue;
                spec = karg_format(c->args + i);
                if (!spec)
                        continue;
                if (c->args[i].section == KARG_KERNEL && !c->args[i].noise) {
                        /* A token that stands anywhere reads back as the argument. */
                        FUZZ_ASSERT(karg_parse(spec, &a) == 0);
                        FUZZ_ASSERT(streq(a.key, c->args[i].key) && streq_ptr(a.value, c->args[i].value));
                }
                for (unsigned op = 0; op < 5; op++)
                        if (all || op == seed / 3 % 6)
                                try_edit(s, op + seed, spec);

                if (!all && seed / 3 % 6 != 5)
                        continue;
                if (asprintf(&spec2, "%s=\"new value\"", spec) < 0)
                        abort();
                try_edit(s, 4, spec2);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(kcmdline_freep) KCmdline *c = NULL;
        _cleanup_free_ char *s = NULL;
        const char *nl;

        if (size > 64 * 1024)
                return 0;
        s = fuzz_memdup(data, size); /* used as a C string: the kernel stops at a NUL too */

        FUZZ_ASSERT(kcmdline_parse(s, &c) == 0);
        assert_round_trip(c);
        edit_with_args(s, c, (unsigned) size);

        /* The first line of the input as a spec against the rest. */
        nl = strchr(s, '\n');
        if (nl) {
                _cleanup_free_ char *spec = strndup(s, nl - s);

                if (!spec)
                        abort();
                for (unsigned op = 0; op < 5; op++)
                        if (fuzz_every_case() || op == size % 5)
                                try_edit(nl + 1, op, spec);
        }
        return 0;
}

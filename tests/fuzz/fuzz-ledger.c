/* libFuzzer target for the kernel-argument ownership ledger
 * (bootloader-ledger.c): a ledger parses exactly when every line is blank,
 * a comment or one kernel argument; it holds each pair once; it formats to
 * text that parses to the same ledger; it owns each of its arguments, and
 * the arguments it finds owned in a command line are the owned ones that
 * line has. */

#include "basic/macro.h"
#include "basic/strv.h"
#include "fuzz.h"
#include "kernel-cmdline/bootloader.h"
#include "kernel-cmdline/kcmdline-edit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(boot_ledger_freep) BootLedger *l = NULL, *again = NULL;
        _cleanup_free_ char *text = NULL, *formatted = NULL, *joined = NULL;
        _cleanup_(kcmdline_freep) KCmdline *c = NULL;
        _cleanup_strv_free_ char **owned = NULL;
        bool all_ok = true;
        size_t n;
        int r;

        if (size > 64 * 1024)
                return 0;
        text = fuzz_memdup(data, size);
        r = boot_ledger_parse(text, size, &l);

        for (char *line = text, *end = text + size; line < end;) { /* each line as a C string, as split_lines() gives it */
                char *nl = memchr(line, '\n', (size_t) (end - line));
                _cleanup_(karg_done) KArg a = {};

                if (nl)
                        *nl = 0;
                if (line[0] != '#' && line[0] != 0 && karg_parse(line, &a) < 0)
                        all_ok = false;
                line = nl ? nl + 1 : end;
        }
        FUZZ_ASSERT((r == 0) == all_ok);
        if (r < 0) {
                FUZZ_ASSERT(r == -EINVAL);
                return 0;
        }

        for (size_t i = 0; l->owned[i]; i++) {
                _cleanup_(karg_done) KArg a = {};

                FUZZ_ASSERT(karg_parse(l->owned[i], &a) == 0 && boot_ledger_owns(l, &a));
                for (size_t j = 0; j < i; j++) {
                        _cleanup_(karg_done) KArg b = {};

                        FUZZ_ASSERT(karg_parse(l->owned[j], &b) == 0);
                        FUZZ_ASSERT(!kcmdline_key_equal(a.key, b.key) || !streq_ptr(a.value, b.value));
                }
        }
        FUZZ_ASSERT(boot_ledger_format(l, &formatted, &n) == 0 && strlen(formatted) == n);
        FUZZ_ASSERT(boot_ledger_parse(formatted, n, &again) == 0);
        FUZZ_ASSERT(strv_equal(l->owned, again->owned));

        /* The ledger's own arguments as a command line: every one reads back as owned. */
        joined = strv_join(l->owned, " ");
        if (joined && kcmdline_parse(joined, &c) == 0) {
                FUZZ_ASSERT(boot_ledger_owned_in(l, c, &owned) == 0);
                for (size_t i = 0; i < c->n_args; i++) {
                        const KArg *a = c->args + i;
                        _cleanup_free_ char *f = karg_format(a);

                        if (a->section == KARG_KERNEL && !a->noise && boot_ledger_owns(l, a))
                                FUZZ_ASSERT(f && strv_contains(owned, f));
                }
        }
        return 0;
}

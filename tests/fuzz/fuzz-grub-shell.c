/* libFuzzer target for the GRUB shell evaluator (bootloader-shell.c) and
 * the Debian GRUB setup built on it (bootloader-grub.c). The evaluator
 * either follows a fragment or refuses it with a reason naming file and
 * line; it is deterministic; and every value it knows survives
 * shell_quote() and evaluation again unchanged (the drop-in hostdevd writes
 * relies on that). Then /etc/default/grub and grub.d drop-ins from the input
 * are read and edited in memory (fuzz-bootloader.c): the drop-in hostdevd
 * renders must evaluate to the planned arguments, and the plan be final;
 * a file holding a NUL byte is not evaluated at all.
 *
 * Input: /etc/default/grub, then optionally drop-ins separated by
 * "\n====\n" (named in turn 40-site.cfg, zz-hostdevd.cfg, 60-serial.cfg,
 * zzz-after.cfg) and a last part "#edits\n" (fuzz-bootloader.h). */

#include <ctype.h>
#include <stdio.h>

#include "basic/macro.h"
#include "fuzz-bootloader.h"
#include "fuzz.h"
#include "kernel-cmdline/bootloader-shell.h"

#define SEP "\n====\n"
#define MAX_NAMES 32

static const char *const dropins[] = { "40-site.cfg", "zz-hostdevd.cfg", "60-serial.cfg", "zzz-after.cfg" };

/* Every NAME written before a '=' in the text, and GRUB's two: the names
 * worth asking the evaluator about. */
static size_t names_in(const char *text, char names[][64], size_t max) {
        size_t n = 0;

        snprintf(names[n++], 64, "GRUB_CMDLINE_LINUX");
        snprintf(names[n++], 64, "GRUB_CMDLINE_LINUX_DEFAULT");
        for (const char *p = text; *p && n < max; p++) {
                size_t l = 0;

                if (!(isalpha((unsigned char) *p) || *p == '_') || (p > text && (isalnum((unsigned char) p[-1]) || p[-1] == '_')))
                        continue;
                while (isalnum((unsigned char) p[l]) || p[l] == '_')
                        l++;
                if (p[l] == '=' && l < 64)
                        snprintf(names[n++], 64, "%.*s", (int) l, p);
                p += l - 1;
        }
        return n;
}

static void check_quote(const char *value) {
        _cleanup_(shell_vars_freep) ShellVars *v = NULL;
        _cleanup_free_ char *quoted = NULL, *text = NULL, *error = NULL;
        const char *got;

        FUZZ_ASSERT(shell_quote(value, &quoted) == 0);
        FUZZ_OOM(asprintf(&text, "GRUB_CMDLINE_LINUX=%s\n", quoted) >= 0);
        FUZZ_ASSERT(shell_vars_new(&v) == 0);
        FUZZ_ASSERT(shell_eval(v, text, "q", &error) == 0);
        FUZZ_ASSERT(shell_vars_get(v, "GRUB_CMDLINE_LINUX", &got) == 0 && streq(got, value));
}

static void check_eval(const char *text) {
        _cleanup_(shell_vars_freep) ShellVars *a = NULL, *b = NULL;
        _cleanup_free_ char *error = NULL, *error2 = NULL;
        static char names[MAX_NAMES][64];
        size_t n;
        int r, r2;

        FUZZ_ASSERT(shell_vars_new(&a) == 0 && shell_vars_new(&b) == 0);
        r = shell_eval(a, text, "f", &error);
        r2 = shell_eval(b, text, "f", &error2);
        FUZZ_ASSERT(r == r2);
        if (r < 0) {
                FUZZ_ASSERT(r == -EINVAL && error && startswith(error, "f:") && strstr(error, "cannot evaluate safely"));
                FUZZ_ASSERT(streq(error, error2));
        }
        n = names_in(text, names, MAX_NAMES);
        for (size_t i = 0; i < n; i++) {
                const char *x = NULL, *y = NULL;
                int k = shell_vars_get(a, names[i], &x);

                FUZZ_ASSERT(k == 0 || k == -ENOENT || k == -EDOM);
                FUZZ_ASSERT(shell_vars_get(b, names[i], &y) == k);
                if (k == -ENOENT)
                        continue;
                FUZZ_ASSERT(x && y && streq(x, y));
                if (k == 0)
                        check_quote(x);
        }
        check_quote(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *storage = NULL;
        FuzzHost h = {};
        BootEdit edits[32];
        BootPlanFlags flags;
        FuzzPart parts[1 + ELEMENTSOF(dropins)];
        size_t n_edits, rest, n_parts;
        bool nul = false;

        if (size > 64 * 1024)
                return 0;
        n_edits = fuzz_input_edits((const char *) data, size, &rest, edits, ELEMENTSOF(edits), &flags, &storage);
        n_parts = fuzz_split((const char *) data, rest, SEP, parts, ELEMENTSOF(parts));
        for (size_t i = 0; i < n_parts; i++) {
                _cleanup_free_ char *text = fuzz_memdup(parts[i].p, parts[i].size);
                _cleanup_free_ char *sub = NULL;

                check_eval(text);
                nul = nul || memchr(parts[i].p, 0, parts[i].size);
                if (i > 0)
                        FUZZ_OOM(asprintf(&sub, "default/grub.d/%s", dropins[i - 1]) >= 0);
                fuzz_host_add(&h, AREA_ETC, sub ?: "default/grub", parts[i].p, parts[i].size);
        }
        /* The evaluator would stop at a NUL where dash reads on: such a setup is not read. */
        FUZZ_ASSERT(fuzz_host_check(&h, edits, n_edits, flags) < 0 || !nul);
        fuzz_host_done(&h);
        return 0;
}

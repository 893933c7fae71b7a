/* libFuzzer target for GRUB's environment block (bootloader-grubenv.c) on
 * its own: parse any block; set a variable (the value from the input, with
 * newlines and backslashes that must be escaped) and insist that the block
 * keeps its size, still parses, has the new value and every other variable
 * unchanged, and refuses only what does not fit; expand $name and ${name}
 * as GRUB does. The block inside a RHEL 8 setup (kernelopts) is exercised
 * by fuzz-bls.
 *
 * Input: the block, then optionally "\n====\n" and the value to set. */

#include "basic/macro.h"
#include "basic/strv.h"
#include "fuzz.h"
#include "kernel-cmdline/bootloader-internal.h"

#define SIGNATURE "# GRUB Environment Block\n"

static const char *const names[] = { "kernelopts", "saved_entry", "tuned_params", "next_entry" };

/* The entries of env without the first one named name (what set leaves alone). */
static char **others(char *const *env, const char *name) {
        char **l = strv_new_empty();
        bool skipped = false;
        size_t n = strlen(name);

        FUZZ_OOM(l);
        for (size_t i = 0; env[i]; i++) {
                if (!skipped && strncmp(env[i], name, n) == 0 && env[i][n] == '=') {
                        skipped = true;
                        continue;
                }
                FUZZ_OOM(strv_extend(&l, env[i]) >= 0);
        }
        return l;
}

static void check_set(const char *block, size_t size, char *const *env, const char *name, const char *value) {
        _cleanup_free_ char *out = NULL, *error = NULL;
        _cleanup_strv_free_ char **env2 = NULL, **before = NULL, **after = NULL;
        int r = grubenv_set(block, size, name, value, &out, &error);

        if (r == -E2BIG) {
                FUZZ_ASSERT(error && strstr(error, "does not fit"));
                return;
        }
        if (r == -EBADMSG) { /* a block whose last byte is a backslash escaping nothing */
                FUZZ_ASSERT(error && strstr(error, "escape") && size > 0 && block[size - 1] == '\\');
                return;
        }
        FUZZ_ASSERT(r == 0);
        FUZZ_ASSERT(strlen(out) == size); /* the block never grows or shrinks, and has no NUL */
        FUZZ_ASSERT(strncmp(out, SIGNATURE, strlen(SIGNATURE)) == 0);
        FUZZ_ASSERT(grubenv_parse(out, size, &env2) == 0);
        FUZZ_ASSERT(streq_ptr(grubenv_get(env2, name), value));
        before = others(env, name);
        after = others(env2, name);
        FUZZ_ASSERT(strv_equal(before, after));
}

static void check_expand(char *const *env) {
        for (size_t i = 0; env[i]; i++) {
                _cleanup_free_ char *name = strndup(env[i], strcspn(env[i], "=")), *braced = NULL, *got = NULL;
                const char *value = grubenv_get(env, name);

                FUZZ_OOM(name);
                if (!*name || strchr(name, '}') || !value)
                        continue;
                FUZZ_OOM(asprintf(&braced, "${%s}", name) >= 0);
                FUZZ_ASSERT(grubenv_expand(env, braced, &got) == 0);
                FUZZ_ASSERT(streq(got, value));
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_strv_free_ char **env = NULL;
        _cleanup_free_ char *block = NULL, *value = NULL, *plain = NULL, *text = NULL;
        FuzzPart parts[2];
        size_t n;
        int r;

        if (size > 16 * 1024)
                return 0;
        n = fuzz_split((const char *) data, size, "\n====\n", parts, 2);
        /* As the backends have it: a file's contents, with a NUL after them. */
        block = fuzz_memdup(parts[0].p, parts[0].size);
        r = grubenv_parse(block, parts[0].size, &env);
        if (r < 0) {
                FUZZ_ASSERT(r == -EBADMSG);
                FUZZ_ASSERT(parts[0].size < strlen(SIGNATURE) || memcmp(block, SIGNATURE, strlen(SIGNATURE)) != 0 ||
                            memchr(block, 0, parts[0].size));
                return 0;
        }
        for (size_t i = 0; env[i]; i++)
                FUZZ_ASSERT(strchr(env[i], '='));
        check_expand(env);

        /* Text without a '$' expands to itself. */
        text = fuzz_memdup(block, strcspn(block, "$"));
        FUZZ_ASSERT(grubenv_expand(env, text, &plain) == 0 && streq(plain, text));

        value = n < 2 ? strdup("root=/dev/mapper/rhel-root ro crashkernel=auto") : fuzz_memdup(parts[1].p, parts[1].size);
        FUZZ_OOM(value);
        check_set(block, parts[0].size, env, names[size % ELEMENTSOF(names)], value);
        return 0;
}

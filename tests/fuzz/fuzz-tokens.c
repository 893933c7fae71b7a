/* libFuzzer target for the tokens file (web/auth.c): a file loads exactly
 * when every line is blank, a comment, or "<role> <64 hex digits> [name]"
 * (auth.h; a name shorter than AUTH_NAME_MAX, no blanks around it); the
 * error names the first line that is not; each entry has its role, hash
 * and name; a token whose hash is then listed authenticates with the first
 * entry that has it; and a credential of each entry stays valid. */

#include <ctype.h>

#include "basic/hex.h"
#include "basic/macro.h"
#include "fuzz.h"
#include "web/auth.h"

static bool is_blank(char c) {
        return c == ' ' || c == '\t';
}

/* The line as auth.h describes it; an entry in *ret. */
static bool line_ok(const char *line, AuthToken *ret, bool *ret_entry) {
        const char *s = line + strspn(line, " \t"), *hex, *name, *end;
        size_t l;

        *ret_entry = false;
        if (*s == '#' || *s == 0)
                return true;
        l = strcspn(s, " \t");
        if (!s[l])
                return false;
        if (!((l == 6 && strncmp(s, "reader", 6) == 0) || (l == 8 && strncmp(s, "operator", 8) == 0) ||
              (l == 5 && strncmp(s, "admin", 5) == 0)))
                return false;
        ret->role = s[0] == 'r' ? ROLE_READER : s[0] == 'o' ? ROLE_OPERATOR : ROLE_ADMIN;
        hex = s + l + 1;
        hex += strspn(hex, " \t");
        l = strcspn(hex, " \t");
        if (l != 64)
                return false;
        for (size_t i = 0; i < 64; i++)
                if (!isxdigit((unsigned char) hex[i]))
                        return false;
        for (size_t i = 0; i < 32; i++) {
                char b[3] = { hex[2 * i], hex[2 * i + 1], 0 };
                ret->sha256[i] = (uint8_t) strtoul(b, NULL, 16);
        }
        name = hex + 64 + strspn(hex + 64, " \t");
        end = name + strcspn(name, "\r");
        while (end > name && is_blank(end[-1]))
                end--;
        if ((size_t) (end - name) >= AUTH_NAME_MAX)
                return false;
        if (end > name) {
                memcpy(ret->name, name, (size_t) (end - name));
                ret->name[end - name] = 0;
        } else
                snprintf(ret->name, sizeof ret->name, "sha256:%.12s", hex);
        *ret_entry = true;
        return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *text = NULL, *parsed = NULL;
        static AuthToken want[4096];
        Auth a = {};
        size_t n_want = 0;
        unsigned line = 0, n = 0, bad = 0;
        char *l, *end;
        int r;

        /* A file with a NUL byte is refused before it is parsed (read_secret_file()). */
        if (size > 64 * 1024 || memchr(data, 0, size))
                return 0;
        parsed = fuzz_memdup(data, size);
        r = auth_parse_tokens(&a, parsed, &line);

        text = fuzz_memdup(data, size);
        for (l = text, end = text + size; l < end && !bad;) {
                char *nl = memchr(l, '\n', (size_t) (end - l));
                bool entry;

                if (nl)
                        *nl = 0;
                n++;
                if (!line_ok(l, want + n_want, &entry))
                        bad = n;
                else if (entry && n_want + 1 < ELEMENTSOF(want))
                        n_want++;
                l = nl ? nl + 1 : end;
        }
        if (bad) {
                FUZZ_ASSERT(r == -EINVAL && line == bad && a.n_tokens == 0);
                return 0;
        }
        FUZZ_ASSERT(r == 0);
        if (n_want + 1 < ELEMENTSOF(want)) {
                FUZZ_ASSERT(a.n_tokens == n_want);
                for (size_t i = 0; i < n_want; i++) {
                        char hex[65], *cred = NULL;

                        FUZZ_ASSERT(a.tokens[i].role == want[i].role);
                        FUZZ_ASSERT(memcmp(a.tokens[i].sha256, want[i].sha256, 32) == 0);
                        FUZZ_ASSERT(streq(a.tokens[i].name, want[i].name));
                        hex_encode(want[i].sha256, 32, hex);
                        FUZZ_OOM(asprintf(&cred, "token:%s", hex) >= 0);
                        FUZZ_ASSERT(auth_credential_valid(&a, cred));
                        free(cred);
                }
        }

        /* The last line's text as a token: listed with its hash, it authenticates as the first
         * entry that has that hash. */
        {
                const char *token = strrchr(text, 0) == text ? "t" : text, *name = NULL;
                char hex[65];
                Role first = ROLE_NONE;
                uint8_t h[32];

                FUZZ_ASSERT(auth_hash_token_hex(token, hex) == 0);
                for (size_t i = 0; i < 32; i++) {
                        char b[3] = { hex[2 * i], hex[2 * i + 1], 0 };
                        h[i] = (uint8_t) strtoul(b, NULL, 16);
                }
                for (size_t i = 0; i < a.n_tokens && first == ROLE_NONE; i++)
                        if (memcmp(a.tokens[i].sha256, h, 32) == 0)
                                first = a.tokens[i].role;
                FUZZ_ASSERT(auth_check_token(&a, token, &name) == first);
                FUZZ_ASSERT((first == ROLE_NONE) == (name == NULL));
        }
        auth_done(&a);
        return 0;
}

/* Authentication: see auth.h. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>

#include "auth.h"
#include "basic/fileio.h"
#include "basic/hex.h"
#include "basic/macro.h"
#include "tls.h"

static const char *const role_names[_ROLE_MAX] = {
        [ROLE_NONE] = "none",
        [ROLE_READER] = "reader",
        [ROLE_OPERATOR] = "operator",
        [ROLE_ADMIN] = "admin",
};

const char *role_to_string(Role r) {
        return r < _ROLE_MAX ? role_names[r] : NULL;
}

Role role_from_string(const char *s) {
        for (Role r = ROLE_READER; r < _ROLE_MAX; r++)
                if (streq(s, role_names[r]))
                        return r;
        return ROLE_NONE;
}

void auth_done(Auth *a) {
        free(a->tokens);
        for (size_t i = 0; i < a->n_subjects; i++)
                free(a->subjects[i].subject);
        free(a->subjects);
        *a = (Auth) {};
}

static int unhex_digit(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        c = (char) tolower((unsigned char) c);
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        return -1;
}

static int parse_sha256_hex(const char *s, size_t len, uint8_t ret[static 32]) {
        if (len != 64)
                return -EINVAL;
        for (size_t i = 0; i < 32; i++) {
                int hi = unhex_digit(s[2 * i]), lo = unhex_digit(s[2 * i + 1]);
                if (hi < 0 || lo < 0)
                        return -EINVAL;
                ret[i] = (uint8_t) (hi << 4 | lo);
        }
        return 0;
}

typedef struct TokenParse {
        AuthToken *tokens;
        size_t n;
        unsigned line; /* the line being parsed, for errors */
} TokenParse;

/* "<role> <hex> [<name>]": fields separated by blanks; the name is the rest
 * of the line (it may not be empty when given, nor longer than the limit). */
static int parse_token_line(char *line, unsigned number, void *userdata) {
        TokenParse *p = userdata;
        char *s = line + strspn(line, " \t"), *hex, *name;
        AuthToken t = {};
        size_t l;
        AuthToken *n;

        p->line = number;
        if (*s == '#' || *s == 0)
                return 0;
        l = strcspn(s, " \t");
        if (s[l] == 0)
                return -EINVAL;
        s[l] = 0;
        t.role = role_from_string(s);
        if (t.role == ROLE_NONE)
                return -EINVAL;
        hex = s + l + 1;
        hex += strspn(hex, " \t");
        l = strcspn(hex, " \t");
        if (parse_sha256_hex(hex, l, t.sha256) < 0)
                return -EINVAL;
        name = hex + l;
        name += strspn(name, " \t");
        name[strcspn(name, "\r")] = 0;
        while (*name && strchr(" \t", name[strlen(name) - 1]))
                name[strlen(name) - 1] = 0;
        if (strlen(name) >= AUTH_NAME_MAX)
                return -EINVAL;
        if (*name)
                memcpy(t.name, name, strlen(name) + 1); /* shorter than the field: checked above */
        else /* unnamed: the hash's first bytes name it in logs, never the secret */
                snprintf(t.name, sizeof t.name, "sha256:%.12s", hex);

        n = realloc(p->tokens, (p->n + 1) * sizeof(AuthToken));
        if (!n)
                return -ENOMEM;
        p->tokens = n;
        p->tokens[p->n++] = t;
        return 0;
}

int auth_load_tokens(Auth *a, const char *path, unsigned *ret_line) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");

        if (!f)
                return -errno;
        return auth_load_tokens_file(a, f, ret_line);
}

int auth_load_tokens_file(Auth *a, FILE *f, unsigned *ret_line) {
        TokenParse p = {};
        int r;

        r = read_lines_file(f, parse_token_line, &p);
        if (r < 0) {
                free(p.tokens);
                if (ret_line)
                        *ret_line = p.line;
                return r;
        }
        free(a->tokens);
        a->tokens = p.tokens;
        a->n_tokens = p.n;
        return 0;
}

int auth_add_subject(Auth *a, const char *spec) {
        const char *rest;
        _cleanup_free_ char *role = NULL, *subject = NULL;
        AuthSubject *n;
        size_t l = strcspn(spec, " \t");
        Role ro;
        int r;

        role = strndup(spec, l);
        if (!role)
                return -ENOMEM;
        ro = role_from_string(role);
        rest = spec + l;
        rest += strspn(rest, " \t");
        if (ro == ROLE_NONE || !*rest)
                return -EINVAL;
        /* As GnuTLS prints a certificate's subject; a DN it cannot parse
         * (a multi-valued RDN, "CN=a+UID=b") is compared as written. */
        r = tls_canonical_dn(rest, &subject);
        if (r == -EINVAL && strchr(rest, '='))
                subject = strdup(rest);
        else if (r < 0)
                return r;
        if (!subject)
                return -ENOMEM;
        n = realloc(a->subjects, (a->n_subjects + 1) * sizeof(AuthSubject));
        if (!n)
                return -ENOMEM;
        a->subjects = n;
        n[a->n_subjects].role = ro;
        n[a->n_subjects].subject = TAKE_PTR(subject);
        a->n_subjects++;
        return 0;
}

static int sha256(const char *s, uint8_t ret[static 32]) {
        return gnutls_hash_fast(GNUTLS_DIG_SHA256, s, strlen(s), ret) < 0 ? -EIO : 0;
}

int auth_hash_token_hex(const char *token, char ret[static 65]) {
        uint8_t h[32];
        int r;

        r = sha256(token, h);
        if (r < 0)
                return r;
        hex_encode(h, sizeof h, ret);
        return 0;
}

/* Differences accumulate; no branch depends on the bytes. */
static unsigned ct_differs(const uint8_t *a, const uint8_t *b, size_t n) {
        unsigned d = 0;

        for (size_t i = 0; i < n; i++)
                d |= (unsigned) (a[i] ^ b[i]);
        return d;
}

Role auth_check_token(const Auth *a, const char *token, const char **ret_name) {
        uint8_t h[32];
        Role role = ROLE_NONE;
        const char *name = NULL;

        if (!token || !*token || sha256(token, h) < 0)
                return ROLE_NONE;
        /* Every entry is compared, whichever matches. */
        for (size_t i = 0; i < a->n_tokens; i++) {
                unsigned match = ct_differs(h, a->tokens[i].sha256, 32) == 0;

                if (match && role == ROLE_NONE) {
                        role = a->tokens[i].role;
                        name = a->tokens[i].name;
                }
        }
        if (ret_name)
                *ret_name = name;
        return role;
}

Role auth_subject_role(const Auth *a, const char *subject) {
        for (size_t i = 0; i < a->n_subjects; i++)
                if (streq(a->subjects[i].subject, subject))
                        return a->subjects[i].role;
        return ROLE_NONE;
}

bool auth_credential_valid(const Auth *a, const char *credential) {
        uint8_t h[32];
        const char *rest;

        if ((rest = startswith(credential, "subject:")))
                return auth_subject_role(a, rest) != ROLE_NONE;
        rest = startswith(credential, "token:");
        if (!rest || parse_sha256_hex(rest, strlen(rest), h) < 0)
                return false;
        for (size_t i = 0; i < a->n_tokens; i++)
                if (memcmp(a->tokens[i].sha256, h, sizeof h) == 0)
                        return true;
        return false;
}

/* Who is asking: bearer tokens and client certificates, mapped to roles.
 *
 * The tokens file holds no secret: one line per token, "<role> <sha256 of
 * the token, 64 hex digits> [<name>]", '#' comments and blank lines allowed.
 * A presented token is hashed and compared with every entry in constant time.
 * Roles are ordered: each includes the rights of the ones before it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum Role {
        ROLE_NONE = 0,  /* authenticated as nobody; on a Route: not declared, treated as admin */
        ROLE_READER,    /* every GET, and plans, which change nothing */
        ROLE_OPERATOR,  /* maintenance, device binding */
        ROLE_ADMIN,     /* kernel command line, reboot */
        _ROLE_MAX,
} Role;

const char *role_to_string(Role r);
Role role_from_string(const char *s); /* ROLE_NONE when unknown */

#define AUTH_NAME_MAX 128

typedef struct AuthToken {
        Role role;
        uint8_t sha256[32];
        char name[AUTH_NAME_MAX];
} AuthToken;

/* A client certificate subject (RFC 4514 DN as GnuTLS prints it) and its role. */
typedef struct AuthSubject {
        Role role;
        char *subject;
} AuthSubject;

typedef struct Auth {
        AuthToken *tokens;
        size_t n_tokens;
        AuthSubject *subjects;
        size_t n_subjects;
} Auth;

void auth_done(Auth *a);

/* Parses the tokens file's text (split in place), replacing nothing on
 * error: -EINVAL with *ret_line set for a malformed line. */
int auth_parse_tokens(Auth *a, char *text, unsigned *ret_line);

/* Parses one "<role> <subject DN>" mapping (configuration value) and adds it,
 * the DN in the form certificates' subjects are compared in (tls_canonical_dn). */
int auth_add_subject(Auth *a, const char *spec);

/* Checks a presented token. Returns the role (ROLE_NONE when no entry
 * matches) and, for a match, the entry's name in *ret_name. The time taken
 * does not depend on which entry matched or how much of a hash agreed. */
Role auth_check_token(const Auth *a, const char *token, const char **ret_name);

/* The role of a verified client certificate's subject, ROLE_NONE if unmapped. */
Role auth_subject_role(const Auth *a, const char *subject);

/* Whether a credential from request_credential() still authenticates
 * (its token or subject is still listed, with any role). */
bool auth_credential_valid(const Auth *a, const char *credential);

/* SHA-256 of a token as 64 lower-case hex digits plus NUL (for --new-token). */
int auth_hash_token_hex(const char *token, char ret[static 65]);

/* Mutual TLS: the server's credentials for libmicrohttpd, and the check of a
 * client certificate on a connection. libmicrohttpd only requests a client
 * certificate and never verifies it: tls_peer_verify() does, against the same
 * trust list (tls_client_ca), once per certificate seen on a connection.
 *
 * A subject is the certificate's distinguished name as an RFC 4514 string,
 * as GnuTLS prints it: most specific attribute first, no spaces after the
 * commas, attribute types as short names ("CN=engine,O=Example"), special
 * characters escaped with a backslash. `certtool -i` ("Subject:") and
 * `openssl x509 -noout -subject -nameopt RFC2253` print the same string. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <gnutls/gnutls.h>

/* TLS 1.2 and 1.3 only, GnuTLS's default ("NORMAL") ciphers within them. */
#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

typedef struct TlsCredentials {
        char *cert_pem;         /* the server's certificate chain */
        char *key_pem;          /* its private key, unencrypted */
        char *trust_pem;        /* the CA(s) that sign client certificates */
        size_t n_trusted;       /* certificates in trust_pem */
        time_t cert_expires;    /* of the server's certificate */
} TlsCredentials;

void tls_credentials_done(TlsCredentials *t);

/* Reads the three PEM files and checks that they parse and that the key
 * belongs to the certificate. On failure returns a negative errno (-EINVAL:
 * not valid PEM, or a mismatch) with *ret_error saying which setting and file
 * is wrong and why (freed by the caller). */
int tls_credentials_load(TlsCredentials *t, const char *cert_path, const char *key_path, const char *ca_path,
                         char **ret_error);

/* One connection's client certificate, as last verified. */
typedef struct TlsPeer {
        void *der;              /* the certificate checked, DER */
        size_t der_size;
        bool verified;          /* signed by a trusted CA, within its dates, for client authentication */
        time_t expires;         /* a verification holds until then */
        char *subject;          /* RFC 4514; NULL if there is no certificate */
        const char *reason;     /* why it is refused, when not verified */
} TlsPeer;

void tls_peer_done(TlsPeer *p);

/* Verifies the client certificate of the session, reusing the previous
 * result when the certificate is the same one and has not expired since.
 * Returns 0 when verified now, 1 when the previous verification holds, with
 * p->subject set; -ENOKEY when the client
 * sent no certificate, -EPERM when it does not verify (p->reason says why,
 * p->subject is what the certificate claims); other negative errnos on
 * failures of the check itself. */
int tls_peer_verify(TlsPeer *p, gnutls_session_t session);

/* The canonical form of a configured subject DN (as tls_peer_verify() would
 * print it: spacing and attribute-name case normalised), for comparison with
 * a certificate's. -EINVAL when GnuTLS cannot parse it. */
int tls_canonical_dn(const char *dn, char **ret);

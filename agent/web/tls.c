/* Mutual TLS: see tls.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <gnutls/x509.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "tls.h"

#define TLS_PEM_MAX (1024 * 1024)

void tls_credentials_done(TlsCredentials *t) {
        if (!t)
                return;
        free(t->cert_pem);
        if (t->key_pem)
                explicit_bzero(t->key_pem, strlen(t->key_pem));
        free(t->key_pem);
        free(t->trust_pem);
        *t = (TlsCredentials) {};
}

static gnutls_datum_t datum(const char *s) {
        return (gnutls_datum_t) { .data = (unsigned char *) s, .size = (unsigned) strlen(s) };
}

/* Who may write the certificate or the client CA could let any client in
 * (a CA of their own) or take the listener down; who may read the key can
 * pose as this host. Refused like sshd's StrictModes. */
#define TLS_FORBIDDEN_MODE (S_IWGRP | S_IWOTH)
#define TLS_KEY_FORBIDDEN_MODE (TLS_FORBIDDEN_MODE | S_IRGRP | S_IROTH)

static int read_pem(const char *key, const char *path, unsigned forbidden, char **ret, char **ret_error) {
        _cleanup_free_ char *why = NULL;
        int r, m;

        r = read_secret_file(path, TLS_PEM_MAX, forbidden, forbidden & S_IRGRP ? 0600 : 0644, ret, NULL, &why);
        if (r >= 0)
                return 0;
        if (why)
                m = asprintf(ret_error, "%s '%s' %s", key, path, why);
        else
                m = asprintf(ret_error, "Cannot read %s '%s': %s", key, path, strerror(-r));
        if (m < 0)
                *ret_error = NULL;
        return r;
}

/* Counts the certificates in a PEM bundle; the first one's expiry in *ret_expires. */
static int count_certificates(const char *pem, size_t *ret_n, time_t *ret_expires) {
        gnutls_x509_crt_t *list = NULL;
        gnutls_datum_t d = datum(pem);
        unsigned n = 0;

        if (gnutls_x509_crt_list_import2(&list, &n, &d, GNUTLS_X509_FMT_PEM, 0) < 0)
                return -EINVAL;
        if (n > 0 && ret_expires)
                *ret_expires = gnutls_x509_crt_get_expiration_time(list[0]);
        for (unsigned i = 0; i < n; i++)
                gnutls_x509_crt_deinit(list[i]);
        gnutls_free(list);
        if (n == 0)
                return -EINVAL;
        *ret_n = n;
        return 0;
}

static int check_private_key(const char *pem) {
        gnutls_x509_privkey_t k;
        gnutls_datum_t d = datum(pem);
        int r;

        if (gnutls_x509_privkey_init(&k) < 0)
                return -ENOMEM;
        r = gnutls_x509_privkey_import2(k, &d, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN);
        gnutls_x509_privkey_deinit(k);
        return r < 0 ? -EINVAL : 0;
}

/* GnuTLS checks that the key belongs to the certificate when both are loaded. */
static int check_key_matches(const char *cert_pem, const char *key_pem, const char **ret_why) {
        gnutls_certificate_credentials_t cred;
        gnutls_datum_t c = datum(cert_pem), k = datum(key_pem);
        int r;

        if (gnutls_certificate_allocate_credentials(&cred) < 0)
                return -ENOMEM;
        r = gnutls_certificate_set_x509_key_mem2(cred, &c, &k, GNUTLS_X509_FMT_PEM, NULL, 0);
        gnutls_certificate_free_credentials(cred);
        if (r < 0)
                *ret_why = gnutls_strerror(r);
        return r < 0 ? -EINVAL : 0;
}

int tls_credentials_load(TlsCredentials *t, const char *cert_path, const char *key_path, const char *ca_path,
                         char **ret_error) {
        _cleanup_(tls_credentials_done) TlsCredentials n = {};
        const char *why = NULL;
        size_t chain = 0;
        int r;

        *ret_error = NULL;
        if ((r = read_pem("tls_certificate", cert_path, TLS_FORBIDDEN_MODE, &n.cert_pem, ret_error)) < 0 ||
            (r = read_pem("tls_key", key_path, TLS_KEY_FORBIDDEN_MODE, &n.key_pem, ret_error)) < 0 ||
            (r = read_pem("tls_client_ca", ca_path, TLS_FORBIDDEN_MODE, &n.trust_pem, ret_error)) < 0)
                return r;

        if (count_certificates(n.cert_pem, &chain, &n.cert_expires) < 0)
                r = asprintf(ret_error, "tls_certificate '%s' holds no PEM certificate.", cert_path);
        else if (check_private_key(n.key_pem) < 0)
                r = asprintf(ret_error, "tls_key '%s' is not an unencrypted PEM private key.", key_path);
        else if (count_certificates(n.trust_pem, &n.n_trusted, NULL) < 0)
                r = asprintf(ret_error, "tls_client_ca '%s' holds no PEM certificate.", ca_path);
        else if (check_key_matches(n.cert_pem, n.key_pem, &why) < 0)
                r = asprintf(ret_error, "tls_key '%s' does not go with tls_certificate '%s': %s", key_path,
                             cert_path, why);
        else {
                *t = n;
                n = (TlsCredentials) {}; /* ownership moves to *t */
                return 0;
        }
        if (r < 0)
                *ret_error = NULL;
        return -EINVAL;
}

void tls_peer_done(TlsPeer *p) {
        if (!p)
                return;
        free(p->der);
        free(p->subject);
        *p = (TlsPeer) {};
}

/* Why a verification status refuses the certificate, most telling first:
 * a certificate from another CA is that, whatever else is wrong with it. */
static const char *status_reason(unsigned status) {
        if (status & (GNUTLS_CERT_SIGNER_NOT_FOUND | GNUTLS_CERT_SIGNATURE_FAILURE))
                return "is not signed by the configured CA (tls_client_ca)";
        if (status & GNUTLS_CERT_REVOKED)
                return "has been revoked";
        if (status & GNUTLS_CERT_EXPIRED)
                return "has expired";
        if (status & GNUTLS_CERT_NOT_ACTIVATED)
                return "is not valid yet";
        if (status & GNUTLS_CERT_PURPOSE_MISMATCH)
                return "is not for TLS client authentication (extended key usage)";
        if (status & GNUTLS_CERT_INSECURE_ALGORITHM)
                return "is signed with an insecure algorithm";
        if (status & GNUTLS_CERT_SIGNER_NOT_CA)
                return "is signed by a certificate that is not a CA";
        return "does not verify";
}

/* The RFC 4514 subject and the end of validity of a DER certificate.
 * Control characters in the subject become '?' (it goes to logs and
 * replies); -EBADMSG tells that happened. */
static int certificate_subject(const gnutls_datum_t *der, char **ret_subject, time_t *ret_expires) {
        gnutls_x509_crt_t crt;
        gnutls_datum_t dn = {};
        time_t expires = 0;
        char *s;
        int r;

        if (gnutls_x509_crt_init(&crt) < 0)
                return -ENOMEM;
        r = gnutls_x509_crt_import(crt, der, GNUTLS_X509_FMT_DER);
        if (r >= 0) {
                expires = gnutls_x509_crt_get_expiration_time(crt);
                r = gnutls_x509_crt_get_dn3(crt, &dn, 0);
                if (r == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
                        r = 0; /* an empty subject */
        }
        gnutls_x509_crt_deinit(crt);
        if (r < 0)
                return -EINVAL;
        s = strndup(dn.data ? (const char *) dn.data : "", dn.size);
        gnutls_free(dn.data);
        if (!s)
                return -ENOMEM;
        r = 0;
        for (char *c = s; *c; c++)
                if ((unsigned char) *c < 0x20 || *c == 0x7f) {
                        *c = '?';
                        r = -EBADMSG;
                }
        *ret_subject = s;
        *ret_expires = expires;
        return r;
}

static bool same_certificate(const TlsPeer *p, const gnutls_datum_t *der) {
        return p->der && p->der_size == der->size && memcmp(p->der, der->data, der->size) == 0;
}

int tls_peer_verify(TlsPeer *p, gnutls_session_t session) {
        gnutls_typed_vdata_st purpose = { .type = GNUTLS_DT_KEY_PURPOSE_OID,
                                          .data = (unsigned char *) GNUTLS_KP_TLS_WWW_CLIENT };
        const gnutls_datum_t *certs;
        unsigned n = 0, status = 0;
        int r;

        certs = gnutls_certificate_get_peers(session, &n);
        if (!certs || n == 0) {
                tls_peer_done(p);
                p->reason = "no client certificate";
                return -ENOKEY;
        }
        if (p->verified && same_certificate(p, &certs[0]) && time(NULL) < p->expires)
                return 1;

        tls_peer_done(p);
        r = certificate_subject(&certs[0], &p->subject, &p->expires);
        if (r == -EINVAL || r == -EBADMSG) {
                p->reason = r == -EINVAL ? "cannot be parsed" : "has control characters in its subject";
                return -EPERM;
        }
        if (r < 0)
                return r;
        /* Against the credentials' trust list, which is tls_client_ca;
         * activation and expiry times are checked too. */
        r = gnutls_certificate_verify_peers(session, &purpose, 1, &status);
        if (r < 0 || status != 0) {
                p->reason = r < 0 ? "could not be verified" : status_reason(status);
                return -EPERM;
        }
        p->der = malloc(certs[0].size);
        if (!p->der)
                return -ENOMEM;
        memcpy(p->der, certs[0].data, certs[0].size);
        p->der_size = certs[0].size;
        p->verified = true;
        return 0;
}

int tls_canonical_dn(const char *dn, char **ret) {
        gnutls_x509_crt_t crt;
        gnutls_datum_t out = {};
        char *s;
        int r;

        if (gnutls_x509_crt_init(&crt) < 0)
                return -ENOMEM;
        r = gnutls_x509_crt_set_dn(crt, dn, NULL);
        if (r >= 0)
                r = gnutls_x509_crt_get_dn3(crt, &out, 0);
        gnutls_x509_crt_deinit(crt);
        if (r < 0)
                return -EINVAL;
        s = strndup((const char *) out.data, out.size);
        gnutls_free(out.data);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

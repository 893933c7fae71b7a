/* JSON replies with ETags and content codings: see reply.h. The ETag is a
 * 64-bit FNV-1a hash of the identity bytes, with a suffix naming the
 * coding: equal bodies, equal tags; any change, a new tag. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>
#include <zstd.h>

#include "basic/log.h"
#include "basic/macro.h"
#include "json-util.h"
#include "reply.h"

/* Below this a body goes as it is: the gzip header and trailer (18 bytes)
 * and a deflate block cost more than they save, and the reply fits one
 * segment either way. */
#define COMPRESS_MIN 1024
/* Measured on the 4,096-function list (2.8 MB): gzip -6 83 KB in 24 ms;
 * zstd -3 32 KB in 30 ms with a 1.3 MiB context, zstd -6 27 KB in 50 ms
 * with 3.5 MiB. Once per ETag, but the context is the agent's peak. */
#define GZIP_LEVEL 6
#define ZSTD_LEVEL 3

static const char *const encoding_names[_ENCODING_MAX] = {
        [ENCODING_IDENTITY] = "identity",
        [ENCODING_GZIP] = "gzip",
        [ENCODING_ZSTD] = "zstd",
};

static uint64_t fnv1a64(const char *p, size_t n) {
        uint64_t h = UINT64_C(0xcbf29ce484222325);

        for (size_t i = 0; i < n; i++) {
                h ^= (unsigned char) p[i];
                h *= UINT64_C(0x100000001b3);
        }
        return h;
}

RenderedBody *rendered_body_new_take(char *data, size_t size) {
        RenderedBody *b = calloc(1, sizeof(RenderedBody));
        Representation *id;

        if (!b) {
                free(data);
                return NULL;
        }
        id = &b->rep[ENCODING_IDENTITY];
        id->data = data;
        id->size = size;
        snprintf(id->etag, sizeof id->etag, "\"%016llx\"", (unsigned long long) fnv1a64(data, size));
        b->n_ref = 1;
        return b;
}

RenderedBody *rendered_body_new(json_object *obj, bool pretty) {
        int flags = JSON_C_TO_STRING_NOSLASHESCAPE |
                    (pretty ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED : JSON_C_TO_STRING_PLAIN);
        size_t n;
        const char *s = json_object_to_json_string_length(obj, flags, &n);
        char *data;

        if (!s)
                return NULL;
        data = malloc(n + 2);
        if (!data)
                return NULL;
        memcpy(data, s, n);
        data[n++] = '\n';
        data[n] = 0;
        return rendered_body_new_take(data, n);
}

RenderedBody *rendered_body_ref(RenderedBody *b) {
        if (b)
                b->n_ref++;
        return b;
}

RenderedBody *rendered_body_unref(RenderedBody *b) {
        if (!b || --b->n_ref > 0)
                return NULL;
        for (size_t i = 0; i < _ENCODING_MAX; i++) {
                /* MHD keeps the responses it is still sending: the bytes are freed with the last one. */
                if (b->rep[i].ok)
                        MHD_destroy_response(b->rep[i].ok);
                else
                        free(b->rep[i].data);
                if (b->rep[i].not_modified)
                        MHD_destroy_response(b->rep[i].not_modified);
        }
        free(b);
        return NULL;
}

/* The gzip member (RFC 1952) of the identity bytes, or -errno. */
static int gzip_compress(const char *in, size_t n, char **ret, size_t *ret_size) {
        z_stream z = {};
        uLong bound;
        char *out;
        int k;

        if (deflateInit2(&z, GZIP_LEVEL, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
                return -ENOMEM;
        bound = deflateBound(&z, n);
        out = malloc(bound);
        if (!out) {
                deflateEnd(&z);
                return -ENOMEM;
        }
        z.next_in = (Bytef *) in;
        z.avail_in = (uInt) n;
        z.next_out = (Bytef *) out;
        z.avail_out = (uInt) bound;
        k = deflate(&z, Z_FINISH);
        *ret_size = z.total_out;
        deflateEnd(&z);
        if (k != Z_STREAM_END) {
                free(out);
                return -EIO;
        }
        *ret = out;
        return 0;
}

/* A zstd frame (RFC 8878) with its content size, or -errno. */
static int zstd_compress(const char *in, size_t n, char **ret, size_t *ret_size) {
        size_t bound = ZSTD_compressBound(n), k;
        char *out = malloc(bound);

        if (!out)
                return -ENOMEM;
        k = ZSTD_compress(out, bound, in, n, ZSTD_LEVEL);
        if (ZSTD_isError(k)) {
                free(out);
                return -EIO;
        }
        *ret = out;
        *ret_size = k;
        return 0;
}

static int (*const compressors[_ENCODING_MAX])(const char *in, size_t n, char **ret, size_t *ret_size) = {
        [ENCODING_GZIP] = gzip_compress,
        [ENCODING_ZSTD] = zstd_compress,
};

/* Makes the representation in coding e on first use; false if it is not worth it. */
static bool ensure_encoding(RenderedBody *b, BodyEncoding e) {
        Representation *id = &b->rep[ENCODING_IDENTITY], *rep = &b->rep[e];
        char *data, *shrunk;
        size_t size;

        if (rep->data)
                return true;
        if ((b->tried & (1u << e)) || !id->data || id->size < COMPRESS_MIN)
                return false;
        b->tried |= 1u << e;
        if (compressors[e](id->data, id->size, &data, &size) < 0) {
                log_warning("Cannot compress a %zu-byte body with %s: out of memory; sending it as it is.", id->size,
                            encoding_names[e]);
                return false;
        }
        if (size >= id->size) {
                free(data);
                return false;
        }
        /* Give back what the bound reserved and the coding did not use. */
        shrunk = realloc(data, size);
        rep->data = shrunk ?: data;
        rep->size = size;
        /* The identity tag with the coding before the closing quote. */
        snprintf(rep->etag, sizeof rep->etag, "%.*s-%s\"", (int) strlen(id->etag) - 1, id->etag, encoding_names[e]);
        return true;
}

/* The q-value of one Accept-Encoding member's parameters (";q=0.5"), 1 if
 * none, within [0, 1]; a value that is not a number counts as 0. */
static double member_q(const char *p, size_t n) {
        for (const char *e = p + n; p < e; p++) {
                if (*p != ';')
                        continue;
                p++;
                p += strspn(p, " \t");
                if ((*p == 'q' || *p == 'Q') && p[1] == '=') {
                        double q = strtod(p + 2, NULL);
                        return q > 0 ? (q < 1 ? q : 1) : 0;
                }
        }
        return 1.0;
}

/* RFC 9110 12.5.3: codings with q > 0 are acceptable, "*" stands for those
 * not named. No header, or an empty one: identity. Identity is what is left
 * when nothing else is acceptable: a client that excludes it too still gets
 * it (an error would help nobody), and 12.5.3 allows that. */
BodyEncoding request_encoding(const Request *r) {
        const char *h = MHD_lookup_connection_value(r->connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_ENCODING);
        double q[_ENCODING_MAX] = { -1, -1, -1 }, star = -1, best_q = 0;
        BodyEncoding best = ENCODING_IDENTITY;

        if (!h)
                return ENCODING_IDENTITY;
        for (const char *p = h; *p;) {
                size_t n, name;

                p += strspn(p, " \t,");
                n = strcspn(p, ",");
                name = strcspn(p, " \t;,");
                if (name == 1 && *p == '*')
                        star = member_q(p, n);
                else
                        for (size_t i = 0; i < _ENCODING_MAX; i++)
                                if (strlen(encoding_names[i]) == name && strncasecmp(p, encoding_names[i], name) == 0)
                                        q[i] = member_q(p, n);
                p += n;
        }
        /* The most preferred coding, zstd before gzip on a tie (it is smaller); identity only if
         * the client prefers it explicitly (a higher q), as clients list what they can decode. */
        for (size_t i = _ENCODING_MAX - 1; i > ENCODING_IDENTITY; i--) {
                double v = q[i] >= 0 ? q[i] : star;

                if (v > best_q) {
                        best = i;
                        best_q = v;
                }
        }
        if (best != ENCODING_IDENTITY && q[ENCODING_IDENTITY] > best_q)
                best = ENCODING_IDENTITY;
        return best;
}

static void body_released(void *cls) {
        free(cls);
}

void reply_add_common_headers(struct MHD_Response *resp) {
        MHD_add_response_header(resp, "Cache-Control", "no-cache");
        MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
}

static struct MHD_Response *make_response(Representation *rep, BodyEncoding e, bool not_modified,
                                          const char *content_type) {
        struct MHD_Response *resp;

        if (not_modified)
                resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
        else
                /* The response owns the bytes from now on. */
                resp = MHD_create_response_from_buffer_with_free_callback_cls(rep->size, rep->data, body_released,
                                                                              rep->data);
        if (!resp)
                return NULL;
        reply_add_common_headers(resp);
        if (MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, rep->etag) != MHD_YES ||
            MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Accept-Encoding") != MHD_YES ||
            (!not_modified && MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type) != MHD_YES) ||
            (!not_modified && e != ENCODING_IDENTITY &&
             MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, encoding_names[e]) != MHD_YES)) {
                MHD_destroy_response(resp);
                if (!not_modified) /* the callback freed the bytes */
                        rep->data = NULL;
                return NULL;
        }
        return resp;
}

/* If-None-Match: "*" or a list of entity tags, weak ones compared weakly
 * (RFC 9110 13.1.2). */
static bool etag_matches(const char *header, const char *etag) {
        const char *p = header;
        size_t l = strlen(etag);

        if (streq(header, "*"))
                return true;
        while (*p) {
                p += strspn(p, " \t,");
                if (startswith(p, "W/"))
                        p += 2;
                if (strncmp(p, etag, l) == 0 && (p[l] == 0 || p[l] == ',' || p[l] == ' ' || p[l] == '\t'))
                        return true;
                p += strcspn(p, ",");
        }
        return false;
}

enum MHD_Result reply_rendered(Request *r, RenderedBody *b) {
        const char *inm = MHD_lookup_connection_value(r->connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
        /* Only a safe method may answer 304: a rescan must not be skipped. */
        bool safe = streq(r->method, "GET") || streq(r->method, "HEAD");
        BodyEncoding e = request_encoding(r);
        Representation *rep;
        struct MHD_Response **slot;
        bool not_modified;

        if (e != ENCODING_IDENTITY && !ensure_encoding(b, e))
                e = ENCODING_IDENTITY;
        rep = &b->rep[e];
        if (!rep->data && !rep->ok) /* lost to an allocation failure */
                return MHD_NO;
        not_modified = safe && inm && etag_matches(inm, rep->etag);
        slot = not_modified ? &rep->not_modified : &rep->ok;
        if (!*slot) {
                *slot = make_response(rep, e, not_modified, b->content_type ?: "application/json");
                if (!*slot)
                        return MHD_NO;
        }
        r->status = not_modified ? MHD_HTTP_NOT_MODIFIED : MHD_HTTP_OK;
        return MHD_queue_response(r->connection, r->status, *slot);
}

enum MHD_Result reply_json(Request *r, unsigned status, json_object *obj) {
        _cleanup_(json_object_putp) json_object *o = obj;
        RenderedBody *b = rendered_body_new(o, r->pretty);
        struct MHD_Response *resp;
        enum MHD_Result ret;

        if (!b)
                return MHD_NO;
        if (status == MHD_HTTP_OK) {
                ret = reply_rendered(r, b);
                rendered_body_unref(b);
                return ret;
        }
        resp = MHD_create_response_from_buffer_with_free_callback_cls(b->rep[ENCODING_IDENTITY].size,
                                                                      b->rep[ENCODING_IDENTITY].data, body_released,
                                                                      b->rep[ENCODING_IDENTITY].data);
        if (!resp) {
                rendered_body_unref(b);
                return MHD_NO;
        }
        b->rep[ENCODING_IDENTITY].data = NULL; /* the response has them */
        rendered_body_unref(b);
        reply_add_common_headers(resp);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
        if (r->location)
                MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, r->location);
        r->status = status;
        ret = MHD_queue_response(r->connection, status, resp);
        MHD_destroy_response(resp);
        return ret;
}

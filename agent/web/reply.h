/* Successful replies: JSON bodies with a strong ETag per representation (a
 * hash of the bytes), so If-None-Match can answer 304 Not Modified, and
 * compressed for clients that accept it.
 *
 * Content codings (RFC 9110 8.4, 12.5.3): a body is compressed with gzip or
 * zstd (RFC 8878) at most once per coding, when a client first asks for it,
 * and kept beside the identity bytes for as long as the body lives (the
 * cached lists: until the inventory changes). Each coding is its own
 * representation with its own ETag ("<hash>", "<hash>-gzip",
 * "<hash>-zstd"); If-None-Match is compared with the tag
 * of the representation this request would get. Every such reply says
 * Vary: Accept-Encoding. A client that sends no Accept-Encoding gets
 * identity. The MHD_Response of each representation (and of its 304) is
 * made once and queued on every connection that gets it, so a cached poll
 * costs no allocation for the reply. */
#pragma once

#include <stdint.h>

#include "request.h"

typedef enum BodyEncoding {
        ENCODING_IDENTITY,
        ENCODING_GZIP,
        ENCODING_ZSTD,
        _ENCODING_MAX,
} BodyEncoding;

typedef struct Representation {
        char *data;                 /* NULL: not made yet (or not worth it) */
        size_t size;
        char etag[32];              /* "\"" + 16 hex digits + suffix + "\"" */
        struct MHD_Response *ok, *not_modified; /* made on first use */
} Representation;

/* A rendered body, shared by reference between the cache and replies in
 * flight: libmicrohttpd holds its own reference to each response it sends,
 * so a rescan never frees bytes still being sent. */
typedef struct RenderedBody {
        unsigned n_ref;
        Representation rep[_ENCODING_MAX];
        unsigned tried;  /* bit e: coding e was tried (made, or not worth it) */
        const char *content_type; /* static; NULL: application/json */
} RenderedBody;

/* Renders obj (not consumed) into a new body, compact or indented, with one reference. */
RenderedBody *rendered_body_new(json_object *obj, bool pretty);
/* A new body of data (NUL-terminated; taken, freed with the body), one reference. */
RenderedBody *rendered_body_new_take(char *data, size_t size);
RenderedBody *rendered_body_ref(RenderedBody *b);
RenderedBody *rendered_body_unref(RenderedBody *b);
/* The identity representation's bytes and tag. */
static inline const char *rendered_body_etag(const RenderedBody *b) {
        return b->rep[ENCODING_IDENTITY].etag;
}

/* The coding a request's Accept-Encoding prefers among those we make. */
BodyEncoding request_encoding(const Request *r);

/* Queues a 200 JSON reply with the body in the coding the client prefers,
 * or 304 if the client's If-None-Match matches that representation's ETag. */
enum MHD_Result reply_rendered(Request *r, RenderedBody *b);

/* Renders and queues obj (consumed) with the given status (compact, or
 * indented when the request asked ?pretty=true). */
enum MHD_Result reply_json(Request *r, unsigned status, json_object *obj);

/* Adds headers every reply carries. */
void reply_add_common_headers(struct MHD_Response *resp);

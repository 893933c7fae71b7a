/* Successful replies: JSON bodies with a strong ETag (a hash of the bytes),
 * so If-None-Match can answer 304 Not Modified. */
#pragma once

#include <stdint.h>

#include "request.h"

/* A rendered body, shared by reference between the cache and replies in
 * flight: libmicrohttpd sends it without copying and drops its reference
 * when the reply is done, so a rescan never frees bytes still being sent. */
typedef struct RenderedBody {
        unsigned n_ref;
        char *data;
        size_t size;
        char etag[24]; /* "\"" + 16 hex digits + "\"" */
} RenderedBody;

/* Renders obj (not consumed) into a new body with its ETag, one reference. */
RenderedBody *rendered_body_new(json_object *obj);
RenderedBody *rendered_body_ref(RenderedBody *b);
RenderedBody *rendered_body_unref(RenderedBody *b);

/* Queues a 200 JSON reply with the body, or 304 if the client's
 * If-None-Match matches its ETag. Takes a reference of its own. */
enum MHD_Result reply_rendered(Request *r, RenderedBody *b);

/* Renders and queues obj (consumed) with the given status. */
enum MHD_Result reply_json(Request *r, unsigned status, json_object *obj);

/* Adds headers every reply carries. */
void reply_add_common_headers(struct MHD_Response *resp);

/* Successful replies: JSON bodies with a strong ETag (a hash of the bytes),
 * so If-None-Match can answer 304 Not Modified. */
#pragma once

#include <stdint.h>

#include "request.h"

typedef struct RenderedBody {
        char *data;
        size_t size;
        char etag[24]; /* "\"" + 16 hex digits + "\"" */
} RenderedBody;

/* Renders obj (not consumed) into a body with its ETag. */
int rendered_body_from_json(json_object *obj, RenderedBody *ret);
void rendered_body_done(RenderedBody *b);

/* Queues a 200 JSON reply with the body (copied), or 304 if the client's
 * If-None-Match matches its ETag. */
enum MHD_Result reply_rendered(Request *r, const RenderedBody *b);

/* Renders and queues obj (consumed) with the given status. */
enum MHD_Result reply_json(Request *r, unsigned status, json_object *obj);

/* Adds headers every reply carries. */
void reply_add_common_headers(struct MHD_Response *resp);

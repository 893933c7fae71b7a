/* JSON replies with ETags: see reply.h. The ETag is a 64-bit FNV-1a hash of
 * the exact bytes sent: equal bodies, equal tags; any change, a new tag. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"
#include "json-util.h"
#include "reply.h"

static uint64_t fnv1a64(const char *p, size_t n) {
        uint64_t h = UINT64_C(0xcbf29ce484222325);

        for (size_t i = 0; i < n; i++) {
                h ^= (unsigned char) p[i];
                h *= UINT64_C(0x100000001b3);
        }
        return h;
}

RenderedBody *rendered_body_new(json_object *obj) {
        size_t n;
        const char *s = json_object_to_json_string_length(
                obj, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
        RenderedBody *b;

        if (!s)
                return NULL;
        b = calloc(1, sizeof(RenderedBody));
        if (!b)
                return NULL;
        b->data = malloc(n + 2);
        if (!b->data) {
                free(b);
                return NULL;
        }
        memcpy(b->data, s, n);
        b->data[n++] = '\n';
        b->data[n] = 0;
        b->size = n;
        b->n_ref = 1;
        snprintf(b->etag, sizeof b->etag, "\"%016llx\"", (unsigned long long) fnv1a64(b->data, n));
        return b;
}

RenderedBody *rendered_body_ref(RenderedBody *b) {
        if (b)
                b->n_ref++;
        return b;
}

RenderedBody *rendered_body_unref(RenderedBody *b) {
        if (b && --b->n_ref == 0) {
                free(b->data);
                free(b);
        }
        return NULL;
}

static void body_released(void *cls) {
        rendered_body_unref(cls);
}

void reply_add_common_headers(struct MHD_Response *resp) {
        MHD_add_response_header(resp, "Cache-Control", "no-cache");
        MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
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
        bool not_modified = safe && inm && etag_matches(inm, b->etag);
        struct MHD_Response *resp;
        enum MHD_Result ret;

        if (not_modified)
                resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
        else {
                resp = MHD_create_response_from_buffer_with_free_callback_cls(b->size, b->data, body_released,
                                                                              rendered_body_ref(b));
                if (!resp)
                        rendered_body_unref(b);
        }
        if (!resp)
                return MHD_NO;
        reply_add_common_headers(resp);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, b->etag);
        if (!not_modified)
                MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
        r->status = not_modified ? MHD_HTTP_NOT_MODIFIED : MHD_HTTP_OK;
        ret = MHD_queue_response(r->connection, r->status, resp);
        MHD_destroy_response(resp);
        return ret;
}

enum MHD_Result reply_json(Request *r, unsigned status, json_object *obj) {
        _cleanup_(json_object_putp) json_object *o = obj;
        RenderedBody *b = rendered_body_new(o);
        struct MHD_Response *resp;
        enum MHD_Result ret;

        if (!b)
                return MHD_NO;
        if (status == MHD_HTTP_OK) {
                ret = reply_rendered(r, b);
                rendered_body_unref(b);
                return ret;
        }
        resp = MHD_create_response_from_buffer_with_free_callback_cls(b->size, b->data, body_released, b);
        if (!resp) {
                rendered_body_unref(b);
                return MHD_NO;
        }
        reply_add_common_headers(resp);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
        if (r->location)
                MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, r->location);
        r->status = status;
        ret = MHD_queue_response(r->connection, status, resp);
        MHD_destroy_response(resp);
        return ret;
}

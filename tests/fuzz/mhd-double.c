/* The libmicrohttpd stand-in of the web fuzz targets: see mhd-double.h. */

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <microhttpd.h>

#include "fuzz.h"
#include "mhd-double.h"

struct MHD_Response {
        char *body;
        size_t size;
        char *content_type;
};

static MhdReply last;

const MhdReply *mhd_double_reply(void) {
        return &last;
}

void mhd_double_reset(void) {
        free(last.body);
        free(last.content_type);
        last = (MhdReply) {};
}

struct MHD_Response *MHD_create_response_from_buffer(size_t size, void *buffer, enum MHD_ResponseMemoryMode mode) {
        struct MHD_Response *r = calloc(1, sizeof *r);

        FUZZ_OOM(r);
        r->body = fuzz_memdup(buffer, size);
        r->size = size;
        if (mode == MHD_RESPMEM_MUST_FREE)
                free(buffer);
        return r;
}

enum MHD_Result MHD_add_response_header(struct MHD_Response *r, const char *header, const char *content) {
        FUZZ_ASSERT(r && header && content && !strchr(content, '\n') && !strchr(content, '\r'));
        if (strcasecmp(header, MHD_HTTP_HEADER_CONTENT_TYPE) == 0) {
                free(r->content_type);
                FUZZ_OOM(r->content_type = strdup(content));
        }
        return MHD_YES;
}

enum MHD_Result MHD_queue_response(struct MHD_Connection *c, unsigned int status, struct MHD_Response *r) {
        FUZZ_ASSERT(r);
        mhd_double_reset();
        last.status = status;
        last.n_queued++;
        last.body = fuzz_memdup(r->body, r->size);
        last.size = r->size;
        if (r->content_type)
                FUZZ_OOM(last.content_type = strdup(r->content_type));
        return MHD_YES;
}

void MHD_destroy_response(struct MHD_Response *r) {
        if (!r)
                return;
        free(r->body);
        free(r->content_type);
        free(r);
}

/* A stand-in for the few libmicrohttpd calls a reply makes (create a
 * response from a buffer, add headers, queue it, destroy it), linked into
 * the web fuzz targets so that they see what a handler or decoder queued:
 * status, headers and body. Defined in the target's executable, these
 * functions take the place of the library's for libweb.a's code; nothing
 * else of the library is used by these targets. */
#pragma once

#include <stddef.h>

typedef struct MhdReply {
        unsigned status;      /* 0: nothing queued */
        unsigned n_queued;
        char *body;           /* NUL-terminated copy */
        size_t size;
        char *content_type;
} MhdReply;

/* What was queued since the last reset; reset frees it. */
const MhdReply *mhd_double_reply(void);
void mhd_double_reset(void);

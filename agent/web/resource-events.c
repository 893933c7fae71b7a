/* GET /v1/events: what changes on the host, as Server-Sent Events, so that
 * managers need not poll. A stream starts with hello, replays what the
 * client missed after its Last-Event-ID (or says resync when it cannot),
 * then follows the event log; see event-streams.c for the stream itself. */
#include <string.h>

#include "basic/log.h"
#include "basic/macro.h"
#include "event-streams.h"
#include "json-util.h"
#include "problem.h"
#include "reply.h"
#include "resources.h"

#define LAST_EVENT_ID "Last-Event-ID"

static enum MHD_Result reply_head(Request *r) {
        struct MHD_Response *resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
        enum MHD_Result ret;

        if (!resp)
                return MHD_NO;
        reply_add_common_headers(resp);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
        r->status = MHD_HTTP_OK;
        ret = MHD_queue_response(r->connection, r->status, resp);
        MHD_destroy_response(resp);
        return ret;
}

/* 429 or 503 when this client, or everybody, has as many streams as allowed. */
static bool admit(Request *r, enum MHD_Result *ret) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(r->connection,
                                                                     MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        int k = event_streams_admit(r->streams, ci ? ci->client_addr : NULL);

        *ret = MHD_NO;
        if (k == -EUSERS)
                *ret = problem_reply(r, PROBLEM_TOO_MANY_STREAMS, (ProblemField) {},
                                     "this client address has as many event streams open as "
                                     "events_per_client allows: close one first");
        else if (k == -EBUSY)
                *ret = problem_reply(r, PROBLEM_STREAMS_EXHAUSTED, (ProblemField) {},
                                     "the agent serves %zu event streams, as many as events_max_streams allows",
                                     event_streams_count(r->streams));
        return k >= 0;
}

enum MHD_Result get_events(Request *r) {
        const char *last_id = MHD_lookup_connection_value(r->connection, MHD_HEADER_KIND, LAST_EVENT_ID);
        struct MHD_Response *resp = NULL;
        _cleanup_free_ char *credential = NULL;
        json_object *hello;
        enum MHD_Result ret;
        int k;

        if (last_id && !*last_id)
                last_id = NULL; /* "id:" with no value resets the id: as if none was given */
        if (last_id && event_id_parse(last_id, NULL, NULL) < 0)
                return problem_reply(r, PROBLEM_INVALID_PARAMETER, (ProblemField) { .parameter = LAST_EVENT_ID },
                                     "the " LAST_EVENT_ID " header '%.80s' is not an event id "
                                     "(<16 hex digits>-<number>, as the id: lines of this stream)", last_id);
        if (r->is_head)
                return reply_head(r);
        if (!admit(r, &ret))
                return ret;

        if (request_credential(r, &credential) < 0)
                return problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {}, "out of memory");
        hello = json_object_new_object();
        if (hello)
                json_add_int(hello, "generation", (int64_t) r->state->generation);
        k = event_streams_open(r->streams, r->connection, credential, last_id, hello, &resp);
        if (k < 0)
                return problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {}, "cannot open the event stream: %s",
                                     strerror(-k));
        reply_add_common_headers(resp);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
        MHD_add_response_header(resp, "X-Accel-Buffering", "no"); /* proxies: pass each event on at once */
        r->status = MHD_HTTP_OK;
        ret = MHD_queue_response(r->connection, r->status, resp);
        MHD_destroy_response(resp);
        log_debug("Event stream opened by %s%s%s; %zu open.", r->who, last_id ? " after " : "", strempty(last_id),
                  event_streams_count(r->streams));
        return ret;
}

/* The open GET /v1/events streams: each one a bounded queue of formatted
 * Server-Sent Events bytes that libmicrohttpd drains through a content
 * reader, suspended while the queue is empty and resumed when an event
 * (or the heartbeat) arrives. A consumer that falls behind by more than its
 * queue is cut off, never waited for: it reconnects with Last-Event-ID. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include <microhttpd.h>
#include <systemd/sd-event.h>

#include "state/event-log.h"

typedef struct EventStreamsConfig {
        unsigned heartbeat_sec;  /* a comment on every stream this often */
        size_t queue_bytes;      /* unsent bytes one stream may hold */
        unsigned per_client;     /* streams one client address may hold */
        unsigned max_streams;    /* streams in all */
        unsigned unacked_sec;    /* a stream whose bytes go unacknowledged this long ends; 0: TCP's own */
} EventStreamsConfig;

#define EVENTS_DEFAULT_HEARTBEAT_SEC 15
#define EVENTS_DEFAULT_QUEUE_BYTES (1024 * 1024)
#define EVENTS_DEFAULT_PER_CLIENT 4
#define EVENTS_DEFAULT_MAX_STREAMS 64
#define EVENTS_DEFAULT_RING_SIZE 1024
#define EVENTS_RETRY_MS 3000     /* the reconnection delay suggested to clients */

typedef struct EventStreams EventStreams;

/* Follows log (which must outlive the set) and ticks the heartbeat on event. */
int event_streams_new(sd_event *event, EventLog *log, const EventStreamsConfig *cfg, EventStreams **ret);
/* Called whenever a stream was resumed: libmicrohttpd in external-loop
 * mode serves a resumed connection only when MHD_run() runs again, and
 * an event may come from anywhere (a timer, the worker's completion). */
void event_streams_set_waker(EventStreams *s, void (*wake)(void *userdata), void *userdata);
/* Call after the HTTP daemon stopped: no stream is left by then. */
EventStreams *event_streams_free(EventStreams *s);
static inline void event_streams_freep(EventStreams **s) {
        event_streams_free(*s);
}

EventLog *event_streams_log(const EventStreams *s);
size_t event_streams_count(const EventStreams *s);

/* -EUSERS when the client address holds its share of streams, -EBUSY when
 * all streams are taken, 0 when one more may open. */
int event_streams_admit(const EventStreams *s, const struct sockaddr *peer);

/* A new stream on connection c, starting with hello (consumed; the
 * event's data), then the events after last_id (NULL: none), or a resync
 * when the log no longer has them. credential (copied) names what
 * authenticated the client, for event_streams_end_unless(). Returns the
 * response to queue (the stream lives as long as it does); -EINVAL for a
 * malformed last_id. */
int event_streams_open(EventStreams *s, struct MHD_Connection *c, const char *credential, const char *last_id,
                       json_object *hello, struct MHD_Response **ret);

/* Ends (cleanly, as event_streams_end_all()) every stream whose credential
 * keep() refuses: a token revoked by a reload. Returns how many. */
size_t event_streams_end_unless(EventStreams *s, bool (*keep)(const char *credential, void *userdata),
                                void *userdata);

/* Ends every stream cleanly (SIGTERM): what is queued is sent, then the
 * chunked reply ends. The HTTP daemon must run afterwards to send it. */
void event_streams_end_all(EventStreams *s);

/* The event log: what changed on this host, in order, for managers that
 * follow GET /v1/events instead of polling. A bounded ring of the newest
 * events (older ones are forgotten: a client that fell behind must
 * refetch), ids unique to this agent instance, and listeners called
 * synchronously as each event is published. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

typedef struct Event {
        uint64_t seq;          /* 1, 2, ... within this agent instance */
        char id[48];           /* SSE id: "<instance>-<seq>", instance = 16 random hex digits made at start */
        char *type;            /* "device-changed" */
        char *data;            /* the JSON object, serialized once, compact (no newline) */
        uint64_t time_usec;    /* CLOCK_REALTIME */
} Event;

typedef struct EventLog EventLog;
typedef void (*EventListener)(const Event *e, void *userdata);

#define EVENT_LOG_MAX_CAPACITY (1024 * 1024)

/* capacity: events kept in the ring, 1 to EVENT_LOG_MAX_CAPACITY. */
int event_log_new(size_t capacity, EventLog **ret);
EventLog *event_log_free(EventLog *l);
static inline void event_log_freep(EventLog **l) {
        event_log_free(*l);
}

const char *event_log_instance(const EventLog *l);
uint64_t event_log_last_seq(const EventLog *l); /* 0 before the first event */

/* data is consumed (a json object; NULL means {}); "time" (RFC 3339) is
 * added to it. Every listener is called synchronously, in order. -ENOMEM
 * leaves the log as it was. l may be NULL (no-op, data freed). */
int event_log_publish(EventLog *l, const char *type, json_object *data);

/* An event the log does not keep (a stream's own hello or resync): seq 0,
 * an empty id, data consumed (NULL: {}) with "time" added. Release it with
 * event_done(). */
int event_make(const char *type, json_object *data, Event *ret);
void event_done(Event *e);

/* Listeners must not add or remove listeners from within a callback. */
int event_log_add_listener(EventLog *l, EventListener cb, void *userdata);
void event_log_remove_listener(EventLog *l, EventListener cb, void *userdata);

/* Splits "<instance>-<seq>" into its instance (17 bytes: 16 hex digits and
 * the NUL) and seq; either may be NULL. -EINVAL when id is malformed. */
int event_id_parse(const char *id, char *ret_instance, uint64_t *ret_seq);

/* Calls cb for every event after last_id, oldest first; returns how many.
 * -ESTALE when the ring no longer holds the event right after last_id, or
 * last_id is of another instance; -EINVAL when last_id is malformed. An id
 * "<instance>-0" stands for "before the first event". */
int event_log_replay(const EventLog *l, const char *last_id, EventListener cb, void *userdata);

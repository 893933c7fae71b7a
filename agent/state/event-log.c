/* The event log: see event-log.h.
 *
 * Event seq s lives in ring[(s - 1) % capacity]; the ring holds seqs
 * oldest()..last_seq. An id is "<16 hex digits>-<decimal seq>", the seq
 * without leading zeros: anything else is malformed, not merely stale. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "basic/hex.h"
#include "basic/macro.h"
#include "basic/time-util.h"
#include "event-log.h"

#define INSTANCE_DIGITS 16

static void json_putp(json_object **o) {
        json_object_put(*o);
}

typedef struct Listener {
        EventListener cb;
        void *userdata;
} Listener;

struct EventLog {
        char instance[INSTANCE_DIGITS + 1];
        Event *ring;
        size_t capacity;
        uint64_t last_seq;
        Listener *listeners;
        size_t n_listeners;
};

int event_log_new(size_t capacity, EventLog **ret) {
        _cleanup_(event_log_freep) EventLog *l = NULL;
        int r;

        if (capacity == 0 || capacity > EVENT_LOG_MAX_CAPACITY)
                return -EINVAL;
        l = calloc(1, sizeof(EventLog));
        if (!l)
                return -ENOMEM;
        l->ring = calloc(capacity, sizeof(Event));
        if (!l->ring)
                return -ENOMEM;
        l->capacity = capacity;
        r = random_hex(INSTANCE_DIGITS / 2, l->instance);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(l);
        return 0;
}

EventLog *event_log_free(EventLog *l) {
        if (!l)
                return NULL;
        for (size_t i = 0; i < l->capacity; i++)
                event_done(&l->ring[i]);
        free(l->ring);
        free(l->listeners);
        free(l);
        return NULL;
}

const char *event_log_instance(const EventLog *l) {
        return l->instance;
}

uint64_t event_log_last_seq(const EventLog *l) {
        return l->last_seq;
}

static uint64_t oldest(const EventLog *l) {
        return l->last_seq > l->capacity ? l->last_seq - l->capacity + 1 : 1;
}

static Event *slot(const EventLog *l, uint64_t seq) {
        return &l->ring[(seq - 1) % l->capacity];
}

/* "2026-11-23T22:01:02.345Z": RFC 3339, UTC, milliseconds. */
static json_object *timestamp_ms(uint64_t usec) {
        time_t t = (time_t) (usec / 1000000);
        char when[64];
        struct tm tm;
        size_t n;

        if (!gmtime_r(&t, &tm))
                return NULL;
        n = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
        if (n == 0)
                return NULL;
        snprintf(when + n, sizeof when - n, ".%03uZ", (unsigned) (usec / 1000 % 1000));
        return json_object_new_string(when);
}

/* The serialized data with "time" added, or NULL when out of memory. */
static char *render(json_object *data, uint64_t now) {
        json_object *t = timestamp_ms(now);
        const char *s;

        if (!t)
                return NULL;
        if (json_object_object_add(data, "time", t) < 0) { /* takes t on success only */
                json_object_put(t);
                return NULL;
        }
        s = json_object_to_json_string_ext(data, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        return s ? strdup(s) : NULL;
}

int event_make(const char *type, json_object *data, Event *ret) {
        _cleanup_(json_putp) json_object *o = data;
        _cleanup_free_ char *t = NULL, *d = NULL;
        uint64_t now = now_realtime_usec();

        if (!o && !(o = json_object_new_object()))
                return -ENOMEM;
        if (!json_object_is_type(o, json_type_object))
                return -EINVAL;
        t = strdup(type);
        d = render(o, now);
        if (!t || !d)
                return -ENOMEM;
        *ret = (Event) { .type = TAKE_PTR(t), .data = TAKE_PTR(d), .time_usec = now };
        return 0;
}

void event_done(Event *e) {
        free(e->type);
        free(e->data);
        *e = (Event) {};
}

int event_log_publish(EventLog *l, const char *type, json_object *data) {
        Event *e;
        Event n;
        int r;

        if (!l) {
                json_object_put(data);
                return 0;
        }
        r = event_make(type, data, &n);
        if (r < 0)
                return r;
        e = slot(l, l->last_seq + 1);
        event_done(e);
        *e = n;
        e->seq = l->last_seq + 1;
        snprintf(e->id, sizeof e->id, "%s-%" PRIu64, l->instance, e->seq);
        l->last_seq = e->seq;

        for (size_t i = 0; i < l->n_listeners; i++)
                l->listeners[i].cb(e, l->listeners[i].userdata);
        return 0;
}

int event_log_add_listener(EventLog *l, EventListener cb, void *userdata) {
        Listener *n = realloc(l->listeners, (l->n_listeners + 1) * sizeof(Listener));

        if (!n)
                return -ENOMEM;
        l->listeners = n;
        n[l->n_listeners++] = (Listener) { .cb = cb, .userdata = userdata };
        return 0;
}

void event_log_remove_listener(EventLog *l, EventListener cb, void *userdata) {
        for (size_t i = 0; l && i < l->n_listeners; i++)
                if (l->listeners[i].cb == cb && l->listeners[i].userdata == userdata) {
                        memmove(l->listeners + i, l->listeners + i + 1,
                                (l->n_listeners - i - 1) * sizeof(Listener));
                        l->n_listeners--;
                        return;
                }
}

int event_id_parse(const char *id, char *ret_instance, uint64_t *ret_seq) {
        const char *p = id + INSTANCE_DIGITS + 1;
        uint64_t seq = 0;
        size_t n;

        if (strlen(id) <= INSTANCE_DIGITS + 1 || strspn(id, "0123456789abcdef") != INSTANCE_DIGITS ||
            id[INSTANCE_DIGITS] != '-')
                return -EINVAL;
        n = strlen(p);
        if (n > 20 || strspn(p, "0123456789") != n || (p[0] == '0' && n > 1))
                return -EINVAL;
        for (; *p; p++) {
                unsigned digit = (unsigned) (*p - '0');

                if (seq > (UINT64_MAX - digit) / 10)
                        return -EINVAL;
                seq = seq * 10 + digit;
        }
        if (ret_instance) {
                memcpy(ret_instance, id, INSTANCE_DIGITS);
                ret_instance[INSTANCE_DIGITS] = 0;
        }
        if (ret_seq)
                *ret_seq = seq;
        return 0;
}

int event_log_replay(const EventLog *l, const char *last_id, EventListener cb, void *userdata) {
        char instance[INSTANCE_DIGITS + 1];
        uint64_t seq;
        int r, n = 0;

        r = event_id_parse(last_id, instance, &seq);
        if (r < 0)
                return r;
        if (!streq(instance, l->instance) || seq > l->last_seq)
                return -ESTALE; /* another agent, or one that ran before this one */
        if (seq < l->last_seq && seq + 1 < oldest(l))
                return -ESTALE;
        for (uint64_t s = seq + 1; s <= l->last_seq; s++, n++)
                cb(slot(l, s), userdata);
        return n;
}

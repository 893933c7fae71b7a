/* Event streams: see event-streams.h.
 *
 * libmicrohttpd runs in external epoll mode with MHD_ALLOW_SUSPEND_RESUME.
 * A stream's reply comes from a content reader (unknown size: chunked). The
 * reader copies what is queued; with nothing queued it suspends its
 * connection (the only place that may: an MHD callback) and returns 0. New
 * bytes resume it with MHD_resume_connection(), which in external-loop mode
 * only marks the connection: libmicrohttpd serves it on the next MHD_run().
 * So every resume also calls the server's waker, which schedules one run
 * (a deferred event source: one run however many streams were resumed),
 * and the reader is called again, whoever published the event.
 *
 * libmicrohttpd does not watch a suspended connection's socket, so a client
 * that hangs up while its stream waits would hold its descriptor (and its
 * share of the per-client streams) until the next heartbeat fails to send.
 * While suspended, a stream therefore watches its socket for the peer's
 * FIN itself (EPOLLRDHUP, one shot), and on it ends the stream at once.
 * The watch is off whenever the connection is not suspended: libmicrohttpd
 * may then close the socket, and a stale epoll registration of a closed,
 * reused descriptor must never exist.
 *
 * Frames: "id: <id>\nevent: <type>\ndata: <json>\n\n" (data is compact JSON,
 * one line); the hello and resync events of a stream carry no id of their
 * own unless noted below; heartbeats are the comment ": heartbeat\n\n". */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "basic/log.h"
#include "basic/macro.h"
#include "event-streams.h"

#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define STREAM_BLOCK 4096
#define SOCKET_BUFFER_MAX (1024 * 1024)

typedef struct EventStream EventStream;

struct EventStream {
        EventStreams *owner;
        struct MHD_Connection *connection;
        struct sockaddr_storage peer;
        char *credential;         /* what authenticated it (request_credential()), NULL: unknown */
        char *buf;                /* queued bytes: buf[head .. head + len) */
        size_t head, len, size;
        bool suspended;           /* by the reader, waiting for bytes */
        bool ending;              /* end the reply once the queue is sent */
        bool dropped;             /* fell behind: end the connection now */
        sd_event_source *hangup;  /* the peer's FIN, watched while suspended */
        EventStream *prev, *next;
};

struct EventStreams {
        EventStreamsConfig cfg;
        EventLog *log;
        sd_event *event;
        sd_event_source *heartbeat;
        void (*wake)(void *userdata);
        void *wake_userdata;
        EventStream *head;
        size_t n;
};

EventLog *event_streams_log(const EventStreams *s) {
        return s->log;
}

size_t event_streams_count(const EventStreams *s) {
        return s->n;
}

static bool same_address(const struct sockaddr_storage *a, const struct sockaddr *b) {
        if (a->ss_family != b->sa_family)
                return false;
        if (b->sa_family == AF_INET)
                return memcmp(&((const struct sockaddr_in *) a)->sin_addr, &((const struct sockaddr_in *) b)->sin_addr,
                              sizeof(struct in_addr)) == 0;
        if (b->sa_family == AF_INET6)
                return memcmp(&((const struct sockaddr_in6 *) a)->sin6_addr,
                              &((const struct sockaddr_in6 *) b)->sin6_addr, sizeof(struct in6_addr)) == 0;
        return true;
}

int event_streams_admit(const EventStreams *s, const struct sockaddr *peer) {
        unsigned mine = 0;

        for (const EventStream *e = s->head; e && peer; e = e->next)
                mine += same_address(&e->peer, peer);
        if (mine >= s->cfg.per_client)
                return -EUSERS;
        if (s->n >= s->cfg.max_streams)
                return -EBUSY;
        return 0;
}

/* ---- one stream ---- */

static void stream_wake(EventStream *e) {
        EventStreams *s = e->owner;

        if (!e->suspended)
                return;
        e->suspended = false;
        (void) sd_event_source_set_enabled(e->hangup, SD_EVENT_OFF);
        MHD_resume_connection(e->connection);
        if (s->wake)
                s->wake(s->wake_userdata);
}

/* A consumer that cannot keep up: the bytes are dropped, the connection is
 * ended. A suspended one is resumed and its reader ends it; a blocked one
 * (its socket full, the reader not called) has its socket shut down, which
 * libmicrohttpd notices on the next run and closes. */
static void stream_drop(EventStream *e, size_t wanted) {
        const union MHD_ConnectionInfo *ci;

        if (e->dropped)
                return;
        log_info("Event stream: the client is %zu bytes behind (events_queue_bytes=%zu): ending its stream; it "
                 "may reconnect with Last-Event-ID.", e->len + wanted, e->owner->cfg.queue_bytes);
        e->dropped = true;
        e->buf = (free(e->buf), NULL);
        e->head = e->len = e->size = 0;
        if (e->suspended) {
                stream_wake(e);
                return;
        }
        ci = MHD_get_connection_info(e->connection, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (ci)
                (void) shutdown(ci->connect_fd, SHUT_RDWR);
}

/* Queues n bytes; false when they do not fit (the caller decides). */
static bool stream_push(EventStream *e, const char *p, size_t n) {
        if (e->dropped || e->ending)
                return true; /* nothing more goes out */
        if (e->len + n > e->owner->cfg.queue_bytes)
                return false;
        if (e->head > 0 && e->head + e->len + n > e->size) {
                memmove(e->buf, e->buf + e->head, e->len);
                e->head = 0;
        }
        if (e->head + e->len + n > e->size) {
                size_t want = MAX(e->size * 2, e->len + n);
                char *b = realloc(e->buf, want);

                if (!b)
                        return false;
                e->buf = b;
                e->size = want;
        }
        memcpy(e->buf + e->head + e->len, p, n);
        e->len += n;
        return true;
}

static void stream_send(EventStream *e, const char *p, size_t n) {
        if (!stream_push(e, p, n))
                stream_drop(e, n);
        else
                stream_wake(e);
}

/* The frame of an event: id (when given), event, data. */
static char *frame(const char *id, const Event *ev, const char *retry, size_t *ret_len) {
        char *f = NULL;
        int n;

        n = asprintf(&f, "%s%s%s%sevent: %s\ndata: %s\n\n", strempty(retry), id ? "id: " : "", strempty(id),
                     id ? "\n" : "", ev->type, ev->data);
        if (n < 0)
                return NULL;
        *ret_len = (size_t) n;
        return f;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
        EventStream *e = cls;
        size_t n;

        if (e->dropped)
                return MHD_CONTENT_READER_END_WITH_ERROR;
        if (e->len == 0) {
                if (e->ending)
                        return MHD_CONTENT_READER_END_OF_STREAM;
                e->suspended = true;
                MHD_suspend_connection(e->connection);
                (void) sd_event_source_set_enabled(e->hangup, SD_EVENT_ONESHOT);
                return 0;
        }
        n = MIN(max, e->len);
        memcpy(buf, e->buf + e->head, n);
        e->head += n;
        e->len -= n;
        if (e->len == 0)
                e->head = 0;
        return (ssize_t) n;
}

static void stream_free(void *cls) {
        EventStream *e = cls;
        EventStreams *s = e->owner;

        if (e->prev)
                e->prev->next = e->next;
        else
                s->head = e->next;
        if (e->next)
                e->next->prev = e->prev;
        s->n--;
        log_debug("Event stream closed; %zu open.", s->n);
        sd_event_source_disable_unref(e->hangup);
        free(e->credential);
        free(e->buf);
        free(e);
}

/* A stream-only event (hello, resync) with an id to resume from, if any. */
static int stream_push_made(EventStream *e, const char *type, json_object *data, const char *id, const char *retry) {
        _cleanup_free_ char *f = NULL;
        Event ev;
        size_t n = 0;
        int r;

        r = event_make(type, data, &ev);
        if (r < 0)
                return r;
        f = frame(id, &ev, retry, &n);
        event_done(&ev);
        if (!f)
                return -ENOMEM;
        return stream_push(e, f, n) ? 0 : -ENOBUFS;
}

typedef struct Replay {
        EventStream *stream;
        bool overflow;
} Replay;

static void replay_one(const Event *ev, void *userdata) {
        Replay *rp = userdata;
        _cleanup_free_ char *f = NULL;
        size_t n = 0;

        if (rp->overflow)
                return;
        f = frame(ev->id, ev, NULL, &n);
        if (!f || !stream_push(rp->stream, f, n))
                rp->overflow = true;
}

/* The id of the newest event, or NULL before the first. */
static char *newest_id(const EventLog *l) {
        char *id = NULL;

        if (event_log_last_seq(l) == 0)
                return NULL;
        if (asprintf(&id, "%s-%llu", event_log_instance(l), (unsigned long long) event_log_last_seq(l)) < 0)
                return NULL;
        return id;
}

static json_object *resync_data(const char *reason) {
        json_object *o = json_object_new_object();

        if (o)
                json_object_object_add(o, "reason", json_object_new_string(reason));
        return o;
}

/* After hello: the events after last_id, or a resync saying why not. The
 * replay must fit the queue; if not, the client refetches instead. */
static int stream_catch_up(EventStream *e, const char *last_id, const char *newest) {
        const EventLog *l = e->owner->log;
        Replay rp = { .stream = e };
        size_t hello_len = e->len;
        const char *reason;
        int r;

        r = event_log_replay(l, last_id, replay_one, &rp);
        if (r == -EINVAL)
                return r;
        if (r >= 0 && !rp.overflow)
                return 0;
        if (rp.overflow) {
                e->len = hello_len; /* the replayed frames go; hello stays */
                reason = "replay-too-large";
        } else if (strncmp(last_id, event_log_instance(l), strlen(event_log_instance(l))) == 0 &&
                   last_id[strlen(event_log_instance(l))] == '-')
                reason = "events-lost";
        else
                reason = "agent-restarted";
        log_debug("Event stream from '%s': resync (%s).", last_id, reason);
        return stream_push_made(e, "resync", resync_data(reason), newest, NULL);
}

/* The client hung up while its stream waited: end the stream now. */
static int on_hangup(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        EventStream *e = userdata;

        (void) es;
        (void) fd;
        (void) revents;
        log_debug("Event stream: the client hung up.");
        e->dropped = true;
        e->buf = (free(e->buf), NULL);
        e->head = e->len = e->size = 0;
        stream_wake(e);
        return 0;
}

/* A stream that never became a reply (libmicrohttpd frees the others). */
static EventStream *stream_free_unopened(EventStream *e) {
        if (!e)
                return NULL;
        sd_event_source_disable_unref(e->hangup);
        free(e->credential);
        free(e->buf);
        free(e);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(EventStream *, stream_free_unopened);

static EventStream *stream_new(EventStreams *s, struct MHD_Connection *c) {
        const union MHD_ConnectionInfo *ci;
        EventStream *e = calloc(1, sizeof(EventStream));
        int sndbuf = (int) MIN(s->cfg.queue_bytes, (size_t) SOCKET_BUFFER_MAX);
        unsigned unacked_ms = s->cfg.unacked_sec * 1000u;

        if (!e)
                return NULL;
        e->owner = s;
        e->connection = c;
        ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        if (ci && ci->client_addr)
                memcpy(&e->peer, ci->client_addr,
                       ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                              : sizeof(struct sockaddr_in));
        /* The kernel's buffer is bounded as well as the queue: a consumer
         * that stops reading is noticed after about 3 x queue_bytes. And a
         * stream has no idle timeout (heartbeats keep it busy), so a client
         * gone without a reset would hold it until TCP gave up
         * retransmitting (about 15 minutes): bytes unacknowledged for
         * unacked_sec (or a window shut that long) end it instead. */
        ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (ci) {
                (void) setsockopt(ci->connect_fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
                if (unacked_ms > 0)
                        (void) setsockopt(ci->connect_fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &unacked_ms,
                                          sizeof unacked_ms);
                if (sd_event_add_io(s->event, &e->hangup, ci->connect_fd, EPOLLRDHUP, on_hangup, e) < 0 ||
                    sd_event_source_set_enabled(e->hangup, SD_EVENT_OFF) < 0)
                        return stream_free_unopened(e);
        }
        return e;
}

int event_streams_open(EventStreams *s, struct MHD_Connection *c, const char *credential, const char *last_id,
                       json_object *hello, struct MHD_Response **ret) {
        _cleanup_free_ char *newest = newest_id(s->log), *retry = NULL;
        _cleanup_(stream_free_unopenedp) EventStream *e = NULL;
        struct MHD_Response *resp;
        int r;

        if (!hello || (event_log_last_seq(s->log) > 0 && !newest) ||
            asprintf(&retry, "retry: %d\n", EVENTS_RETRY_MS) < 0) {
                json_object_put(hello);
                return -ENOMEM;
        }
        json_object_object_add(hello, "instance", json_object_new_string(event_log_instance(s->log)));
        json_object_object_add(hello, "last_event_id", newest ? json_object_new_string(newest) : NULL);
        e = stream_new(s, c);
        if (!e || (credential && !(e->credential = strdup(credential)))) {
                json_object_put(hello);
                return -ENOMEM;
        }
        /* Without Last-Event-ID the stream is live from hello on: hello
         * carries the newest id, for the client to resume from. */
        r = stream_push_made(e, "hello", hello, last_id ? NULL : newest, retry);
        if (r >= 0 && last_id)
                r = stream_catch_up(e, last_id, newest);
        if (r < 0)
                return r == -ENOBUFS ? -ENOMEM : r;
        resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK, stream_read, e, stream_free);
        if (!resp)
                return -ENOMEM;
        /* Heartbeats keep the connection busy: no idle timeout. */
        MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT, 0u);
        e->next = s->head;
        if (s->head)
                s->head->prev = e;
        s->head = TAKE_PTR(e);
        s->n++;
        *ret = resp;
        return 0;
}

/* ---- the set ---- */

static void on_event(const Event *ev, void *userdata) {
        EventStreams *s = userdata;
        _cleanup_free_ char *f = NULL;
        size_t n = 0;

        if (!s->head)
                return;
        f = frame(ev->id, ev, NULL, &n);
        for (EventStream *e = s->head; e; e = e->next) {
                if (!f)
                        stream_drop(e, 0); /* out of memory: it missed an event */
                else
                        stream_send(e, f, n);
        }
}

static int on_heartbeat(sd_event_source *es, uint64_t usec, void *userdata) {
        static const char beat[] = ": heartbeat\n\n";
        EventStreams *s = userdata;

        for (EventStream *e = s->head; e; e = e->next)
                stream_send(e, beat, sizeof beat - 1);
        if (sd_event_source_set_time(es, usec + (uint64_t) s->cfg.heartbeat_sec * 1000000) < 0)
                return -EIO;
        return sd_event_source_set_enabled(es, SD_EVENT_ON);
}

int event_streams_new(sd_event *event, EventLog *log, const EventStreamsConfig *cfg, EventStreams **ret) {
        _cleanup_(event_streams_freep) EventStreams *s = calloc(1, sizeof(EventStreams));
        uint64_t now;
        int r;

        if (!s)
                return -ENOMEM;
        s->cfg = *cfg;
        if (s->cfg.heartbeat_sec == 0 || s->cfg.queue_bytes == 0)
                return -EINVAL;
        s->event = sd_event_ref(event);
        r = sd_event_now(event, CLOCK_MONOTONIC, &now);
        if (r < 0)
                return r;
        r = sd_event_add_time(event, &s->heartbeat, CLOCK_MONOTONIC,
                              now + (uint64_t) s->cfg.heartbeat_sec * 1000000, 0, on_heartbeat, s);
        if (r < 0)
                return r;
        r = event_log_add_listener(log, on_event, s);
        if (r < 0)
                return r;
        s->log = log;
        *ret = TAKE_PTR(s);
        return 0;
}

void event_streams_set_waker(EventStreams *s, void (*wake)(void *userdata), void *userdata) {
        s->wake = wake;
        s->wake_userdata = userdata;
}

EventStreams *event_streams_free(EventStreams *s) {
        if (!s)
                return NULL;
        if (s->log)
                event_log_remove_listener(s->log, on_event, s);
        sd_event_source_disable_unref(s->heartbeat);
        sd_event_unref(s->event);
        /* The daemon has stopped: every reply, so every stream, is gone. */
        free(s);
        return NULL;
}

size_t event_streams_end_unless(EventStreams *s, bool (*keep)(const char *credential, void *userdata),
                                void *userdata) {
        size_t n = 0;

        for (EventStream *e = s ? s->head : NULL; e; e = e->next)
                if (!e->ending && !keep(e->credential, userdata)) {
                        e->ending = true;
                        stream_wake(e);
                        n++;
                }
        return n;
}

void event_streams_end_all(EventStreams *s) {
        for (EventStream *e = s ? s->head : NULL; e; e = e->next) {
                e->ending = true;
                stream_wake(e);
        }
}

/* The deadline of a request: libmicrohttpd closes a connection that is idle
 * for connection_timeout, but a client that sends its request a byte at a
 * time (slowloris), or its body that way, is never idle. Each connection
 * here has request_timeout to send a whole request, counted from its
 * opening or the end of the previous reply; then it is closed. */
#pragma once

#include <stdint.h>

#include <microhttpd.h>
#include <systemd/sd-event.h>

typedef struct RequestClock RequestClock;

/* One connection's clock, kept inside the connection's own state. */
struct RequestClock {
        struct MHD_Connection *connection;
        uint64_t since_usec;     /* waiting for a request since then; 0: one is being answered */
        RequestClock *prev, *next;
};

typedef struct RequestDeadlines RequestDeadlines;

int request_deadlines_new(sd_event *event, unsigned timeout_sec, RequestDeadlines **ret);
/* Call after the HTTP daemon stopped: every clock is gone by then. */
RequestDeadlines *request_deadlines_free(RequestDeadlines *d);
static inline void request_deadlines_freep(RequestDeadlines **d) {
        request_deadlines_free(*d);
}

/* A new connection: its first request is due within the timeout. */
void request_clock_start(RequestDeadlines *d, RequestClock *k, struct MHD_Connection *c);
/* The connection closed. */
void request_clock_remove(RequestDeadlines *d, RequestClock *k);
/* The whole request arrived: no deadline while it is answered (an event
 * stream's answer has none at all). */
void request_clock_stop(RequestClock *k);
/* The answer was sent: the next request is due within the timeout. */
void request_clock_restart(RequestClock *k);

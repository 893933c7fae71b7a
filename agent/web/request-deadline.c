/* Request deadlines: see request-deadline.h.
 *
 * The clocks are a list in the server's state, checked once a second while
 * there is any: a connection past its deadline has its socket shut down,
 * which libmicrohttpd sees on its next run (the epoll fd reports the
 * hang-up) and closes, as any connection the client dropped. The deadline
 * is therefore kept to within a second. */
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "basic/log.h"
#include "basic/macro.h"
#include "basic/time-util.h"
#include "request-deadline.h"

#define TICK_USEC 1000000ULL

struct RequestDeadlines {
        sd_event_source *tick;
        uint64_t timeout_usec;
        RequestClock *head;
};

static void cut(const RequestDeadlines *d, RequestClock *k) {
        const union MHD_ConnectionInfo *ci;
        char host[NI_MAXHOST] = "?";

        ci = MHD_get_connection_info(k->connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        if (ci && ci->client_addr)
                (void) getnameinfo(ci->client_addr,
                                   ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                                          : sizeof(struct sockaddr_in),
                                   host, sizeof host, NULL, 0, NI_NUMERICHOST);
        log_info("Closing a connection from %s: no whole request within %llu s (request_timeout).", host,
                 (unsigned long long) (d->timeout_usec / 1000000));
        k->since_usec = 0; /* once */
        ci = MHD_get_connection_info(k->connection, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (ci)
                (void) shutdown(ci->connect_fd, SHUT_RDWR);
}

static int arm(RequestDeadlines *d, uint64_t usec) {
        if (sd_event_source_set_time(d->tick, usec) < 0)
                return -EIO;
        return sd_event_source_set_enabled(d->tick, SD_EVENT_ONESHOT);
}

static int on_tick(sd_event_source *es, uint64_t usec, void *userdata) {
        RequestDeadlines *d = userdata;
        uint64_t now = now_monotonic_usec();

        for (RequestClock *k = d->head; k; k = k->next)
                if (k->since_usec && now - k->since_usec >= d->timeout_usec)
                        cut(d, k);
        return d->head ? arm(d, usec + TICK_USEC) : 0;
}

int request_deadlines_new(sd_event *event, unsigned timeout_sec, RequestDeadlines **ret) {
        _cleanup_(request_deadlines_freep) RequestDeadlines *d = calloc(1, sizeof(RequestDeadlines));
        int r;

        if (!d)
                return -ENOMEM;
        if (timeout_sec == 0)
                return -EINVAL;
        d->timeout_usec = (uint64_t) timeout_sec * 1000000;
        r = sd_event_add_time(event, &d->tick, CLOCK_MONOTONIC, 0, TICK_USEC / 10, on_tick, d);
        if (r < 0)
                return r;
        r = sd_event_source_set_enabled(d->tick, SD_EVENT_OFF);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(d);
        return 0;
}

RequestDeadlines *request_deadlines_free(RequestDeadlines *d) {
        if (!d)
                return NULL;
        sd_event_source_disable_unref(d->tick);
        free(d);
        return NULL;
}

void request_clock_start(RequestDeadlines *d, RequestClock *k, struct MHD_Connection *c) {
        int enabled = SD_EVENT_OFF;

        *k = (RequestClock) { .connection = c, .since_usec = now_monotonic_usec(), .next = d->head };
        if (d->head)
                d->head->prev = k;
        d->head = k;
        if (sd_event_source_get_enabled(d->tick, &enabled) >= 0 && enabled == SD_EVENT_OFF &&
            arm(d, k->since_usec + TICK_USEC) < 0)
                log_debug("Could not arm the request deadline's timer.");
}

void request_clock_remove(RequestDeadlines *d, RequestClock *k) {
        if (!k->connection)
                return; /* never started */
        if (k->prev)
                k->prev->next = k->next;
        else if (d->head == k)
                d->head = k->next;
        if (k->next)
                k->next->prev = k->prev;
        *k = (RequestClock) {};
}

void request_clock_stop(RequestClock *k) {
        k->since_usec = 0;
}

void request_clock_restart(RequestClock *k) {
        k->since_usec = now_monotonic_usec();
}

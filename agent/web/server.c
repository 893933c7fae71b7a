/* HTTP server: see server.h.
 *
 * Request life: the first access-handler call allocates the Request and
 * returns; further calls collect the body (capped at WEB_MAX_BODY, the rest
 * read and dropped so the reply can still be sent on a kept-alive
 * connection); the last call, with no data, routes and queues the reply. The
 * completion callback frees the Request. */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "basic/log.h"
#include "basic/macro.h"
#include "cache.h"
#include "problem.h"
#include "router.h"
#include "server.h"

struct WebServer {
        struct MHD_Daemon *mhd;
        sd_event_source *io, *timer;
        HostState *state;
        RenderCache *cache;
        unsigned port;
};

static void request_free(Request *r) {
        if (!r)
                return;
        for (size_t i = 0; i < r->n_params; i++) {
                free(r->param_values[i]);
                free(r->param_names[i]);
        }
        free(r->url);
        free(r->allow);
        free(r->body);
        free(r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
        request_free(*con_cls);
        *con_cls = NULL;
}

static int append_body(Request *r, const char *data, size_t size) {
        char *b;

        if (r->body_too_large)
                return 0;
        if (r->body_size + size > WEB_MAX_BODY) {
                r->body_too_large = true;
                r->body = (free(r->body), NULL);
                r->body_size = 0;
                return 0;
        }
        b = realloc(r->body, r->body_size + size + 1);
        if (!b)
                return -ENOMEM;
        memcpy(b + r->body_size, data, size);
        r->body_size += size;
        b[r->body_size] = 0;
        r->body = b;
        return 0;
}

typedef struct QueryCheck {
        const Route *route;
        const char *bad;       /* the offending parameter */
        ProblemCode problem;
        const char *why;
        unsigned seen;         /* bit i: route->query[i] was given */
} QueryCheck;

/* Every query parameter must be one the route takes, given once, with a value. */
static enum MHD_Result check_query_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
        QueryCheck *q = cls;

        for (unsigned i = 0; q->route->query && q->route->query[i]; i++) {
                if (!streq(q->route->query[i], key))
                        continue;
                if (!value || !*value)
                        q->why = "needs a value";
                else if (q->seen & (1u << i))
                        q->why = "is given more than once";
                else {
                        q->seen |= 1u << i;
                        return MHD_YES;
                }
                q->bad = key;
                q->problem = PROBLEM_INVALID_PARAMETER;
                return MHD_NO;
        }
        q->bad = key;
        q->problem = PROBLEM_UNKNOWN_PARAMETER;
        q->why = "is not a parameter of this resource";
        return MHD_NO;
}

/* application/json, application/(any), (any)/(any), any +json type, or no Accept header at all. */
static bool accepts_json(const Request *r) {
        const char *a = MHD_lookup_connection_value(r->connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);

        return !a || strstr(a, "json") || strstr(a, "*/*") || strstr(a, "application/*");
}

static enum MHD_Result dispatch(Request *r) {
        _cleanup_free_ char *allow = NULL;
        const Route *route = NULL;
        QueryCheck q = {};

        if (strlen(r->url) > WEB_MAX_URL)
                return problem_reply(r, PROBLEM_URI_TOO_LONG, (ProblemField) {},
                                     "the path is longer than %d bytes", WEB_MAX_URL);
        if (r->body_too_large)
                return problem_reply(r, PROBLEM_BODY_TOO_LARGE, (ProblemField) {},
                                     "the body is larger than %d bytes", WEB_MAX_BODY);

        switch (router_match(routes, n_routes, r->method, r->url, r, &route, &allow)) {
        case ROUTE_NOT_FOUND:
                return problem_reply(r, PROBLEM_NOT_FOUND, (ProblemField) {}, "no resource at '%s'", r->url);
        case ROUTE_WRONG_METHOD:
                r->allow = TAKE_PTR(allow);
                return problem_reply(r, PROBLEM_METHOD_NOT_ALLOWED, (ProblemField) {},
                                     "'%s' accepts %s, not %s", r->url, r->allow, r->method);
        case ROUTE_FOUND:
                break;
        }

        if (!accepts_json(r))
                return problem_reply(r, PROBLEM_NOT_ACCEPTABLE, (ProblemField) {},
                                     "this API serves application/json and application/problem+json only");
        q.route = route;
        MHD_get_connection_values(r->connection, MHD_GET_ARGUMENT_KIND, check_query_arg, &q);
        if (q.bad)
                return problem_reply(r, q.problem, (ProblemField) { .parameter = q.bad },
                                     "the query parameter '%s' %s", q.bad, q.why);
        return route->handler(r);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                 const char *version, const char *upload_data, size_t *upload_data_size,
                                 void **con_cls) {
        WebServer *s = cls;
        Request *r = *con_cls;
        enum MHD_Result ret;

        if (!r) {
                r = calloc(1, sizeof(Request));
                if (!r)
                        return MHD_NO;
                r->connection = c;
                r->state = s->state;
                r->cache = s->cache;
                r->method = method;
                r->is_head = streq(method, "HEAD");
                r->url = strdup(url);
                if (!r->url) {
                        free(r);
                        return MHD_NO;
                }
                *con_cls = r;
                return MHD_YES; /* reply on a later call, so keep-alive works */
        }
        if (*upload_data_size > 0) {
                if (append_body(r, upload_data, *upload_data_size) < 0)
                        return MHD_NO;
                *upload_data_size = 0;
                return MHD_YES;
        }
        ret = dispatch(r);
        log_debug("%s %s", method, url);
        return ret;
}

static int arm_timer(WebServer *s) {
        MHD_UNSIGNED_LONG_LONG ms;

        if (MHD_get_timeout(s->mhd, &ms) != MHD_YES)
                return sd_event_source_set_enabled(s->timer, SD_EVENT_OFF);
        if (sd_event_source_set_time_relative(s->timer, ms * 1000) < 0)
                return -EIO;
        return sd_event_source_set_enabled(s->timer, SD_EVENT_ONESHOT);
}

static int on_io(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        WebServer *s = userdata;

        if (MHD_run(s->mhd) != MHD_YES)
                log_debug("MHD_run() reported an error");
        return arm_timer(s);
}

static int on_timer(sd_event_source *es, uint64_t usec, void *userdata) {
        return on_io(NULL, -1, 0, userdata);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
        char buf[512];

        vsnprintf(buf, sizeof buf, fmt, ap);
        buf[strcspn(buf, "\n")] = 0;
        log_debug("microhttpd: %s", buf);
}

/* "HOST:PORT" or "[V6]:PORT" to a socket address; numeric hosts only. */
static int parse_listen(const char *listen, struct sockaddr_storage *ret, socklen_t *ret_len) {
        _cleanup_free_ char *host = NULL;
        struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
                                  .ai_socktype = SOCK_STREAM };
        struct addrinfo *ai = NULL;
        const char *colon = strrchr(listen, ':');
        const char *h;
        size_t hl;

        if (!colon || !colon[1])
                return -EINVAL;
        h = listen;
        hl = (size_t) (colon - listen);
        if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']')
                h++, hl -= 2;
        else if (memchr(h, ':', hl))
                return -EINVAL; /* an IPv6 address needs brackets */
        host = strndup(h, hl);
        if (!host)
                return -ENOMEM;
        if (getaddrinfo(hl ? host : NULL, colon + 1, &hints, &ai) != 0 || !ai)
                return -EINVAL;
        memcpy(ret, ai->ai_addr, ai->ai_addrlen);
        *ret_len = ai->ai_addrlen;
        freeaddrinfo(ai);
        return 0;
}

int web_server_new(sd_event *event, HostState *state, const WebServerConfig *cfg, WebServer **ret) {
        _cleanup_(web_server_freep) WebServer *s = calloc(1, sizeof(WebServer));
        struct sockaddr_storage sa = {};
        socklen_t sa_len = 0;
        const union MHD_DaemonInfo *info;
        int r;

        if (!s)
                return -ENOMEM;
        s->state = state;
        s->cache = render_cache_new();
        if (!s->cache)
                return -ENOMEM;
        r = parse_listen(cfg->listen, &sa, &sa_len);
        if (r < 0)
                return log_error_errno(r, "Invalid listen address '%s': expected HOST:PORT or [IPV6]:PORT.", cfg->listen);

        s->mhd = MHD_start_daemon(
                MHD_USE_EPOLL | MHD_USE_ERROR_LOG | (sa.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
                0, NULL, NULL, on_access, s,
                MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
                MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &sa,
                MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) cfg->timeout_sec,
                MHD_OPTION_CONNECTION_LIMIT, (unsigned) cfg->connection_limit,
                MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned) cfg->per_ip_limit,
                MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) (WEB_MAX_URL * 4 + 16 * 1024),
                MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                MHD_OPTION_END);
        if (!s->mhd)
                return log_error_errno(EADDRNOTAVAIL, "Failed to listen on %s.", cfg->listen);

        info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
        s->port = info ? info->port : 0;
        info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_EPOLL_FD);
        if (!info)
                return log_error_errno(EIO, "libmicrohttpd gave no epoll fd.");

        r = sd_event_add_io(event, &s->io, info->epoll_fd, EPOLLIN, on_io, s);
        if (r < 0)
                return log_error_errno(r, "Failed to watch the HTTP server: %m");
        r = sd_event_add_time(event, &s->timer, CLOCK_MONOTONIC, 0, 0, on_timer, s);
        if (r < 0)
                return log_error_errno(r, "Failed to add the HTTP timer: %m");
        r = arm_timer(s);
        if (r < 0)
                return log_error_errno(r, "Failed to arm the HTTP timer: %m");
        *ret = TAKE_PTR(s);
        return 0;
}

WebServer *web_server_free(WebServer *s) {
        if (!s)
                return NULL;
        sd_event_source_disable_unref(s->io);
        sd_event_source_disable_unref(s->timer);
        if (s->mhd)
                MHD_stop_daemon(s->mhd);
        render_cache_free(s->cache);
        free(s);
        return NULL;
}

unsigned web_server_port(const WebServer *s) {
        return s->port;
}

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
#include <strings.h>
#include <sys/socket.h>

#include "audit.h"
#include "basic/log.h"
#include "basic/macro.h"
#include "basic/time-util.h"
#include "cache.h"
#include "inventory-events.h"
#include "json-body.h"
#include "json-util.h"
#include "metrics.h"
#include "problem.h"
#include "request-deadline.h"
#include "resources.h"
#include "router.h"
#include "server.h"
#include "tls.h"

struct WebServer {
        struct MHD_Daemon *mhd;
        sd_event_source *io, *timer, *kick;
        AgentContext *ctx;
        RenderCache *cache;
        EventStreams *streams;
        RequestDeadlines *deadlines;
        unsigned port;
        bool tls;
        bool metrics_only;   /* the metrics listener: GET /metrics, no authentication */
};

/* What is kept per connection (its socket context), for all its requests. */
typedef struct Peer {
        TlsPeer tls;          /* over TLS: the client certificate, as last verified */
        RequestClock clock;   /* the next request's deadline */
} Peer;

static Peer *peer_of(struct MHD_Connection *c) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

        return ci ? ci->socket_context : NULL;
}

static void request_free(Request *r) {
        if (!r)
                return;
        for (size_t i = 0; i < r->n_params; i++) {
                free(r->param_values[i]);
                free(r->param_names[i]);
        }
        free(r->url);
        free(r->allow);
        free(r->location);
        free(r->who);
        free(r->body);
        free(r);
}

/* The route a request is counted under: the one it was dispatched to, or
 * the one its path and method name (a request refused before routing, a
 * 401, still belongs to its route); NULL when none. */
static const Route *route_of(const Request *r) {
        _cleanup_free_ char *allow = NULL;
        const Route *route = NULL;

        if (r->route)
                return r->route;
        if (r->url && router_match(routes, n_routes, r->method, r->url, NULL, &route, &allow) == ROUTE_FOUND)
                return route;
        return NULL;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
        WebServer *s = cls;
        Request *r = *con_cls;
        Peer *p = peer_of(c);

        if (p)
                request_clock_restart(&p->clock);
        if (r && r->status && s->ctx->metrics)
                web_metrics_request(s->ctx->metrics, s->metrics_only ? NULL : route_of(r), r->method, r->status,
                                    now_monotonic_usec() - r->start_usec);
        /* An accepted request runs its follow-up even if the client left
         * early: it was recorded, and the client can look it up. */
        if (r && r->after)
                r->after(r, r->after_userdata);
        request_free(r);
        *con_cls = NULL;
}

/* Each connection has a Peer: its request deadline and, over TLS, its client
 * certificate's verification. An allocation failure leaves none: the
 * connection then has no deadline but the idle timeout, and over TLS every
 * request verifies afresh. */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe) {
        WebServer *s = cls;
        Peer *p;

        if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
                p = calloc(1, sizeof(Peer));
                if (p)
                        request_clock_start(s->deadlines, &p->clock, c);
                *socket_context = p;
        } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED && *socket_context) {
                p = *socket_context;
                request_clock_remove(s->deadlines, &p->clock);
                tls_peer_done(&p->tls);
                free(p);
                *socket_context = NULL;
        }
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
        bool pretty_seen;
} QueryCheck;

/* Every query parameter must be one the route takes, given once, with a
 * value; "pretty" (true or false) is one every route takes. */
static enum MHD_Result check_query_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
        QueryCheck *q = cls;

        if (streq(key, "pretty")) {
                if (!value || (!streq(value, "true") && !streq(value, "false")))
                        q->why = "must be true or false";
                else if (q->pretty_seen)
                        q->why = "is given more than once";
                else {
                        q->pretty_seen = true;
                        return MHD_YES;
                }
                q->bad = key;
                q->problem = PROBLEM_INVALID_PARAMETER;
                return MHD_NO;
        }

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

/* application/json, application/(any), (any)/(any), any +json type, or no Accept header at all;
 * for an event stream text/event-stream, text/(any) or (any)/(any). */
static bool acceptable(const Request *r, const Route *route) {
        const char *a = MHD_lookup_connection_value(r->connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);

        if (!a || strstr(a, "*/*"))
                return true;
        if (route->text_plain)
                return strstr(a, "text/plain") || strstr(a, "text/*");
        if (route->event_stream)
                return strstr(a, "text/event-stream") || strstr(a, "text/*");
        return strstr(a, "json") || strstr(a, "application/*");
}

static bool is_mutating(const char *method) {
        return !streq(method, "GET") && !streq(method, "HEAD");
}

/* "Bearer <token>", the scheme in any case (RFC 9110 11.1). */
static const char *bearer_token(const Request *r) {
        const char *h = MHD_lookup_connection_value(r->connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);

        if (!h || strncasecmp(h, "Bearer ", 7) != 0)
                return NULL;
        h += 7;
        h += strspn(h, " ");
        return *h ? h : NULL;
}

/* Over TLS every request needs a verified client certificate: sets r->who to
 * its subject, or queues the 401 saying why not. The verification is kept
 * on the connection (on_connection) and redone only for another certificate. */
static bool authenticate_certificate(Request *r, enum MHD_Result *ret) {
        _cleanup_(tls_peer_done) TlsPeer once = {};
        const union MHD_ConnectionInfo *ci;
        Peer *peer = peer_of(r->connection);
        TlsPeer *p = peer ? &peer->tls : &once;
        int k;

        ci = MHD_get_connection_info(r->connection, MHD_CONNECTION_INFO_GNUTLS_SESSION);
        k = ci && ci->tls_session ? tls_peer_verify(p, ci->tls_session) : -EIO;
        if (k == -ENOKEY)
                *ret = problem_reply(r, PROBLEM_UNAUTHORIZED, (ProblemField) {},
                                     "no client certificate: over TLS every request needs one signed by the "
                                     "configured CA (tls_client_ca)");
        else if (k == -EPERM)
                *ret = problem_reply(r, PROBLEM_UNAUTHORIZED, (ProblemField) {}, "the client certificate '%s' %s",
                                     p->subject, p->reason);
        else if (k < 0)
                *ret = k == -ENOMEM ? MHD_NO : problem_reply(r, PROBLEM_UNAUTHORIZED, (ProblemField) {},
                                                               "the client certificate could not be checked");
        else if (!(r->who = strdup(p->subject)))
                *ret = MHD_NO;
        else {
                if (k == 0)
                        log_debug("Client certificate subject '%s' verified.", r->who);
                return true;
        }
        return false;
}

/* Sets r->role and r->who, or queues the 401. Over TLS a bearer token,
 * when given, decides the role; otherwise the certificate's subject does
 * (ROLE_NONE when unmapped: dispatch() answers 403). */
static bool authenticate(Request *r, enum MHD_Result *ret) {
        const char *token = bearer_token(r), *name = NULL;
        const char *h = MHD_lookup_connection_value(r->connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);

        if (r->ctx->tls) {
                if (!authenticate_certificate(r, ret))
                        return false;
                if (!h) {
                        r->role = auth_subject_role(r->ctx->auth, r->who);
                        return true;
                }
        }
        if (!h) {
                *ret = problem_reply(r, PROBLEM_UNAUTHORIZED, (ProblemField) {},
                                     "send 'Authorization: Bearer <token>' with a token listed in the tokens file");
                return false;
        }
        r->role = token ? auth_check_token(r->ctx->auth, token, &name) : ROLE_NONE;
        if (r->role == ROLE_NONE) {
                *ret = problem_reply(r, PROBLEM_UNAUTHORIZED, (ProblemField) {},
                                     token ? "the bearer token is not valid" : "only the Bearer scheme is accepted");
                return false;
        }
        free(r->who); /* a certificate's subject: the token decides */
        r->who = strdup(name);
        if (!r->who) {
                *ret = MHD_NO;
                return false;
        }
        return true;
}

int request_credential(const Request *r, char **ret) {
        const char *token = bearer_token(r);
        char hex[65];
        char *c;
        int k;

        if (token && auth_hash_token_hex(token, hex) < 0)
                return -ENOMEM;
        k = token ? asprintf(&c, "token:%s", hex) : asprintf(&c, "subject:%s", strempty(r->who));
        if (k < 0)
                return -ENOMEM;
        *ret = c;
        return 0;
}

/* Mutating requests carry JSON, and say so: a form or text/plain request
 * from a browser page never gets this far. */
static bool has_json_content_type(const Request *r) {
        const char *ct = MHD_lookup_connection_value(r->connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);

        return ct && strncasecmp(ct, "application/json", 16) == 0 && (ct[16] == 0 || ct[16] == ';' || ct[16] == ' ');
}

static enum MHD_Result dispatch(Request *r) {
        _cleanup_free_ char *allow = NULL;
        const Route *route = NULL;
        QueryCheck q = {};
        Role need;
        enum MHD_Result ret;

        if (strlen(r->url) > WEB_MAX_URL)
                return problem_reply(r, PROBLEM_URI_TOO_LONG, (ProblemField) {},
                                     "the path is longer than %d bytes", WEB_MAX_URL);
        if (r->body_too_large)
                return problem_reply(r, PROBLEM_BODY_TOO_LARGE, (ProblemField) {},
                                     "the body is larger than %d bytes", WEB_MAX_BODY);
        if (!authenticate(r, &ret))
                return ret;

        switch (router_match(routes, n_routes, r->method, r->url, r, &route, &allow)) {
        case ROUTE_NOT_FOUND:
                return problem_reply(r, PROBLEM_NOT_FOUND, (ProblemField) {}, "no resource at '%s'", r->url);
        case ROUTE_WRONG_METHOD:
                r->allow = TAKE_PTR(allow);
                return problem_reply(r, PROBLEM_METHOD_NOT_ALLOWED, (ProblemField) {},
                                     "'%s' accepts %s, not %s", r->url, r->allow, r->method);
        case ROUTE_FOUND:
                r->route = route;
                break;
        }

        need = route->role == ROLE_NONE ? ROLE_ADMIN : route->role;
        if (r->role == ROLE_NONE) /* a verified client certificate without a tls_client_role */
                return problem_reply(r, PROBLEM_FORBIDDEN, (ProblemField) {},
                                     "the client certificate subject '%s' has no role: map it with "
                                     "'tls_client_role = <role> %s'", r->who, r->who);
        if (r->role < need)
                return problem_reply(r, PROBLEM_FORBIDDEN, (ProblemField) {},
                                     "%s %s needs the %s role; '%s' has %s", route->method, route->pattern,
                                     role_to_string(need), r->who, role_to_string(r->role));

        if (!acceptable(r, route))
                return problem_reply(r, PROBLEM_NOT_ACCEPTABLE, (ProblemField) {}, "%s",
                                     route->event_stream ? "this resource serves text/event-stream (errors as "
                                                           "application/problem+json)"
                                                         : "this API serves application/json and "
                                                           "application/problem+json only");
        q.route = route;
        MHD_get_connection_values(r->connection, MHD_GET_ARGUMENT_KIND, check_query_arg, &q);
        if (q.bad)
                return problem_reply(r, q.problem, (ProblemField) { .parameter = q.bad },
                                     "the query parameter '%s' %s", q.bad, q.why);
        if (is_mutating(r->method) && (r->body_size > 0 || !streq(r->method, "DELETE")) &&
            !has_json_content_type(r))
                return problem_reply(r, PROBLEM_UNSUPPORTED_MEDIA_TYPE, (ProblemField) {},
                                     "%s needs 'Content-Type: application/json'", r->method);
        return route->handler(r);
}

/* The metrics listener: one resource, no credentials (it is meant for a
 * scraper on the host itself, and loopback unless allowed otherwise). */
static enum MHD_Result dispatch_metrics(Request *r) {
        if (!streq(r->url, "/metrics"))
                return problem_reply(r, PROBLEM_NOT_FOUND, (ProblemField) {},
                                     "no resource at '%s': this listener serves GET /metrics only", r->url);
        if (!streq(r->method, "GET") && !r->is_head) {
                r->allow = strdup("GET, HEAD");
                return problem_reply(r, PROBLEM_METHOD_NOT_ALLOWED, (ProblemField) {}, "'/metrics' accepts GET, HEAD, "
                                     "not %s", r->method);
        }
        return get_metrics(r);
}

/* Who asked what, and what came of it: every mutating request, allowed or not. */
static void audit(const Request *r) {
        log_audit(r->who ?: "anonymous", role_to_string(r->role), r->method, r->url, r->status,
                  r->body_size ? r->body : NULL);
}

bool request_json_body(Request *r, const char *const *fields, json_object **ret, enum MHD_Result *ret_mhd) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        _cleanup_free_ char *duplicate = NULL;
        int k;

        if (r->body_size == 0)
                o = json_object_new_object();
        else {
                k = json_body_parse(r->body, r->body_size, &o, &duplicate);
                if (k == -ENOTUNIQ) {
                        *ret_mhd = problem_reply(r, PROBLEM_INVALID_BODY, (ProblemField) { .pointer = duplicate },
                                                 "the key '%s' appears twice: send each key once", duplicate);
                        return false;
                }
                if (k == -EBADMSG) {
                        *ret_mhd = problem_reply(r, PROBLEM_INVALID_BODY, (ProblemField) { .pointer = "" },
                                                 "the body is not valid JSON");
                        return false;
                }
                if (k < 0)
                        o = NULL;
                else if (!o) /* the text "null" */
                        o = json_object_new_array();
        }
        if (!o) {
                *ret_mhd = MHD_NO;
                return false;
        }
        if (!json_object_is_type(o, json_type_object)) {
                *ret_mhd = problem_reply(r, PROBLEM_INVALID_BODY, (ProblemField) { .pointer = "" },
                                         "the body must be a JSON object");
                return false;
        }
        json_object_object_foreach(o, key, value) {
                bool known = false;
                (void) value;

                for (size_t i = 0; fields && fields[i] && !known; i++)
                        known = streq(fields[i], key);
                if (!known) {
                        _cleanup_free_ char *pointer = json_pointer_of_key(key);

                        *ret_mhd = problem_reply(r, PROBLEM_INVALID_BODY, (ProblemField) { .pointer = pointer ?: "" },
                                                 "unknown field '%s'", key);
                        return false;
                }
        }
        *ret = TAKE_PTR(o);
        return true;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                 const char *version, const char *upload_data, size_t *upload_data_size,
                                 void **con_cls) {
        WebServer *s = cls;
        Request *r = *con_cls;
        enum MHD_Result ret;
        Peer *p;

        if (!r) {
                r = calloc(1, sizeof(Request));
                if (!r)
                        return MHD_NO;
                r->connection = c;
                r->start_usec = now_monotonic_usec();
                r->ctx = s->ctx;
                r->state = s->ctx->host;
                r->cache = s->cache;
                r->streams = s->streams ?: s->ctx->streams;
                r->method = method;
                r->is_head = streq(method, "HEAD");
                /* Before anything can fail, so that a problem is indented too (the value is checked later). */
                r->pretty = streq_ptr(MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "pretty"), "true");
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
        p = peer_of(c);
        if (p)
                request_clock_stop(&p->clock); /* all of it arrived */
        ret = s->metrics_only ? dispatch_metrics(r) : dispatch(r);
        log_debug("%s %s: %u", method, url, r->status);
        if (is_mutating(method) && !s->metrics_only)
                audit(r);
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

/* One MHD_run() soon, for connections resumed outside of it. */
static int on_kick(sd_event_source *es, void *userdata) {
        return on_io(NULL, -1, 0, userdata);
}

static void kick(void *userdata) {
        WebServer *s = userdata;

        if (sd_event_source_set_enabled(s->kick, SD_EVENT_ONESHOT) < 0)
                log_debug("Could not schedule the HTTP server's run.");
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap) _printf_(2, 0);
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

static bool is_loopback(const struct sockaddr_storage *sa) {
        if (sa->ss_family == AF_INET)
                return (ntohl(((const struct sockaddr_in *) sa)->sin_addr.s_addr) >> 24) == 127;
        if (sa->ss_family == AF_INET6) {
                const struct in6_addr *a = &((const struct sockaddr_in6 *) sa)->sin6_addr;
                return IN6_IS_ADDR_LOOPBACK(a) ||
                       (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
        }
        return false;
}

int web_server_new(sd_event *event, AgentContext *ctx, const WebServerConfig *cfg, WebServer **ret) {
        _cleanup_(web_server_freep) WebServer *s = calloc(1, sizeof(WebServer));
        struct sockaddr_storage sa = {};
        socklen_t sa_len = 0;
        const union MHD_DaemonInfo *info;
        int r;

        if (!s)
                return -ENOMEM;
        s->ctx = ctx;
        s->tls = cfg->tls != NULL;
        s->metrics_only = cfg->metrics_only;
        if (!s->metrics_only) {
                s->cache = render_cache_new();
                if (!s->cache)
                        return -ENOMEM;
                r = event_streams_new(event, ctx->events, &cfg->events, &s->streams);
                if (r < 0)
                        return log_error_errno(r, "Failed to set up event streams: %m");
                ctx->tls = s->tls;
                ctx->streams = s->streams;
        }
        r = request_deadlines_new(event, cfg->request_timeout_sec, &s->deadlines);
        if (r < 0)
                return log_error_errno(r, "Failed to set up request deadlines: %m");
        r = parse_listen(cfg->listen, &sa, &sa_len);
        if (r < 0)
                return log_error_errno(r, "Invalid listen address '%s': expected HOST:PORT or [IPV6]:PORT.", cfg->listen);
        if (!s->tls && !is_loopback(&sa)) {
                if (!cfg->allow_plain_http)
                        return log_error_errno(EPERM, "Refusing plain HTTP on %s, beyond loopback: configure TLS "
                                               "(tls_certificate, tls_key, tls_client_ca), or --allow-plain-http.",
                                               cfg->listen);
                log_warning("Serving plain HTTP on %s, beyond loopback (--allow-plain-http): tokens travel in "
                            "clear text.", cfg->listen);
        }

        /* With a trust list libmicrohttpd requests a client certificate
         * (and verifies nothing: authenticate_certificate() does). */
        struct MHD_OptionItem tls_options[] = {
                { MHD_OPTION_HTTPS_MEM_CERT, 0, cfg->tls ? cfg->tls->cert_pem : NULL },
                { MHD_OPTION_HTTPS_MEM_KEY, 0, cfg->tls ? cfg->tls->key_pem : NULL },
                { MHD_OPTION_HTTPS_MEM_TRUST, 0, cfg->tls ? cfg->tls->trust_pem : NULL },
                { MHD_OPTION_HTTPS_PRIORITIES, 0, (void *) TLS_PRIORITIES },
                { MHD_OPTION_END, 0, NULL },
        };
        if (cfg->tls && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
                return log_error_errno(EOPNOTSUPP, "This libmicrohttpd was built without TLS.");

        s->mhd = MHD_start_daemon(
                MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG |
                        (sa.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0) |
                        (cfg->tls ? MHD_USE_TLS : 0),
                0, NULL, NULL, on_access, s,
                /* First, so that what the other options log goes through it. */
                MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
                MHD_OPTION_ARRAY, cfg->tls ? tls_options : &tls_options[ELEMENTSOF(tls_options) - 1],
                MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
                MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &sa,
                MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) cfg->timeout_sec,
                MHD_OPTION_CONNECTION_LIMIT, (unsigned) cfg->connection_limit,
                MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned) cfg->per_ip_limit,
                MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) (WEB_MAX_URL * 4 + 16 * 1024),
                MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                MHD_OPTION_END);
        if (!s->mhd)
                return log_error_errno(EADDRNOTAVAIL, "Failed to listen on %s%s.", cfg->listen,
                                       cfg->tls ? " with TLS (see the debug log)" : "");

        info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
        s->port = info ? info->port : 0;
        info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_EPOLL_FD);
        if (!info)
                return log_error_errno(EIO, "libmicrohttpd gave no epoll fd.");

        r = sd_event_add_io(event, &s->io, info->epoll_fd, EPOLLIN, on_io, s);
        if (r < 0)
                return log_error_errno(r, "Failed to watch the HTTP server: %m");
        /* Accuracy 1 µs, not sd-event's default 250 ms: MHD asks for a run
         * "now" (timeout 0) when a connection can make progress without a
         * new epoll edge (a reply it sends in parts), and coalescing that
         * wake-up would stall such a reply 250 ms per part. */
        r = sd_event_add_time(event, &s->timer, CLOCK_MONOTONIC, 0, 1000, on_timer, s);
        if (r < 0)
                return log_error_errno(r, "Failed to add the HTTP timer: %m");
        r = arm_timer(s);
        if (r < 0)
                return log_error_errno(r, "Failed to arm the HTTP timer: %m");
        r = sd_event_add_defer(event, &s->kick, on_kick, s);
        if (r >= 0)
                r = sd_event_source_set_enabled(s->kick, SD_EVENT_OFF);
        if (r < 0)
                return log_error_errno(r, "Failed to add the HTTP server's wake-up: %m");
        if (s->streams)
                event_streams_set_waker(s->streams, kick, s);
        *ret = TAKE_PTR(s);
        return 0;
}

/* Streams end cleanly: each is resumed with the end of its reply queued,
 * and the daemon runs until it has sent them (or a few rounds, for clients
 * that do not read). No connection may be suspended when it stops. */
static void end_streams(WebServer *s) {
        event_streams_end_all(s->streams);
        for (unsigned i = 0; i < 8 && event_streams_count(s->streams) > 0; i++)
                if (MHD_run(s->mhd) != MHD_YES)
                        break;
        if (event_streams_count(s->streams) > 0)
                log_debug("%zu event streams did not end cleanly: closing them.", event_streams_count(s->streams));
}

WebServer *web_server_free(WebServer *s) {
        if (!s)
                return NULL;
        sd_event_source_disable_unref(s->io);
        sd_event_source_disable_unref(s->timer);
        sd_event_source_disable_unref(s->kick);
        if (s->streams) {
                event_streams_set_waker(s->streams, NULL, NULL);
                if (s->ctx->streams == s->streams)
                        s->ctx->streams = NULL;
        }
        if (s->mhd) {
                if (s->streams)
                        end_streams(s);
                MHD_stop_daemon(s->mhd);
        }
        event_streams_free(s->streams);
        request_deadlines_free(s->deadlines);
        render_cache_free(s->cache);
        free(s);
        return NULL;
}

unsigned web_server_port(const WebServer *s) {
        return s->port;
}

void web_server_inventory_changed(WebServer *s, const InventoryDiff *diff, const char *cause) {
        inventory_events_publish(s->ctx->events, s->cache, s->ctx->host, diff, cause);
}

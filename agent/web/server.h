/* The HTTP server: libmicrohttpd driven from the agent's sd-event loop
 * through its epoll fd (one thread; handlers never race each other or a
 * rescan), with explicit limits on connections, time and request size. */
#pragma once

#include <systemd/sd-event.h>

#include "context.h"
#include "event-streams.h"
#include "tls.h"

typedef struct WebServerConfig {
        const char *listen;          /* "127.0.0.1:8427", "[::1]:8427" */
        unsigned connection_limit;   /* all clients */
        unsigned per_ip_limit;       /* one client address */
        unsigned timeout_sec;        /* idle connection timeout */
        unsigned request_timeout_sec; /* a whole request, from the connection ready for it */
        bool allow_plain_http;       /* beyond loopback (else refused at start) */
        const TlsCredentials *tls;   /* mutual TLS; NULL: plain HTTP. Outlives the server */
        EventStreamsConfig events;   /* GET /v1/events, following ctx->events */
        bool metrics_only;           /* serves GET /metrics alone, without credentials, never TLS */
} WebServerConfig;

#define WEB_DEFAULT_LISTEN "127.0.0.1:8427"
#define WEB_MAX_URL 2048             /* bytes of decoded path */
#define WEB_MAX_BODY (64 * 1024)     /* bytes of request body */

typedef struct WebServer WebServer;

int web_server_new(sd_event *event, AgentContext *ctx, const WebServerConfig *cfg, WebServer **ret);
WebServer *web_server_free(WebServer *s);
static inline void web_server_freep(WebServer **s) {
        web_server_free(*s);
}

/* The port actually bound (useful with port 0). */
unsigned web_server_port(const WebServer *s);

/* A new inventory snapshot (the host state's listener): its events on the
 * stream, the lists rendered for their ETags. */
void web_server_inventory_changed(WebServer *s, const InventoryDiff *diff, const char *cause);

/* What request handlers work with, owned by main(): the host model, the
 * durable state, who may do what, the reboot machinery, the worker and the
 * event log. */
#pragma once

#include <stdbool.h>

#include <systemd/sd-event.h>

#include "auth.h"
#include "host/host-state.h"
#include "host/host-watch.h"
#include "state/event-log.h"
#include "state/reboot.h"
#include "state/store.h"
#include "state/worker.h"

struct WebMetrics;
struct EventStreams;

/* Configuration reloads (SIGHUP), counted by main() for the metrics. */
typedef struct ReloadStats {
        uint64_t applied, refused;
        bool last_refused;
} ReloadStats;

typedef struct AgentContext {
        HostState *host;
        Store *store;          /* the state directory */
        Auth *auth;
        Rebooter *rebooter;
        EventLog *events;      /* what changed, for GET /v1/events */
        Worker *worker;        /* runs the long changes off the loop, one at a time */
        sd_event *event;
        HostWatch *watch;      /* NULL with --once */
        bool tls;              /* connections are TLS with verified client certificates */
        bool run_tools_in_root; /* the bootloader's regeneration tool also under a test root */
        struct WebMetrics *metrics;     /* HTTP counters, owned by main() */
        struct EventStreams *streams;   /* the API server's, for the metrics listener */
        ReloadStats reloads;
} AgentContext;

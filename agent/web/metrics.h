/* What the HTTP layer counts for GET /v1/metrics: requests by route, method
 * and status, and how long the routes take to answer. Labels come from the
 * route table and a fixed list of methods, never from what a client sent,
 * so a scanner probing random paths cannot grow the series. */
#pragma once

#include <stdint.h>

#include "basic/histogram.h"
#include "router.h"

typedef struct RequestSeries {
        const Route *route;  /* NULL: no route matched (404, or refused before routing) */
        unsigned method;     /* index into web_metrics_methods */
        unsigned status;
        uint64_t count;
} RequestSeries;

typedef struct WebMetrics {
        RequestSeries *series;
        size_t n_series;
        Histogram *latency;  /* per route, indexed as routes[]; event streams are not timed */
        uint64_t started_usec; /* CLOCK_REALTIME */
} WebMetrics;

extern const char *const web_metrics_methods[];
extern const unsigned web_metrics_n_methods;

int web_metrics_new(WebMetrics **ret);
WebMetrics *web_metrics_free(WebMetrics *m);
static inline void web_metrics_freep(WebMetrics **m) {
        web_metrics_free(*m);
}

/* One request answered: route NULL when none matched. An allocation
 * failure loses the count, never the reply. */
void web_metrics_request(WebMetrics *m, const Route *route, const char *method, unsigned status, uint64_t usec);

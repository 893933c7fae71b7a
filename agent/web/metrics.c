/* HTTP request metrics: see metrics.h. */
#include <stdlib.h>

#include "basic/macro.h"
#include "basic/time-util.h"
#include "metrics.h"

const char *const web_metrics_methods[] = { "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other" };
const unsigned web_metrics_n_methods = ELEMENTSOF(web_metrics_methods);

int web_metrics_new(WebMetrics **ret) {
        _cleanup_(web_metrics_freep) WebMetrics *m = calloc(1, sizeof(WebMetrics));

        if (!m)
                return -ENOMEM;
        m->latency = calloc(n_routes, sizeof(Histogram));
        if (!m->latency)
                return -ENOMEM;
        m->started_usec = now_realtime_usec();
        *ret = TAKE_PTR(m);
        return 0;
}

WebMetrics *web_metrics_free(WebMetrics *m) {
        if (m) {
                free(m->series);
                free(m->latency);
                free(m);
        }
        return NULL;
}

static unsigned method_index(const char *method) {
        for (unsigned i = 0; i + 1 < web_metrics_n_methods; i++)
                if (streq(method, web_metrics_methods[i]))
                        return i;
        return web_metrics_n_methods - 1;
}

/* At most routes × methods × the statuses the agent sends: a few hundred
 * series, searched linearly (a request costs far more than this). */
static RequestSeries *series_get(WebMetrics *m, const Route *route, unsigned method, unsigned status) {
        RequestSeries *n;

        for (size_t i = 0; i < m->n_series; i++)
                if (m->series[i].route == route && m->series[i].method == method && m->series[i].status == status)
                        return &m->series[i];
        n = realloc(m->series, (m->n_series + 1) * sizeof(RequestSeries));
        if (!n)
                return NULL;
        m->series = n;
        n[m->n_series] = (RequestSeries) { .route = route, .method = method, .status = status };
        return &n[m->n_series++];
}

void web_metrics_request(WebMetrics *m, const Route *route, const char *method, unsigned status, uint64_t usec) {
        RequestSeries *s = series_get(m, route, method_index(method), status);

        if (s)
                s->count++;
        if (route && !route->event_stream)
                histogram_observe(&m->latency[route - routes], usec);
}

/* GET /v1/metrics (and GET /metrics on the optional metrics_listen): the
 * agent in the Prometheus text exposition format, version 0.0.4. Read
 * afresh on every scrape from what the agent holds: the HTTP counters, the
 * host state's timings and snapshot, the durable state, the watch's
 * counters; only "reboot pending" reads files (the bootloader's, as GET
 * /v1/kernel-cmdline does). Every series has a fixed set of labels taken
 * from the route table and the model's own enums, never from a client. */
#include <inttypes.h>
#include <stdio.h>
#include <sys/resource.h>

#include "basic/macro.h"
#include "event-streams.h"
#include "host/kcmdline-state.h"
#include "metrics.h"
#include "problem.h"
#include "reply.h"
#include "resources.h"

#define CONTENT_TYPE_PROMETHEUS "text/plain; version=0.0.4; charset=utf-8"

static void header(FILE *f, const char *name, const char *type, const char *help) {
        fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void gauge(FILE *f, const char *name, const char *help, double v) {
        header(f, name, "gauge", help);
        fprintf(f, "%s %.17g\n", name, v);
}

static void counter(FILE *f, const char *name, const char *help, uint64_t v) {
        header(f, name, "counter", help);
        fprintf(f, "%s %" PRIu64 "\n", name, v);
}

static double seconds(uint64_t usec) {
        return (double) usec / 1e6;
}

/* The series of one histogram; labels "" or 'a="x",b="y"'. */
static void histogram_series(FILE *f, const char *name, const char *labels, const Histogram *h) {
        const char *sep = *labels ? "," : "";
        uint64_t cumulative = 0;

        for (unsigned i = 0; i < HISTOGRAM_BUCKETS; i++) {
                cumulative += h->buckets[i];
                fprintf(f, "%s_bucket{%s%sle=\"%g\"} %" PRIu64 "\n", name, labels, sep,
                        seconds(histogram_bounds_usec[i]), cumulative);
        }
        fprintf(f, "%s_bucket{%s%sle=\"+Inf\"} %" PRIu64 "\n", name, labels, sep, h->count);
        fprintf(f, "%s_sum%s%s%s %.6f\n", name, *labels ? "{" : "", labels, *labels ? "}" : "", seconds(h->sum_usec));
        fprintf(f, "%s_count%s%s%s %" PRIu64 "\n", name, *labels ? "{" : "", labels, *labels ? "}" : "", h->count);
}

static void write_http(FILE *f, const WebMetrics *m) {
        header(f, "hostdevd_http_requests_total", "counter",
               "HTTP requests answered, by route pattern (\"unmatched\": none), method and status code.");
        for (size_t i = 0; i < m->n_series; i++) {
                const RequestSeries *s = &m->series[i];

                fprintf(f, "hostdevd_http_requests_total{route=\"%s\",method=\"%s\",code=\"%u\"} %" PRIu64 "\n",
                        s->route ? s->route->pattern : "unmatched", web_metrics_methods[s->method], s->status,
                        s->count);
        }
        header(f, "hostdevd_http_request_duration_seconds", "histogram",
               "Time from a request's arrival to the end of its reply, by route (event streams are not timed).");
        for (size_t i = 0; i < n_routes; i++) {
                char labels[160];

                if (m->latency[i].count == 0)
                        continue;
                snprintf(labels, sizeof labels, "route=\"%s\",method=\"%s\"", routes[i].pattern, routes[i].method);
                histogram_series(f, "hostdevd_http_request_duration_seconds", labels, &m->latency[i]);
        }
}

static void write_inventory(FILE *f, const HostState *s) {
        const Inventory *inv = s->inventory;
        size_t assignable = 0, host_used = 0, vfio = 0, groups_assignable = 0, groups_viable = 0;

        for (size_t i = 0; i < inv->n_devices; i++) {
                const PciDevice *d = &inv->devices[i];

                assignable += d->assignable;
                host_used += d->n_usage > 0;
                vfio += streq_ptr(d->driver, "vfio-pci");
        }
        for (size_t i = 0; i < inv->n_groups; i++) {
                groups_assignable += inv->groups[i].assignable;
                groups_viable += inv->groups[i].viable;
        }
        gauge(f, "hostdevd_pci_functions", "PCI functions in the inventory.", (double) inv->n_devices);
        gauge(f, "hostdevd_pci_functions_assignable", "PCI functions that may be given to a VM (with their group).",
              (double) assignable);
        gauge(f, "hostdevd_pci_functions_host_used",
              "PCI functions the host itself uses (root disk, swap, management NIC, boot display...).",
              (double) host_used);
        gauge(f, "hostdevd_pci_functions_vfio_pci", "PCI functions bound to vfio-pci.", (double) vfio);
        gauge(f, "hostdevd_iommu_groups", "IOMMU groups.", (double) inv->n_groups);
        gauge(f, "hostdevd_iommu_groups_assignable", "IOMMU groups that may be given to a VM as a whole.",
              (double) groups_assignable);
        gauge(f, "hostdevd_iommu_groups_viable", "IOMMU groups usable through VFIO now.", (double) groups_viable);
        gauge(f, "hostdevd_iommu_active", "1 when the kernel made IOMMU groups.", inv->iommu_active);
        gauge(f, "hostdevd_vfio_holders", "VFIO groups held open, counted once per process and group.",
              (double) inv->n_holders);
        counter(f, "hostdevd_inventory_snapshots_total", "Inventory snapshots made since the start (the first scan "
                "counts).", s->generation);
        header(f, "hostdevd_scan_duration_seconds", "histogram", "Full scans of the host's PCI functions.");
        histogram_series(f, "hostdevd_scan_duration_seconds", "", &s->stats.scan);
        header(f, "hostdevd_refresh_duration_seconds", "histogram",
               "Incremental refreshes: uevents, VFIO opens and closes, consistency passes, operations.");
        histogram_series(f, "hostdevd_refresh_duration_seconds", "", &s->stats.refresh);
        counter(f, "hostdevd_scan_failures_total", "Full scans that failed (the previous snapshot stayed).",
                s->stats.scan_failures);
        counter(f, "hostdevd_refresh_failures_total", "Refreshes that failed (the previous snapshot stayed).",
                s->stats.refresh_failures);
}

static void write_watch(FILE *f, const HostWatch *w) {
        const HostWatchStats *st;

        if (!w)
                return;
        st = host_watch_stats(w);
        counter(f, "hostdevd_uevents_total", "PCI and VFIO uevents taken.", st->events);
        counter(f, "hostdevd_uevents_ignored_total", "uevents of another subsystem, or malformed.", st->events_ignored);
        counter(f, "hostdevd_uevent_overruns_total", "Times the uevent socket overflowed (a full check followed).",
                st->overruns);
        counter(f, "hostdevd_vfio_node_events_total", "Opens, closes, creations and removals of /dev/vfio nodes.",
                st->vfio_node_events);
        counter(f, "hostdevd_consistency_passes_total", "Periodic checks of the inventory against sysfs.",
                st->consistency_passes);
        counter(f, "hostdevd_consistency_fixed_total", "Devices the consistency passes found changed.",
                st->consistency_fixed);
}

static void write_state(FILE *f, const Store *store) {
        static const char *const kinds[] = { "bind", "release", "sriov", "mdev", "kernel-cmdline", "reboot" };
        uint64_t n[ELEMENTSOF(kinds)][_OPERATION_STATE_MAX] = {};

        gauge(f, "hostdevd_maintenance", "1 while the host is in maintenance mode.", store->maintenance.enabled);
        for (size_t i = 0; i < store->n_operations; i++)
                for (size_t k = 0; k < ELEMENTSOF(kinds); k++)
                        if (streq(store->operations[i]->kind, kinds[k]))
                                n[k][store->operations[i]->state]++;
        header(f, "hostdevd_operations", "gauge", "Operations kept in the state directory, by kind and state.");
        for (size_t k = 0; k < ELEMENTSOF(kinds); k++)
                for (unsigned s = 0; s < _OPERATION_STATE_MAX; s++)
                        fprintf(f, "hostdevd_operations{kind=\"%s\",state=\"%s\"} %" PRIu64 "\n", kinds[k],
                                operation_state_to_string(s), n[k][s]);
}

/* Pending kernel arguments: what runs differs from what the next boot gets.
 * Left out when either line cannot be read. */
static void write_pending(FILE *f, const HostRoot *root) {
        _cleanup_(kc_state_done) KcState s = {};
        _cleanup_free_ PendingArg *p = NULL;
        size_t n = 0;

        if (kc_state_load(root, &s) < 0 || !s.running || !s.config || !s.config->configured ||
            kcmdline_pending(s.running, s.config->configured, kc_state_kind(&s), &p, &n) < 0)
                return;
        gauge(f, "hostdevd_reboot_pending", "1 when the configured kernel command line differs from the running one.",
              n > 0);
        gauge(f, "hostdevd_kernel_cmdline_pending_arguments",
              "Kernel arguments the next boot adds or drops compared with the running kernel.", (double) n);
}

static void write_agent(FILE *f, const AgentContext *ctx, const WebMetrics *m, size_t n_streams) {
        struct rusage ru;

        header(f, "hostdevd_build_info", "gauge", "The agent's version.");
        fprintf(f, "hostdevd_build_info{version=\"%s\"} 1\n", PACKAGE_VERSION);
        gauge(f, "process_start_time_seconds", "Start time of the process since the epoch, in seconds.",
              seconds(m->started_usec));
        if (getrusage(RUSAGE_SELF, &ru) == 0) {
                header(f, "process_cpu_seconds_total", "counter", "User and system CPU time spent, in seconds.");
                fprintf(f, "process_cpu_seconds_total %.6f\n",
                        (double) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                                (double) (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
        }
        gauge(f, "hostdevd_event_streams", "Clients following GET /v1/events.", (double) n_streams);
        header(f, "hostdevd_config_reloads_total", "counter", "Reloads asked for with SIGHUP, by result.");
        fprintf(f, "hostdevd_config_reloads_total{result=\"applied\"} %" PRIu64 "\n", ctx->reloads.applied);
        fprintf(f, "hostdevd_config_reloads_total{result=\"refused\"} %" PRIu64 "\n", ctx->reloads.refused);
        gauge(f, "hostdevd_config_last_reload_successful",
              "0 when the last reload was refused (a broken file: the previous configuration stays).",
              ctx->reloads.last_refused ? 0 : 1);
}

/* The whole exposition, newly allocated; NULL when out of memory. */
static char *metrics_text(const Request *r, size_t *ret_size) {
        const AgentContext *ctx = r->ctx;
        char *text = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);

        if (!f)
                return NULL;
        write_agent(f, ctx, ctx->metrics, r->streams ? event_streams_count(r->streams) : 0);
        write_http(f, ctx->metrics);
        write_inventory(f, ctx->host);
        write_watch(f, ctx->watch);
        write_state(f, ctx->store);
        write_pending(f, ctx->host->root);
        if (ferror(f) | fclose(f)) {
                free(text);
                return NULL;
        }
        *ret_size = size;
        return text;
}

enum MHD_Result get_metrics(Request *r) {
        RenderedBody *b;
        enum MHD_Result ret;
        size_t size = 0;
        char *text = metrics_text(r, &size);

        if (!text)
                return problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {}, "out of memory");
        b = rendered_body_new_take(text, size); /* takes text */
        if (!b)
                return problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {}, "out of memory");
        b->content_type = CONTENT_TYPE_PROMETHEUS;
        ret = reply_rendered(r, b);
        rendered_body_unref(b);
        return ret;
}

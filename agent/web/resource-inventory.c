/* GET /v1/inventory: when the inventory was last changed, what it holds
 * and how it follows the host; POST /v1/inventory/rescan: scan again now. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "basic/log.h"
#include "basic/macro.h"
#include "json-util.h"
#include "problem.h"
#include "reply.h"
#include "resources.h"

/* How the inventory follows the host: the event source and its counters. */
static json_object *view_watch(const HostWatch *w) {
        const HostWatchStats *st = w ? host_watch_stats(w) : NULL;
        json_object *o;

        if (!st)
                return NULL;
        o = json_object_new_object();
        json_add_str(o, "source", st->source);
        json_add_bool(o, "vfio_inotify", st->vfio_inotify);
        json_add_int(o, "events", (int64_t) st->events);
        json_add_int(o, "events_ignored", (int64_t) st->events_ignored);
        json_add_int(o, "overruns", (int64_t) st->overruns);
        json_add_int(o, "vfio_node_events", (int64_t) st->vfio_node_events);
        json_add_int(o, "refreshes", (int64_t) st->refreshes);
        json_add_int(o, "snapshots", (int64_t) st->snapshots);
        json_add_int(o, "consistency_passes", (int64_t) st->consistency_passes);
        json_add_int(o, "consistency_fixed", (int64_t) st->consistency_fixed);
        json_add(o, "last_consistency_at",
                 st->last_consistency_usec ? json_timestamp(st->last_consistency_usec) : NULL);
        json_add_int(o, "last_refresh_usec", (int64_t) st->last_refresh_usec);
        return o;
}

static json_object *view_inventory(const HostState *s, const HostWatch *w) {
        const Inventory *inv = s->inventory;
        json_object *o = json_object_new_object();

        json_add_int(o, "generation", (int64_t) s->generation);
        json_add(o, "scanned_at", json_timestamp(inv->scanned_at_usec));
        json_add_int(o, "devices", (int64_t) inv->n_devices);
        json_add_int(o, "iommu_groups", (int64_t) inv->n_groups);
        json_add_bool(o, "iommu_active", inv->iommu_active);
        json_add(o, "watch", view_watch(w));
        return o;
}

enum MHD_Result get_inventory(Request *r) {
        json_object *o = view_inventory(r->state, r->ctx->watch);

        if (!o)
                return problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {}, "out of memory");
        return reply_json(r, MHD_HTTP_OK, o);
}

/* A rescan takes no fields: an empty body, or an empty JSON object (the
 * server has already insisted on application/json for a POST). Returns true
 * when the body is fine; otherwise queues a problem into *ret. */
static bool check_empty_body(Request *r, enum MHD_Result *ret) {
        _cleanup_(json_object_putp) json_object *body = NULL;

        return r->body_size == 0 || request_json_body(r, NULL, &body, ret);
}

enum MHD_Result post_inventory_rescan(Request *r) {
        _cleanup_free_ char *error = NULL;
        enum MHD_Result ret;
        json_object *o;
        int k;

        if (!check_empty_body(r, &ret))
                return ret;
        k = host_state_rescan(r->state, &error);
        if (k < 0) {
                log_warning_errno(k, "Rescan failed, keeping the previous inventory: %s", error ? error : strerror(-k));
                return problem_reply(r, PROBLEM_SCAN_FAILED, (ProblemField) {},
                                     "the rescan failed (%s); the previous inventory is still served",
                                     error ? error : strerror(-k));
        }
        log_info("Inventory rescanned on request: generation %llu, %zu devices, %zu IOMMU groups.",
                 (unsigned long long) r->state->generation, r->state->inventory->n_devices,
                 r->state->inventory->n_groups);
        o = view_inventory(r->state, r->ctx->watch);
        if (!o)
                return problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {}, "out of memory");
        return reply_json(r, MHD_HTTP_OK, o);
}

/* Inventory events: see inventory-events.h. The event data is the catalogue
 * of api/openapi.json (components.schemas.Event*). */
#include "basic/log.h"
#include "basic/macro.h"
#include "inventory-events.h"
#include "json-util.h"
#include "resources.h"
#include "views.h"

static const char *const device_event[_CHANGE_KIND_MAX] = {
        [CHANGE_ADDED] = "device-added",
        [CHANGE_REMOVED] = "device-removed",
        [CHANGE_CHANGED] = "device-changed",
};

static void publish(EventLog *log, const char *type, json_object *data) {
        if (!data || event_log_publish(log, type, data) < 0)
                log_warning("Cannot publish a %s event: out of memory.", type);
}

static void publish_devices(EventLog *log, const HostState *s, const InventoryDiff *diff) {
        for (size_t i = 0; i < diff->n_devices; i++) {
                const DeviceChange *c = &diff->devices[i];
                json_object *o = json_object_new_object();

                json_add_str(o, "address", c->address);
                if (c->kind == CHANGE_CHANGED)
                        json_add(o, "fields", json_strv(c->fields));
                json_add_int(o, "generation", (int64_t) s->generation);
                publish(log, device_event[c->kind], o);
        }
}

static void publish_groups(EventLog *log, const HostState *s, const InventoryDiff *diff) {
        for (size_t i = 0; i < diff->n_groups; i++) {
                const GroupChange *c = &diff->groups[i];
                json_object *o = json_object_new_object();

                json_add_int(o, "id", c->id);
                json_add_str(o, "change", change_kind_to_string(c->kind));
                json_add(o, "fields", c->fields ? json_strv(c->fields) : json_object_new_array());
                json_add_int(o, "generation", (int64_t) s->generation);
                publish(log, "iommu-group-changed", o);
        }
}

/* {"/v1/devices": "\"...\"", ...}: the strong ETags a poller compares. */
static json_object *etags(RenderCache *cache, const HostState *s) {
        const struct {
                const char *path, *key;
                BodyWriter write;
        } lists[] = {
                { "/v1/devices", CACHE_KEY_DEVICES, write_device_list },
                { "/v1/iommu-groups", CACHE_KEY_GROUPS, write_group_list },
        };
        json_object *o = json_object_new_object();

        for (size_t i = 0; o && i < ELEMENTSOF(lists); i++) {
                RenderedBody *b = render_cached(cache, s, lists[i].key, lists[i].write, NULL);

                json_add_str(o, lists[i].path, b ? rendered_body_etag(b) : NULL);
                rendered_body_unref(b);
        }
        return o;
}

void inventory_events_publish(EventLog *log, RenderCache *cache, const HostState *s, const InventoryDiff *diff,
                              const char *cause) {
        json_object *o;

        log_debug("Publishing inventory events (%s): %zu devices, %zu groups.", cause, diff->n_devices, diff->n_groups);
        publish_devices(log, s, diff);
        publish_groups(log, s, diff);
        o = json_object_new_object();
        json_add_int(o, "generation", (int64_t) s->generation);
        json_add(o, "etags", etags(cache, s));
        json_add_str(o, "cause", cause);
        json_add_int(o, "devices_changed", (int64_t) diff->n_devices);
        publish(log, "inventory-changed", o);
}

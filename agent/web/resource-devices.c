/* GET /v1/devices (with filters) and GET /v1/devices/{address}. */
#include <ctype.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"
#include "basic/parse-util.h"
#include "cache.h"
#include "json-util.h"
#include "problem.h"
#include "reply.h"
#include "resources.h"
#include "views-inventory.h"

typedef struct DeviceFilter {
        const char *class_prefix; /* 2, 4 or 6 hex digits */
        uint32_t vendor;
        bool by_vendor;
        const char *driver;       /* a name, or "none" */
        int group;                /* -1: any */
        int assignable;           /* -1: any */
        DeviceFieldSet fields;    /* what each device shows */
} DeviceFilter;

typedef struct OneDevice {
        const PciDevice *device;
        DeviceFieldSet fields;
} OneDevice;

static void write_one_device(JsonWriter *w, const Inventory *inv, const void *userdata) {
        const OneDevice *o = userdata;

        write_device(w, inv, o->device, o->fields);
}

static bool is_hex(const char *s, size_t len) {
        if (strlen(s) != len)
                return false;
        for (size_t i = 0; i < len; i++)
                if (!isxdigit((unsigned char) s[i]))
                        return false;
        return true;
}

static bool is_driver_name(const char *s) {
        size_t l = strlen(s);

        if (l == 0 || l > 64)
                return false;
        for (const char *p = s; *p; p++)
                if (!isalnum((unsigned char) *p) && *p != '_' && *p != '-')
                        return false;
        return true;
}

/* Parses the query (the filters of GET /v1/devices, and fields for both
 * device resources: the route table says which a path takes); on a bad
 * value returns the parameter's name. */
static const char *parse_filter(Request *r, DeviceFilter *f) {
        const char *v;

        *f = (DeviceFilter) { .group = -1, .assignable = -1, .fields = DEVICE_FIELDS_ALL };
        if ((v = request_query(r, "fields"))) {
                const char *unknown;
                size_t l;

                if (device_fields_parse(v, &f->fields, &unknown, &l) < 0)
                        return "fields";
        }
        if ((v = request_query(r, "class"))) {
                if (!is_hex(v, 2) && !is_hex(v, 4) && !is_hex(v, 6))
                        return "class";
                f->class_prefix = v;
        }
        if ((v = request_query(r, "vendor"))) {
                if (!is_hex(v, 4) || parse_hex_u32(v, &f->vendor) < 0)
                        return "vendor";
                f->by_vendor = true;
        }
        if ((v = request_query(r, "driver"))) {
                if (!is_driver_name(v))
                        return "driver";
                f->driver = v;
        }
        if ((v = request_query(r, "iommu_group"))) {
                if (parse_group_id(v, &f->group) < 0)
                        return "iommu_group";
        }
        if ((v = request_query(r, "assignable"))) {
                if (!streq(v, "true") && !streq(v, "false"))
                        return "assignable";
                f->assignable = streq(v, "true");
        }
        return NULL;
}

static enum MHD_Result bad_filter(Request *r, const char *bad) {
        const char *v = request_query(r, bad), *unknown;
        DeviceFieldSet set;
        size_t l;

        if (streq(bad, "fields") && device_fields_parse(v, &set, &unknown, &l) < 0) {
                if (l == 0)
                        return problem_reply(r, PROBLEM_INVALID_PARAMETER, (ProblemField) { .parameter = bad },
                                             "'fields' holds an empty name: give field names separated by commas");
                return problem_reply(r, PROBLEM_INVALID_PARAMETER, (ProblemField) { .parameter = bad },
                                     "'fields' names '%.*s', which is not a field of a device or is given twice",
                                     (int) l, unknown);
        }
        return problem_reply(r, PROBLEM_INVALID_PARAMETER, (ProblemField) { .parameter = bad },
                             "invalid value '%s' for '%s'", v, bad);
}

static bool filter_match(const DeviceFilter *f, const PciDevice *d) {
        if (f->class_prefix) {
                char cls[8];
                snprintf(cls, sizeof cls, "%06x", d->class_code);
                if (strncasecmp(cls, f->class_prefix, strlen(f->class_prefix)) != 0)
                        return false;
        }
        if (f->by_vendor && d->vendor_id != f->vendor)
                return false;
        if (f->driver && !(streq(f->driver, "none") ? !d->driver : streq_ptr(d->driver, f->driver)))
                return false;
        if (f->group >= 0 && d->iommu_group != f->group)
                return false;
        if (f->assignable >= 0 && d->assignable != (bool) f->assignable)
                return false;
        return true;
}

/* Appends the filter, as a canonical query, to key: the cache key of this variant. */
static void filter_key(const DeviceFilter *f, char *key, size_t size) {
        snprintf(key, size, "devices?class=%s&vendor=%s%04x&driver=%s&group=%d&assignable=%d&fields=%08x",
                 strempty(f->class_prefix), f->by_vendor ? "" : "-", f->by_vendor ? f->vendor : 0,
                 strempty(f->driver), f->group, f->assignable, (unsigned) f->fields);
}

static void write_list(JsonWriter *w, const Inventory *inv, const void *userdata) {
        const DeviceFilter *f = userdata;
        size_t n = 0;

        jw_object_begin(w);
        /* "count" comes first, as it always has: counted before writing. */
        for (size_t i = 0; i < inv->n_devices; i++)
                n += filter_match(f, &inv->devices[i]);
        jw_kint(w, "count", (int64_t) n);
        jw_key(w, "devices");
        jw_array_begin(w);
        for (size_t i = 0; i < inv->n_devices; i++)
                if (filter_match(f, &inv->devices[i]))
                        write_device(w, inv, &inv->devices[i], f->fields);
        jw_array_end(w);
        jw_object_end(w);
}

void write_device_list(JsonWriter *w, const Inventory *inv, const void *userdata) {
        DeviceFilter all = { .group = -1, .assignable = -1, .fields = DEVICE_FIELDS_ALL };

        write_list(w, inv, userdata ?: &all);
}

enum MHD_Result get_devices(Request *r) {
        DeviceFilter f;
        const char *bad = parse_filter(r, &f);
        char key[256]; /* at most 154 bytes: a driver name is at most 64 */

        if (bad)
                return bad_filter(r, bad);
        /* The whole list (whatever else the query held, ?pretty=false) is the one named in events. */
        if (!f.class_prefix && !f.by_vendor && !f.driver && f.group < 0 && f.assignable < 0 &&
            f.fields == DEVICE_FIELDS_ALL)
                return reply_cached(r, CACHE_KEY_DEVICES, write_list, &f);
        filter_key(&f, key, sizeof key);
        return reply_cached(r, key, write_list, &f);
}

const PciDevice *request_device(Request *r, enum MHD_Result *ret_mhd) {
        const char *addr = request_param(r, "address");
        char canonical[PCI_ADDR_STRLEN];
        const PciDevice *d;
        PciAddr a;

        if (pci_addr_parse(addr, &a) < 0) {
                *ret_mhd = problem_reply(r, PROBLEM_INVALID_PARAMETER, (ProblemField) { .parameter = "address" },
                                         "'%s' is not a PCI address of the form dddd:bb:ss.f (hex, function 0-7)",
                                         addr);
                return NULL;
        }
        pci_addr_format(&a, canonical);
        d = inventory_find(r->state->inventory, canonical);
        if (!d)
                *ret_mhd = problem_reply(r, PROBLEM_NO_SUCH_DEVICE, (ProblemField) { .parameter = "address" },
                                         "this host has no PCI device %s", canonical);
        return d;
}

enum MHD_Result get_device(Request *r) {
        const PciDevice *d;
        DeviceFilter f;
        const char *bad = parse_filter(r, &f);
        enum MHD_Result ret;

        if (bad)
                return bad_filter(r, bad);
        if (!(d = request_device(r, &ret)))
                return ret;
        return reply_written(r, write_one_device, &(OneDevice) { d, f.fields });
}

RenderedBody *render_body(const Inventory *inv, bool pretty, size_t size_hint, BodyWriter write, const void *userdata) {
        JsonWriter w;
        char *data;
        size_t size;

        json_writer_init(&w, pretty, size_hint);
        write(&w, inv, userdata);
        if (json_writer_finish(&w, &data, &size) < 0)
                return NULL;
        return rendered_body_new_take(data, size);
}

RenderedBody *render_cached(RenderCache *cache, const HostState *s, const char *key, BodyWriter write,
                            const void *userdata) {
        RenderedBody *b = render_cache_get(cache, key, s->generation);

        if (b)
                return rendered_body_ref(b);
        b = render_body(s->inventory, false, render_cache_size_hint(cache, key), write, userdata);
        if (b)
                (void) render_cache_put(cache, key, s->generation, b); /* if not, the next request renders */
        /* Once per list and snapshot: the heap the rendering left behind
         * (the writer's smaller buffers, the body it replaced) goes back. */
        (void) malloc_trim(0);
        return b;
}

/* Replies with b (consumed), or with a 500 when it could not be made. */
static enum MHD_Result reply_body(Request *r, RenderedBody *b) {
        enum MHD_Result ret;

        if (!b)
                return problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {}, "out of memory");
        ret = reply_rendered(r, b);
        rendered_body_unref(b);
        return ret;
}

/* Indented bodies are for people: rendered for each request, never cached. */
enum MHD_Result reply_cached(Request *r, const char *key, BodyWriter write, const void *userdata) {
        return reply_body(r, r->pretty ? render_body(r->state->inventory, true, 0, write, userdata)
                                       : render_cached(r->cache, r->state, key, write, userdata));
}

enum MHD_Result reply_written(Request *r, BodyWriter write, const void *userdata) {
        return reply_body(r, render_body(r->state->inventory, r->pretty, 0, write, userdata));
}

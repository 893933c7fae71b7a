/* GET /v1/devices (with filters) and GET /v1/devices/{address}. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"
#include "basic/parse-util.h"
#include "cache.h"
#include "json-util.h"
#include "problem.h"
#include "reply.h"
#include "resources.h"
#include "views.h"

typedef struct DeviceFilter {
        const char *class_prefix; /* 2, 4 or 6 hex digits */
        uint32_t vendor;
        bool by_vendor;
        const char *driver;       /* a name, or "none" */
        int group;                /* -1: any */
        int assignable;           /* -1: any */
} DeviceFilter;

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

/* Parses the query; on a bad value returns the parameter's name. */
static const char *parse_filter(Request *r, DeviceFilter *f) {
        const char *v;

        *f = (DeviceFilter) { .group = -1, .assignable = -1 };
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

static json_object *build_list(const Inventory *inv, const DeviceFilter *f) {
        json_object *o = json_object_new_object(), *a = json_object_new_array();
        size_t n = 0;

        if (!o || !a) {
                json_object_put(o);
                json_object_put(a);
                return NULL;
        }
        for (size_t i = 0; i < inv->n_devices; i++) {
                json_object *d;

                if (f && !filter_match(f, &inv->devices[i]))
                        continue;
                d = view_device(inv, &inv->devices[i]);
                if (!d || json_object_array_add(a, d) < 0) {
                        json_object_put(d);
                        json_object_put(a);
                        json_object_put(o);
                        return NULL;
                }
                n++;
        }
        json_add_int(o, "count", (int64_t) n);
        json_add(o, "devices", a);
        return o;
}

json_object *view_device_list(const Inventory *inv) {
        return build_list(inv, NULL);
}

enum MHD_Result get_devices(Request *r) {
        DeviceFilter f;
        const char *bad = parse_filter(r, &f);
        json_object *o;

        if (bad)
                return problem_reply(r, PROBLEM_INVALID_PARAMETER, (ProblemField) { .parameter = bad },
                                     "invalid value '%s' for '%s'", request_query(r, bad), bad);
        if (MHD_get_connection_values(r->connection, MHD_GET_ARGUMENT_KIND, NULL, NULL) == 0)
                return reply_cached(r, CACHE_KEY_DEVICES, view_device_list);

        o = build_list(r->state->inventory, &f);
        if (!o)
                return problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {}, "out of memory");
        return reply_json(r, MHD_HTTP_OK, o);
}

enum MHD_Result get_device(Request *r) {
        const char *addr = request_param(r, "address");
        const PciDevice *d;
        PciAddr a;
        char canonical[PCI_ADDR_STRLEN];
        json_object *o;

        if (pci_addr_parse(addr, &a) < 0)
                return problem_reply(r, PROBLEM_INVALID_PARAMETER, (ProblemField) { .parameter = "address" },
                                     "'%s' is not a PCI address of the form dddd:bb:ss.f (hex, function 0-7)", addr);
        pci_addr_format(&a, canonical);
        d = inventory_find(r->state->inventory, canonical);
        if (!d)
                return problem_reply(r, PROBLEM_NO_SUCH_DEVICE, (ProblemField) { .parameter = "address" },
                                     "this host has no PCI device %s", canonical);
        o = view_device(r->state->inventory, d);
        if (!o)
                return problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {}, "out of memory");
        return reply_json(r, MHD_HTTP_OK, o);
}

RenderedBody *render_cached(RenderCache *cache, const HostState *s, const char *key,
                           json_object *(*build)(const Inventory *inv)) {
        RenderedBody *b = render_cache_get(cache, key, s->generation);
        _cleanup_(json_object_putp) json_object *o = NULL;

        if (b)
                return rendered_body_ref(b);
        o = build(s->inventory);
        b = o ? rendered_body_new(o) : NULL;
        if (b)
                (void) render_cache_put(cache, key, s->generation, b); /* if not, the next request renders */
        return b;
}

enum MHD_Result reply_cached(Request *r, const char *key, json_object *(*build)(const Inventory *inv)) {
        RenderedBody *b = render_cached(r->cache, r->state, key, build);
        enum MHD_Result ret;

        if (!b)
                return problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {}, "out of memory");
        ret = reply_rendered(r, b);
        rendered_body_unref(b);
        return ret;
}

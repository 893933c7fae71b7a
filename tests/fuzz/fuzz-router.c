/* libFuzzer target for the route table and the path and query decoders
 * (web/router.c, resources.h, views-inventory.h). The request line's target
 * is split at '?' and its path decoded by libmicrohttpd's MHD_http_unescape(),
 * as the server gets it. A route found has the method asked (HEAD as GET),
 * its pattern matches the path segment by segment (checked here again), and
 * the captured parameters put into the pattern give the path back; a 405
 * lists exactly the methods that are found for the path; a 404 leaves no
 * parameter behind and no pattern matches. The parameters then go through
 * their decoders: an address only in the kernel's form, a group id only as
 * the contract words it, the fields list only with names of DeviceFields
 * (api/openapi.json), each once.
 *
 * Input: a byte choosing the method, then the request target
 * ("/v1/devices/0000:01:00.0?fields=address"). */

#include <ctype.h>

#include <microhttpd.h>

#include "basic/macro.h"
#include "fuzz.h"
#include "host/kcmdline-presets.h"
#include "schema-check.h"
#include "web/resources.h"
#include "web/router.h"
#include "web/views-inventory.h"

static const char *const methods[] = { "GET", "HEAD", "PUT", "POST", "DELETE", "PATCH", "OPTIONS", "get" };

static void clear(Request *r) {
        for (size_t i = 0; i < r->n_params; i++) {
                free(r->param_values[i]);
                free(r->param_names[i]);
        }
        *r = (Request) {};
}

/* The pattern matching, written again: "/" alone, or '/'-separated
 * segments, each literal or {name} (one non-empty segment), no empty ones. */
static bool matches(const char *pattern, const char *path) {
        if (streq(pattern, "/"))
                return streq(path, "/");
        while (*pattern && *path) {
                size_t pl, sl;

                if (*pattern != '/' || *path != '/')
                        return false;
                pattern++, path++;
                pl = strcspn(pattern, "/");
                sl = strcspn(path, "/");
                if (sl == 0)
                        return false;
                if (!(pattern[0] == '{' && pattern[pl - 1] == '}') && (pl != sl || strncmp(pattern, path, pl) != 0))
                        return false;
                pattern += pl, path += sl;
        }
        return !*pattern && !*path;
}

/* The pattern with the captured values in its {name} segments. */
static char *fill(const char *pattern, const Request *r) {
        char *out = NULL;
        size_t size = 0, k = 0;
        FILE *f = open_memstream(&out, &size);

        FUZZ_OOM(f);
        for (const char *p = pattern; *p;) {
                if (*p == '{') {
                        const char *close = strchr(p, '}');

                        FUZZ_ASSERT(close && k < r->n_params);
                        FUZZ_ASSERT(strlen(r->param_names[k]) == (size_t) (close - p - 1) &&
                                    strncmp(r->param_names[k], p + 1, (size_t) (close - p - 1)) == 0);
                        fputs(r->param_values[k++], f);
                        p = close + 1;
                } else
                        fputc(*p++, f);
        }
        FUZZ_OOM(fclose(f) == 0);
        FUZZ_ASSERT(k == r->n_params);
        return out;
}

static void check_group_id(const char *s) {
        size_t l = strlen(s);
        bool ok = l > 0 && l <= 9 && strspn(s, "0123456789") == l && (s[0] != '0' || l == 1);
        int n;

        FUZZ_ASSERT((parse_group_id(s, &n) == 0) == ok);
        if (ok)
                FUZZ_ASSERT(n >= 0 && n == strtol(s, NULL, 10)); /* at most 9 digits: in range */
}

static void check_fields(const char *s) {
        json_object *props = NULL, *schema = schema_get("#/components/schemas/DeviceFields");
        const char *bad = NULL;
        DeviceFieldSet set;
        size_t bad_len = 0, n = 0;
        bool ok = true;
        int r;

        FUZZ_ASSERT(schema && json_object_object_get_ex(schema, "properties", &props));
        r = device_fields_parse(s, &set, &bad, &bad_len);
        for (const char *p = s; ok;) { /* each item a name of DeviceFields, once */
                size_t l = strcspn(p, ",");
                _cleanup_free_ char *item = fuzz_memdup(p, l);

                ok = json_object_object_get_ex(props, item, NULL);
                for (const char *q = s; ok && q < p; q += strcspn(q, ",") + 1)
                        ok = !(strcspn(q, ",") == l && strncmp(q, p, l) == 0);
                n++;
                if (!p[l])
                        break;
                p += l + 1;
        }
        FUZZ_ASSERT((r == 0) == ok);
        if (r == 0)
                FUZZ_ASSERT((size_t) __builtin_popcount(set) == n);
        else
                FUZZ_ASSERT(bad >= s && bad + bad_len <= s + strlen(s));
}

/* The value of name= in a query ("a=1&name=v&b"), decoded; NULL when absent. */
static char *query_value(const char *query, const char *name) {
        size_t l = strlen(name);

        for (const char *p = query; p && *p;) {
                size_t n = strcspn(p, "&");

                if (n > l && strncmp(p, name, l) == 0 && p[l] == '=') {
                        char *v = fuzz_memdup(p + l + 1, n - l - 1);

                        MHD_http_unescape(v);
                        return v;
                }
                p = p[n] ? p + n + 1 : NULL;
        }
        return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *target = NULL, *allow = NULL, *fields = NULL, *ids = NULL;
        const char *method, *query;
        const Route *route = NULL;
        Request r = {};
        char *q;

        if (size > 8192) /* libmicrohttpd's request line is bounded by its memory limit */
                return 0;
        method = methods[fuzz_take_byte(&data, &size) % ELEMENTSOF(methods)];
        target = fuzz_memdup(data, size);
        q = strchr(target, '?');
        query = q ? q + 1 : NULL;
        if (q)
                *q = 0;
        MHD_http_unescape(target);

        switch (router_match(routes, n_routes, method, target, &r, &route, &allow)) {
        case ROUTE_FOUND: {
                _cleanup_free_ char *again = fill(route->pattern, &r);

                FUZZ_ASSERT(streq(route->method, streq(method, "HEAD") ? "GET" : method));
                FUZZ_ASSERT(matches(route->pattern, target) && streq(again, target));
                for (size_t i = 0; i < r.n_params; i++) {
                        FUZZ_ASSERT(*r.param_values[i] && !strchr(r.param_values[i], '/'));
                        FUZZ_ASSERT(streq(request_param(&r, r.param_names[i]), r.param_values[i]));
                        if (streq(r.param_names[i], "address")) {
                                PciAddr a;
                                char back[PCI_ADDR_STRLEN];

                                if (pci_addr_parse(r.param_values[i], &a) == 0) {
                                        pci_addr_format(&a, back);
                                        FUZZ_ASSERT(strcasecmp(back, r.param_values[i]) == 0);
                                }
                        } else if (streq(r.param_names[i], "id") && strstr(route->pattern, "iommu-groups"))
                                check_group_id(r.param_values[i]);
                }
                break;
        }
        case ROUTE_WRONG_METHOD:
                FUZZ_ASSERT(allow && *allow && r.n_params == 0);
                for (const char *a = allow; *a;) {
                        size_t l = strcspn(a, ",");
                        _cleanup_free_ char *m = fuzz_memdup(a, l);
                        const Route *rt = NULL;
                        char *al = NULL;
                        Request r2 = {};

                        FUZZ_ASSERT(!streq(m, method) || streq(method, "HEAD") == false);
                        FUZZ_ASSERT(router_match(routes, n_routes, m, target, &r2, &rt, &al) == ROUTE_FOUND);
                        clear(&r2);
                        a += l;
                        a += strspn(a, ", ");
                }
                break;
        case ROUTE_NOT_FOUND:
                FUZZ_ASSERT(r.n_params == 0);
                for (size_t i = 0; i < n_routes; i++)
                        FUZZ_ASSERT(!matches(routes[i].pattern, target));
                break;
        }
        clear(&r);

        /* The query's decoders. */
        if (query && (fields = query_value(query, "fields")))
                check_fields(fields);
        if (query && (ids = query_value(query, "vfio_pci_ids"))) {
                char norm[10];
                static const char hex[] = "0123456789abcdefABCDEF";
                bool ok = strlen(ids) == 9 && ids[4] == ':' && strspn(ids, hex) == 4 && strspn(ids + 5, hex) == 4;

                FUZZ_ASSERT((vfio_id_normalize(ids, norm) == 0) == ok);
        }
        return 0;
}

/* libFuzzer target for the request body of every route that takes one
 * (resources.h's decoders, request_json_body(), kcmdline-body.c's
 * parse_patch()), checked against the contract, api/openapi.json
 * (schema-check.c). A body a decoder accepts is valid against the route's
 * requestBody schema and its documented rules beyond it (printable reason
 * and VM name, a VF count up to the PF's total, at least one edit), and the
 * values decoded are the body's; a refused body gets exactly one reply, a
 * 400 application/problem+json that is a valid Problem with code
 * invalid-body and a pointer naming the field (one the route takes, or the
 * unknown one the body has). The replies are seen through mhd-double.c.
 *
 * Input: a byte choosing the route (and, for the VF count, the PF's
 * sriov_totalvfs), then the body. */

#include <ctype.h>

#include "basic/macro.h"
#include "basic/strv.h"
#include "fuzz.h"
#include "host/kcmdline-edits.h"
#include "mhd-double.h"
#include "schema-check.h"
#include "web/json-util.h"
#include "web/kcmdline-body.h"
#include "web/resources.h"

typedef enum BodyRoute {
        ROUTE_MAINTENANCE,
        ROUTE_DRIVER,
        ROUTE_DRIVER_DELETE,
        ROUTE_SRIOV,
        ROUTE_PLAN,
        ROUTE_REBOOT,
        ROUTE_RESCAN,
        ROUTE_KCMDLINE,
        _ROUTE_MAX,
} BodyRoute;

static const struct {
        const char *method, *url, *schema;
        const char *const fields[12];
} table[_ROUTE_MAX] = {
        [ROUTE_MAINTENANCE] = { "PUT", "/v1/maintenance", "#/components/schemas/MaintenanceRequest",
                                { "enabled", "reason", "force" } },
        [ROUTE_DRIVER] = { "PUT", "/v1/devices/0000:01:00.0/driver", "#/components/schemas/DriverRequest",
                           { "driver", "persistent" } },
        [ROUTE_DRIVER_DELETE] = { "DELETE", "/v1/devices/0000:01:00.0/driver", NULL, {} },
        [ROUTE_SRIOV] = { "PUT", "/v1/devices/0000:01:00.0/sriov", "#/components/schemas/SriovRequest",
                          { "numvfs", "drivers_autoprobe", "persistent" } },
        [ROUTE_PLAN] = { "POST", "/v1/passthrough/plan", "#/components/schemas/PassthroughPlanRequest",
                         { "devices", "vm" } },
        [ROUTE_REBOOT] = { "POST", "/v1/reboot", NULL, {} },
        [ROUTE_RESCAN] = { "POST", "/v1/inventory/rescan", NULL, {} },
        [ROUTE_KCMDLINE] = { "PATCH", "/v1/kernel-cmdline", "#/components/schemas/KernelCmdlineEdit",
                             { "append", "append_if_missing", "delete", "delete_if_present", "delete_owned",
                               "replace", "presets", "remove_presets", "vfio_pci_ids", "allow_conflicts",
                               "dry_run" } },
};

/* The schemas of the routes that take nothing or {}: the document writes them inline. */
static json_object *empty_schema(void) {
        static json_object *s;

        if (!s)
                FUZZ_OOM(s = json_tokener_parse("{\"type\": \"object\", \"maxProperties\": 0}"));
        return s;
}

static bool printable(json_object *v) {
        const char *s = json_object_get_string(v);
        size_t n = (size_t) json_object_get_string_len(v);

        for (size_t i = 0; i < n; i++)
                if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f)
                        return false;
        return true;
}

static json_object *member(json_object *o, const char *key) {
        json_object *v = NULL;

        return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

/* The body as plain json-c reads it ({} for none): a body a decoder took is one json-c takes. */
static json_object *plain(const char *text, size_t size) {
        json_tokener *tok;
        json_object *o;

        if (size == 0)
                return json_object_new_object();
        FUZZ_OOM(tok = json_tokener_new());
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        o = json_tokener_parse_ex(tok, text, (int) size);
        FUZZ_ASSERT(json_tokener_get_error(tok) == json_tokener_success);
        json_tokener_free(tok);
        return o;
}

static void check_accepted(BodyRoute route, const char *text, size_t size) {
        _cleanup_(json_object_putp) json_object *body = plain(text, size);
        json_object *schema = table[route].schema ? schema_get(table[route].schema) : empty_schema();
        char why[512] = "";

        FUZZ_ASSERT(mhd_double_reply()->n_queued == 0);
        FUZZ_ASSERT(schema);
        if (route == ROUTE_PLAN && json_object_array_length(member(body, "devices")) == 0)
                return; /* the plan refuses it (PLAN_ERROR_EMPTY, 400 naming /devices), not the decoder */
        if (!schema_valid(schema, body, why, sizeof why)) {
                fprintf(stderr, "accepted, but %s\n", why);
                FUZZ_ASSERT(!"an accepted body is valid against its schema");
        }
        /* Embedded NULs: C code would see a shorter string than the client sent. */
        json_object_object_foreach(body, key, value) {
                (void) key;
                if (json_object_is_type(value, json_type_string))
                        FUZZ_ASSERT(strlen(json_object_get_string(value)) == (size_t) json_object_get_string_len(value));
                if (json_object_is_type(value, json_type_array))
                        for (size_t i = 0; i < json_object_array_length(value); i++) {
                                json_object *e = json_object_array_get_idx(value, i);

                                FUZZ_ASSERT(!json_object_is_type(e, json_type_string) ||
                                            strlen(json_object_get_string(e)) == (size_t) json_object_get_string_len(e));
                        }
        }
        if (route == ROUTE_MAINTENANCE && member(body, "reason"))
                FUZZ_ASSERT(printable(member(body, "reason")));
        if (route == ROUTE_PLAN && member(body, "vm"))
                FUZZ_ASSERT(printable(member(body, "vm")) && json_object_get_string_len(member(body, "vm")) <= 256);
}

/* The reply to a refused body. */
static void check_refused(BodyRoute route, const char *text, size_t size) {
        const MhdReply *reply = mhd_double_reply();
        _cleanup_(json_object_putp) json_object *problem = NULL;
        const char *pointer, *end;
        _cleanup_free_ char *first = NULL;
        char why[512] = "";
        bool named = false;
        size_t n;

        FUZZ_ASSERT(reply->n_queued == 1 && reply->status == 400);
        FUZZ_ASSERT(reply->content_type && streq(reply->content_type, "application/problem+json"));
        problem = json_tokener_parse(reply->body);
        FUZZ_ASSERT(problem && json_object_is_type(problem, json_type_object));
        if (!schema_valid(schema_get("#/components/schemas/Problem"), problem, why, sizeof why)) {
                fprintf(stderr, "problem: %s\n%s\n", why, reply->body);
                FUZZ_ASSERT(!"a refusal is a valid Problem");
        }
        FUZZ_ASSERT(streq(json_object_get_string(member(problem, "code")), "invalid-body"));
        FUZZ_ASSERT(member(problem, "pointer"));
        pointer = json_object_get_string(member(problem, "pointer"));
        if (!*pointer)
                return; /* the body as a whole: not JSON, not an object, nothing to do */
        FUZZ_ASSERT(pointer[0] == '/');
        end = pointer + 1 + strcspn(pointer + 1, "/");
        first = calloc(1, (size_t) (end - pointer)); /* the segment decoded is no longer than it */
        FUZZ_OOM(first);
        n = 0;
        for (const char *p = pointer + 1; p < end; p++) { /* RFC 6901: ~1 is '/', ~0 '~' */
                FUZZ_ASSERT(*p != '~' || (p + 1 < end && (p[1] == '0' || p[1] == '1')));
                first[n++] = *p == '~' ? (*++p == '0' ? '~' : '/') : *p;
        }
        first[n] = 0;
        for (size_t i = 0; i < ELEMENTSOF(table[route].fields) && table[route].fields[i]; i++)
                named = named || streq(first, table[route].fields[i]);
        if (!named) { /* an unknown field or a duplicate key: one the body has */
                _cleanup_(json_object_putp) json_object *raw = json_tokener_parse(text);

                (void) size;
                FUZZ_ASSERT(raw && json_object_is_type(raw, json_type_object) && json_object_object_get_ex(raw, first, NULL));
        }
}

static bool decode(BodyRoute route, Request *r, unsigned total_vfs, json_object **ret_body) {
        enum MHD_Result ret;

        switch (route) {
        case ROUTE_MAINTENANCE: {
                MaintenanceBody b;

                if (!maintenance_body_parse(r, ret_body, &b, &ret))
                        return false;
                FUZZ_ASSERT(b.enabled == json_object_get_boolean(member(*ret_body, "enabled")));
                FUZZ_ASSERT(streq_ptr(b.reason, member(*ret_body, "reason") ? json_object_get_string(member(*ret_body, "reason")) : NULL));
                return true;
        }
        case ROUTE_DRIVER: {
                bool persistent;

                return driver_body_parse(r, &persistent, &ret);
        }
        case ROUTE_SRIOV: {
                PciDevice pf = { .is_pf = true, .total_vfs = (int) total_vfs, .name = "0000:01:00.0" };
                SriovRequest req = {};

                if (!sriov_body_parse(r, ret_body, &ret) || !sriov_body_check(r, &pf, *ret_body, &req, &ret))
                        return false;
                FUZZ_ASSERT(req.numvfs <= total_vfs);
                FUZZ_ASSERT((int64_t) req.numvfs == json_object_get_int64(member(*ret_body, "numvfs")));
                return true;
        }
        case ROUTE_PLAN: {
                _cleanup_strv_free_ char **devices = NULL;
                json_object *list;
                const char *vm;

                if (!plan_body_parse(r, ret_body, &devices, &vm, &ret))
                        return false;
                list = member(*ret_body, "devices");
                FUZZ_ASSERT(strv_length(devices) == json_object_array_length(list));
                for (size_t i = 0; devices[i]; i++)
                        FUZZ_ASSERT(streq(devices[i], json_object_get_string(json_object_array_get_idx(list, i))));
                return true;
        }
        case ROUTE_KCMDLINE: {
                _cleanup_(kc_edit_request_done) KcEditRequest p = {};

                if (!parse_patch(r, &p, &ret))
                        return false;
                FUZZ_ASSERT(kc_edit_request_size(&p) > 0);
                STRV_FOREACH(id, p.ids)
                        FUZZ_ASSERT(strlen(*id) == 9 && strspn(*id, "0123456789abcdef:") == 9);
                return true;
        }
        default: /* nothing, or {} */
                return request_json_body(r, NULL, ret_body, &ret);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(json_object_putp) json_object *body = NULL;
        _cleanup_free_ char *text = NULL, *url = NULL;
        Request r = {};
        BodyRoute route;
        unsigned total_vfs;
        uint8_t b;

        if (size > 64 * 1024 + 1) /* WEB_MAX_BODY and the route byte */
                return 0;
        b = fuzz_take_byte(&data, &size);
        route = (BodyRoute) (b % _ROUTE_MAX);
        total_vfs = (unsigned) (b / _ROUTE_MAX) * 2; /* 0 to 62 */
        text = fuzz_memdup(data, size); /* as append_body() keeps it */
        FUZZ_OOM(url = strdup(table[route].url));
        r = (Request) { .method = table[route].method, .url = url, .body = size ? text : NULL, .body_size = size };

        mhd_double_reset();
        if (decode(route, &r, total_vfs, &body))
                check_accepted(route, text, size);
        else
                check_refused(route, text, size);
        mhd_double_reset();
        return 0;
}

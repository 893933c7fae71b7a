/* The route table's matching: parameters, 405 with Allow, 404, and paths
 * that must match nothing. */
#include <stdlib.h>

#include "basic/macro.h"
#include "tap.h"
#include "web/router.h"

static void clear(Request *r) {
        for (size_t i = 0; i < r->n_params; i++) {
                free(r->param_values[i]);
                free(r->param_names[i]);
        }
        *r = (Request) {};
}

static void found(const char *method, const char *path, const char *pattern, const char *param, const char *value) {
        Request r = {};
        const Route *route = NULL;
        char *allow = NULL;

        ok(router_match(routes, n_routes, method, path, &r, &route, &allow) == ROUTE_FOUND && route &&
           streq(route->pattern, pattern), "%s %s matches %s", method, path, pattern);
        if (param)
                is_str(request_param(&r, param), value, "%s = %s", param, strempty(value));
        clear(&r);
}

static void not_found(const char *method, const char *path) {
        Request r = {};
        const Route *route = NULL;
        char *allow = NULL;

        is_int(router_match(routes, n_routes, method, path, &r, &route, &allow), ROUTE_NOT_FOUND, "%s %s is 404", method, path);
        is_int(r.n_params, 0, "no parameter left behind for %s", path);
        ok(!r.param_values[0] && !r.param_names[0], "no captured value left behind for %s", path);
        clear(&r);
}

static void wrong_method(const char *method, const char *path, const char *want_allow) {
        Request r = {};
        const Route *route = NULL;
        char *allow = NULL;

        is_int(router_match(routes, n_routes, method, path, &r, &route, &allow), ROUTE_WRONG_METHOD, "%s %s is 405", method, path);
        is_str(allow, want_allow, "Allow for %s", path);
        free(allow);
        clear(&r);
}

/* Every route names its least role; only reading and planning is open to readers. */
static void roles_declared(void) {
        for (size_t i = 0; i < n_routes; i++) {
                const Route *rt = &routes[i];
                bool reads = streq(rt->method, "GET") || streq(rt->pattern, "/v1/passthrough/plan");

                ok(rt->role != ROLE_NONE, "%s %s declares a role", rt->method, rt->pattern);
                ok(reads || rt->role >= ROLE_OPERATOR, "%s %s: role %s fits (changes need operator or admin)", rt->method,
                   rt->pattern, role_to_string(rt->role));
        }
}

int main(void) {
        roles_declared();
        found("GET", "/v1/devices", "/v1/devices", NULL, NULL);
        found("HEAD", "/v1/devices", "/v1/devices", NULL, NULL);
        found("GET", "/v1/devices/0000:01:00.0", "/v1/devices/{address}", "address", "0000:01:00.0");
        found("GET", "/v1/iommu-groups/7", "/v1/iommu-groups/{id}", "id", "7");
        found("POST", "/v1/inventory/rescan", "/v1/inventory/rescan", NULL, NULL);

        not_found("GET", "/v1/devices/");
        not_found("GET", "/v1//devices");
        not_found("GET", "/v1/devices/a/b");
        not_found("GET", "/v1/devices/0000:01:00.0/");
        not_found("PUT", "/v1/devices/0000:01:00.0//sriov");
        not_found("GET", "/v1/device");
        not_found("GET", "v1/devices");
        not_found("GET", "");

        wrong_method("DELETE", "/v1/devices", "GET, HEAD");
        wrong_method("PUT", "/v1/devices/0000:01:00.0", "GET, HEAD");
        wrong_method("GET", "/v1/inventory/rescan", "POST");
        wrong_method("POST", "/v1/maintenance", "GET, HEAD, PUT");
        found("GET", "/v1/operations/0123456789abcdef0123456789abcdef", "/v1/operations/{id}", "id",
              "0123456789abcdef0123456789abcdef");
        return tap_done();
}

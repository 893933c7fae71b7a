/* GET /v1/host: who this host is. Read afresh on every request. */
#include "json-util.h"
#include "problem.h"
#include "reply.h"
#include "resources.h"
#include "views.h"

enum MHD_Result get_host(Request *r) {
        HostInfo h;
        json_object *o;

        if (hostinfo_read(r->state->root, &h) < 0)
                return problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {}, "out of memory");
        o = view_host(&h, PACKAGE_VERSION);
        hostinfo_done(&h);
        if (!o)
                return problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {}, "out of memory");
        return reply_json(r, MHD_HTTP_OK, o);
}

/* GET /: where to start. */
enum MHD_Result get_root(Request *r) {
        json_object *o = json_object_new_object(), *links = json_object_new_object();
        static const char *const paths[] = {
                "host", "/v1/host", "capabilities", "/v1/capabilities", "devices", "/v1/devices",
                "iommu_groups", "/v1/iommu-groups", "inventory", "/v1/inventory", "openapi", "/v1/openapi.json",
                "maintenance", "/v1/maintenance", "operations", "/v1/operations",
        };

        for (size_t i = 0; links && i < sizeof paths / sizeof paths[0]; i += 2)
                json_add_str(links, paths[i], paths[i + 1]);
        json_add_str(o, "name", "hostdevd");
        json_add_str(o, "version", PACKAGE_VERSION);
        json_add(o, "links", links);
        return reply_json(r, MHD_HTTP_OK, o);
}

/* GET /v1/openapi.json: the contract in api/openapi.json, built into the
 * binary (openapi-blob.S) so the agent serves exactly what it was built with. */
#include "problem.h"
#include "reply.h"
#include "resources.h"

extern const char hostdevd_openapi_start[];
extern const char hostdevd_openapi_end[];

enum MHD_Result get_openapi(Request *r) {
        static RenderedBody *body; /* rendered once, kept for the process's life */

        if (r->pretty) {
                json_object *o = json_tokener_parse(hostdevd_openapi_start);
                return o ? reply_json(r, MHD_HTTP_OK, o)
                         : problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {},
                                         "the built-in API document could not be rendered");
        }
        if (!body) {
                /* Round-trip through json-c once: validates it and gives the ETag. */
                json_object *o = json_tokener_parse(hostdevd_openapi_start);
                body = o ? rendered_body_new(o, false) : NULL;
                json_object_put(o);
                if (!body)
                        return problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {},
                                             "the built-in API document could not be rendered");
        }
        return reply_rendered(r, body);
}

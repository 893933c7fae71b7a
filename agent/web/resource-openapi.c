/* GET /v1/openapi.json: the contract in api/openapi.json, built into the
 * binary (openapi-blob.S) so the agent serves exactly what it was built with. */
#include "reply.h"
#include "resources.h"

extern const char hostdevd_openapi_start[];
extern const char hostdevd_openapi_end[];

enum MHD_Result get_openapi(Request *r) {
        static RenderedBody body; /* points into the binary; never freed */
        RenderedBody fresh;

        if (!body.data) {
                /* Round-trip through json-c once: validates it and gives the ETag. */
                json_object *o = json_tokener_parse(hostdevd_openapi_start);
                if (!o || rendered_body_from_json(o, &fresh) < 0) {
                        json_object_put(o);
                        return MHD_NO;
                }
                json_object_put(o);
                body = fresh;
        }
        return reply_rendered(r, &body);
}

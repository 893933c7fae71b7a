/* GET /v1/capabilities: can this host pass devices through, and if not,
 * why and what to do. */
#include <string.h>

#include "problem.h"
#include "reply.h"
#include "resources.h"
#include "views.h"

enum MHD_Result get_capabilities(Request *r) {
        HostInfo h;
        Capabilities c;
        json_object *o;
        int k;

        if (hostinfo_read(r->state->root, &h) < 0)
                return problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {}, "out of memory");
        k = capabilities_evaluate(r->state->root, &h, r->state->inventory, &c);
        hostinfo_done(&h);
        if (k < 0)
                return problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {}, "evaluating capabilities failed: %s",
                                     strerror(-k));
        o = view_capabilities(&c);
        capabilities_done(&c);
        if (!o)
                return problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {}, "out of memory");
        return reply_json(r, MHD_HTTP_OK, o);
}

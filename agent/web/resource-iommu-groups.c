/* GET /v1/iommu-groups and GET /v1/iommu-groups/{id}. */
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "basic/parse-util.h"
#include "json-util.h"
#include "problem.h"
#include "reply.h"
#include "resources.h"
#include "views.h"

json_object *view_group_list(const Inventory *inv) {
        json_object *o = json_object_new_object(), *a = json_object_new_array();

        if (!o || !a) {
                json_object_put(o);
                json_object_put(a);
                return NULL;
        }
        for (size_t i = 0; i < inv->n_groups; i++) {
                json_object *g = view_group(inv, &inv->groups[i]);
                if (!g || json_object_array_add(a, g) < 0) {
                        json_object_put(g);
                        json_object_put(a);
                        json_object_put(o);
                        return NULL;
                }
        }
        json_add_bool(o, "iommu_active", inv->iommu_active);
        json_add_int(o, "count", (int64_t) inv->n_groups);
        json_add(o, "groups", a);
        return o;
}

enum MHD_Result get_iommu_groups(Request *r) {
        return reply_cached(r, "iommu-groups", view_group_list);
}

/* A group id: decimal digits only, no sign, no leading zeros but "0". */
int parse_group_id(const char *s, int *ret) {
        size_t l = strlen(s);

        if (l == 0 || l > 9 || (s[0] == '0' && l > 1))
                return -EINVAL;
        for (size_t i = 0; i < l; i++)
                if (!isdigit((unsigned char) s[i]))
                        return -EINVAL;
        return safe_atoi(s, ret);
}

enum MHD_Result get_iommu_group(Request *r) {
        const char *id = request_param(r, "id");
        const IommuGroup *g;
        json_object *o;
        int n;

        if (parse_group_id(id, &n) < 0)
                return problem_reply(r, PROBLEM_INVALID_PARAMETER, (ProblemField) { .parameter = "id" },
                                     "'%s' is not an IOMMU group number", id);
        g = inventory_group(r->state->inventory, n);
        if (!g)
                return problem_reply(r, PROBLEM_NO_SUCH_GROUP, (ProblemField) { .parameter = "id" },
                                     r->state->inventory->iommu_active ? "this host has no IOMMU group %d"
                                                                       : "this host has no IOMMU group %d: no IOMMU is active",
                                     n);
        o = view_group(r->state->inventory, g);
        if (!o)
                return problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {}, "out of memory");
        return reply_json(r, MHD_HTTP_OK, o);
}

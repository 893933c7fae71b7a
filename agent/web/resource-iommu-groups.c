/* GET /v1/iommu-groups and GET /v1/iommu-groups/{id}. */
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "basic/parse-util.h"
#include "json-util.h"
#include "problem.h"
#include "reply.h"
#include "resources.h"
#include "views-inventory.h"

void write_group_list(JsonWriter *w, const Inventory *inv, const void *userdata) {
        jw_object_begin(w);
        jw_kbool(w, "iommu_active", inv->iommu_active);
        jw_kint(w, "count", (int64_t) inv->n_groups);
        jw_key(w, "groups");
        jw_array_begin(w);
        for (size_t i = 0; i < inv->n_groups; i++)
                write_group(w, inv, &inv->groups[i]);
        jw_array_end(w);
        jw_object_end(w);
}

enum MHD_Result get_iommu_groups(Request *r) {
        return reply_cached(r, CACHE_KEY_GROUPS, write_group_list, NULL);
}

static void write_one_group(JsonWriter *w, const Inventory *inv, const void *userdata) {
        write_group(w, inv, userdata);
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
        return reply_written(r, write_one_group, g);
}

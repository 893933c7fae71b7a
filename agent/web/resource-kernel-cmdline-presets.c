/* GET /v1/kernel-cmdline/presets: the presets PATCH /v1/kernel-cmdline
 * takes, each with the arguments it maps to on this host (by the IOMMU its
 * firmware describes and its CPU), whether it applies, and whether its
 * arguments are configured and running. ?vfio_pci_ids=a,b previews the
 * vfio-pci-ids preset with those ids and its warnings. */
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"
#include "basic/strv.h"
#include "json-util.h"
#include "host/kcmdline-presets.h"
#include "kcmdline-views.h"
#include "kernel-cmdline/kcmdline-edit.h"
#include "problem.h"
#include "reply.h"
#include "resources.h"

/* Whether c has every argument (the last occurrence of a key decides);
 * null when c is unknown or there are no arguments. */
static json_object *has_all(const KCmdline *c, char *const *args) {
        bool all = true;

        if (!c || strv_length(args) == 0)
                return NULL;
        for (char *const *a = args; *a && all; a++) {
                _cleanup_(karg_done) KArg k = {};

                all = karg_parse(*a, &k) >= 0 && kcmdline_has(c, k.key, k.value);
        }
        return json_object_new_boolean(all);
}

static int view_preset(const PresetInfo *info, const PresetHost *host, const KcState *s, char *const *ids,
                       json_object **ret) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        _cleanup_strv_free_ char **args = NULL, **warnings = NULL;
        _cleanup_free_ char *reason = NULL, *ids_arg = NULL;
        int r = 0;

        if (!o)
                return -ENOMEM;
        if (info->takes_ids && ids) {
                r = vfio_ids_argument(ids, &ids_arg);
                if (r >= 0)
                        r = strv_extend(&args, ids_arg);
                if (r >= 0)
                        r = vfio_ids_warnings(host->inv, ids, &warnings);
        } else if (!info->takes_ids) {
                r = preset_arguments(host, info->name, &args, &reason);
                if (r == -EOPNOTSUPP)
                        r = 0;
        }
        if (r < 0)
                return r;
        json_add_str(o, "name", info->name);
        json_add_str(o, "description", info->description);
        json_add_bool(o, "takes_ids", info->takes_ids);
        json_add_bool(o, "applicable", !reason);
        json_add_str(o, "reason", reason);
        json_add(o, "arguments", json_strv(args));
        json_add(o, "configured", has_all(s->config ? s->config->configured : NULL, args));
        json_add(o, "running", has_all(s->running, args));
        json_add(o, "warnings", json_strv(warnings));
        *ret = TAKE_PTR(o);
        return 0;
}

static int view_presets(const PresetHost *host, const KcState *s, char *const *ids, json_object **ret) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object(), *a = json_object_new_array();
        const char *src = host->caps.iommu_source;
        bool firmware = src && !streq(src, "cpu-vendor");
        int r;

        if (!o || !a)
                return -ENOMEM;
        for (size_t i = 0; i < n_kcmdline_presets; i++) {
                json_object *p = NULL;

                r = view_preset(&kcmdline_presets[i], host, s, ids, &p);
                if (r < 0)
                        return r;
                json_object_array_add(a, p);
        }
        json_add_str(o, "iommu", firmware ? iommu_kind_to_string(host->caps.iommu) : NULL);
        json_add_str(o, "iommu_source", firmware ? src : NULL);
        json_add_str(o, "cpu_vendor", host->info.cpu_vendor);
        json_add(o, "presets", TAKE_PTR(a));
        *ret = TAKE_PTR(o);
        return 0;
}

/* ?vfio_pci_ids=10de:1eb8,10de:10f8 */
static int parse_ids_query(const char *q, char ***ret) {
        _cleanup_strv_free_ char **l = NULL, **ids = NULL;
        int r;

        r = strv_split(q, ",", &l);
        if (r < 0)
                return r;
        if (strv_length(l) == 0 || strv_length(l) > VFIO_IDS_MAX)
                return -EINVAL;
        for (char **i = l; *i; i++) {
                char norm[10];

                if (vfio_id_normalize(*i, norm) < 0)
                        return -EINVAL;
                if (strv_extend(&ids, norm) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(ids);
        return 0;
}

enum MHD_Result get_kernel_cmdline_presets(Request *r) {
        _cleanup_(preset_host_done) PresetHost host = {};
        _cleanup_(kc_state_done) KcState s = {};
        _cleanup_strv_free_ char **ids = NULL;
        const char *q = request_query(r, "vfio_pci_ids");
        json_object *o = NULL;
        int k;

        if (q && (k = parse_ids_query(q, &ids)) < 0)
                return k == -ENOMEM ? problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {}, "out of memory")
                                    : problem_reply(r, PROBLEM_INVALID_PARAMETER,
                                                    (ProblemField) { .parameter = "vfio_pci_ids" },
                                                    "'%s' is not a comma-separated list of 1 to %d PCI ids "
                                                    "(vvvv:dddd)", q, VFIO_IDS_MAX);
        k = preset_host_read(r->state, &host);
        if (k >= 0)
                k = kc_state_load(r->state->root, &s);
        if (k >= 0)
                k = view_presets(&host, &s, ids, &o);
        if (k < 0)
                return problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {}, "evaluating the presets failed: %s",
                                     strerror(-k));
        return reply_json(r, MHD_HTTP_OK, o);
}

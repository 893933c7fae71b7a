/* PATCH /v1/kernel-cmdline's body: see kcmdline-body.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"
#include "basic/strv.h"
#include "json-util.h"
#include "kcmdline-body.h"
#include "kernel-cmdline/kcmdline-edit.h"
#include "problem.h"

/* ---- The body ---- */

/* The strings of a list parse_list() checked, copied. */
static int copy_list(json_object *l, char ***ret) {
        _cleanup_strv_free_ char **v = NULL;

        for (size_t i = 0; l && i < json_object_array_length(l); i++)
                if (strv_extend(&v, json_object_get_string(json_object_array_get_idx(l, i))) < 0)
                        return -ENOMEM;
        *ret = TAKE_PTR(v);
        return 0;
}

static bool copied(Request *r, json_object *l, char ***ret, enum MHD_Result *ret_mhd) {
        if (copy_list(l, ret) >= 0)
                return true;
        *ret_mhd = problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {}, "out of memory");
        return false;
}

/* The library's own rules, tried on an empty line: -EINVAL when spec is
 * not what this kind of edit takes. */
static int check_spec(BootEditType type, const char *spec) {
        _cleanup_(kcmdline_freep) KCmdline *c = NULL;
        int r;

        if (spec[0] == '$' || startswith(spec, "\"$"))
                return -EINVAL; /* a bootloader variable ($tuned_params), not an argument */
        r = kcmdline_parse("", &c);
        if (r < 0)
                return r;
        switch (type) {
        case BOOT_EDIT_APPEND:
        case BOOT_EDIT_APPEND_IF_MISSING:
                return kcmdline_append(c, spec, NULL);
        case BOOT_EDIT_REPLACE:
                r = kcmdline_replace(c, spec, NULL);
                return r == -ENOENT ? 0 : r;
        default:
                return kcmdline_delete_if_present(c, spec, NULL);
        }
}

static const char *spec_rule(BootEditType type) {
        switch (type) {
        case BOOT_EDIT_APPEND:
        case BOOT_EDIT_APPEND_IF_MISSING:
                return "exactly one kernel argument that hostdevd may add (a plain key without quotes, "
                       "'=' or control characters; a value without '\"' or control characters)";
        case BOOT_EDIT_REPLACE:
                return "KEY=OLD=NEW or KEY=NEW";
        default:
                return "exactly one kernel argument (KEY, KEY= or KEY=VALUE)";
        }
}

/* An optional list of non-empty strings, at most max; *ret borrows it
 * from body (NULL when absent). */
static bool parse_list(Request *r, json_object *body, const char *field, size_t max, json_object **ret,
                       enum MHD_Result *ret_mhd) {
        char pointer[64];
        json_object *v;
        size_t n;

        *ret = NULL;
        if (!json_object_object_get_ex(body, field, &v))
                return true;
        snprintf(pointer, sizeof pointer, "/%s", field);
        if (!json_object_is_type(v, json_type_array) || json_object_array_length(v) > max) {
                *ret_mhd = problem_reply(r, PROBLEM_INVALID_BODY, (ProblemField) { .pointer = pointer },
                                         "'%s' must be a list of at most %zu strings", field, max);
                return false;
        }
        n = json_object_array_length(v);
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(v, i);

                if (json_object_is_type(e, json_type_string) && json_object_get_string_len(e) > 0)
                        continue;
                snprintf(pointer, sizeof pointer, "/%s/%zu", field, i);
                *ret_mhd = problem_reply(r, PROBLEM_INVALID_BODY, (ProblemField) { .pointer = pointer },
                                         "each entry of '%s' must be a non-empty string", field);
                return false;
        }
        *ret = v;
        return true;
}

static bool parse_edit_lists(Request *r, json_object *body, KcEditRequest *p, enum MHD_Result *ret_mhd) {
        for (BootEditType t = 0; t < _BOOT_EDIT_TYPE_MAX; t++) {
                const char *field = boot_edit_type_to_string(t);
                json_object *l;

                if (!parse_list(r, body, field, EDIT_LIST_MAX, &l, ret_mhd))
                        return false;
                for (size_t i = 0; l && i < json_object_array_length(l); i++) {
                        const char *spec = json_object_get_string(json_object_array_get_idx(l, i));
                        char pointer[64];
                        int k = check_spec(t, spec);

                        if (k == -ENOMEM) {
                                *ret_mhd = problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {}, "out of memory");
                                return false;
                        }
                        if (k < 0) {
                                snprintf(pointer, sizeof pointer, "/%s/%zu", field, i);
                                *ret_mhd = problem_reply(r, PROBLEM_INVALID_BODY, (ProblemField) { .pointer = pointer },
                                                         "%s '%s': not %s", field, spec, spec_rule(t));
                                return false;
                        }
                }
                if (!copied(r, l, &p->lists[t], ret_mhd))
                        return false;
        }
        return true;
}

static bool parse_presets(Request *r, json_object *body, const char *field, bool removing, char ***ret,
                          enum MHD_Result *ret_mhd) {
        json_object *l;

        if (!parse_list(r, body, field, n_kcmdline_presets, &l, ret_mhd))
                return false;
        for (size_t i = 0; l && i < json_object_array_length(l); i++) {
                const char *name = json_object_get_string(json_object_array_get_idx(l, i));
                const PresetInfo *info = preset_find(name);
                char pointer[64];

                if (info && (removing || !info->takes_ids))
                        continue;
                snprintf(pointer, sizeof pointer, "/%s/%zu", field, i);
                *ret_mhd = problem_reply(r, PROBLEM_INVALID_BODY, (ProblemField) { .pointer = pointer },
                                         info ? "'%s' takes a list of ids: send them as \"vfio_pci_ids\""
                                              : "unknown preset '%s' (GET /v1/kernel-cmdline/presets lists them)",
                                         name);
                return false;
        }
        return copied(r, l, ret, ret_mhd);
}

static bool parse_ids(Request *r, json_object *body, KcEditRequest *p, enum MHD_Result *ret_mhd) {
        json_object *l;

        if (!parse_list(r, body, "vfio_pci_ids", VFIO_IDS_MAX, &l, ret_mhd))
                return false;
        if (l && json_object_array_length(l) == 0) {
                *ret_mhd = problem_reply(r, PROBLEM_INVALID_BODY, (ProblemField) { .pointer = "/vfio_pci_ids" },
                                         "'vfio_pci_ids' needs at least one id; to remove vfio-pci.ids, send "
                                         "\"remove_presets\": [\"vfio-pci-ids\"] or \"delete\"");
                return false;
        }
        for (size_t i = 0; l && i < json_object_array_length(l); i++) {
                const char *id = json_object_get_string(json_object_array_get_idx(l, i));
                char norm[10], pointer[64];

                if (vfio_id_normalize(id, norm) < 0) {
                        snprintf(pointer, sizeof pointer, "/vfio_pci_ids/%zu", i);
                        *ret_mhd = problem_reply(r, PROBLEM_INVALID_BODY, (ProblemField) { .pointer = pointer },
                                                 "'%s' is not a PCI id: vvvv:dddd, 4 hex digits each", id);
                        return false;
                }
                if (strv_extend(&p->ids, norm) < 0) {
                        *ret_mhd = problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {}, "out of memory");
                        return false;
                }
        }
        return true;
}

static bool parse_flag(Request *r, json_object *body, const char *field, bool *ret, enum MHD_Result *ret_mhd) {
        char pointer[64];
        json_object *v;

        if (!json_object_object_get_ex(body, field, &v))
                return true;
        if (json_object_is_type(v, json_type_boolean)) {
                *ret = json_object_get_boolean(v);
                return true;
        }
        snprintf(pointer, sizeof pointer, "/%s", field);
        *ret_mhd = problem_reply(r, PROBLEM_INVALID_BODY, (ProblemField) { .pointer = pointer },
                                 "'%s' must be true or false", field);
        return false;
}

bool parse_patch(Request *r, KcEditRequest *p, enum MHD_Result *ret_mhd) {
        static const char *const fields[] = { "append", "append_if_missing", "delete", "delete_if_present",
                                              "delete_owned", "replace", "presets", "remove_presets",
                                              "vfio_pci_ids", "allow_conflicts", "dry_run", NULL };
        _cleanup_(json_object_putp) json_object *body = NULL;

        if (!request_json_body(r, fields, &body, ret_mhd) || !parse_edit_lists(r, body, p, ret_mhd) ||
            !parse_presets(r, body, "presets", false, &p->presets, ret_mhd) ||
            !parse_presets(r, body, "remove_presets", true, &p->remove_presets, ret_mhd) ||
            !parse_ids(r, body, p, ret_mhd) || !parse_flag(r, body, "allow_conflicts", &p->allow_conflicts, ret_mhd) ||
            !parse_flag(r, body, "dry_run", &p->dry_run, ret_mhd))
                return false;
        if (kc_edit_request_size(p) == 0) {
                *ret_mhd = problem_reply(r, PROBLEM_INVALID_BODY, (ProblemField) { .pointer = "" },
                                         "nothing to do: give at least one edit (append, append_if_missing, delete, "
                                         "delete_if_present, delete_owned, replace, presets, remove_presets, "
                                         "vfio_pci_ids)");
                return false;
        }
        return true;
}


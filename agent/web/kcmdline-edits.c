/* PATCH /v1/kernel-cmdline's body and edits: see kcmdline-edits.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"
#include "basic/strv.h"
#include "json-util.h"
#include "kcmdline-edits.h"
#include "kernel-cmdline/kcmdline-edit.h"
#include "problem.h"

/* ---- The body ---- */

void patch_request_done(PatchRequest *p) {
        for (BootEditType t = 0; t < _BOOT_EDIT_TYPE_MAX; t++)
                json_object_put(p->lists[t]);
        json_object_put(p->presets);
        json_object_put(p->remove_presets);
        strv_free(p->ids);
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

static bool parse_edit_lists(Request *r, json_object *body, PatchRequest *p, enum MHD_Result *ret_mhd) {
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
                p->lists[t] = json_object_get(l); /* a reference of p's own */
        }
        return true;
}

static bool parse_presets(Request *r, json_object *body, const char *field, bool removing, json_object **ret,
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
        *ret = json_object_get(l); /* a reference of the caller's own */
        return true;
}

static bool parse_ids(Request *r, json_object *body, PatchRequest *p, enum MHD_Result *ret_mhd) {
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

bool parse_patch(Request *r, PatchRequest *p, enum MHD_Result *ret_mhd) {
        static const char *const fields[] = { "append", "append_if_missing", "delete", "delete_if_present",
                                              "delete_owned", "replace", "presets", "remove_presets",
                                              "vfio_pci_ids", "allow_conflicts", "dry_run", NULL };
        _cleanup_(json_object_putp) json_object *body = NULL;
        size_t n = 0;

        if (!request_json_body(r, fields, &body, ret_mhd) || !parse_edit_lists(r, body, p, ret_mhd) ||
            !parse_presets(r, body, "presets", false, &p->presets, ret_mhd) ||
            !parse_presets(r, body, "remove_presets", true, &p->remove_presets, ret_mhd) ||
            !parse_ids(r, body, p, ret_mhd) || !parse_flag(r, body, "allow_conflicts", &p->allow_conflicts, ret_mhd) ||
            !parse_flag(r, body, "dry_run", &p->dry_run, ret_mhd))
                return false;
        for (BootEditType t = 0; t < _BOOT_EDIT_TYPE_MAX; t++)
                n += p->lists[t] ? json_object_array_length(p->lists[t]) : 0;
        n += p->presets ? json_object_array_length(p->presets) : 0;
        n += p->remove_presets ? json_object_array_length(p->remove_presets) : 0;
        n += strv_length(p->ids);
        if (n == 0) {
                *ret_mhd = problem_reply(r, PROBLEM_INVALID_BODY, (ProblemField) { .pointer = "" },
                                         "nothing to do: give at least one edit (append, append_if_missing, delete, "
                                         "delete_if_present, delete_owned, replace, presets, remove_presets, "
                                         "vfio_pci_ids)");
                return false;
        }
        return true;
}

/* ---- The edits ---- */

void edits_done(Edits *e) {
        for (size_t i = 0; i < e->n; i++) {
                free((char *) e->edits[i].spec);
                free(e->pointers[i]);
        }
        free(e->edits);
        free(e->pointers);
        *e = (Edits) {};
}

static int edits_add(Edits *e, BootEditType type, const char *spec, const char *pointer) {
        BootEdit *edits = reallocarray(e->edits, e->n + 1, sizeof(BootEdit));
        char **pointers;
        char *s, *p;

        if (!edits)
                return -ENOMEM;
        e->edits = edits;
        pointers = reallocarray(e->pointers, e->n + 1, sizeof(char *));
        if (!pointers)
                return -ENOMEM;
        e->pointers = pointers;
        s = strdup(spec);
        p = strdup(pointer);
        if (!s || !p) {
                free(s);
                free(p);
                return -ENOMEM;
        }
        e->edits[e->n] = (BootEdit) { .type = type, .spec = s };
        e->pointers[e->n++] = p;
        return 0;
}

static int add_list(Edits *e, const PatchRequest *p, BootEditType t) {
        json_object *l = p->lists[t];
        char pointer[64];
        int r;

        for (size_t i = 0; l && i < json_object_array_length(l); i++) {
                snprintf(pointer, sizeof pointer, "/%s/%zu", boot_edit_type_to_string(t), i);
                r = edits_add(e, t, json_object_get_string(json_object_array_get_idx(l, i)), pointer);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int add_args(Edits *e, BootEditType t, char *const *args, const char *pointer) {
        for (char *const *a = args; a && *a; a++) {
                int r = edits_add(e, t, *a, pointer);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int add_removed_presets(Edits *e, const PatchRequest *p) {
        for (size_t i = 0; p->remove_presets && i < json_object_array_length(p->remove_presets); i++) {
                const char *name = json_object_get_string(json_object_array_get_idx(p->remove_presets, i));
                _cleanup_strv_free_ char **args = NULL;
                char pointer[64];
                int r;

                r = preset_arguments_any_host(name, &args);
                if (r < 0)
                        return r;
                snprintf(pointer, sizeof pointer, "/remove_presets/%zu", i);
                r = add_args(e, BOOT_EDIT_DELETE_OWNED, args, pointer);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The presets' arguments; a preset that does not apply to this host is a
 * 409 naming it (returns false with *ret_mhd). */
static bool add_presets(Request *r, Edits *e, const PatchRequest *p, const PresetHost *host, int *ret_r,
                        enum MHD_Result *ret_mhd) {
        *ret_r = 0;
        for (size_t i = 0; p->presets && i < json_object_array_length(p->presets); i++) {
                const char *name = json_object_get_string(json_object_array_get_idx(p->presets, i));
                _cleanup_strv_free_ char **args = NULL;
                _cleanup_free_ char *reason = NULL;
                char pointer[64];
                int k;

                snprintf(pointer, sizeof pointer, "/presets/%zu", i);
                k = preset_arguments(host, name, &args, &reason);
                if (k == -EOPNOTSUPP) {
                        *ret_mhd = problem_reply(r, PROBLEM_PRESET_NOT_APPLICABLE, (ProblemField) { .pointer = pointer },
                                                 "the preset '%s' does not apply to this host: %s", name, reason);
                        return false;
                }
                if (k >= 0)
                        k = add_args(e, BOOT_EDIT_APPEND_IF_MISSING, args, pointer);
                if (k < 0) {
                        *ret_r = k;
                        return false;
                }
        }
        return true;
}

bool build_edits(Request *r, const PatchRequest *p, const KcState *s, const PresetHost *host, Edits *e,
                        enum MHD_Result *ret_mhd) {
        _cleanup_free_ char *ids_arg = NULL;
        bool ids_configured = false;
        int k = 0;

        if (p->ids) {
                k = vfio_ids_argument(p->ids, &ids_arg);
                ids_configured = kcmdline_get(s->config->configured, "vfio-pci.ids") != NULL;
        }
        if (k >= 0)
                k = add_list(e, p, BOOT_EDIT_REPLACE);
        if (k >= 0 && ids_arg && ids_configured)
                k = edits_add(e, BOOT_EDIT_REPLACE, ids_arg, "/vfio_pci_ids");
        for (BootEditType t = BOOT_EDIT_DELETE; k >= 0 && t <= BOOT_EDIT_DELETE_OWNED; t++)
                k = add_list(e, p, t);
        if (k >= 0)
                k = add_removed_presets(e, p);
        if (k >= 0)
                k = add_list(e, p, BOOT_EDIT_APPEND);
        if (k >= 0)
                k = add_list(e, p, BOOT_EDIT_APPEND_IF_MISSING);
        if (k >= 0 && !add_presets(r, e, p, host, &k, ret_mhd) && k >= 0)
                return false; /* refused, the reply is queued */
        if (k >= 0 && ids_arg && !ids_configured)
                k = edits_add(e, BOOT_EDIT_APPEND_IF_MISSING, ids_arg, "/vfio_pci_ids");
        if (k < 0) {
                *ret_mhd = problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {}, "out of memory");
                return false;
        }
        return true;
}

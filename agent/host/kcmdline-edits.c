/* Kernel command-line edits from a request: see kcmdline-edits.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"
#include "basic/strv.h"
#include "kcmdline-edits.h"
#include "kernel-cmdline/kcmdline-edit.h"

void kc_edit_request_done(KcEditRequest *p) {
        for (BootEditType t = 0; t < _BOOT_EDIT_TYPE_MAX; t++)
                strv_free(p->lists[t]);
        strv_free(p->presets);
        strv_free(p->remove_presets);
        strv_free(p->ids);
        *p = (KcEditRequest) {};
}

size_t kc_edit_request_size(const KcEditRequest *p) {
        size_t n = strv_length(p->presets) + strv_length(p->remove_presets) + strv_length(p->ids);

        for (BootEditType t = 0; t < _BOOT_EDIT_TYPE_MAX; t++)
                n += strv_length(p->lists[t]);
        return n;
}

void edits_done(Edits *e) {
        for (size_t i = 0; i < e->n; i++) {
                free((char *) e->edits[i].spec);
                free(e->pointers[i]);
        }
        free(e->edits);
        free(e->pointers);
        *e = (Edits) {};
}

const char *edits_last_writing(const Edits *e, const char *key) {
        for (size_t i = e->n; i > 0; i--) {
                const BootEdit *x = e->edits + i - 1;
                _cleanup_(karg_done) KArg a = {};
                bool writes = x->type == BOOT_EDIT_APPEND || x->type == BOOT_EDIT_APPEND_IF_MISSING ||
                              x->type == BOOT_EDIT_REPLACE;

                if (writes && karg_parse(x->spec, &a) >= 0 && kcmdline_key_equal(a.key, key))
                        return e->pointers[i - 1];
        }
        return NULL;
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

static int add_list(Edits *e, const KcEditRequest *p, BootEditType t) {
        char pointer[64];
        size_t i = 0;
        int r;

        STRV_FOREACH(s, p->lists[t]) {
                snprintf(pointer, sizeof pointer, "/%s/%zu", boot_edit_type_to_string(t), i++);
                r = edits_add(e, t, *s, pointer);
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

static int add_removed_presets(Edits *e, const KcEditRequest *p) {
        size_t i = 0;

        STRV_FOREACH(name, p->remove_presets) {
                _cleanup_strv_free_ char **args = NULL;
                char pointer[64];
                int r;

                r = preset_arguments_any_host(*name, &args);
                if (r < 0)
                        return r;
                snprintf(pointer, sizeof pointer, "/remove_presets/%zu", i++);
                r = add_args(e, BOOT_EDIT_DELETE_OWNED, args, pointer);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The presets' arguments; -EOPNOTSUPP naming a preset that does not apply. */
static int add_presets(Edits *e, const KcEditRequest *p, const PresetHost *host, char **ret_pointer,
                       char **ret_reason) {
        size_t i = 0;

        STRV_FOREACH(name, p->presets) {
                _cleanup_strv_free_ char **args = NULL;
                _cleanup_free_ char *reason = NULL;
                char pointer[64];
                int k;

                snprintf(pointer, sizeof pointer, "/presets/%zu", i++);
                k = preset_arguments(host, *name, &args, &reason);
                if (k == -EOPNOTSUPP) {
                        *ret_pointer = strdup(pointer);
                        if (!*ret_pointer ||
                            asprintf(ret_reason, "the preset '%s' does not apply to this host: %s", *name,
                                     strempty(reason)) < 0) {
                                free(*ret_pointer);
                                *ret_pointer = NULL;
                                return -ENOMEM;
                        }
                        return -EOPNOTSUPP;
                }
                if (k >= 0)
                        k = add_args(e, BOOT_EDIT_APPEND_IF_MISSING, args, pointer);
                if (k < 0)
                        return k;
        }
        return 0;
}

int kc_build_edits(const KcEditRequest *p, const KcState *s, const PresetHost *host, Edits *e,
                   char **ret_pointer, char **ret_reason) {
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
        if (k >= 0)
                k = add_presets(e, p, host, ret_pointer, ret_reason);
        if (k >= 0 && ids_arg && !ids_configured)
                k = edits_add(e, BOOT_EDIT_APPEND_IF_MISSING, ids_arg, "/vfio_pci_ids");
        return k < 0 ? k : 0;
}

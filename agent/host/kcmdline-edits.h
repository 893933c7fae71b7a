/* What a kernel command-line change asks for, as plain lists, and the
 * edits it makes in the order they apply: the policy of PATCH
 * /v1/kernel-cmdline below the HTTP layer (which parses the body into a
 * KcEditRequest). Every edit remembers the request entry it comes from (a
 * JSON pointer, "/append/3"), so that a refusal can name it. */
#pragma once

#include <stdbool.h>

#include "kcmdline-presets.h"
#include "kcmdline-state.h"
#include "kernel-cmdline/bootloader.h"

#define EDIT_LIST_MAX 64 /* entries per list */

typedef struct KcEditRequest {
        char **lists[_BOOT_EDIT_TYPE_MAX]; /* NULL when absent */
        char **presets, **remove_presets;  /* names, checked by the parser */
        char **ids;                        /* vfio_pci_ids, normalized */
        bool allow_conflicts, dry_run;
} KcEditRequest;

void kc_edit_request_done(KcEditRequest *p);
/* Entries of every kind together. */
size_t kc_edit_request_size(const KcEditRequest *p);

typedef struct Edits {
        BootEdit *edits;  /* specs owned */
        char **pointers;  /* parallel: the request entry each edit comes from, "/append/3" */
        size_t n;
} Edits;

/* Every edit in the documented order: replace, vfio_pci_ids (configured:
 * replace), delete, delete_if_present, delete_owned, remove_presets,
 * append, append_if_missing, presets, vfio_pci_ids (not configured:
 * append_if_missing). -EOPNOTSUPP for a preset that does not apply to this
 * host, with *ret_pointer (owned) naming its entry and *ret_reason (owned)
 * the sentence that says why; -ENOMEM.
 * s->config must be set. */
int kc_build_edits(const KcEditRequest *p, const KcState *s, const PresetHost *host, Edits *e,
                   char **ret_pointer, char **ret_reason);
void edits_done(Edits *e);
/* The pointer of the last edit that writes an argument with this key
 * (append, append_if_missing, replace), or NULL. */
const char *edits_last_writing(const Edits *e, const char *key);

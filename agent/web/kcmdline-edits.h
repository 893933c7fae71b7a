/* The body of PATCH /v1/kernel-cmdline, checked, and the edits it asks
 * for in the order they apply (see resource-kernel-cmdline.c). Every
 * refusal names the body entry (a JSON pointer, "/append/3"). */
#pragma once

#include <stdbool.h>

#include <json-c/json.h>

#include "kcmdline-presets.h"
#include "kcmdline-state.h"
#include "kernel-cmdline/bootloader.h"
#include "request.h"

#define EDIT_LIST_MAX 64 /* entries per list */

typedef struct PatchRequest {
        json_object *lists[_BOOT_EDIT_TYPE_MAX]; /* references of our own, NULL when absent */
        json_object *presets, *remove_presets;
        char **ids;                              /* vfio_pci_ids, normalized */
        bool allow_conflicts, dry_run;
} PatchRequest;

/* Parses and checks the body (every entry by the kernel-cmdline library's
 * own rules, on an empty line); on error queues the 400 and returns false
 * with *ret_mhd set. */
bool parse_patch(Request *r, PatchRequest *p, enum MHD_Result *ret_mhd);
void patch_request_done(PatchRequest *p);

typedef struct Edits {
        BootEdit *edits;  /* specs owned */
        char **pointers;  /* parallel: the body entry each edit comes from, "/append/3" */
        size_t n;
} Edits;

/* Every edit in the documented order: replace, vfio_pci_ids (configured:
 * replace), delete, delete_if_present, delete_owned, remove_presets,
 * append, append_if_missing, presets, vfio_pci_ids (not configured:
 * append_if_missing). A preset that does not apply to this host queues a
 * 409 preset-not-applicable and returns false. s->config must be set. */
bool build_edits(Request *r, const PatchRequest *p, const KcState *s, const PresetHost *host, Edits *e,
                 enum MHD_Result *ret_mhd);
void edits_done(Edits *e);

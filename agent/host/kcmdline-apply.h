/* Writing a planned kernel command-line change: the bootloader files
 * (atomically, every one rolled back on failure), hostdevd's ledger of the
 * arguments it added, the bootloader's regeneration tool, and the line read
 * back. This is the work a "kernel-cmdline" operation does off the event
 * loop: it touches only what it is given, logs nothing, and reports each
 * step through a callback. */
#pragma once

#include <stdbool.h>

#include "kcmdline-state.h"
#include "kernel-cmdline/bootloader.h"

typedef void (*KcStepFn)(const char *step, void *userdata);

typedef struct KcApply {
        /* Given (owned): what the plan was made from, planned with conflicts refused. */
        Bootloader *bootloader;
        BootPlan *plan;
        BootLedger *ledger;          /* gets the plan's ownership */
        KCmdline *running;
        char **warnings;             /* the plan's warnings; the apply adds its own */
        BootRegenFlags regen_flags;

        /* Found. */
        int error;                   /* < 0: writing failed and every file was restored */
        char *error_message;         /* then: the library's sentence (may be NULL) */
        bool ledger_saved;
        BootRegenResult *regen;      /* NULL when the tool could not be run (see warnings) */
        KcState now;                 /* the state read back after the write */
} KcApply;

void kc_apply_done(KcApply *a);

/* Writes a->plan (which must have changes). Returns -ENOMEM only: every
 * other failure is in a->error and the warnings. */
int kc_apply(const HostRoot *root, KcApply *a, KcStepFn step, void *userdata);

/* What the files configure after the apply: read back, or as planned. */
const KCmdline *kc_apply_configured(const KcApply *a);

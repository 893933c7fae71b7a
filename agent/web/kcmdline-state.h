/* The kernel command line as the API shows it: what runs, the bootloader,
 * what it configures, and hostdevd's ledger, loaded together; what is
 * pending (what runs differs from what the next boot gets); and JSON views
 * of them (the shapes of /v1/kernel-cmdline in api/openapi.json). Each view
 * returns a new reference, or NULL when out of memory. */
#pragma once

#include <stdbool.h>

#include <json-c/json.h>

#include "basic/hostroot.h"
#include "kernel-cmdline/bootloader.h"
#include "kernel-cmdline/kcmdline.h"

typedef struct KcState {
        KCmdline *running;       /* NULL when the running line is unreadable */
        Bootloader *bootloader;  /* NULL when none was found (error says why) */
        BootConfig *config;      /* NULL when none was found or it is unreadable */
        char *error;             /* why bootloader or config is NULL */
        BootLedger *ledger;      /* NULL when the ledger is unreadable */
        int ledger_error;
} KcState;

/* Loads everything; what cannot be read stays NULL. Fails only when out
 * of memory. */
int kc_state_load(const HostRoot *root, KcState *ret);
void kc_state_done(KcState *s);

/* [{"key", "value" (null: a flag), "section": "kernel"|"init", "noise"}]:
 * every argument, bootloader noise (BOOT_IMAGE=, a leading initrd=)
 * included and flagged. */
json_object *view_kargs(const KCmdline *c);
/* {"text", "arguments"} plus "source" when source is given; JSON null for
 * c NULL. */
json_object *view_kcmdline(const KCmdline *c, const char *source, bool with_source);
/* {"kind", "flavour", "files", "editable", "reason"}. */
json_object *view_bootloader(const Bootloader *b);
json_object *view_boot_entries(const BootConfig *c);
/* {"command", "ran", "reason", "exit_status", "output"}; null for NULL. */
json_object *view_regeneration(const BootRegenResult *r);

/* Pending differences, compared as parsed pairs (section, key with '-' and
 * '_' equivalent, value), never as text; bootloader noise on either side
 * is ignored, and so are running arguments that the bootloader's generator
 * adds by itself (GRUB's 10_linux: root=, ro; Ubuntu's vt.handoff=), which
 * grub-debian's configured line cannot hold. */
typedef struct PendingArg {
        const KArg *arg;   /* borrowed from running or configured */
        bool add;          /* configured, not running; false: running, not configured */
} PendingArg;

int kcmdline_pending(const KCmdline *running, const KCmdline *configured, BootloaderKind kind,
                     PendingArg **ret, size_t *ret_n);
/* The argument as text: karg_format(), or key=value unquoted where no
 * token reads back as it. NULL when out of memory. */
char *karg_to_text(const KArg *a);
/* [{"action": "add"|"remove", "argument", "key", "value", "section"}]. */
json_object *view_pending(const PendingArg *p, size_t n);

/* The kernel command line as the host has it: what runs, the bootloader,
 * what it configures and hostdevd's ledger, loaded together; and what is
 * pending (what runs differs from what the next boot gets). The HTTP layer
 * shows it (web/kcmdline-views.h); the reboot records what is pending. */
#pragma once

#include <stdbool.h>

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
/* The bootloader's kind, _BOOTLOADER_KIND_MAX when none was found. */
BootloaderKind kc_state_kind(const KcState *s);

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

/* The kernel arguments the configured bootloader adds to what runs now
 * (NULL-terminated, NULL for none): what a reboot is expected to bring.
 * When they cannot be known, *ret is NULL and *ret_why (owned) says why;
 * otherwise *ret_why is NULL. */
int kc_pending_additions(const HostRoot *root, char ***ret, char **ret_why);

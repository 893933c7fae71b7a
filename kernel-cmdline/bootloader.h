/* The bootloader backends: find out which bootloader setup a host uses, read
 * the kernel command line its next boot will get, plan an edit of it as
 * per-file changes (with a diff for dry runs), apply the plan atomically with
 * backups, verification and rollback, and run the distribution's
 * regeneration tool. A pure library: no HTTP, no JSON, no logging.
 *
 * The caller (the API layer) does, for GET:
 *     bootloader_detect() -> bootloader_read() -> boot_ledger_load() +
 *     boot_ledger_owned_in()
 * and for PATCH:
 *     bootloader_cleanup_stale() (once at start) ... bootloader_detect() ->
 *     boot_ledger_load() -> bootloader_plan() -> (dry_run: show plan->diff;
 *     conflicts: 409) -> boot_ledger_record() on a copy ->
 *     bootloader_apply_recorded() -> bootloader_regenerate().
 *
 * Every path is built from the HostRoot (hostroot_path()); a Bootloader
 * borrows its root, which must outlive it. Paths shown to users
 * (files, BootFileChange.display_path, messages) are relative to the root
 * and start with '/'. Functions that can fail for a reason a user should
 * read take char **ret_error: on failure it gets a sentence (may be NULL
 * when out of memory); on success it is left alone. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "basic/hostroot.h"
#include "kcmdline.h"

typedef enum BootloaderKind {
        BOOTLOADER_BLS,          /* "bls": GRUB + BootLoaderSpec entries (RHEL 9, Fedora) */
        BOOTLOADER_BLS_GRUBENV,  /* "bls-grubenv": RHEL 8, entries use $kernelopts from grubenv */
        BOOTLOADER_GRUB_DEBIAN,  /* "grub-debian": /etc/default/grub + grub.d, update-grub */
        BOOTLOADER_SYSTEMD_BOOT, /* "systemd-boot": kernel-install, entries on the ESP */
        BOOTLOADER_PROXMOX,      /* "proxmox-boot-tool": /etc/kernel/cmdline, refresh */
        BOOTLOADER_OSTREE,       /* "ostree": detected, not editable (rpm-ostree kargs / bootc) */
        _BOOTLOADER_KIND_MAX,
} BootloaderKind;

const char *bootloader_kind_to_string(BootloaderKind k);

typedef struct Bootloader Bootloader;

/* Detects the setup under root and loads (a snapshot of) every file
 * involved. -ENOENT when no supported setup is found; other negative errno
 * on read errors. Detection order and the ESP search are documented in
 * bootloader.c. */
int bootloader_detect(const HostRoot *root, Bootloader **ret, char **ret_error);
Bootloader *bootloader_free(Bootloader *b);
static inline void bootloader_freep(Bootloader **b) {
        bootloader_free(*b);
}

BootloaderKind bootloader_kind(const Bootloader *b);
/* "proxmox" for a Proxmox VE host (also on GRUB), NULL otherwise. */
const char *bootloader_flavour(const Bootloader *b);
/* The files involved (read, or written by an edit), root-relative, in a
 * stable order; NULL-terminated, borrowed. Includes files that an edit
 * would create (the GRUB drop-in) only once they exist. */
char *const *bootloader_files(const Bootloader *b);
/* Whether bootloader_plan() can edit this setup; if not, *ret_reason
 * (borrowed, may be NULL) says why. */
bool bootloader_editable(const Bootloader *b, const char **ret_reason);

/* Whether a backend of this kind can write arg (an edit spec) literally:
 * -EINVAL with *ret_reason (a sentence naming the character; NULL when out
 * of memory) for a control character, a double quote the kernel would split
 * at, or a character of bootloader_refused_characters(kind) (bootloader-
 * check.c says why each). bootloader_plan() checks every spec it writes. */
int bootloader_check_argument(BootloaderKind kind, const char *arg, char **ret_reason);
/* The printable characters refused for kind, beyond the common rule. */
const char *bootloader_refused_characters(BootloaderKind kind);

/* ---- Reading ---- */

typedef struct BootEntry {
        char *id;           /* BLS: file name without ".conf" */
        char *path;         /* root-relative */
        char *title;        /* NULL when the entry has none */
        char *version;
        char *options;      /* the options text as the bootloader uses it, $vars unexpanded */
        KCmdline *cmdline;  /* what the kernel gets: $vars expanded from grubenv */
        bool is_default;    /* the entry the next boot uses */
        bool is_rescue;     /* "*-0-rescue*": never edited */
        bool uses_kernelopts; /* bls-grubenv: options reference $kernelopts */
} BootEntry;

typedef struct BootConfig {
        /* What the next boot uses: the default entry (BLS: next_entry, else
         * saved_entry of grubenv, else the newest non-rescue entry;
         * systemd-boot: loader.conf "default", else the newest), the GRUB
         * variables of a normal (non-recovery) entry, or proxmox-boot-tool's
         * first line of /etc/kernel/cmdline. */
        KCmdline *configured;
        char *configured_source;   /* e.g. "/boot/loader/entries/x.conf" */
        /* What kernels installed later get (/etc/kernel/cmdline, grubenv
         * kernelopts); NULL when that is the same source or unknown. */
        KCmdline *future;
        char *future_source;
        BootEntry *entries;
        size_t n_entries;
        /* Drift and other warnings, one sentence each; NULL-terminated,
         * never NULL itself. */
        char **warnings;
} BootConfig;

/* Reads the configured command line. -EINVAL with *ret_error when a file
 * is unusable (a Proxmox /etc/kernel/cmdline whose first line lacks
 * "root=", a GRUB fragment that cannot be evaluated safely). */
int bootloader_read(const Bootloader *b, BootConfig **ret, char **ret_error);
BootConfig *boot_config_free(BootConfig *c);
static inline void boot_config_freep(BootConfig **c) {
        boot_config_free(*c);
}

/* ---- The ownership ledger (AREA_STATE/kernel-cmdline.owned) ---- */

/* The arguments hostdevd added, formatted ("intel_iommu=on"), one line
 * each in the file; written atomically. Arguments compare as parsed pairs
 * (keys with '-' and '_' equivalent). */
typedef struct BootLedger {
        char **owned; /* NULL-terminated, never NULL */
} BootLedger;

/* A missing file is an empty ledger. -EINVAL for a line that is not one
 * argument. */
int boot_ledger_load(const HostRoot *root, BootLedger **ret);
int boot_ledger_save(const HostRoot *root, const BootLedger *l);
/* What load and save do to the file's text (size bytes, NUL after them). */
int boot_ledger_parse(const char *text, size_t size, BootLedger **ret);
int boot_ledger_format(const BootLedger *l, char **ret, size_t *ret_size);
BootLedger *boot_ledger_free(BootLedger *l);
static inline void boot_ledger_freep(BootLedger **l) {
        boot_ledger_free(*l);
}
/* Whether the ledger records this pair. */
bool boot_ledger_owns(const BootLedger *l, const KArg *a);
/* The owned arguments that c has (formatted, in c's order). */
int boot_ledger_owned_in(const BootLedger *l, const KCmdline *c, char ***ret);

/* ---- Planning an edit ---- */

typedef enum BootEditType {
        BOOT_EDIT_APPEND,            /* -EEXIST when the pair is there already */
        BOOT_EDIT_APPEND_IF_MISSING, /* present: unchanged, and not owned */
        BOOT_EDIT_DELETE,            /* -ENOENT when absent; removes it even if not owned */
        BOOT_EDIT_DELETE_IF_PRESENT,
        BOOT_EDIT_DELETE_OWNED,      /* removes it only if the ledger owns it, else a note */
        BOOT_EDIT_REPLACE,           /* "KEY=OLD=NEW" or "KEY=NEW"; ownership moves to NEW */
        _BOOT_EDIT_TYPE_MAX,
} BootEditType;

const char *boot_edit_type_to_string(BootEditType t);

typedef struct BootEdit {
        BootEditType type;
        const char *spec; /* as for kcmdline-edit.h; keys starting with '$' are refused */
} BootEdit;

typedef enum BootPlanFlags {
        /* Append even where an argument with the same key and another value
         * is there (iommu=off when asked for iommu=pt). Without it, such an
         * append is not done and is listed in plan->conflicts. */
        BOOT_PLAN_ALLOW_CONFLICTS = 1 << 0,
} BootPlanFlags;

typedef struct BootFileChange {
        char *path;          /* absolute, under the root */
        char *display_path;  /* root-relative */
        bool existed;        /* false: the edit creates it */
        char *old_contents;  /* NULL when it did not exist */
        size_t old_size;
        char *new_contents;
        size_t new_size;
        unsigned mode;       /* kept from the old file; 0644 for a new one */
} BootFileChange;

/* One place an edit changes ("/etc/kernel/cmdline", "entry <id>",
 * "grubenv kernelopts", "GRUB_CMDLINE_LINUX"), before and after. */
typedef struct BootTarget {
        char *name;
        KCmdline *before;
        KCmdline *after;
} BootTarget;

typedef struct BootPlan {
        BootloaderKind kind;
        bool changed;             /* some file changes */
        BootFileChange *files;    /* only files that change, in write order */
        size_t n_files;
        BootTarget *targets;
        size_t n_targets;
        char *diff;               /* unified diff of all files, "" when unchanged */
        KCmdline *before;         /* configured, before and after the edit */
        KCmdline *after;
        char **conflicts;         /* NULL-terminated, never NULL */
        char **notes;             /* what was kept or decided, one sentence each */
        char **owned_added;       /* arguments to record in the ledger */
        char **owned_removed;     /* arguments to drop from it */
} BootPlan;

/* Computes what edits (applied in order, each on the result of the
 * previous) do to every target of the setup. Rescue entries are never
 * targets. -EOPNOTSUPP for ostree, -EINVAL for a bad spec, -ENOENT /
 * -EEXIST / -ENOTUNIQ as the edits of kcmdline-edit.h, -E2BIG when grubenv
 * would overflow its block, -EDOM when the result cannot be written as it
 * is (a line of /etc/kernel/cmdline would become a comment), -EBADMSG when
 * a file to edit is not text (a NUL byte); *ret_error says which edit and
 * why. The ledger
 * may be NULL (nothing owned). */
int bootloader_plan(const Bootloader *b, const BootEdit *edits, size_t n_edits,
                    const BootLedger *ledger, BootPlanFlags flags,
                    BootPlan **ret, char **ret_error);
BootPlan *boot_plan_free(BootPlan *p);
static inline void boot_plan_freep(BootPlan **p) {
        boot_plan_free(*p);
}

/* Moves the plan's ownership changes into the ledger (in memory); what
 * bootloader_apply_recorded() then writes with the files. */
int boot_ledger_record(BootLedger *l, const BootPlan *plan);

/* ---- Applying ---- */

/* Writes the plan's files: refuses (-ESTALE) when a file no longer has the
 * contents the plan was made from, and (-EBUSY) a plan with conflicts.
 * Then: a backup of each old file under AREA_STATE/backup/<path>, a journal
 * (AREA_STATE/kernel-cmdline.journal) naming the files, each file written
 * atomically (same-directory temp file ".<name>.hostdevd-tmp.XXXXXX",
 * fsync, rename, fsync of the directory, old mode kept), then every file
 * re-read and the setup re-detected and re-parsed: each target must have
 * exactly the planned arguments. Any failure restores every file of the
 * plan (new files are removed) and returns the error. The journal is
 * removed last; bootloader_cleanup_stale() finishes a rollback that a crash
 * interrupted. A plan without changes is a no-op. */
int bootloader_apply(const HostRoot *root, const BootPlan *plan, char **ret_error);
/* The same, with the ledger as it is after the plan (boot_ledger_record())
 * written as the transaction's last file: a failure or a crash at any point
 * leaves files and ledger both old or both new. NULL: the ledger is not
 * written. */
int bootloader_apply_recorded(const HostRoot *root, const BootPlan *plan, const BootLedger *ledger,
                              char **ret_error);

/* At start: removes our stale temp files from every directory we write, and
 * if a journal is left from a crash, restores the files it names from their
 * backups. *ret_actions (may be NULL) lists what was done. */
int bootloader_cleanup_stale(const HostRoot *root, char ***ret_actions);

/* ---- Regeneration ---- */

typedef struct BootRegenResult {
        char *command;   /* the command line, or NULL when the setup needs none */
        bool ran;        /* false: not the real root, or the tool is absent */
        char *reason;    /* why it did not run */
        int exit_status; /* -1 when it did not run or was killed */
        char *output;    /* stdout and stderr, at most 64 KiB */
} BootRegenResult;

typedef enum BootRegenFlags {
        /* Also under a root that is not the host's: runs the tool found in
         * that tree (the test suite's stand-ins), never the host's own. */
        BOOT_REGEN_IN_ROOT = 1 << 0,
} BootRegenFlags;

/* The tool the setup needs after an edit ("update-grub",
 * "proxmox-boot-tool"), or NULL for none; a static string. */
const char *bootloader_regen_tool(const Bootloader *b);

/* Runs the tool the setup needs after an edit (update-grub, proxmox-boot-tool
 * refresh; none for BLS and kernel-install setups) when the root is the
 * host's (or flags has BOOT_REGEN_IN_ROOT) and the tool exists; otherwise
 * reports the command that would have run. A tool that fails is a result
 * (exit_status), not an error. */
int bootloader_regenerate(const Bootloader *b, BootRegenFlags flags, BootRegenResult **ret);
BootRegenResult *boot_regen_result_free(BootRegenResult *r);
static inline void boot_regen_result_freep(BootRegenResult **r) {
        boot_regen_result_free(*r);
}

/* ---- Test support ---- */

/* Test-only fault injection: when set (never in hostdevd itself), apply
 * calls it before writing each file ("write"), after all writes and before
 * verification ("verify"); a negative return is taken as that step's
 * error. */
typedef int (*BootFaultHook)(const char *step, const char *path, void *userdata);
void bootloader_set_fault_hook_for_test(BootFaultHook hook, void *userdata);

/* What the bootloader backends share and nothing outside kernel-cmdline/
 * sees: the loaded snapshot of a setup (files, entries, edit targets) and
 * small string helpers. */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "basic/macro.h"
#include "bootloader.h"
#include "kcmdline.h"

/* Largest bootloader file we read: entries and fragments are tiny. */
#define BL_FILE_MAX (256U * 1024U)
#define BL_NONE ((size_t) -1)

/* ---- Growing strings ---- */

typedef struct StrBuf {
        char *s;
        size_t len, size;
} StrBuf;

int sb_putn(StrBuf *b, const char *s, size_t n);
int sb_put(StrBuf *b, const char *s);
int sb_putc(StrBuf *b, char c);
int sb_printf(StrBuf *b, const char *fmt, ...) _printf_(2, 3);
/* Returns the string ("" when nothing was put) and empties b; NULL on OOM. */
char *sb_steal(StrBuf *b);
void sb_done(StrBuf *b);

/* An empty NULL-terminated list (never NULL) or NULL on OOM. */
char **strv_new_empty(void);

/* Splits text into lines without their '\n'; *ret_final_newline says
 * whether the text ended in one. An empty text has no lines. */
int split_lines(const char *text, size_t size, char ***ret, bool *ret_final_newline);
int join_lines(char *const *lines, bool final_newline, char **ret, size_t *ret_size);

/* rpm's version comparison (rpmvercmp), which GRUB's blscfg and grubby use
 * to order entries: <0, 0, >0. */
int bl_vercmp(const char *a, const char *b);

/* ---- Command-line helpers ---- */

/* Concatenation of several lines' arguments (as the bootloader joins them). */
int kcmdline_concat(KCmdline *const *parts, size_t n, KCmdline **ret);
int kcmdline_copy(const KCmdline *c, KCmdline **ret);
/* Formats for humans; a line kcmdline_format_full() refuses comes out as
 * "(unformattable)". */
char *kcmdline_to_text(const KCmdline *c);
/* Kernel-section, non-noise pairs of a that b lacks, formatted, space
 * separated ("" when none). */
int kcmdline_missing_text(const KCmdline *a, const KCmdline *b, char **ret);
bool kcmdline_has_pair(const KCmdline *c, const KArg *a);
/* Whether key may legitimately occur several times with different values
 * (console=, rd.lvm.lv=, hugepages=...): such keys never conflict. */
bool karg_key_cumulative(const char *key);

/* ---- The loaded setup ---- */

typedef struct BlFile {
        char *path;      /* absolute */
        char *display;   /* root-relative */
        char *contents;  /* NUL-terminated; NULL when absent */
        size_t size;
        unsigned mode;
} BlFile;

/* Where the arguments of one edit target live in files. */
typedef enum SegmentKind {
        SEG_LINE,    /* one line of a file: prefix + args + suffix */
        SEG_GRUBENV, /* the kernelopts value of a grubenv block */
        SEG_SHELL,   /* a GRUB variable, rendered as hostdevd's drop-in */
} SegmentKind;

typedef struct Segment {
        SegmentKind kind;
        KCmdline *args;
        size_t file;     /* index into Bootloader.files */
        size_t line;     /* SEG_LINE: 0-based */
        char *prefix;    /* SEG_LINE: text before the arguments, kept */
        char *suffix;    /* SEG_LINE: trailing $variables, kept; SEG_SHELL: variable name */
} Segment;

typedef struct Target {
        char *name;
        Segment *segs;
        size_t n_segs;
        size_t append_seg; /* where appended arguments go */
        bool primary;      /* its arguments are the configured command line */
} Target;

typedef struct BlsEntry {
        size_t file;
        char *id, *title, *version, *linux_path;
        char **options;      /* each options line's value, raw */
        size_t *options_line; /* their 0-based line numbers */
        bool rescue;
        bool kernelopts;     /* references $kernelopts */
} BlsEntry;

/* The GRUB shell state for the Debian backend. */
typedef struct GrubVars {
        char *linux_base, *default_base;  /* before hostdevd's drop-in */
        char *linux_value, *default_value; /* effective */
        size_t dropin;                     /* file index of the drop-in */
        bool dropin_last;                  /* nothing sorts after it */
} GrubVars;

struct Bootloader {
        const HostRoot *root;
        BootloaderKind kind;
        const char *flavour;
        const char *not_editable;

        BlFile *files;
        size_t n_files;
        char **file_list;

        const BootFileChange *overlay; /* planned contents read instead of disk */
        size_t n_overlay;

        BlsEntry *entries;
        size_t n_entries;
        size_t default_entry;
        char **grubenv;       /* "name=value" of the grubenv block, or NULL */
        size_t grubenv_file;
        size_t cmdline_file;  /* /etc/kernel/cmdline, or BL_NONE */
        GrubVars grub;
        char **esps;          /* root-relative ESP directories found */

        Target *targets;
        size_t n_targets;

        KCmdline *configured;
        char *configured_source;
        KCmdline *future;
        char *future_source;
        char **warnings;
        int read_error;       /* < 0: bootloader_read() fails with it */
        char *read_error_text;
};

/* Loads a setup; with an overlay, files it names are read from it (used
 * to check a plan before writing and to verify after). */
int bl_load(const HostRoot *root, const BootFileChange *overlay, size_t n_overlay,
            Bootloader **ret, char **ret_error);

/* Loads one file (absolute path) into b->files; missing files are kept as
 * absent. Returns its index or a negative errno. */
int bl_add_file(Bootloader *b, char *path_owned);
/* Whether a path (absolute) exists, as a directory when dir is true;
 * overlay files count. */
bool bl_exists(const Bootloader *b, const char *path, bool dir);
/* Names in dir (absolute) ending in suffix, sorted (strcmp); overlay files
 * count. */
int bl_list(const Bootloader *b, const char *dir, const char *suffix, char ***ret);
/* Remembers a warning / the read error (formatted). */
/* A path as users see it, relative to the root ("/etc/kernel/cmdline"). */
char *bl_display_path(const Bootloader *b, HostArea area, const char *sub);
int bl_warn(Bootloader *b, const char *fmt, ...) _printf_(2, 3);
int bl_fail(Bootloader *b, int error, const char *fmt, ...) _printf_(3, 4);

/* Targets. */
Target *bl_target_new(Bootloader *b, const char *fmt, ...) _printf_(2, 3);
/* Adds the arguments of text as a new SEG_LINE segment of t. */
int bl_target_add_line(Target *t, size_t file, size_t line, const char *prefix,
                       const char *text, bool split_tail_vars);
int bl_target_args(const Target *t, KCmdline **ret);
void target_done(Target *t);

/* The options text the bootloader uses: the first line for GRUB's blscfg,
 * all of them joined for systemd-boot. */
int bl_entry_options(const Bootloader *b, const BlsEntry *e, char **ret);
/* The entry's arguments: as the kernel gets them (GRUB expands every
 * grubenv variable), or, static_view, with only $kernelopts expanded (as
 * grubby --info shows them: the view drift warnings compare). */
int bl_entry_cmdline(const Bootloader *b, const BlsEntry *e, bool static_view, KCmdline **ret);

/* Backends: each loads its files, entries, targets, configured. */
int bls_load_entries(Bootloader *b, const char *dir);
int bls_setup(Bootloader *b);          /* BOOTLOADER_BLS, BOOTLOADER_BLS_GRUBENV */
int sdboot_setup(Bootloader *b, const char *esp_dir);
int proxmox_setup(Bootloader *b);
int ostree_setup(Bootloader *b, const char *entries_dir);
int grub_debian_setup(Bootloader *b);
/* The /etc/kernel/cmdline target of kernel-install (comment lines are
 * skipped, the lines joined); adds it to b. */
int kernel_cmdline_target(Bootloader *b, bool primary);
/* GRUB_CMDLINE_LINUX of /etc/default/grub on BLS setups (for a warning). */
int grub_default_cmdline_linux(Bootloader *b, char **ret);

/* grubenv: parse the block into "name=value" strings; set a value. */
int grubenv_parse(const char *block, size_t size, char ***ret);
int grubenv_set(const char *block, size_t size, const char *name, const char *value,
                char **ret, char **ret_error);
const char *grubenv_get(char *const *env, const char *name);
/* Expands $name and ${name} from env (unset: empty), as GRUB does. */
int grubenv_expand(char *const *env, const char *text, char **ret);

/* Renders the new contents of every file that the targets' segments
 * change; the GRUB drop-in has its own renderer. */
int bl_render(const Bootloader *b, Target *work, size_t n, BootPlan *plan, char **ret_error);
int grub_render_dropin(const Bootloader *b, const Target *t, char **ret, char **ret_error);

/* A unified diff of two texts, with "--- a/<name>" "+++ b/<name>" headers. */
int bl_diff(const char *name, const char *old, const char *new, StrBuf *out);

/* Backups, journal and temp files. */
int bl_write_file(const char *path, const char *contents, size_t size, unsigned mode);
bool bl_is_our_temp(const char *name);
/* The ledger file's change from what is on disk to l, for the apply to
 * write with the bootloader files. */
int bl_ledger_change(const HostRoot *root, const BootLedger *l, BootFileChange *ret);
void bl_file_change_done(BootFileChange *f);

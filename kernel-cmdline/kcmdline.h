/* The kernel command line as the kernel itself reads it (lib/cmdline.c
 * next_arg(), kernel/params.c parse_args()): parsing, lookup, formatting.
 * A pure library: no HTTP, no JSON, no logging above debug. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

typedef enum KArgSection {
        KARG_KERNEL, /* before a bare "--" */
        KARG_INIT,   /* after it: handed to init */
} KArgSection;

typedef struct KArg {
        char *key;        /* as written, e.g. "vfio-pci.ids" */
        char *value;      /* NULL for a flag ("quiet"), "" for "key=" */
        KArgSection section;
        bool noise;       /* bootloader noise: BOOT_IMAGE=, a leading initrd= */
} KArg;

typedef struct KCmdline {
        KArg *args;
        size_t n_args;
} KCmdline;

/* Parses a command line (a trailing newline, as /proc/cmdline has, is fine). */
int kcmdline_parse(const char *s, KCmdline **ret);
KCmdline *kcmdline_free(KCmdline *c);
static inline void kcmdline_freep(KCmdline **c) {
        kcmdline_free(*c);
}

/* Parameter names compare with '-' and '_' equivalent (kernel parameq()). */
bool kcmdline_key_equal(const char *a, const char *b);

/* The last kernel-section, non-noise argument with this key (the one that
 * wins for most parameters), or NULL. */
const KArg *kcmdline_get(const KCmdline *c, const char *key);

/* True when the kernel section has key with exactly this value (value NULL:
 * the flag form). The last occurrence decides. */
bool kcmdline_has(const KCmdline *c, const char *key, const char *value);

/* Formats one argument or a whole command line back to text, quoting values
 * that contain whitespace; returns NULL when out of memory. */
char *karg_format(const KArg *a);
char *kcmdline_format(const KCmdline *c);

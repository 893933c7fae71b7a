/* The kernel command line as the kernel itself reads it (lib/cmdline.c
 * next_arg(), kernel/params.c parse_args()): parsing, lookup, formatting.
 * A pure library: no HTTP, no JSON, no logging above debug. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Longest command line kcmdline_parse() accepts (-E2BIG beyond). The kernel's
 * own COMMAND_LINE_SIZE is 2048 or 4096 on most architectures; s390 allows
 * more. The limit only bounds what a caller can make us allocate. */
#define KCMDLINE_SIZE_MAX (1024U * 1024U)

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
 * that contain whitespace; returns NULL when out of memory, or (errno EINVAL)
 * when no text reads back as the argument(s), see the _full variants;
 * karg_format() also refuses a token that could only stand last. */
char *karg_format(const KArg *a);
char *kcmdline_format(const KCmdline *c);

/* ---- Additions beyond the first API ---- */

/* The kernel's isspace(): \t \n \v \f \r, space, and the byte 0xa0. */
bool kcmdline_isspace(char c);

/* The key with every '-' turned into '_': the form kcmdline_key_equal()
 * compares ("kvm-intel.nested" -> "kvm_intel.nested"). */
int kcmdline_key_canonical(const char *key, char **ret);

/* One token that the kernel reads back as exactly (a->key, a->value).
 * Returns 0 for a token that can stand anywhere on a line, 1 for a token
 * that is only correct as the last one of the line (its quotes do not
 * balance, so it swallows what follows: kcmdline_parse() produces such
 * arguments only from an unterminated quote; if such a token ends in a
 * newline, a reader that drops /proc/cmdline's newline needs one more, which
 * kcmdline_format_full() adds), -EINVAL when no token reads
 * back as this argument (e.g. a key containing '='), -ENOMEM. */
int karg_format_full(const KArg *a, char **ret);

/* The whole line: kernel-section arguments, then " -- " and the init-section
 * ones if there are any. kcmdline_parse() of the result gives back the same
 * arguments (sections, keys, values; noise flags too, if c's are the ones
 * kcmdline_mark_noise() computes). -EINVAL when that is
 * impossible: an argument without a token, an unbalanced one that is not
 * last, a kernel-section flag "--", a kernel-section argument after an
 * init-section one. */
int kcmdline_format_full(const KCmdline *c, char **ret);

/* Recomputes the noise flags from the positions of the arguments, the way
 * kcmdline_parse() sets them. Edits call it after changing the list. */
void kcmdline_mark_noise(KCmdline *c);

/* Same arguments: section, key (byte for byte), value (NULL only equal to
 * NULL) and noise flag, in the same order. */
bool kcmdline_equal(const KCmdline *a, const KCmdline *b);

/* Frees the strings of an argument (not the KArg itself) and clears it. */
void karg_done(KArg *a);

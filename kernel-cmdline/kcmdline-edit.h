/* Edits of a parsed kernel command line, with the semantics of rpm-ostree
 * kargs (--append, --append-if-missing, --delete, --delete-if-present,
 * --replace), applied in memory to a KCmdline. A pure library. */
#pragma once

#include <stdbool.h>

#include "kcmdline.h"

/*
 * Common rules of every edit:
 *  - An argument spec is written as on the command line and read with the
 *    kernel's own tokenizer: "quiet", "rd.break=", "intel_iommu=on",
 *    dyndbg="module vfio_pci +p". It must be exactly one kernel-section
 *    argument with balanced quotes, else -EINVAL.
 *  - Arguments are compared as parsed (key, value) pairs, never as text:
 *    keys with '-' and '_' equivalent (kcmdline_key_equal()), values byte
 *    for byte, and the flag "key" differs from the empty value "key=".
 *  - Only the kernel section is edited: init's arguments (after "--") stay
 *    as they are. Bootloader noise (BOOT_IMAGE=, a leading initrd=) is
 *    invisible to edits: never matched, never removed.
 *  - Order is kept: a deleted argument leaves the others in place, a
 *    replaced value stays at its position, an append goes to the end of the
 *    kernel section (hugepagesz=/hugepages= pairs depend on order).
 *  - An argument that an edit adds (append, the new value of replace) must
 *    be plain: a non-empty key without whitespace, control characters, '"'
 *    or '='; a value without '"' or control characters (spaces are fine:
 *    they are quoted when formatted; tabs and newlines, though the kernel
 *    reads them inside quotes, do not survive boot loader files); not the
 *    flag "--", not the key BOOT_IMAGE, not an initrd= that would become
 *    leading noise. Otherwise -EINVAL.
 *  - If c could be formatted (kcmdline_format_full()) before an edit, it
 *    can after it.
 *  - On error c is unchanged. *ret_changed (may be NULL) is written on
 *    success only: whether c differs from before.
 *  - After every edit the noise flags are recomputed (kcmdline_mark_noise()):
 *    deleting what precedes an initrd= can make it leading, hence noise, as
 *    it would be when the line is read again.
 */

/* Reads one argument spec (rules above) into *ret; free with karg_done(). */
int karg_parse(const char *spec, KArg *ret);

/* 0 when a may be added by an edit (rules above), -EINVAL otherwise. */
int karg_check_new(const KArg *a);

/* Appends spec at the end of the kernel section. -EEXIST when this exact
 * pair is already there (console=tty0 and console=ttyS0 may coexist;
 * console=tty0 twice is refused). -EINVAL also when the last kernel-section
 * argument is an unterminated quote (it would swallow the new one). */
int kcmdline_append(KCmdline *c, const char *spec, bool *ret_changed);

/* The same, but an exact pair that is already there is success, unchanged. */
int kcmdline_append_if_missing(KCmdline *c, const char *spec, bool *ret_changed);

/* Deletes arguments:
 *  - "KEY=VALUE" or "KEY=": every occurrence of that exact pair;
 *  - "KEY": every occurrence of the flag KEY if there is one; otherwise the
 *    argument(s) with key KEY if they all have the same value (rpm-ostree's
 *    "--delete=root" convenience); -ENOTUNIQ if they have different values.
 * -ENOENT when nothing matches. */
int kcmdline_delete(KCmdline *c, const char *spec, bool *ret_changed);

/* The same, but nothing matching is success, unchanged. -ENOTUNIQ stays an
 * error: an ambiguous request is not an absent argument. */
int kcmdline_delete_if_present(KCmdline *c, const char *spec, bool *ret_changed);

/* Replaces values, keeping the position and the key as written:
 *  - "KEY=OLD=NEW": every occurrence of the pair (KEY, OLD) gets value NEW;
 *  - "KEY=NEW": the argument(s) with key KEY, if they all have the same
 *    value (or are all the flag), get value NEW; -ENOTUNIQ if their values
 *    differ.
 * KEY is the text before the first '=' and must be plain. OLD and NEW are
 * split at the first '=' outside double quotes, so an OLD containing '=' is
 * written quoted (root="UUID=a"="UUID=b"), and so is a NEW containing '='
 * in the two-part form (root="UUID=b"). Each part is then read as the spec
 * "KEY=part", so quotes work as on the command line. NEW is always a value
 * (possibly empty); OLD cannot be the flag form (use "KEY=NEW").
 * -EINVAL for a spec without '=', -ENOENT when nothing matches. */
int kcmdline_replace(KCmdline *c, const char *spec, bool *ret_changed);

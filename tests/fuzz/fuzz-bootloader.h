/* An in-memory host for the bootloader fuzz targets: the files of a setup
 * (any contents, NULs included) are an overlay over an empty root directory,
 * so detection, reading and planning (kernel-cmdline/bootloader.h) run on
 * fuzzed files without a disk, and the files a plan would write are read
 * back the same way. FUZZ_DEBUG=1 in the environment prints why a plan
 * was refused. */
#pragma once

#include "basic/hostroot.h"
#include "kernel-cmdline/bootloader.h"

typedef struct FuzzHost {
        BootFileChange files[16]; /* path, new_contents, new_size, mode: what bl_load() reads */
        size_t n;
} FuzzHost;

/* Adds the file root/area/sub with size bytes of contents (copied). */
void fuzz_host_add(FuzzHost *h, HostArea area, const char *sub, const char *contents, size_t size);
void fuzz_host_add_string(FuzzHost *h, HostArea area, const char *sub, const char *contents);
void fuzz_host_done(FuzzHost *h);

/* Edits read from text, one a line: '+' append, '?' append_if_missing,
 * '-' delete, '~' delete_if_present, '!' delete_owned, '=' replace, then
 * the spec ("+intel_iommu=on"); a line "*" allows conflicts. Specs point
 * into *ret_storage (free it). Returns how many edits. */
size_t fuzz_edits_parse(const char *text, size_t size, BootEdit *ret, size_t max, BootPlanFlags *ret_flags,
                        char **ret_storage);

/* Detects, reads and plans the edits on the host's files, and checks what
 * the library promises: a setup it cannot read is refused with a sentence;
 * a plan reads back as planned (bootloader_plan() checks that itself: a
 * failure of that check is a finding here), changes only the lines of its
 * targets, and is final: planning the idempotent edits again on the
 * planned files changes nothing. Returns 0 when the setup was read, else
 * the error of bl_load() or bootloader_read(). */
int fuzz_host_check(const FuzzHost *h, const BootEdit *edits, size_t n_edits, BootPlanFlags flags);

/* A 1024-byte grubenv block (as grub-editenv makes it) holding vars
 * ("name=value\n" lines); aborts if they do not fit. */
char *fuzz_grubenv_block(const char *vars);

/* The edits of an input's last part when it starts with "#edits\n"
 * (else the default ones: the IOMMU arguments hostdevd adds, two deletes):
 * fills edits, returns how many; *ret_rest_size is what precedes the part. */
size_t fuzz_input_edits(const char *data, size_t size, size_t *ret_rest_size, BootEdit *edits, size_t max,
                        BootPlanFlags *ret_flags, char **ret_storage);

/* The in-memory host of the bootloader fuzz targets: see fuzz-bootloader.h. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/macro.h"
#include "basic/strv.h"
#include "fuzz-bootloader.h"
#include "fuzz.h"
#include "kernel-cmdline/bootloader-internal.h"

/* How bootloader_plan()'s own check of a plan begins its refusal. */
#define READBACK "The planned files do not give "

static char *root_dir;
static HostRoot *root;

static void remove_root(void) {
        if (root_dir)
                (void) rmdir(root_dir);
        hostroot_free(root);
        free(root_dir);
}

/* An empty directory of its own: every path under it is absent but the
 * overlay's. Made once per process. */
static const HostRoot *host_root(void) {
        const char *tmp = getenv("TMPDIR");

        if (root)
                return root;
        FUZZ_OOM(asprintf(&root_dir, "%s/hostdevd-fuzz-root.XXXXXX", tmp && *tmp ? tmp : "/tmp") >= 0);
        FUZZ_ASSERT(mkdtemp(root_dir));
        FUZZ_ASSERT(hostroot_new(root_dir, &root) == 0);
        atexit(remove_root);
        return root;
}

void fuzz_host_add(FuzzHost *h, HostArea area, const char *sub, const char *contents, size_t size) {
        BootFileChange *f;

        FUZZ_ASSERT(h->n < ELEMENTSOF(h->files));
        f = h->files + h->n++;
        *f = (BootFileChange) { .path = hostroot_path(host_root(), area, "%s", sub), .mode = 0644 };
        FUZZ_OOM(f->path);
        f->new_contents = fuzz_memdup(contents, size);
        f->new_size = size;
}

void fuzz_host_add_string(FuzzHost *h, HostArea area, const char *sub, const char *contents) {
        fuzz_host_add(h, area, sub, contents, strlen(contents));
}

void fuzz_host_done(FuzzHost *h) {
        for (size_t i = 0; i < h->n; i++) {
                free(h->files[i].path);
                free(h->files[i].new_contents);
        }
        h->n = 0;
}

size_t fuzz_edits_parse(const char *text, size_t size, BootEdit *ret, size_t max, BootPlanFlags *ret_flags,
                        char **ret_storage) {
        static const char ops[] = "+?-~!=";
        char *s = fuzz_memdup(text, size), *line = s;
        size_t n = 0;

        *ret_flags = 0;
        while (line && *line && n < max) {
                char *nl = strchr(line, '\n'), *op;

                if (nl)
                        *nl = 0;
                if (streq(line, "*"))
                        *ret_flags |= BOOT_PLAN_ALLOW_CONFLICTS;
                else if (*line && (op = strchr(ops, *line)))
                        ret[n++] = (BootEdit) { .type = (BootEditType) (op - ops), .spec = line + 1 };
                line = nl ? nl + 1 : NULL;
        }
        *ret_storage = s;
        return n;
}

/* The lines of a file as (pointer, length), NULs and all. */
static size_t file_lines(const char *s, size_t size, FuzzPart *ret, size_t max) {
        return fuzz_split(s, size, "\n", ret, max);
}

static bool is_segment_line(const Bootloader *b, size_t file, size_t line) {
        for (size_t i = 0; i < b->n_targets; i++)
                for (size_t k = 0; k < b->targets[i].n_segs; k++) {
                        const Segment *s = b->targets[i].segs + k;

                        if (s->kind == SEG_LINE && s->file == file && s->line == line)
                                return true;
                }
        return false;
}

/* A changed file keeps its old contents exactly (the rollback writes them)
 * and, where the arguments live on lines, every other line as it was. */
static void check_file(const Bootloader *b, const BootFileChange *c) {
        static FuzzPart old[4096], new[4096];
        size_t f = BL_NONE, n_old, n_new;

        for (size_t i = 0; i < b->n_files && f == BL_NONE; i++)
                if (streq(b->files[i].path, c->path))
                        f = i;
        FUZZ_ASSERT(f != BL_NONE);
        FUZZ_ASSERT(c->existed == !!b->files[f].contents);
        if (!c->existed)
                return;
        FUZZ_ASSERT(c->old_size == b->files[f].size && memcmp(c->old_contents, b->files[f].contents, c->old_size) == 0);

        if (f == b->grubenv_file || (b->kind == BOOTLOADER_GRUB_DEBIAN && f == b->grub.dropin))
                return; /* rewritten whole, by their own rules */
        n_old = file_lines(c->old_contents, c->old_size, old, ELEMENTSOF(old));
        n_new = file_lines(c->new_contents, c->new_size, new, ELEMENTSOF(new));
        for (size_t i = 0; i < n_old && n_old < ELEMENTSOF(old); i++) {
                if (is_segment_line(b, f, i))
                        continue;
                FUZZ_ASSERT(i < n_new);
                FUZZ_ASSERT(old[i].size == new[i].size && memcmp(old[i].p, new[i].p, old[i].size) == 0);
        }
}

/* The host with the plan's files in place of the old ones. */
static void host_after(const FuzzHost *h, const BootPlan *plan, BootFileChange *ret, size_t *ret_n) {
        size_t n = 0;

        for (size_t i = 0; i < h->n; i++) {
                bool replaced = false;

                for (size_t k = 0; k < plan->n_files; k++)
                        replaced = replaced || streq(plan->files[k].path, h->files[i].path);
                if (!replaced)
                        ret[n++] = h->files[i];
        }
        for (size_t k = 0; k < plan->n_files; k++)
                ret[n++] = plan->files[k];
        *ret_n = n;
}

/* Planning the idempotent edits again, on the planned files, changes nothing. */
static void check_final(const FuzzHost *h, const BootPlan *plan, const BootEdit *edits, size_t n_edits,
                        BootPlanFlags flags) {
        _cleanup_(bootloader_freep) Bootloader *b = NULL;
        _cleanup_(boot_config_freep) BootConfig *c = NULL;
        _cleanup_(boot_plan_freep) BootPlan *again = NULL;
        _cleanup_free_ char *error = NULL, *error2 = NULL, *error3 = NULL;
        BootFileChange files[ELEMENTSOF(h->files) * 2];
        BootEdit idem[64];
        size_t n = 0, n_idem = 0;

        host_after(h, plan, files, &n);
        FUZZ_ASSERT(bl_load(host_root(), files, n, &b, &error) == 0);
        FUZZ_ASSERT(bootloader_read(b, &c, &error2) == 0);
        FUZZ_ASSERT(kcmdline_equal(c->configured, plan->after));

        for (size_t i = 0; i < n_edits && n_idem < ELEMENTSOF(idem); i++)
                if (edits[i].type == BOOT_EDIT_APPEND_IF_MISSING || edits[i].type == BOOT_EDIT_DELETE_IF_PRESENT)
                        idem[n_idem++] = edits[i];
        if (n_idem < n_edits || plan->conflicts[0])
                return; /* other edits are not meant to be repeated */
        if (bootloader_plan(b, idem, n_idem, NULL, flags, &again, &error3) == 0 && !again->conflicts[0])
                FUZZ_ASSERT(again->n_files == 0);
}

int fuzz_host_check(const FuzzHost *h, const BootEdit *edits, size_t n_edits, BootPlanFlags flags) {
        _cleanup_(bootloader_freep) Bootloader *b = NULL;
        _cleanup_(boot_config_freep) BootConfig *c = NULL;
        _cleanup_(boot_plan_freep) BootPlan *plan = NULL;
        _cleanup_free_ char *error = NULL, *error2 = NULL, *error3 = NULL;
        char *owned[] = { (char *) "iommu=pt", (char *) "quiet", NULL };
        BootLedger ledger = { .owned = owned };
        int r;

        r = bl_load(host_root(), h->files, h->n, &b, &error);
        if (r < 0) {
                FUZZ_ASSERT(r == -ENOENT && error);
                return r;
        }
        for (char *const *f = bootloader_files(b); *f; f++)
                FUZZ_ASSERT((*f)[0] == '/');

        r = bootloader_read(b, &c, &error2);
        if (r < 0) {
                FUZZ_ASSERT(r != -ENOMEM && error2 && *error2);
                return r;
        }
        FUZZ_ASSERT(c->configured && c->warnings);
        for (size_t i = 0; i < c->n_entries; i++)
                FUZZ_ASSERT(c->entries[i].id && c->entries[i].cmdline);

        r = bootloader_plan(b, edits, n_edits, &ledger, flags, &plan, &error3);
        if (r < 0) {
                FUZZ_ASSERT(r != -ENOMEM && error3);
                if (getenv("FUZZ_DEBUG"))
                        fprintf(stderr, "plan: %s\n", error3);
                /* A plan that does not read back is the library's own check failing: a finding, but for
                 * a grub.d file after hostdevd's drop-in that changes the variables (documented). */
                FUZZ_ASSERT(strncmp(error3, READBACK, strlen(READBACK)) != 0 || /* not an echoed spec */
                            (b->kind == BOOTLOADER_GRUB_DEBIAN && !b->grub.dropin_last));
                return 0;
        }
        FUZZ_ASSERT(plan->changed == (plan->n_files > 0));
        FUZZ_ASSERT(plan->diff && (plan->n_files == 0) == (plan->diff[0] == 0));
        for (size_t i = 0; i < plan->n_files; i++)
                check_file(b, plan->files + i);
        if (plan->n_files > 0)
                check_final(h, plan, edits, n_edits, flags);
        return 0;
}

char *fuzz_grubenv_block(const char *vars) {
        char *b = NULL;

        FUZZ_OOM(asprintf(&b, "# GRUB Environment Block\n%s", vars) >= 0);
        FUZZ_ASSERT(strlen(b) <= 1024);
        FUZZ_OOM(b = realloc(b, 1025));
        memset(b + strlen(b), '#', 1024 - strlen(b));
        b[1024] = 0;
        return b;
}

size_t fuzz_input_edits(const char *data, size_t size, size_t *ret_rest_size, BootEdit *edits, size_t max,
                        BootPlanFlags *ret_flags, char **ret_storage) {
        static const char defaults[] = "?intel_iommu=on\n?iommu=pt\n~rhgb\n!quiet\n";
        static const char mark[] = "#edits\n";
        const char *p = NULL;

        /* The last part that starts with the mark. */
        for (const char *q = data; (q = memmem(q, size - (size_t) (q - data), mark, strlen(mark))); q++)
                if (q == data || q[-1] == '\n')
                        p = q;
        if (!p) {
                *ret_rest_size = size;
                return fuzz_edits_parse(defaults, strlen(defaults), edits, max, ret_flags, ret_storage);
        }
        *ret_rest_size = (size_t) (p - data);
        p += strlen(mark);
        return fuzz_edits_parse(p, size - (size_t) (p - data), edits, max, ret_flags, ret_storage);
}

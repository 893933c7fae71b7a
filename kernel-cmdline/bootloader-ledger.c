/* The ownership ledger: which kernel arguments hostdevd added, so that it
 * removes only its own and reports the administrator's. A line format (one
 * argument per line, '#' comments) in AREA_STATE/kernel-cmdline.owned,
 * written atomically. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "basic/fileio.h"
#include "basic/strv.h"
#include "bootloader-internal.h"
#include "kcmdline-edit.h"

#define LEDGER "kernel-cmdline.owned"
#define LEDGER_MAX (64U * 1024U)

BootLedger *boot_ledger_free(BootLedger *l) {
        if (!l)
                return NULL;
        strv_free(l->owned);
        free(l);
        return NULL;
}

static bool same_pair(const char *spec, const KArg *a) {
        _cleanup_(karg_done) KArg o = {};

        return karg_parse(spec, &o) >= 0 && kcmdline_key_equal(o.key, a->key) && streq_ptr(o.value, a->value);
}

bool boot_ledger_owns(const BootLedger *l, const KArg *a) {
        for (size_t i = 0; l && a && l->owned[i]; i++)
                if (same_pair(l->owned[i], a))
                        return true;
        return false;
}

int boot_ledger_load(const HostRoot *root, BootLedger **ret) {
        _cleanup_free_ char *path = hostroot_path(root, AREA_STATE, LEDGER), *text = NULL;
        size_t size = 0;
        int r;

        if (!path)
                return -ENOMEM;
        r = read_full_file(path, LEDGER_MAX, &text, &size);
        if (r == -ENOENT)
                return boot_ledger_parse("", 0, ret);
        if (r < 0)
                return r;
        return boot_ledger_parse(text, size, ret);
}

int boot_ledger_parse(const char *text, size_t size, BootLedger **ret) {
        _cleanup_(boot_ledger_freep) BootLedger *l = calloc(1, sizeof(BootLedger));
        _cleanup_strv_free_ char **lines = NULL;
        bool final_newline;
        int r;

        if (!l)
                return -ENOMEM;
        l->owned = strv_new_empty();
        if (!l->owned)
                return -ENOMEM;
        r = split_lines(text, size, &lines, &final_newline);
        if (r < 0)
                return r;

        for (size_t i = 0; lines[i]; i++) {
                _cleanup_(karg_done) KArg a = {};

                if (lines[i][0] == '#' || lines[i][0] == '\0')
                        continue;
                if (karg_parse(lines[i], &a) < 0)
                        return -EINVAL;
                if (!boot_ledger_owns(l, &a) && strv_extend(&l->owned, lines[i]) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

int boot_ledger_format(const BootLedger *l, char **ret, size_t *ret_size) {
        _cleanup_(sb_done) StrBuf s = {};
        size_t size;

        if (sb_put(&s, "# Kernel arguments that hostdevd added (one per line). Written by hostdevd.\n") < 0)
                return -ENOMEM;
        for (size_t i = 0; l->owned[i]; i++)
                if (sb_printf(&s, "%s\n", l->owned[i]) < 0)
                        return -ENOMEM;
        size = s.len;
        *ret = sb_steal(&s);
        if (!*ret)
                return -ENOMEM;
        *ret_size = size;
        return 0;
}

int boot_ledger_save(const HostRoot *root, const BootLedger *l) {
        _cleanup_free_ char *path = hostroot_path(root, AREA_STATE, LEDGER), *text = NULL;
        size_t size;
        int r;

        if (!path || !l)
                return -ENOMEM;
        r = boot_ledger_format(l, &text, &size);
        if (r < 0)
                return r;
        return bl_write_file(path, text, size, 0644);
}

void bl_file_change_done(BootFileChange *f) {
        free(f->path);
        free(f->display_path);
        free(f->old_contents);
        free(f->new_contents);
        *f = (BootFileChange) {};
}

int bl_ledger_change(const HostRoot *root, const BootLedger *l, BootFileChange *ret) {
        _cleanup_(bl_file_change_done) BootFileChange f = { .mode = 0644 };
        const char *shown;
        int r;

        f.path = hostroot_path(root, AREA_STATE, LEDGER);
        if (!f.path)
                return -ENOMEM;
        shown = hostroot_strip(root, f.path);
        f.display_path = strdup(shown && *shown ? shown : f.path);
        if (!f.display_path)
                return -ENOMEM;
        r = read_full_file(f.path, LEDGER_MAX, &f.old_contents, &f.old_size);
        if (r < 0 && r != -ENOENT)
                return r;
        f.existed = r >= 0;
        r = boot_ledger_format(l, &f.new_contents, &f.new_size);
        if (r < 0)
                return r;
        *ret = f;
        f = (BootFileChange) {};
        return 0;
}

int boot_ledger_owned_in(const BootLedger *l, const KCmdline *c, char ***ret) {
        _cleanup_strv_free_ char **owned = strv_new_empty();

        if (!owned)
                return -ENOMEM;
        for (size_t i = 0; c && i < c->n_args; i++) {
                const KArg *a = c->args + i;
                _cleanup_free_ char *f = NULL;

                if (a->section != KARG_KERNEL || a->noise || !boot_ledger_owns(l, a))
                        continue;
                f = karg_format(a);
                if (!f)
                        return -ENOMEM;
                if (!strv_contains(owned, f) && strv_push(&owned, TAKE_PTR(f)) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(owned);
        return 0;
}

int boot_ledger_record(BootLedger *l, const BootPlan *plan) {
        if (!l || !plan)
                return -EINVAL;
        for (char **o = plan->owned_removed; o && *o; o++) {
                _cleanup_(karg_done) KArg a = {};
                size_t j = 0;

                if (karg_parse(*o, &a) < 0)
                        continue;
                for (size_t i = 0; l->owned[i]; i++) {
                        if (same_pair(l->owned[i], &a)) {
                                free(l->owned[i]);
                                continue;
                        }
                        l->owned[j++] = l->owned[i];
                }
                l->owned[j] = NULL;
        }
        for (char **o = plan->owned_added; o && *o; o++) {
                _cleanup_(karg_done) KArg a = {};

                if (karg_parse(*o, &a) < 0 || boot_ledger_owns(l, &a))
                        continue;
                if (strv_extend(&l->owned, *o) < 0)
                        return -ENOMEM;
        }
        return 0;
}

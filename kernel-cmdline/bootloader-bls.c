/* BootLoaderSpec type #1 entries and the setups built on them: GRUB with
 * blscfg (RHEL 9, Fedora; RHEL 8 with grubenv kernelopts), systemd-boot
 * with kernel-install, and ostree (read only). Also /etc/kernel/cmdline,
 * which kernel-install and RHEL's 20-grub.install read for new kernels. */

/*
 * Design: an entry file is "key value" lines ('#' comments). We use title,
 * version, linux and options. systemd-boot joins every options line with a
 * space (the spec); GRUB's blscfg (rhboot grub2) takes only the first one
 * and expands $variables from grubenv in it ($kernelopts on RHEL 8,
 * $tuned_params from tuned). So for GRUB, the edit target is the first
 * options line minus a trailing run of $variables, which stays verbatim
 * after the arguments (appends go before it); for systemd-boot every
 * options line is a segment and appends go to the last one.
 *
 * The rescue entry ("*-0-rescue*" in its name or kernel) is never a target.
 * On RHEL 8 an entry whose options reference $kernelopts is edited through
 * grubenv; one that does not ("de-linked" by grubby) is edited directly.
 *
 * Default entry: grubenv next_entry, else saved_entry (RHEL's
 * GRUB_DEFAULT=saved), else the newest non-rescue entry by rpm version
 * order (blscfg's menu order); systemd-boot: loader.conf "default" (a glob
 * on the entry id), else the newest.
 */

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/strv.h"
#include "bootloader-internal.h"
#include "bootloader-shell.h"

static bool grub_style(const Bootloader *b) {
        return b->kind == BOOTLOADER_BLS || b->kind == BOOTLOADER_BLS_GRUBENV;
}

/* Splits "key   value" into key length and the offset of value. */
static bool entry_line(const char *line, size_t *ret_key_len, size_t *ret_value) {
        size_t k = strcspn(line, " \t"), v = k;

        if (k == 0 || line[0] == '#')
                return false;
        v += strspn(line + k, " \t");
        *ret_key_len = k;
        *ret_value = v;
        return true;
}

static int parse_entry(BlsEntry *e, const char *contents, size_t size) {
        _cleanup_strv_free_ char **lines = NULL;
        bool final_newline;
        int r;

        r = split_lines(contents, size, &lines, &final_newline);
        if (r < 0)
                return r;
        e->options = strv_new_empty();
        if (!e->options)
                return -ENOMEM;

        for (size_t i = 0; lines[i]; i++) {
                size_t k, v;
                char **field = NULL;
                const char *value;

                if (!entry_line(lines[i], &k, &v))
                        continue;
                value = lines[i] + v;
                if (k == 7 && strncmp(lines[i], "options", 7) == 0) {
                        size_t n = strv_length(e->options);
                        size_t *nl = realloc(e->options_line, (n + 1) * sizeof(size_t));

                        if (!nl)
                                return -ENOMEM;
                        e->options_line = nl;
                        nl[n] = i;
                        if (strv_extend(&e->options, value) < 0)
                                return -ENOMEM;
                        if (strstr(value, "$kernelopts") || strstr(value, "${kernelopts}"))
                                e->kernelopts = true;
                        continue;
                }
                if (k == 5 && strncmp(lines[i], "title", 5) == 0)
                        field = &e->title;
                else if (k == 7 && strncmp(lines[i], "version", 7) == 0)
                        field = &e->version;
                else if (k == 5 && strncmp(lines[i], "linux", 5) == 0)
                        field = &e->linux_path;
                if (field && !*field) {
                        *field = strdup(value);
                        if (!*field)
                                return -ENOMEM;
                }
        }
        e->rescue = strstr(e->id, "-0-rescue") || (e->linux_path && strstr(e->linux_path, "-0-rescue"));
        return 0;
}

int bls_load_entries(Bootloader *b, const char *dir) {
        _cleanup_strv_free_ char **names = NULL;
        int r;

        r = bl_list(b, dir, ".conf", &names);
        if (r < 0)
                return r;
        for (size_t i = 0; names[i]; i++) {
                char *path = NULL;
                BlsEntry *entries, *e;
                int f;

                if (asprintf(&path, "%s/%s", dir, names[i]) < 0)
                        return -ENOMEM;
                f = bl_add_file(b, path);
                if (f < 0)
                        return f;
                if (!b->files[f].contents)
                        continue;

                entries = realloc(b->entries, (b->n_entries + 1) * sizeof(BlsEntry));
                if (!entries)
                        return -ENOMEM;
                b->entries = entries;
                e = b->entries + b->n_entries++;
                *e = (BlsEntry) { .file = (size_t) f };
                e->id = strndup(names[i], strlen(names[i]) - strlen(".conf"));
                if (!e->id)
                        return -ENOMEM;
                r = parse_entry(e, b->files[f].contents, b->files[f].size);
                if (r < 0)
                        return r;
        }
        return 0;
}

int bl_entry_options(const Bootloader *b, const BlsEntry *e, char **ret) {
        _cleanup_(sb_done) StrBuf s = {};

        if (grub_style(b)) {
                *ret = strdup(e->options[0] ?: "");
                return *ret ? 0 : -ENOMEM;
        }
        for (size_t i = 0; e->options[i]; i++)
                if ((i > 0 && sb_putc(&s, ' ') < 0) || sb_put(&s, e->options[i]) < 0)
                        return -ENOMEM;
        *ret = sb_steal(&s);
        return *ret ? 0 : -ENOMEM;
}

int bl_entry_cmdline(const Bootloader *b, const BlsEntry *e, bool static_view, KCmdline **ret) {
        _cleanup_free_ char *options = NULL, *expanded = NULL;
        _cleanup_strv_free_ char **only = NULL;
        const char *ko;
        int r;

        r = bl_entry_options(b, e, &options);
        if (r < 0)
                return r;
        if (!grub_style(b))
                return kcmdline_parse(options, ret);

        if (static_view) {
                only = strv_new_empty();
                ko = grubenv_get(b->grubenv, "kernelopts");
                if (!only || (ko && strv_extendf(&only, "kernelopts=%s", ko) < 0))
                        return -ENOMEM;
        }
        r = grubenv_expand(static_view ? only : b->grubenv, options, &expanded);
        if (r < 0)
                return r;
        return kcmdline_parse(expanded, ret);
}

static size_t newest_entry(const Bootloader *b) {
        size_t best = BL_NONE;

        for (size_t i = 0; i < b->n_entries; i++) {
                const BlsEntry *e = b->entries + i, *o;

                if (e->rescue)
                        continue;
                if (best == BL_NONE) {
                        best = i;
                        continue;
                }
                o = b->entries + best;
                int c = bl_vercmp(e->version ?: e->id, o->version ?: o->id);
                if (c > 0 || (c == 0 && bl_vercmp(e->id, o->id) > 0))
                        best = i;
        }
        return best;
}

static size_t find_entry(const Bootloader *b, const char *id) {
        for (size_t i = 0; id && i < b->n_entries; i++)
                if (streq(b->entries[i].id, id))
                        return i;
        return BL_NONE;
}

/* The "entry <id>" target: the options lines of an entry. */
static int entry_target(Bootloader *b, const BlsEntry *e, bool primary) {
        const BlFile *f = b->files + e->file;
        _cleanup_strv_free_ char **lines = NULL;
        bool final_newline;
        size_t n = grub_style(b) ? 1 : strv_length(e->options);
        Target *t;
        int r;

        if (!e->options[0])
                return bl_warn(b, "Entry '%s' has no options line: it is not edited.", e->id);

        r = split_lines(f->contents, f->size, &lines, &final_newline);
        if (r < 0)
                return r;
        t = bl_target_new(b, "entry %s", e->id);
        if (!t)
                return -ENOMEM;
        t->primary = primary;
        for (size_t i = 0; i < n; i++) {
                size_t line = e->options_line[i];
                size_t l = strlen(lines[line]) - strlen(e->options[i]);
                _cleanup_free_ char *prefix = NULL;

                /* A bare "options" line has no blank before its (empty) value: the
                 * arguments written after it need one, or they join the key. */
                if (l > 0 && !strchr(" \t", lines[line][l - 1]))
                        r = asprintf(&prefix, "%.*s ", (int) l, lines[line]) < 0 ? -ENOMEM : 0;
                else
                        r = (prefix = strndup(lines[line], l)) ? 0 : -ENOMEM;
                if (r < 0)
                        return r;
                r = bl_target_add_line(t, e->file, line, prefix, e->options[i], grub_style(b));
                if (r < 0)
                        return r;
        }
        return 0;
}

int kernel_cmdline_target(Bootloader *b, bool primary) {
        _cleanup_strv_free_ char **lines = NULL;
        bool final_newline;
        const BlFile *f;
        Target *t;
        size_t n;
        int r, i;

        i = bl_add_file(b, hostroot_path(b->root, AREA_ETC, "kernel/cmdline"));
        if (i < 0)
                return i;
        f = b->files + i;
        if (!f->contents)
                return 0;
        b->cmdline_file = (size_t) i;

        r = split_lines(f->contents, f->size, &lines, &final_newline);
        if (r < 0)
                return r;
        t = bl_target_new(b, "%s", f->display);
        if (!t)
                return -ENOMEM;
        t->primary = primary;
        for (n = 0; lines[n]; n++) {
                const char *s = lines[n];

                while (kcmdline_isspace(*s)) /* the blanks the arguments are split at */
                        s++;
                if (*s == '#' || *s == '\0')
                        continue; /* kernel-install drops comments */
                r = bl_target_add_line(t, (size_t) i, n, "", lines[n], false);
                if (r < 0)
                        return r;
        }
        if (t->n_segs == 0) /* no arguments yet: they go to a new line */
                return bl_target_add_line(t, (size_t) i, n, "", "", false);
        return 0;
}

/* Warns about the pairs in which two views of the command line differ. */
static int drift(Bootloader *b, const char *what, const KCmdline *c, const char *ref_name,
                 const KCmdline *ref, const char *consequence) {
        _cleanup_free_ char *missing = NULL, *extra = NULL;
        int r;

        r = kcmdline_missing_text(ref, c, &missing);
        if (r >= 0)
                r = kcmdline_missing_text(c, ref, &extra);
        if (r < 0)
                return r;
        if (*missing)
                r = bl_warn(b, "%s lacks '%s' (in %s)%s", what, missing, ref_name, consequence);
        if (r >= 0 && *extra)
                r = bl_warn(b, "%s has '%s' that %s lacks.", what, extra, ref_name);
        return r;
}

static int drop_key(KCmdline *c, const char *key) {
        size_t j = 0;

        for (size_t i = 0; i < c->n_args; i++) {
                if (kcmdline_key_equal(c->args[i].key, key) || c->args[i].key[0] == '$') {
                        karg_done(c->args + i);
                        continue;
                }
                c->args[j++] = c->args[i];
        }
        c->n_args = j;
        kcmdline_mark_noise(c);
        return 0;
}

static int entries_drift(Bootloader *b) {
        _cleanup_(kcmdline_freep) KCmdline *def = NULL, *future = NULL;
        _cleanup_free_ char *def_name = NULL;
        int r;

        if (b->default_entry == BL_NONE)
                return 0;
        r = bl_entry_cmdline(b, b->entries + b->default_entry, true, &def);
        if (r < 0)
                return r;
        if (asprintf(&def_name, "the default entry '%s'", b->entries[b->default_entry].id) < 0)
                return -ENOMEM;

        for (size_t i = 0; i < b->n_entries; i++) {
                _cleanup_(kcmdline_freep) KCmdline *c = NULL;
                _cleanup_free_ char *what = NULL;
                const BlsEntry *e = b->entries + i;

                if (i == b->default_entry || e->rescue)
                        continue;
                r = bl_entry_cmdline(b, e, true, &c);
                if (r < 0)
                        return r;
                if (asprintf(&what, "Entry '%s'", e->id) < 0)
                        return -ENOMEM;
                r = drift(b, what, c, def_name, def, ": booting it would miss them.");
                if (r < 0)
                        return r;
        }

        if (b->cmdline_file == BL_NONE)
                return 0;
        r = kcmdline_copy(b->future, &future);
        if (r < 0)
                return r;
        drop_key(def, "systemd.machine_id"); /* kernel-install adds it */
        drop_key(future, "systemd.machine_id");
        return drift(b, b->files[b->cmdline_file].display, future, def_name, def,
                     ": kernels installed later will not get them.");
}

static int entries_warnings(Bootloader *b) {
        for (size_t i = 0; i < b->n_entries; i++) {
                const BlsEntry *e = b->entries + i;
                size_t n = strv_length(e->options);
                int r = 0;

                if (n > 1 && grub_style(b))
                        r = bl_warn(b, "Entry '%s' has %zu options lines: GRUB uses only the first.", e->id, n);
                else if (n > 1)
                        r = bl_warn(b, "Entry '%s' has %zu options lines: systemd-boot joins them, GRUB's "
                                    "blscfg and grubby would use only the first.", e->id, n);
                if (r >= 0 && b->kind == BOOTLOADER_BLS_GRUBENV && !e->kernelopts && !e->rescue)
                        r = bl_warn(b, "Entry '%s' does not use $kernelopts: changes of kernelopts in grubenv "
                                    "do not reach it (hostdevd edits it directly).", e->id);
                if (r < 0)
                        return r;
        }
        return entries_drift(b);
}

static int set_configured(Bootloader *b) {
        const BlsEntry *e;

        if (b->default_entry == BL_NONE)
                return bl_fail(b, -ENOENT, "No bootable (non-rescue) entry found.");
        e = b->entries + b->default_entry;
        b->configured_source = strdup(b->files[e->file].display);
        if (!b->configured_source)
                return -ENOMEM;
        return bl_entry_cmdline(b, e, false, &b->configured);
}

static int future_from_cmdline_file(Bootloader *b) {
        Target *t = b->targets + b->n_targets - 1;

        if (b->cmdline_file == BL_NONE)
                return 0;
        b->future_source = strdup(b->files[b->cmdline_file].display);
        if (!b->future_source)
                return -ENOMEM;
        return bl_target_args(t, &b->future);
}

static int grubenv_target(Bootloader *b, bool primary) {
        _cleanup_(kcmdline_freep) KCmdline *args = NULL;
        const char *ko = grubenv_get(b->grubenv, "kernelopts");
        Target *t;
        int r;

        r = kcmdline_parse(ko, &args);
        if (r < 0)
                return r;
        t = bl_target_new(b, "grubenv kernelopts");
        if (!t)
                return -ENOMEM;
        t->segs = calloc(1, sizeof(Segment));
        if (!t->segs)
                return -ENOMEM;
        t->n_segs = 1;
        t->primary = primary;
        t->segs[0] = (Segment) { .kind = SEG_GRUBENV, .args = TAKE_PTR(args), .file = b->grubenv_file };
        return 0;
}

static int grub_default_drift(Bootloader *b) {
        _cleanup_(kcmdline_freep) KCmdline *grub = NULL, *def = NULL;
        _cleanup_free_ char *value = NULL;
        int r;

        if (b->default_entry == BL_NONE || grub_default_cmdline_linux(b, &value) < 0 || !value)
                return 0;
        r = kcmdline_parse(value, &grub);
        if (r >= 0)
                r = bl_entry_cmdline(b, b->entries + b->default_entry, true, &def);
        if (r < 0)
                return r;
        drop_key(def, "root");
        drop_key(def, "ro");
        drop_key(def, "rw");
        _cleanup_free_ char *missing = NULL;
        r = kcmdline_missing_text(def, grub, &missing);
        if (r < 0 || !*missing)
                return r;
        _cleanup_free_ char *grub_file = bl_display_path(b, AREA_ETC, "default/grub");
        return bl_warn(b, "GRUB_CMDLINE_LINUX in %s lacks '%s': grub2-mkconfig (on releases that "
                       "rewrite BLS options from it, or with --update-bls-cmdline) would drop them.",
                       strempty(grub_file), missing);
}

static int bls_targets(Bootloader *b) {
        int r;

        for (size_t i = 0; i < b->n_entries; i++) {
                const BlsEntry *e = b->entries + i;

                if (e->rescue || (b->kind == BOOTLOADER_BLS_GRUBENV && e->kernelopts))
                        continue;
                r = entry_target(b, e, i == b->default_entry);
                if (r < 0)
                        return r;
        }
        if (b->kind == BOOTLOADER_BLS_GRUBENV && grubenv_get(b->grubenv, "kernelopts")) {
                bool primary = b->default_entry != BL_NONE && b->entries[b->default_entry].kernelopts;
                r = grubenv_target(b, primary);
                if (r < 0)
                        return r;
        }
        r = kernel_cmdline_target(b, false);
        if (r < 0)
                return r;
        return future_from_cmdline_file(b);
}

static int load_grubenv(Bootloader *b) {
        int i = bl_add_file(b, hostroot_path(b->root, AREA_BOOT, "grub2/grubenv"));
        const BlFile *f;

        if (i < 0)
                return i;
        f = b->files + i;
        if (!f->contents)
                return 0;
        if (grubenv_parse(f->contents, f->size, &b->grubenv) < 0)
                return bl_warn(b, "%s is not a GRUB environment block: ignored.", f->display);
        b->grubenv_file = (size_t) i;
        return 0;
}

int bls_setup(Bootloader *b) {
        _cleanup_free_ char *dir = hostroot_path(b->root, AREA_BOOT, "loader/entries");
        const char *id;
        int r;

        if (!dir)
                return -ENOMEM;
        r = load_grubenv(b);
        if (r >= 0)
                r = bls_load_entries(b, dir);
        if (r < 0)
                return r;

        b->kind = BOOTLOADER_BLS;
        if (grubenv_get(b->grubenv, "kernelopts"))
                b->kind = BOOTLOADER_BLS_GRUBENV;
        for (size_t i = 0; i < b->n_entries; i++)
                if (b->entries[i].kernelopts)
                        b->kind = BOOTLOADER_BLS_GRUBENV;
        if (b->kind == BOOTLOADER_BLS_GRUBENV && !grubenv_get(b->grubenv, "kernelopts"))
                bl_fail(b, -EINVAL, "Entries use $kernelopts but grubenv has no kernelopts.");

        id = grubenv_get(b->grubenv, "next_entry");
        if (!id || !*id)
                id = grubenv_get(b->grubenv, "saved_entry");
        b->default_entry = find_entry(b, id);
        if (b->default_entry == BL_NONE || b->entries[b->default_entry].rescue)
                b->default_entry = newest_entry(b);

        r = set_configured(b);
        if (r >= 0)
                r = bls_targets(b);
        if (r >= 0 && b->kind == BOOTLOADER_BLS_GRUBENV && !b->future) {
                b->future_source = strdup("grubenv kernelopts");
                r = !b->future_source ? -ENOMEM :
                        kcmdline_parse(grubenv_get(b->grubenv, "kernelopts") ?: "", &b->future);
        }
        if (r >= 0)
                r = entries_warnings(b);
        if (r >= 0)
                r = grub_default_drift(b);
        return r;
}

static int sdboot_default(Bootloader *b, const char *esp) {
        _cleanup_free_ char *conf = NULL;
        _cleanup_strv_free_ char **lines = NULL;
        bool final_newline;
        int i, r;

        if (asprintf(&conf, "%s/loader/loader.conf", esp) < 0)
                return -ENOMEM;
        i = bl_add_file(b, TAKE_PTR(conf));
        if (i < 0)
                return i;
        b->default_entry = BL_NONE;
        if (b->files[i].contents) {
                r = split_lines(b->files[i].contents, b->files[i].size, &lines, &final_newline);
                if (r < 0)
                        return r;
                for (size_t l = 0; lines[l]; l++) {
                        size_t k, v;
                        const char *pat;

                        if (!entry_line(lines[l], &k, &v) || k != 7 || strncmp(lines[l], "default", 7) != 0)
                                continue;
                        pat = lines[l] + v;
                        for (size_t e = 0; e < b->n_entries && b->default_entry == BL_NONE; e++) {
                                _cleanup_free_ char *name = NULL;
                                if (asprintf(&name, "%s.conf", b->entries[e].id) < 0)
                                        return -ENOMEM;
                                if (fnmatch(pat, b->entries[e].id, 0) == 0 || fnmatch(pat, name, 0) == 0)
                                        b->default_entry = e;
                        }
                }
        }
        if (b->default_entry == BL_NONE)
                b->default_entry = newest_entry(b);
        return 0;
}

int sdboot_setup(Bootloader *b, const char *esp) {
        _cleanup_free_ char *entries = NULL, *xbootldr = hostroot_path(b->root, AREA_BOOT, "loader/entries");
        _cleanup_strv_free_ char **ukis = NULL;
        _cleanup_free_ char *linux_dir = NULL;
        int r;

        if (!xbootldr || asprintf(&entries, "%s/loader/entries", esp) < 0 ||
            asprintf(&linux_dir, "%s/EFI/Linux", esp) < 0)
                return -ENOMEM;
        r = bls_load_entries(b, entries);
        if (r >= 0 && !streq(entries, xbootldr))
                r = bls_load_entries(b, xbootldr);
        if (r >= 0)
                r = sdboot_default(b, esp);
        if (r >= 0)
                r = set_configured(b);
        if (r < 0)
                return r;

        for (size_t i = 0; i < b->n_entries; i++) {
                if (b->entries[i].rescue)
                        continue;
                r = entry_target(b, b->entries + i, i == b->default_entry);
                if (r < 0)
                        return r;
        }
        r = kernel_cmdline_target(b, false);
        if (r >= 0)
                r = future_from_cmdline_file(b);
        if (r >= 0 && b->cmdline_file == BL_NONE) {
                _cleanup_free_ char *f = bl_display_path(b, AREA_ETC, "kernel/cmdline");
                r = bl_warn(b, "%s is absent: kernel-install gives kernels installed later the running "
                            "command line.", strempty(f));
        }
        if (r >= 0)
                r = bl_list(b, linux_dir, ".efi", &ukis);
        if (r >= 0 && ukis[0])
                r = bl_warn(b, "Unified kernel images in EFI/Linux embed their own command line: not edited.");
        if (r >= 0)
                r = entries_warnings(b);
        return r;
}

int ostree_setup(Bootloader *b, const char *entries) {
        int r;

        b->not_editable = "ostree owns the kernel arguments of its deployments: use 'rpm-ostree kargs' "
                "or 'bootc' (hostdevd does not edit them).";
        r = bls_load_entries(b, entries);
        if (r < 0)
                return r;
        b->default_entry = newest_entry(b);
        return set_configured(b);
}

int grub_default_cmdline_linux(Bootloader *b, char **ret) {
        _cleanup_(shell_vars_freep) ShellVars *v = NULL;
        const char *value;
        int i, r;

        i = bl_add_file(b, hostroot_path(b->root, AREA_ETC, "default/grub"));
        if (i < 0)
                return i;
        if (!b->files[i].contents)
                return -ENOENT;
        if (memchr(b->files[i].contents, 0, b->files[i].size))
                return -EINVAL; /* not evaluated: see eval_file() in bootloader-grub.c */
        r = shell_vars_new(&v);
        if (r >= 0)
                r = shell_eval(v, b->files[i].contents, b->files[i].display, NULL);
        if (r < 0)
                return r;
        r = shell_vars_get(v, "GRUB_CMDLINE_LINUX", &value);
        if (r == -ENOENT)
                value = "";
        else if (r < 0)
                return r;
        *ret = strdup(value);
        return *ret ? 0 : -ENOMEM;
}

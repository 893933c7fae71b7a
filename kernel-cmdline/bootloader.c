/* Detection of the bootloader setup and the loaded snapshot that the
 * backends fill in: files (read from disk, or from a plan's new contents),
 * edit targets, the configured command line and warnings. */

/*
 * Design: detection, first match wins (every path under the root):
 *  1. ostree: boot/loader is a symlink (or, in a copied tree, a file naming
 *     loader.N), or run/ostree-booted exists. Reported, never edited.
 *  2. Proxmox VE: etc/kernel/proxmox-boot-uuids lists the ESPs that
 *     proxmox-boot-tool manages. They are mounted only while the tool runs
 *     (at var/tmp/espmounts/<UUID>), so we look for each at that place and
 *     at esp-<UUID> under the root (how fixture trees hold them); the ones
 *     found are read for drift warnings. If a found ESP holds grub/ and no
 *     loader/, or etc/kernel/cmdline is absent, the ESPs are in GRUB mode:
 *     "grub-debian" with flavour "proxmox"; else "proxmox-boot-tool".
 *  3. GRUB with BLS: boot/loader/entries is a directory and boot/grub2 or
 *     etc/default/grub exists: "bls-grubenv" when an entry uses $kernelopts
 *     or grubenv has kernelopts (RHEL 8), else "bls".
 *  4. systemd-boot: the first of efi/, boot/efi/, boot/ (bootctl's ESP
 *     candidates; boot/ is also the XBOOTLDR place) that has loader/entries.
 *  5. Debian/Ubuntu GRUB: etc/default/grub exists ("proxmox" flavour when
 *     usr/sbin/proxmox-boot-tool exists).
 * Anything else is -ENOENT.
 */

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "basic/fileio.h"
#include "basic/strv.h"
#include "bootloader-internal.h"

static const char *const kind_names[_BOOTLOADER_KIND_MAX] = {
        [BOOTLOADER_BLS] = "bls",
        [BOOTLOADER_BLS_GRUBENV] = "bls-grubenv",
        [BOOTLOADER_GRUB_DEBIAN] = "grub-debian",
        [BOOTLOADER_SYSTEMD_BOOT] = "systemd-boot",
        [BOOTLOADER_PROXMOX] = "proxmox-boot-tool",
        [BOOTLOADER_OSTREE] = "ostree",
};

const char *bootloader_kind_to_string(BootloaderKind k) {
        return k >= 0 && k < _BOOTLOADER_KIND_MAX ? kind_names[k] : NULL;
}

BootloaderKind bootloader_kind(const Bootloader *b) {
        return b->kind;
}

const char *bootloader_flavour(const Bootloader *b) {
        return b->flavour;
}

char *const *bootloader_files(const Bootloader *b) {
        return b->file_list;
}

bool bootloader_editable(const Bootloader *b, const char **ret_reason) {
        if (ret_reason)
                *ret_reason = b->not_editable;
        return !b->not_editable;
}

void target_done(Target *t) {
        for (size_t i = 0; i < t->n_segs; i++) {
                kcmdline_free(t->segs[i].args);
                free(t->segs[i].prefix);
                free(t->segs[i].suffix);
        }
        free(t->segs);
        free(t->name);
        *t = (Target) {};
}

Bootloader *bootloader_free(Bootloader *b) {
        if (!b)
                return NULL;
        for (size_t i = 0; i < b->n_files; i++) {
                free(b->files[i].path);
                free(b->files[i].display);
                free(b->files[i].contents);
        }
        free(b->files);
        strv_free(b->file_list);
        for (size_t i = 0; i < b->n_entries; i++) {
                BlsEntry *e = b->entries + i;
                free(e->id);
                free(e->title);
                free(e->version);
                free(e->linux_path);
                strv_free(e->options);
                free(e->options_line);
        }
        free(b->entries);
        strv_free(b->grubenv);
        free(b->grub.linux_base);
        free(b->grub.default_base);
        free(b->grub.linux_value);
        free(b->grub.default_value);
        strv_free(b->esps);
        for (size_t i = 0; i < b->n_targets; i++)
                target_done(b->targets + i);
        free(b->targets);
        kcmdline_free(b->configured);
        free(b->configured_source);
        kcmdline_free(b->future);
        free(b->future_source);
        strv_free(b->warnings);
        free(b->read_error_text);
        free(b);
        return NULL;
}

static const BootFileChange *overlay_find(const Bootloader *b, const char *path) {
        for (size_t i = 0; i < b->n_overlay; i++)
                if (streq(b->overlay[i].path, path))
                        return b->overlay + i;
        return NULL;
}

int bl_add_file(Bootloader *b, char *path_owned) {
        _cleanup_free_ char *path = path_owned;
        const BootFileChange *o;
        const char *display;
        BlFile f = {}, *files;
        struct stat st;
        int r;

        if (!path)
                return -ENOMEM;
        for (size_t i = 0; i < b->n_files; i++)
                if (streq(b->files[i].path, path))
                        return (int) i;

        f.mode = 0644;
        o = overlay_find(b, path);
        if (o) {
                f.contents = malloc(o->new_size + 1);
                if (!f.contents)
                        return -ENOMEM;
                memcpy(f.contents, o->new_contents, o->new_size);
                f.contents[o->new_size] = '\0';
                f.size = o->new_size;
                f.mode = o->mode;
        } else {
                r = read_full_file(path, BL_FILE_MAX, &f.contents, &f.size);
                if (r < 0 && r != -ENOENT)
                        return r;
                if (r >= 0 && stat(path, &st) >= 0)
                        f.mode = st.st_mode & 07777;
        }

        display = hostroot_strip(b->root, path);
        f.display = strdup(display && *display ? display : path);
        if (!f.display) {
                free(f.contents);
                return -ENOMEM;
        }
        files = realloc(b->files, (b->n_files + 1) * sizeof(BlFile));
        if (!files) {
                free(f.contents);
                free(f.display);
                return -ENOMEM;
        }
        b->files = files;
        f.path = TAKE_PTR(path);
        b->files[b->n_files] = f;
        if (f.contents && strv_extend(&b->file_list, f.display) < 0)
                return -ENOMEM;
        return (int) b->n_files++;
}

bool bl_exists(const Bootloader *b, const char *path, bool dir) {
        struct stat st;
        size_t l = strlen(path);

        for (size_t i = 0; i < b->n_overlay; i++) {
                const char *p = b->overlay[i].path;
                if (dir ? strncmp(p, path, l) == 0 && p[l] == '/' : streq(p, path))
                        return true;
        }
        if (stat(path, &st) < 0)
                return false;
        return dir ? S_ISDIR(st.st_mode) : !S_ISDIR(st.st_mode);
}

static bool has_suffix(const char *name, const char *suffix) {
        size_t n = strlen(name), s = strlen(suffix);

        return n > s && streq(name + n - s, suffix);
}

int bl_list(const Bootloader *b, const char *dir, const char *suffix, char ***ret) {
        _cleanup_strv_free_ char **names = strv_new_empty();
        _cleanup_closedir_ DIR *d = NULL;
        size_t l = strlen(dir);
        struct dirent *de;

        if (!names)
                return -ENOMEM;
        d = opendir(dir);
        if (d)
                while ((de = readdir(d)))
                        if (de->d_name[0] != '.' && has_suffix(de->d_name, suffix) &&
                            strv_extend(&names, de->d_name) < 0)
                                return -ENOMEM;
        for (size_t i = 0; i < b->n_overlay; i++) {
                const char *p = b->overlay[i].path, *name = p + l + 1;
                if (strncmp(p, dir, l) == 0 && p[l] == '/' && !strchr(name, '/') &&
                    name[0] != '.' && has_suffix(name, suffix) && !strv_contains(names, name) &&
                    strv_extend(&names, name) < 0)
                        return -ENOMEM;
        }
        strv_sort(names);
        *ret = TAKE_PTR(names);
        return 0;
}

char *bl_display_path(const Bootloader *b, HostArea area, const char *sub) {
        _cleanup_free_ char *p = hostroot_path(b->root, area, "%s", sub);
        const char *d = p ? hostroot_strip(b->root, p) : NULL;

        return d ? strdup(d) : NULL;
}

int bl_warn(Bootloader *b, const char *fmt, ...) {
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = strv_extendfv(&b->warnings, fmt, ap);
        va_end(ap);
        return r;
}

int bl_fail(Bootloader *b, int error, const char *fmt, ...) {
        va_list ap;

        if (b->read_error < 0)
                return 0; /* the first reason stays */
        b->read_error = -abs(error);
        va_start(ap, fmt);
        if (vasprintf(&b->read_error_text, fmt, ap) < 0)
                b->read_error_text = NULL;
        va_end(ap);
        return 0;
}

Target *bl_target_new(Bootloader *b, const char *fmt, ...) {
        Target *t;
        va_list ap;
        char *name = NULL;
        int n;

        va_start(ap, fmt);
        n = vasprintf(&name, fmt, ap);
        va_end(ap);
        if (n < 0)
                return NULL;
        t = realloc(b->targets, (b->n_targets + 1) * sizeof(Target));
        if (!t) {
                free(name);
                return NULL;
        }
        b->targets = t;
        t = b->targets + b->n_targets++;
        *t = (Target) { .name = name };
        return t;
}

/* Splits a trailing run of $variables off text: "a b $x $y" -> "a b", "$x $y". */
static int split_tail(const char *text, char **ret_body, char **ret_tail) {
        size_t end = strlen(text), cut;

        while (end > 0 && strchr(" \t", text[end - 1]))
                end--;
        cut = end;
        for (;;) {
                size_t s = cut;

                while (s > 0 && !strchr(" \t", text[s - 1]))
                        s--;
                if (s == cut || text[s] != '$' || memchr(text + s, '"', cut - s))
                        break;
                cut = s;
                while (cut > 0 && strchr(" \t", text[cut - 1]))
                        cut--;
        }
        *ret_body = strndup(text, cut);
        if (!*ret_body)
                return -ENOMEM;
        while (cut < end && strchr(" \t", text[cut]))
                cut++;
        *ret_tail = strndup(text + cut, end - cut);
        if (!*ret_tail) {
                free(*ret_body);
                return -ENOMEM;
        }
        return 0;
}

int bl_target_add_line(Target *t, size_t file, size_t line, const char *prefix,
                       const char *text, bool split_tail_vars) {
        _cleanup_free_ char *body = NULL, *tail = NULL, *pre = strdup(prefix);
        _cleanup_(kcmdline_freep) KCmdline *args = NULL;
        Segment *segs;
        int r;

        if (!pre)
                return -ENOMEM;
        if (split_tail_vars)
                r = split_tail(text, &body, &tail);
        else
                r = (body = strdup(text)) && (tail = strdup("")) ? 0 : -ENOMEM;
        if (r < 0)
                return r;
        r = kcmdline_parse(body, &args);
        if (r < 0)
                return r;

        segs = realloc(t->segs, (t->n_segs + 1) * sizeof(Segment));
        if (!segs)
                return -ENOMEM;
        t->segs = segs;
        t->segs[t->n_segs++] = (Segment) {
                .kind = SEG_LINE, .args = TAKE_PTR(args), .file = file, .line = line,
                .prefix = TAKE_PTR(pre), .suffix = TAKE_PTR(tail),
        };
        t->append_seg = t->n_segs - 1;
        return 0;
}

int bl_target_args(const Target *t, KCmdline **ret) {
        _cleanup_free_ KCmdline **parts = calloc(t->n_segs + 1, sizeof(KCmdline *));

        if (!parts)
                return -ENOMEM;
        for (size_t i = 0; i < t->n_segs; i++)
                parts[i] = t->segs[i].args;
        return kcmdline_concat(parts, t->n_segs, ret);
}

/* ---- Detection ---- */

/* Whether an entry in dir passes "ostree=" (a copied tree where the
 * boot/loader symlink became a directory). */
static bool entries_have_ostree(Bootloader *b, const char *dir) {
        _cleanup_strv_free_ char **names = NULL;

        if (bl_list(b, dir, ".conf", &names) < 0)
                return false;
        for (size_t i = 0; names[i]; i++) {
                _cleanup_free_ char *path = NULL, *text = NULL;

                if (asprintf(&path, "%s/%s", dir, names[i]) < 0)
                        return false;
                if (read_full_file(path, BL_FILE_MAX, &text, NULL) >= 0 &&
                    strstr(text, "ostree=/ostree/"))
                        return true;
        }
        return false;
}

static int detect_ostree(Bootloader *b, char **ret_entries) {
        _cleanup_free_ char *loader = hostroot_path(b->root, AREA_BOOT, "loader");
        _cleanup_free_ char *booted = hostroot_path(b->root, AREA_RUN, "ostree-booted");
        _cleanup_free_ char *target = NULL;
        struct stat st;

        if (!loader || !booted)
                return -ENOMEM;
        if (lstat(loader, &st) >= 0 && S_ISLNK(st.st_mode)) {
                *ret_entries = hostroot_path(b->root, AREA_BOOT, "loader/entries");
                return *ret_entries ? 1 : -ENOMEM;
        }
        if (lstat(loader, &st) >= 0 && S_ISREG(st.st_mode) &&
            read_one_line_file(loader, &target) >= 0 && startswith(target, "loader.") && !strchr(target, '/')) {
                *ret_entries = hostroot_path(b->root, AREA_BOOT, "%s/entries", target);
                return *ret_entries ? 1 : -ENOMEM;
        }
        *ret_entries = hostroot_path(b->root, AREA_BOOT, "loader/entries");
        if (!*ret_entries)
                return -ENOMEM;
        if (bl_exists(b, booted, false) || entries_have_ostree(b, *ret_entries))
                return 1;
        free(*ret_entries);
        *ret_entries = NULL;
        return 0;
}

static bool exists_at(Bootloader *b, HostArea area, const char *sub, bool dir) {
        _cleanup_free_ char *p = hostroot_path(b->root, area, "%s", sub);

        return p && bl_exists(b, p, dir);
}

static int detect(Bootloader *b) {
        _cleanup_free_ char *ostree_entries = NULL;
        static const struct {
                HostArea area;
                const char *sub;
        } esps[] = {
                { AREA_ROOT, "efi" }, { AREA_BOOT, "efi" }, { AREA_BOOT, "" },
        };
        int r;

        r = detect_ostree(b, &ostree_entries);
        if (r < 0)
                return r;
        if (r > 0) {
                b->kind = BOOTLOADER_OSTREE;
                return ostree_setup(b, ostree_entries);
        }

        if (exists_at(b, AREA_ETC, "kernel/proxmox-boot-uuids", false))
                return proxmox_setup(b);

        if (exists_at(b, AREA_BOOT, "loader/entries", true) &&
            (exists_at(b, AREA_BOOT, "grub2", true) || exists_at(b, AREA_ETC, "default/grub", false)))
                return bls_setup(b);

        for (size_t i = 0; i < ELEMENTSOF(esps); i++) {
                _cleanup_free_ char *dir = hostroot_path(b->root, esps[i].area, "%s", esps[i].sub);
                _cleanup_free_ char *entries = NULL;

                if (!dir || asprintf(&entries, "%s/loader/entries", dir) < 0)
                        return -ENOMEM;
                if (bl_exists(b, entries, true)) {
                        b->kind = BOOTLOADER_SYSTEMD_BOOT;
                        return sdboot_setup(b, dir);
                }
        }

        if (exists_at(b, AREA_ETC, "default/grub", false)) {
                if (exists_at(b, AREA_ROOT, "usr/sbin/proxmox-boot-tool", false))
                        b->flavour = "proxmox";
                return grub_debian_setup(b);
        }
        return -ENOENT;
}

int bl_load(const HostRoot *root, const BootFileChange *overlay, size_t n_overlay,
            Bootloader **ret, char **ret_error) {
        _cleanup_(bootloader_freep) Bootloader *b = calloc(1, sizeof(Bootloader));
        int r;

        if (!b)
                return -ENOMEM;
        b->root = root;
        b->overlay = overlay;
        b->n_overlay = n_overlay;
        b->default_entry = BL_NONE;
        b->grubenv_file = BL_NONE;
        b->cmdline_file = BL_NONE;
        b->grub.dropin = BL_NONE;
        b->file_list = strv_new_empty();
        b->warnings = strv_new_empty();
        if (!b->file_list || !b->warnings)
                return -ENOMEM;

        r = detect(b);
        if (r == -ENOENT) {
                if (ret_error && asprintf(ret_error, "No supported bootloader configuration found under '%s/' "
                                          "(looked for BLS entries, GRUB's defaults file, an ESP with "
                                          "loader/entries, ostree, proxmox-boot-tool)",
                                          hostroot_prefix(root)) < 0)
                        *ret_error = NULL;
                return r;
        }
        if (r < 0) {
                if (ret_error && asprintf(ret_error, "Failed to read the bootloader configuration: %s",
                                          strerror(-r)) < 0)
                        *ret_error = NULL;
                return r;
        }
        b->overlay = NULL; /* borrowed only while loading */
        b->n_overlay = 0;
        *ret = TAKE_PTR(b);
        return 0;
}

int bootloader_detect(const HostRoot *root, Bootloader **ret, char **ret_error) {
        if (!root || !ret)
                return -EINVAL;
        return bl_load(root, NULL, 0, ret, ret_error);
}

/* ---- Reading ---- */

BootConfig *boot_config_free(BootConfig *c) {
        if (!c)
                return NULL;
        kcmdline_free(c->configured);
        free(c->configured_source);
        kcmdline_free(c->future);
        free(c->future_source);
        for (size_t i = 0; i < c->n_entries; i++) {
                BootEntry *e = c->entries + i;
                free(e->id);
                free(e->path);
                free(e->title);
                free(e->version);
                free(e->options);
                kcmdline_free(e->cmdline);
        }
        free(c->entries);
        strv_free(c->warnings);
        free(c);
        return NULL;
}

static char *strdup_or_null(const char *s, bool *oom) {
        char *d;

        if (!s)
                return NULL;
        d = strdup(s);
        if (!d)
                *oom = true;
        return d;
}

static int fill_entry(const Bootloader *b, const BlsEntry *e, size_t i, BootEntry *ret) {
        bool oom = false;
        int r;

        *ret = (BootEntry) {
                .id = strdup_or_null(e->id, &oom),
                .path = strdup_or_null(b->files[e->file].display, &oom),
                .title = strdup_or_null(e->title, &oom),
                .version = strdup_or_null(e->version, &oom),
                .is_default = i == b->default_entry,
                .is_rescue = e->rescue,
                .uses_kernelopts = e->kernelopts,
        };
        if (oom)
                return -ENOMEM;
        r = bl_entry_options(b, e, &ret->options);
        if (r < 0)
                return r;
        r = bl_entry_cmdline(b, e, false, &ret->cmdline);
        return r;
}

int bootloader_read(const Bootloader *b, BootConfig **ret, char **ret_error) {
        _cleanup_(boot_config_freep) BootConfig *c = NULL;
        int r;

        if (!b || !ret)
                return -EINVAL;
        if (b->read_error < 0) {
                if (ret_error)
                        *ret_error = b->read_error_text ? strdup(b->read_error_text) : NULL;
                return b->read_error;
        }

        c = calloc(1, sizeof(BootConfig));
        if (!c)
                return -ENOMEM;
        if (b->configured) {
                r = kcmdline_copy(b->configured, &c->configured);
                if (r < 0)
                        return r;
        }
        if (b->future) {
                r = kcmdline_copy(b->future, &c->future);
                if (r < 0)
                        return r;
        }
        if ((b->configured_source && !(c->configured_source = strdup(b->configured_source))) ||
            (b->future_source && !(c->future_source = strdup(b->future_source))))
                return -ENOMEM;

        if (b->n_entries > 0) {
                c->entries = calloc(b->n_entries, sizeof(BootEntry));
                if (!c->entries)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < b->n_entries; i++) {
                r = fill_entry(b, b->entries + i, i, c->entries + i);
                c->n_entries++;
                if (r < 0)
                        return r;
        }

        c->warnings = strv_new_empty();
        if (!c->warnings)
                return -ENOMEM;
        for (char *const *w = b->warnings; *w; w++)
                if (strv_extend(&c->warnings, *w) < 0)
                        return -ENOMEM;
        *ret = TAKE_PTR(c);
        return 0;
}

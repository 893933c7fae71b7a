/* Unit test of the bootloader backends (kernel-cmdline/bootloader.h) on the
 * fixture trees of tests/data/bootloader: detection, the configured command
 * line against the fixtures' expected files, edits applied to copies (in a
 * mkdtemp() directory) against hand-made golden files, idempotence,
 * rescue entries, the 1024-byte grubenv, conflicts, the ledger, rollback
 * under injected faults, a SIGKILL loop, stale temp cleanup, and the GRUB
 * shell evaluator cross-checked with bash. Prints TAP. */

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/strv.h"
#include "kernel-cmdline/bootloader-internal.h"
#include "kernel-cmdline/bootloader-shell.h"
#include "kernel-cmdline/bootloader.h"
#include "tap.h"

#define DATA BOOTLOADER_DATA_DIR
#define MID "3f1c6a0d8e2b4c7fa9d05e6b1c2d3e4f"

static char *tmpbase;

/* ---- Helpers ---- */

static int run_argv(char *const *argv) {
        int status;
        pid_t pid = fork();

        if (pid < 0)
                abort();
        if (pid == 0) {
                execvp(argv[0], argv);
                _exit(127);
        }
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        abort();
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* A fresh copy of a fixture: <tmp>/<name>-N. */
static char *copy_fixture(const char *fixture) {
        static unsigned n;
        char *dst = NULL, *src = NULL;

        if (asprintf(&dst, "%s/%s-%u", tmpbase, fixture, n++) < 0 || asprintf(&src, "%s/%s", DATA, fixture) < 0)
                abort();
        if (run_argv((char *const[]) { (char *) "cp", (char *) "-a", src, dst, NULL }) != 0 ||
            run_argv((char *const[]) { (char *) "chmod", (char *) "-R", (char *) "u+w", dst, NULL }) != 0)
                abort();
        free(src);
        return dst;
}

static char *slurp(const char *dir, const char *rel) {
        _cleanup_free_ char *p = NULL;
        char *text = NULL;

        if (asprintf(&p, "%s/%s", dir, rel) < 0)
                abort();
        if (read_full_file(p, 1024 * 1024, &text, NULL) < 0)
                return NULL;
        return text;
}

static void put(const char *dir, const char *rel, const char *text) {
        _cleanup_free_ char *p = NULL;

        if (asprintf(&p, "%s/%s", dir, rel) < 0 || write_file_atomic(p, text, strlen(text), 0644) < 0)
                abort();
}

/* Every regular file under dir, relative, sorted; "" prefix at the top. */
static void list_files(const char *dir, const char *rel, char ***l) {
        _cleanup_free_ char *path = NULL;
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;

        if (asprintf(&path, "%s%s%s", dir, *rel ? "/" : "", rel) < 0)
                abort();
        d = opendir(path);
        if (!d)
                return;
        while ((de = readdir(d))) {
                _cleanup_free_ char *sub = NULL, *full = NULL;
                struct stat st;

                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (asprintf(&sub, "%s%s%s", rel, *rel ? "/" : "", de->d_name) < 0 ||
                    asprintf(&full, "%s/%s", dir, sub) < 0)
                        abort();
                if (lstat(full, &st) < 0)
                        abort();
                if (S_ISDIR(st.st_mode))
                        list_files(dir, sub, l);
                else if (strv_extend(l, sub) < 0)
                        abort();
        }
        strv_sort(*l);
}

static bool same_file(const char *a_dir, const char *b_dir, const char *rel) {
        _cleanup_free_ char *a = slurp(a_dir, rel), *b = slurp(b_dir, rel);

        return a && b && streq(a, b);
}

static HostRoot *root_at(const char *dir) {
        HostRoot *r = NULL;

        if (hostroot_new(dir, &r) < 0)
                abort();
        return r;
}

static Bootloader *detect_at(const HostRoot *root) {
        Bootloader *b = NULL;
        _cleanup_free_ char *error = NULL;

        if (bootloader_detect(root, &b, &error) < 0) {
                printf("# detect failed: %s\n", strempty(error));
                return NULL;
        }
        return b;
}

static char *fmt(const KCmdline *c) {
        return c ? kcmdline_to_text(c) : strdup("(null)");
}

static bool has_warning(char *const *warnings, const char *a, const char *b) {
        for (; warnings && *warnings; warnings++)
                if (strstr(*warnings, a) && (!b || strstr(*warnings, b)))
                        return true;
        return false;
}

/* The value in brackets after "NAME=[" in an expected-effective.txt. */
static char *expected_var(const char *fixture, const char *name) {
        _cleanup_free_ char *dir = NULL, *text = NULL, *key = NULL;
        const char *p, *e;

        if (asprintf(&dir, "%s/%s", DATA, fixture) < 0 || asprintf(&key, "%s=[", name) < 0)
                abort();
        text = slurp(dir, "expected-effective.txt");
        if (!text || !(p = strstr(text, key)))
                return NULL;
        p += strlen(key);
        e = strstr(p, "]");
        return e ? strndup(p, (size_t) (e - p)) : NULL;
}

/* GRUB_CMDLINE_LINUX and _DEFAULT as bash sources the tree at dir; NULL
 * when bash cannot run. */
static char *bash_effective(const char *dir) {
        _cleanup_free_ char *cmd = NULL;
        char buf[4096];
        size_t n;
        FILE *f;

        if (asprintf(&cmd, "cd '%s' && bash -c '. etc/default/grub; for f in etc/default/grub.d/*.cfg; do "
                     "[ -e \"$f\" ] && . \"$f\"; done; printf \"%%s|%%s\" \"$GRUB_CMDLINE_LINUX\" "
                     "\"$GRUB_CMDLINE_LINUX_DEFAULT\"' 2>/dev/null", dir) < 0)
                abort();
        f = popen(cmd, "r");
        if (!f)
                return NULL;
        n = fread(buf, 1, sizeof buf - 1, f);
        if (pclose(f) != 0)
                return NULL;
        buf[n] = '\0';
        return strdup(buf);
}

/* ---- Detection ---- */

static void check_kind(const char *fixture, const char *kind, const char *flavour, const char *file) {
        _cleanup_free_ char *dir = NULL;
        _cleanup_(hostroot_freep) HostRoot *root = NULL;
        _cleanup_(bootloader_freep) Bootloader *b = NULL;

        if (asprintf(&dir, "%s/%s", DATA, fixture) < 0)
                abort();
        root = root_at(dir);
        b = detect_at(root);
        is_str(b ? bootloader_kind_to_string(bootloader_kind(b)) : NULL, kind, "%s detected as %s", fixture, kind);
        is_str(b ? bootloader_flavour(b) : NULL, flavour, "%s flavour %s", fixture, strempty(flavour));
        ok(b && strv_contains(bootloader_files(b), file), "%s lists %s among its files", fixture, file);
}

static void test_detect(void) {
        check_kind("rhel9-bls", "bls", NULL, "/boot/loader/entries/" MID "-0-rescue.conf");
        check_kind("rhel8-grubenv", "bls-grubenv", NULL, "/boot/grub2/grubenv");
        check_kind("debian", "grub-debian", NULL, "/etc/default/grub.d/60-site-serial.cfg");
        check_kind("ubuntu-cloud", "grub-debian", NULL, "/etc/default/grub.d/99-zz-vdsm-kernel-args.cfg");
        check_kind("debian-plain", "grub-debian", NULL, "/etc/default/grub");
        check_kind("proxmox", "proxmox-boot-tool", "proxmox", "/etc/kernel/cmdline");
        check_kind("proxmox", "proxmox-boot-tool", "proxmox", "/esp-2C1A-7F3B/loader/entries/proxmox-6.8.12-4-pve.conf");
        check_kind("proxmox-grub", "grub-debian", "proxmox", "/etc/kernel/proxmox-boot-uuids");
        check_kind("systemd-boot", "systemd-boot", NULL, "/efi/loader/entries/" MID "-6.11.5-300.fc41.x86_64.conf");
        check_kind("ostree", "ostree", NULL, "/boot/loader.1/entries/ostree-2.conf");
        check_kind("bls-conflict", "bls", NULL, "/etc/kernel/cmdline");

        /* The real shape of an ostree /boot: loader is a symlink. */
        _cleanup_free_ char *dir = copy_fixture("ostree"), *loader = NULL;
        if (asprintf(&loader, "%s/boot/loader", dir) < 0 || unlink(loader) < 0 || symlink("loader.1", loader) < 0)
                abort();
        _cleanup_(hostroot_freep) HostRoot *root = root_at(dir);
        _cleanup_(bootloader_freep) Bootloader *b = detect_at(root);
        const char *reason = NULL;
        is_str(b ? bootloader_kind_to_string(bootloader_kind(b)) : NULL, "ostree", "ostree with a loader symlink");
        ok(b && !bootloader_editable(b, &reason) && reason && strstr(reason, "rpm-ostree kargs"),
           "ostree is not editable and says why");

        _cleanup_(hostroot_freep) HostRoot *empty = root_at(tmpbase);
        Bootloader *none = NULL;
        char *error = NULL;
        is_int(bootloader_detect(empty, &none, &error), -ENOENT, "an empty tree has no bootloader");
        ok(error && strstr(error, "No supported bootloader"), "and says so");
        free(error);
}

/* ---- Reading ---- */

static BootConfig *read_fixture(const char *fixture, Bootloader **ret_b, HostRoot **ret_root) {
        _cleanup_free_ char *dir = NULL, *error = NULL;
        BootConfig *c = NULL;

        if (asprintf(&dir, "%s/%s", DATA, fixture) < 0)
                abort();
        *ret_root = root_at(dir);
        *ret_b = detect_at(*ret_root);
        if (!*ret_b || bootloader_read(*ret_b, &c, &error) < 0) {
                printf("# read of %s failed: %s\n", fixture, strempty(error));
                return NULL;
        }
        return c;
}

static void test_read_rhel9(void) {
        _cleanup_(hostroot_freep) HostRoot *root = NULL;
        _cleanup_(bootloader_freep) Bootloader *b = NULL;
        _cleanup_(boot_config_freep) BootConfig *c = read_fixture("rhel9-bls", &b, &root);
        _cleanup_free_ char *expected = NULL, *got = NULL, *dir = NULL, *text = NULL;
        const char *args, *rootv;
        size_t n_rescue = 0, n_default = 0;

        /* grubby --info=ALL index=0: root= split out, $tuned_params unexpanded. */
        if (asprintf(&dir, "%s/rhel9-bls", DATA) < 0)
                abort();
        text = slurp(dir, "expected-grubby-info-ALL.txt");
        args = strstr(text, "args=\"") + 6;
        rootv = strstr(text, "root=\"") + 6;
        if (asprintf(&expected, "root=%.*s %.*s", (int) strcspn(rootv, "\""), rootv,
                     (int) (strstr(args, " $tuned_params\"") - args), args) < 0)
                abort();
        got = c ? fmt(c->configured) : NULL;
        is_str(got, expected, "rhel9: configured = the saved_entry's options, $tuned_params empty");
        is_str(c ? c->configured_source : NULL, "/boot/loader/entries/" MID "-5.14.0-503.11.1.el9_5.x86_64.conf",
               "rhel9: configured from the saved_entry");
        for (size_t i = 0; c && i < c->n_entries; i++) {
                n_rescue += c->entries[i].is_rescue;
                n_default += c->entries[i].is_default;
        }
        ok(c && c->n_entries == 3 && n_rescue == 1 && n_default == 1, "rhel9: 3 entries, one rescue, one default");
        ok(c && has_warning(c->warnings, "427.42.1", "lacks 'intel_iommu=on iommu=pt vfio-pci.ids=10de:1eb8,10de:10f8'"),
           "rhel9: the running entry lacks the engine args (drift)");
        ok(c && has_warning(c->warnings, "/etc/kernel/cmdline lacks 'intel_iommu=on iommu=pt vfio-pci.ids=10de:1eb8,10de:10f8'",
                            "installed later"), "rhel9: /etc/kernel/cmdline lacks them (future kernels)");
        ok(c && has_warning(c->warnings, "GRUB_CMDLINE_LINUX", "grub2-mkconfig"),
           "rhel9: /etc/default/grub lacks them (grub2-mkconfig)");
        ok(c && c->future && kcmdline_has(c->future, "console", "ttyS0,115200n8") &&
           !kcmdline_get(c->future, "intel_iommu"), "rhel9: future = /etc/kernel/cmdline");
}

static void test_read_rhel8(void) {
        _cleanup_(hostroot_freep) HostRoot *root = NULL;
        _cleanup_(bootloader_freep) Bootloader *b = NULL;
        _cleanup_(boot_config_freep) BootConfig *c = read_fixture("rhel8-grubenv", &b, &root);
        _cleanup_free_ char *dir = NULL, *proc = NULL, *got = NULL;
        const char *want;

        /* Booted from the $kernelopts entry: /proc/cmdline minus BOOT_IMAGE. */
        if (asprintf(&dir, "%s/rhel8-grubenv", DATA) < 0)
                abort();
        proc = slurp(dir, "proc/cmdline");
        proc[strcspn(proc, "\n")] = '\0';
        want = strchr(proc, ' ') + 1;
        got = c ? fmt(c->configured) : NULL;
        is_str(got, want, "rhel8: configured = $kernelopts $tuned_params expanded = the running line");
        ok(c && has_warning(c->warnings, "553.16.1", "does not use $kernelopts"), "rhel8: de-linked entry warned");
        ok(c && has_warning(c->warnings, "553.16.1", "lacks 'intel_iommu=on'"), "rhel8: de-linked entry lacks intel_iommu=on");
        ok(c && has_warning(c->warnings, "553.16.1", "has 'nosmt'"), "rhel8: de-linked entry has nosmt");
        for (size_t i = 0; c && i < c->n_entries; i++)
                if (strstr(c->entries[i].id, "553.27.1"))
                        ok(c->entries[i].uses_kernelopts && c->entries[i].is_default &&
                           streq(c->entries[i].options, "$kernelopts $tuned_params"),
                           "rhel8: the default entry uses $kernelopts, options kept unexpanded");
}

static void check_grub_effective(const char *fixture) {
        _cleanup_(hostroot_freep) HostRoot *root = NULL;
        _cleanup_(bootloader_freep) Bootloader *b = NULL;
        _cleanup_(boot_config_freep) BootConfig *c = read_fixture(fixture, &b, &root);
        _cleanup_free_ char *l = expected_var(fixture, "GRUB_CMDLINE_LINUX");
        _cleanup_free_ char *d = expected_var(fixture, "GRUB_CMDLINE_LINUX_DEFAULT");
        _cleanup_free_ char *both = NULL, *want = NULL, *got = NULL, *dir = NULL, *bash = NULL;
        _cleanup_(kcmdline_freep) KCmdline *w = NULL;

        is_str(b ? b->grub.linux_value : NULL, l, "%s: GRUB_CMDLINE_LINUX as expected-effective.txt", fixture);
        is_str(b ? b->grub.default_value : NULL, d, "%s: GRUB_CMDLINE_LINUX_DEFAULT as expected-effective.txt", fixture);
        if (asprintf(&both, "%s %s", strempty(l), strempty(d)) < 0 || kcmdline_parse(both, &w) < 0)
                abort();
        want = fmt(w);
        got = c ? fmt(c->configured) : NULL;
        is_str(got, want, "%s: configured = GRUB_CMDLINE_LINUX GRUB_CMDLINE_LINUX_DEFAULT", fixture);

        if (asprintf(&dir, "%s/%s", DATA, fixture) < 0)
                abort();
        bash = bash_effective(dir);
        if (bash) {
                _cleanup_free_ char *mine = NULL;
                if (asprintf(&mine, "%s|%s", strempty(b ? b->grub.linux_value : NULL),
                             strempty(b ? b->grub.default_value : NULL)) < 0)
                        abort();
                is_str(mine, bash, "%s: same values as bash sourcing the files", fixture);
        }
}

static void test_read_others(void) {
        check_grub_effective("debian");
        check_grub_effective("ubuntu-cloud");
        check_grub_effective("debian-plain");

        {
                _cleanup_(hostroot_freep) HostRoot *root = NULL;
                _cleanup_(bootloader_freep) Bootloader *b = NULL;
                _cleanup_(boot_config_freep) BootConfig *c = read_fixture("systemd-boot", &b, &root);
                _cleanup_free_ char *got = c ? fmt(c->configured) : NULL, *fut = c ? fmt(c->future) : NULL;

                is_str(got, "root=UUID=5c0e7d42-9a1b-4f3e-8d6c-2b7a9e4f1c03 rw rootflags=subvol=root intel_iommu=on "
                       "iommu=pt systemd.machine_id=" MID, "systemd-boot: options lines joined (expected.txt)");
                is_str(fut, "root=UUID=5c0e7d42-9a1b-4f3e-8d6c-2b7a9e4f1c03 rw rootflags=subvol=root intel_iommu=on iommu=pt",
                       "systemd-boot: /etc/kernel/cmdline without comments, lines joined (BOOT_OPTIONS)");
                ok(c && has_warning(c->warnings, "2 options lines", "first"), "systemd-boot: two options lines warned");
                ok(c && !has_warning(c->warnings, "lacks", NULL), "systemd-boot: systemd.machine_id is not drift");
        }
        {
                _cleanup_(hostroot_freep) HostRoot *root = NULL;
                _cleanup_(bootloader_freep) Bootloader *b = NULL;
                _cleanup_(boot_config_freep) BootConfig *c = read_fixture("proxmox", &b, &root);
                _cleanup_free_ char *got = c ? fmt(c->configured) : NULL;

                is_str(got, "root=ZFS=rpool/ROOT/pve-1 boot=zfs intel_iommu=on iommu=pt", "proxmox: first line");
                ok(c && has_warning(c->warnings, "9E04-51D2", "not mounted"), "proxmox: unmounted ESP named");
                ok(c && c->n_entries == 1, "proxmox: the mounted ESP's entry is read");
        }
        {
                _cleanup_(hostroot_freep) HostRoot *root = NULL;
                _cleanup_(bootloader_freep) Bootloader *b = NULL;
                _cleanup_(boot_config_freep) BootConfig *c = read_fixture("ostree", &b, &root);

                ok(c && c->configured && kcmdline_has(c->configured, "iommu", "pt") &&
                   kcmdline_get(c->configured, "ostree"), "ostree: configured = the newest deployment");
        }
        {
                _cleanup_(hostroot_freep) HostRoot *root = NULL;
                _cleanup_(bootloader_freep) Bootloader *b = NULL;
                _cleanup_(boot_config_freep) BootConfig *c = read_fixture("bls-conflict", &b, &root);

                is_str(c ? c->configured_source : NULL, "/boot/loader/entries/" MID "-5.14.0-503.11.1.el9_5.x86_64.conf",
                       "no saved_entry: the newest by rpm version order (503 > 70)");
        }
        {
                _cleanup_free_ char *dir = NULL, *error = NULL;
                _cleanup_(hostroot_freep) HostRoot *root = NULL;
                _cleanup_(bootloader_freep) Bootloader *b = NULL;
                BootConfig *c = NULL;

                if (asprintf(&dir, "%s/grub-unsafe", DATA) < 0)
                        abort();
                root = root_at(dir);
                b = detect_at(root);
                is_int(b ? bootloader_read(b, &c, &error) : 0, -EINVAL, "grub-unsafe: cannot be read");
                ok(error && strstr(error, "command substitution"), "grub-unsafe: says why: %s", strempty(error));
        }
}

static void test_proxmox_variants(void) {
        _cleanup_free_ char *dir = copy_fixture("proxmox"), *neg = slurp(dir, "etc/kernel/cmdline.NEGATIVE-comment-first-line");
        _cleanup_free_ char *nonl = slurp(dir, "etc/kernel/cmdline.no-trailing-newline");
        _cleanup_(hostroot_freep) HostRoot *root = root_at(dir);
        BootEdit e = { BOOT_EDIT_APPEND, "iommu=pt" };

        put(dir, "etc/kernel/cmdline", nonl);
        {
                _cleanup_(bootloader_freep) Bootloader *b = detect_at(root);
                _cleanup_(boot_config_freep) BootConfig *c = NULL;
                _cleanup_free_ char *got = NULL;

                ok(b && bootloader_read(b, &c, NULL) >= 0, "proxmox: no trailing newline is valid");
                got = c ? fmt(c->configured) : NULL;
                is_str(got, "root=ZFS=rpool/ROOT/pve-1 boot=zfs intel_iommu=on iommu=pt", "proxmox: same line");
        }
        put(dir, "etc/kernel/cmdline", neg);
        {
                _cleanup_(bootloader_freep) Bootloader *b = detect_at(root);
                _cleanup_(boot_plan_freep) BootPlan *p = NULL;
                _cleanup_free_ char *error = NULL, *error2 = NULL;
                BootConfig *c = NULL;

                is_int(b ? bootloader_read(b, &c, &error) : 0, -EINVAL, "proxmox: comment first line rejected");
                ok(error && strstr(error, "root="), "proxmox: the error names root=: %s", strempty(error));
                is_int(b ? bootloader_plan(b, &e, 1, NULL, 0, &p, &error2) : 0, -EINVAL, "proxmox: and no edit");
        }
}

/* ---- Edits against golden files ---- */

typedef struct Case {
        const char *name, *fixture;
        BootEdit edits[5];
        size_t n;
} Case;

static const Case cases[] = {
        { "rhel9-append", "rhel9-bls",
          { { BOOT_EDIT_APPEND_IF_MISSING, "intel_iommu=on" }, { BOOT_EDIT_APPEND_IF_MISSING, "iommu=pt" },
            { BOOT_EDIT_APPEND_IF_MISSING, "vfio-pci.ids=10de:1eb8,10de:10f8" }, { BOOT_EDIT_APPEND, "nosmt" } }, 4 },
        { "rhel8-edit", "rhel8-grubenv",
          { { BOOT_EDIT_APPEND_IF_MISSING, "intel_iommu=on" }, { BOOT_EDIT_APPEND, "iommu=pt" },
            { BOOT_EDIT_DELETE_IF_PRESENT, "rhgb" } }, 3 },
        { "debian-edit", "debian",
          { { BOOT_EDIT_DELETE, "iommu=off" }, { BOOT_EDIT_APPEND, "vfio-pci.ids=10de:1eb8" },
            { BOOT_EDIT_DELETE, "nomodeset" } }, 3 },
        { "debian-plain-append", "debian-plain",
          { { BOOT_EDIT_APPEND_IF_MISSING, "intel_iommu=on" }, { BOOT_EDIT_APPEND_IF_MISSING, "iommu=pt" } }, 2 },
        { "ubuntu-append", "ubuntu-cloud",
          { { BOOT_EDIT_APPEND_IF_MISSING, "iommu=pt" }, { BOOT_EDIT_APPEND, "vfio_pci.disable_vga=1" } }, 2 },
        { "sdboot-edit", "systemd-boot",
          { { BOOT_EDIT_APPEND, "vfio-pci.ids=10de:1eb8" }, { BOOT_EDIT_DELETE, "iommu=pt" } }, 2 },
        { "proxmox-edit", "proxmox",
          { { BOOT_EDIT_APPEND, "vfio-pci.ids=10de:1eb8" }, { BOOT_EDIT_REPLACE, "intel_iommu=on=on,sm_on" } }, 2 },
        { "bls-conflict-replace", "bls-conflict",
          { { BOOT_EDIT_REPLACE, "iommu=off=pt" }, { BOOT_EDIT_REPLACE, "intel_iommu=off=on" } }, 2 },
};

static BootPlan *plan_at(const HostRoot *root, const BootEdit *edits, size_t n, const BootLedger *l,
                         BootPlanFlags flags, int *ret_r) {
        _cleanup_(bootloader_freep) Bootloader *b = detect_at(root);
        _cleanup_free_ char *error = NULL;
        BootPlan *p = NULL;
        int r;

        r = b ? bootloader_plan(b, edits, n, l, flags, &p, &error) : -ENOENT;
        if (r < 0 && !ret_r)
                printf("# plan failed: %s (%s)\n", strerror(-r), strempty(error));
        if (ret_r)
                *ret_r = r;
        return p;
}

/* After the edit, the golden files are there, every other fixture file is
 * byte-identical, and nothing else appeared outside the state directory. */
static void compare_with_golden(const Case *c, const char *dir) {
        _cleanup_free_ char *golden = NULL, *orig = NULL;
        _cleanup_strv_free_ char **want = strv_new_empty(), **have = strv_new_empty(), **before = strv_new_empty();
        bool others_same = true, no_extra = true;

        if (asprintf(&golden, "%s/golden/%s", DATA, c->name) < 0 || asprintf(&orig, "%s/%s", DATA, c->fixture) < 0)
                abort();
        list_files(golden, "", &want);
        list_files(dir, "", &have);
        list_files(orig, "", &before);
        ok(want[0] != NULL, "%s: has golden files", c->name);
        for (char **f = want; *f; f++)
                ok(same_file(golden, dir, *f), "%s: %s matches its golden file", c->name, *f);
        for (char **f = before; *f; f++)
                if (!strv_contains(want, *f) && !same_file(orig, dir, *f)) {
                        printf("# %s changed\n", *f);
                        others_same = false;
                }
        for (char **f = have; *f; f++)
                if (!strv_contains(before, *f) && !strv_contains(want, *f) && !startswith(*f, "var/lib/hostdevd/")) {
                        printf("# unexpected %s\n", *f);
                        no_extra = false;
                }
        ok(others_same, "%s: every other file is untouched (rescue entries included)", c->name);
        ok(no_extra, "%s: no stray files (temp files, backups beside the files)", c->name);
}

/* append -> append_if_missing, delete -> delete_if_present,
 * replace KEY=OLD=NEW -> replace KEY=NEW. */
static BootEdit idempotent_form(const BootEdit *e, char **ret_spec) {
        BootEdit i = *e;
        const char *eq;

        if (e->type == BOOT_EDIT_APPEND)
                i.type = BOOT_EDIT_APPEND_IF_MISSING;
        else if (e->type == BOOT_EDIT_DELETE)
                i.type = BOOT_EDIT_DELETE_IF_PRESENT;
        else if (e->type == BOOT_EDIT_REPLACE && (eq = strchr(e->spec, '=')) && strchr(eq + 1, '=')) {
                if (asprintf(ret_spec, "%.*s=%s", (int) (eq - e->spec), e->spec, strchr(eq + 1, '=') + 1) < 0)
                        abort();
                i.spec = *ret_spec;
        }
        return i;
}

static bool tree_equal(const char *a, const char *b);

static char *snapshot_tree(const char *dir) {
        char *snap = NULL;

        if (asprintf(&snap, "%s.snap", dir) < 0)
                abort();
        (void) run_argv((char *const[]) { (char *) "rm", (char *) "-rf", snap, NULL });
        if (run_argv((char *const[]) { (char *) "cp", (char *) "-a", (char *) dir, snap, NULL }) != 0)
                abort();
        return snap;
}

static void run_case(const Case *c) {
        _cleanup_free_ char *dir = copy_fixture(c->fixture), *error = NULL;
        char *snapshot;
        _cleanup_(hostroot_freep) HostRoot *root = root_at(dir);
        _cleanup_(boot_plan_freep) BootPlan *p = NULL, *again = NULL;
        _cleanup_strv_free_ char **snap = strv_new_empty();
        int r;

        p = plan_at(root, c->edits, c->n, NULL, 0, NULL);
        ok(p && p->changed && p->diff && startswith(p->diff, "--- "), "%s: plan changes files, with a diff", c->name);
        if (!p)
                return;
        if (streq(c->name, "debian-edit"))
                ok(p->notes[0] && strstr(p->notes[0], "in full"), "%s: the full assignment is noted", c->name);
        r = bootloader_apply(root, p, &error);
        is_int(r, 0, "%s: applied (%s)", c->name, strempty(error));
        compare_with_golden(c, dir);

        /* Idempotence: the plain edits again are refused and change nothing;
         * their idempotent forms (append_if_missing, delete_if_present,
         * replace KEY=NEW) change nothing either. */
        list_files(dir, "", &snap);
        snapshot = snapshot_tree(dir);
        again = plan_at(root, c->edits, c->n, NULL, 0, &r);
        ok((again && r >= 0 && !again->changed) || r == -EEXIST || r == -ENOENT,
           "%s: the same edits again: unchanged or refused (r=%d)", c->name, r);
        {
                BootEdit idem[5];
                char *specs[5] = {};
                _cleanup_(boot_plan_freep) BootPlan *q = NULL;

                for (size_t i = 0; i < c->n; i++)
                        idem[i] = idempotent_form(c->edits + i, &specs[i]);
                q = plan_at(root, idem, c->n, NULL, 0, NULL);
                ok(q && !q->changed && q->n_files == 0 && streq(q->diff, ""),
                   "%s: the idempotent forms again: no change", c->name);
                is_int(q ? bootloader_apply(root, q, NULL) : -1, 0, "%s: applying the empty plan is a no-op", c->name);
                for (size_t i = 0; i < ELEMENTSOF(specs); i++)
                        free(specs[i]);
        }
        ok(tree_equal(snapshot, dir), "%s: files byte-identical after the second time", c->name);
        compare_with_golden(c, dir);
        free(snapshot);
}

/* The if-missing forms are idempotent by definition: check it on two cases. */
static void test_idempotent_forms(void) {
        static const BootEdit e[] = {
                { BOOT_EDIT_APPEND_IF_MISSING, "kvm_intel.nested=1" },
                { BOOT_EDIT_DELETE_IF_PRESENT, "rhgb" },
        };
        const char *fixtures[] = { "rhel9-bls", "rhel8-grubenv", "debian", "systemd-boot", "proxmox" };

        for (size_t i = 0; i < ELEMENTSOF(fixtures); i++) {
                _cleanup_free_ char *dir = copy_fixture(fixtures[i]);
                _cleanup_(hostroot_freep) HostRoot *root = root_at(dir);
                _cleanup_(boot_plan_freep) BootPlan *p = plan_at(root, e, 2, NULL, 0, NULL);
                _cleanup_(boot_plan_freep) BootPlan *q = NULL;
                _cleanup_free_ char *snap = NULL;
                char *grubenv = NULL;

                ok(p && p->changed && bootloader_apply(root, p, NULL) == 0, "%s: if-missing edit applied", fixtures[i]);
                snap = snapshot_tree(dir);
                q = plan_at(root, e, 2, NULL, 0, NULL);
                ok(q && !q->changed, "%s: second time unchanged", fixtures[i]);
                ok(q && bootloader_apply(root, q, NULL) == 0, "%s: second apply is a no-op", fixtures[i]);
                ok(tree_equal(snap, dir), "%s: files byte-identical after the second time", fixtures[i]);
                grubenv = slurp(dir, "boot/grub2/grubenv");
                if (grubenv)
                        is_int(strlen(grubenv), 1024, "%s: grubenv is still 1024 bytes", fixtures[i]);
                free(grubenv);
        }
}

static void test_dry_run(void) {
        _cleanup_free_ char *dir = copy_fixture("rhel9-bls");
        _cleanup_(hostroot_freep) HostRoot *root = root_at(dir);
        _cleanup_(boot_plan_freep) BootPlan *p = plan_at(root, cases[0].edits, cases[0].n, NULL, 0, NULL);
        _cleanup_free_ char *cmdline = slurp(dir, "etc/kernel/cmdline");

        ok(p && strstr(p->diff, "--- a/etc/kernel/cmdline\n+++ b/etc/kernel/cmdline\n@@ -1,1 +1,1 @@\n-root="),
           "dry run: a unified diff per file");
        ok(p && strstr(p->diff, " nosmt $tuned_params\n"), "dry run: appends go before $tuned_params");
        ok(p && !strstr(p->diff, "0-rescue.conf"), "dry run: the rescue entry is not in the diff");
        ok(p && p->n_files == 3 && p->n_targets == 3, "dry run: two entries and /etc/kernel/cmdline");
        ok(cmdline && !strstr(cmdline, "nosmt"), "dry run: nothing written");
        ok(p && p->after && kcmdline_has(p->after, "nosmt", NULL) && !kcmdline_has(p->before, "nosmt", NULL),
           "dry run: configured before and after");
}

/* ---- Conflicts and ownership ---- */

static void test_conflicts(void) {
        _cleanup_free_ char *dir = copy_fixture("bls-conflict"), *error = NULL;
        _cleanup_(hostroot_freep) HostRoot *root = root_at(dir);
        BootEdit append = { BOOT_EDIT_APPEND, "iommu=pt" }, on = { BOOT_EDIT_APPEND_IF_MISSING, "intel_iommu=on" };
        BootEdit console = { BOOT_EDIT_APPEND, "console=tty0" };
        _cleanup_(boot_plan_freep) BootPlan *p = plan_at(root, &append, 1, NULL, 0, NULL);
        _cleanup_(boot_plan_freep) BootPlan *q = plan_at(root, &on, 1, NULL, 0, NULL);
        _cleanup_(boot_plan_freep) BootPlan *f = plan_at(root, &append, 1, NULL, BOOT_PLAN_ALLOW_CONFLICTS, NULL);
        _cleanup_(boot_plan_freep) BootPlan *c = plan_at(root, &console, 1, NULL, 0, NULL);

        ok(p && p->conflicts[0] && strstr(p->conflicts[0], "'iommu=off'") && !p->changed,
           "iommu=pt vs iommu=off: a conflict, nothing changed (%s)", p && p->conflicts[0] ? p->conflicts[0] : "");
        ok(q && q->conflicts[0] && strstr(q->conflicts[0], "'intel_iommu=off'"), "intel_iommu=on vs intel_iommu=off");
        is_int(p ? bootloader_apply(root, p, &error) : 0, -EBUSY, "a plan with conflicts is not applied");
        ok(f && !f->conflicts[0] && f->changed && f->notes[0] && strstr(f->notes[0], "last one wins"),
           "explicitly allowed: appended, with a note");
        ok(c && !c->conflicts[0] && c->changed, "console= repeats legitimately: no conflict");
}

static void test_ledger(void) {
        _cleanup_free_ char *dir = copy_fixture("rhel9-bls");
        _cleanup_(hostroot_freep) HostRoot *root = root_at(dir);
        _cleanup_(boot_ledger_freep) BootLedger *l = NULL, *l2 = NULL;
        BootEdit admin = { BOOT_EDIT_APPEND_IF_MISSING, "intel_iommu=on" };
        BootEdit mine = { BOOT_EDIT_APPEND_IF_MISSING, "kvm_intel.nested=1" };
        BootEdit del_admin = { BOOT_EDIT_DELETE_OWNED, "intel_iommu=on" };
        BootEdit del_mine = { BOOT_EDIT_DELETE_OWNED, "kvm_intel.nested" };
        BootEdit del_forced = { BOOT_EDIT_DELETE, "intel_iommu=on" };
        _cleanup_strv_free_ char **owned = NULL;

        ok(boot_ledger_load(root, &l) == 0 && l && !l->owned[0], "ledger: absent = empty");
        {
                _cleanup_(boot_plan_freep) BootPlan *p = plan_at(root, &admin, 1, l, 0, NULL);
                ok(p && !p->owned_added[0], "append_if_missing of the administrator's argument: not owned");
                ok(p && bootloader_apply(root, p, NULL) == 0 && boot_ledger_record(l, p) == 0, "applied");
        }
        {
                _cleanup_(boot_plan_freep) BootPlan *p = plan_at(root, &mine, 1, l, 0, NULL);
                ok(p && p->owned_added[0] && streq(p->owned_added[0], "kvm_intel.nested=1") && !p->owned_added[1],
                   "an argument hostdevd adds is owned");
                ok(p && bootloader_apply(root, p, NULL) == 0 && boot_ledger_record(l, p) == 0 &&
                   boot_ledger_save(root, l) == 0, "applied, recorded, saved");
        }
        ok(boot_ledger_load(root, &l2) == 0 && l2->owned[0] && streq(l2->owned[0], "kvm_intel.nested=1") &&
           !l2->owned[1], "ledger reads back");
        {
                _cleanup_(hostroot_freep) HostRoot *r2 = root_at(dir);
                _cleanup_(bootloader_freep) Bootloader *b = detect_at(r2);
                _cleanup_(boot_config_freep) BootConfig *c = NULL;
                ok(b && bootloader_read(b, &c, NULL) == 0 && boot_ledger_owned_in(l2, c->configured, &owned) == 0 &&
                   owned[0] && streq(owned[0], "kvm_intel.nested=1") && !owned[1], "owned in configured: only ours");
        }
        {
                _cleanup_(boot_plan_freep) BootPlan *p = plan_at(root, &del_admin, 1, l2, 0, NULL);
                ok(p && !p->changed && p->notes[0] && strstr(p->notes[0], "did not add"),
                   "delete_owned of the administrator's argument: kept, with a note");
        }
        {
                _cleanup_(boot_plan_freep) BootPlan *p = plan_at(root, &del_mine, 1, l2, 0, NULL);
                ok(p && p->changed && p->owned_removed[0] && streq(p->owned_removed[0], "kvm_intel.nested=1"),
                   "delete_owned of ours (by key): removed, unrecorded");
                ok(p && p->n_files == 3, "delete_owned: from both entries and /etc/kernel/cmdline");
        }
        {
                _cleanup_(boot_plan_freep) BootPlan *p = plan_at(root, &del_forced, 1, l2, 0, NULL);
                ok(p && p->changed && !p->owned_removed[0], "an explicit delete removes the administrator's too");
        }
        {
                BootEdit rep = { BOOT_EDIT_REPLACE, "kvm_intel.nested=1=0" };
                _cleanup_(boot_plan_freep) BootPlan *p = plan_at(root, &rep, 1, l2, 0, NULL);
                ok(p && p->owned_removed[0] && streq(p->owned_removed[0], "kvm_intel.nested=1") &&
                   p->owned_added[0] && streq(p->owned_added[0], "kvm_intel.nested=0"),
                   "replace of an owned argument moves ownership to the new value");
        }
}

/* ---- Safety ---- */

typedef struct Fault {
        const char *step;
        unsigned nth, seen;
        int error;
        const char *corrupt; /* a file to overwrite at "verify" */
} Fault;

static int fault_hook(const char *step, const char *path, void *userdata) {
        Fault *f = userdata;

        if (!streq(step, f->step))
                return 0;
        if (f->seen++ != f->nth)
                return 0;
        if (f->corrupt && write_file_atomic(f->corrupt, "options garbage\n", 16, 0644) < 0)
                abort();
        return f->error;
}

static bool tree_equal(const char *a, const char *b) {
        _cleanup_strv_free_ char **la = strv_new_empty(), **lb = strv_new_empty();
        bool same = true;

        list_files(a, "", &la);
        list_files(b, "", &lb);
        for (char **f = la; *f; f++)
                if (!startswith(*f, "var/lib/hostdevd/") && !same_file(a, b, *f)) {
                        printf("# %s differs\n", *f);
                        same = false;
                }
        for (char **f = lb; *f; f++)
                if (!startswith(*f, "var/lib/hostdevd/") && !strv_contains(la, *f)) {
                        printf("# %s is new\n", *f);
                        same = false;
                }
        return same;
}

static void rollback_case(const char *fixture, size_t case_index, Fault fault, const char *what) {
        _cleanup_free_ char *dir = copy_fixture(fixture), *orig = NULL, *error = NULL, *journal = NULL;
        _cleanup_(hostroot_freep) HostRoot *root = root_at(dir);
        _cleanup_(boot_plan_freep) BootPlan *p = plan_at(root, cases[case_index].edits, cases[case_index].n, NULL, 0, NULL);
        int r;

        if (asprintf(&orig, "%s/%s", DATA, fixture) < 0 || asprintf(&journal, "%s/var/lib/hostdevd/kernel-cmdline.journal", dir) < 0)
                abort();
        if (fault.corrupt) {
                char *c = NULL;
                if (asprintf(&c, "%s/%s", dir, fault.corrupt) < 0)
                        abort();
                fault.corrupt = c;
        }
        bootloader_set_fault_hook_for_test(fault_hook, &fault);
        r = p ? bootloader_apply(root, p, &error) : 0;
        bootloader_set_fault_hook_for_test(NULL, NULL);
        ok(r < 0 && (fault.error == 0 || r == fault.error), "%s: apply fails (%s)", what, strempty(error));
        ok(error && strstr(error, "every file was restored"), "%s: the error says the files were restored", what);
        ok(tree_equal(orig, dir), "%s: every file is byte-identical to before, no temp files", what);
        ok(access(journal, F_OK) < 0, "%s: no journal left", what);
        free((char *) fault.corrupt);
}

static void test_rollback(void) {
        rollback_case("rhel9-bls", 0, (Fault) { "write", 1, 0, -ENOSPC, NULL }, "ENOSPC on the 2nd file");
        rollback_case("rhel8-grubenv", 1, (Fault) { "write", 0, 0, -EIO, NULL }, "EIO on the 1st file");
        rollback_case("rhel9-bls", 0,
                      (Fault) { "verify", 0, 0, 0, "boot/loader/entries/" MID "-5.14.0-503.11.1.el9_5.x86_64.conf" },
                      "a file changed under us before verification");
        rollback_case("debian", 2, (Fault) { "verify", 0, 0, -EIO, NULL }, "verification fails (new drop-in removed)");
}

static int crash_hook(const char *step, const char *path, void *userdata) {
        if (streq(step, "verify"))
                _exit(0); /* a crash after every file was written */
        return 0;
}

static void test_stale_cleanup(void) {
        _cleanup_free_ char *dir = copy_fixture("rhel9-bls"), *orig = NULL, *t1 = NULL, *t2 = NULL, *other = NULL;
        _cleanup_(hostroot_freep) HostRoot *root = root_at(dir);
        _cleanup_(boot_plan_freep) BootPlan *p = plan_at(root, cases[0].edits, cases[0].n, NULL, 0, NULL);
        _cleanup_strv_free_ char **actions = NULL;
        _cleanup_free_ char *cmdline = NULL;
        int status;
        pid_t pid;

        if (asprintf(&orig, "%s/rhel9-bls", DATA) < 0 ||
            asprintf(&t1, "%s/etc/kernel/.cmdline.hostdevd-tmp.Ab12Cd", dir) < 0 ||
            asprintf(&t2, "%s/boot/loader/entries/.x.conf.hostdevd-tmp.zzzzzz", dir) < 0 ||
            asprintf(&other, "%s/etc/kernel/.cmdline.tmp.Ab12Cd", dir) < 0)
                abort();
        if (write_file_atomic(t1, "half", 4, 0644) < 0 || write_file_atomic(t2, "", 0, 0644) < 0 ||
            write_file_atomic(other, "not ours", 8, 0644) < 0)
                abort();

        /* A crash between the writes and the journal's removal. */
        pid = fork();
        if (pid == 0) {
                bootloader_set_fault_hook_for_test(crash_hook, NULL);
                (void) bootloader_apply(root, p, NULL);
                _exit(1);
        }
        waitpid(pid, &status, 0);
        cmdline = slurp(dir, "etc/kernel/cmdline");
        ok(WIFEXITED(status) && WEXITSTATUS(status) == 0 && cmdline && strstr(cmdline, "nosmt"),
           "crash: the files were new when the writer died");

        ok(bootloader_cleanup_stale(root, &actions) == 0, "cleanup at start");
        ok(access(t1, F_OK) < 0 && access(t2, F_OK) < 0, "our stale temp files are removed");
        ok(access(other, F_OK) == 0, "a temp file that is not ours stays");
        (void) unlink(other);
        ok(actions && strv_length(actions) >= 5, "cleanup reports what it did (%zu actions)", strv_length(actions));
        ok(tree_equal(orig, dir), "the interrupted apply is rolled back from the backups: all files old");
}

/* The ledger is written with the files: a failed write of it restores the
 * files, and a crash before the journal is removed rolls both back. */
static void test_ledger_in_the_transaction(void) {
        _cleanup_free_ char *dir = copy_fixture("rhel9-bls"), *orig = NULL, *ledger = NULL, *text = NULL;
        _cleanup_(hostroot_freep) HostRoot *root = root_at(dir);
        _cleanup_(boot_ledger_freep) BootLedger *l = NULL;
        BootEdit mine = { BOOT_EDIT_APPEND_IF_MISSING, "kvm_intel.nested=1" };
        _cleanup_(boot_plan_freep) BootPlan *p = NULL;
        _cleanup_free_ char *error = NULL;
        Fault fault;
        int status, r;
        pid_t pid;

        if (asprintf(&orig, "%s/rhel9-bls", DATA) < 0 || asprintf(&ledger, "%s/var/lib/hostdevd/kernel-cmdline.owned", dir) < 0 ||
            boot_ledger_load(root, &l) < 0)
                abort();
        p = plan_at(root, &mine, 1, l, 0, NULL);
        if (!p || boot_ledger_record(l, p) < 0)
                abort();

        fault = (Fault) { "write", (unsigned) p->n_files, 0, -ENOSPC, NULL }; /* the ledger is the last file */
        bootloader_set_fault_hook_for_test(fault_hook, &fault);
        r = bootloader_apply_recorded(root, p, l, &error);
        bootloader_set_fault_hook_for_test(NULL, NULL);
        ok(r == -ENOSPC && error && strstr(error, "kernel-cmdline.owned") && strstr(error, "every file was restored"),
           "ledger write fails: the apply fails (%s)", strempty(error));
        ok(tree_equal(orig, dir) && access(ledger, F_OK) < 0, "ledger write fails: files and ledger as before");

        pid = fork();
        if (pid == 0) {
                bootloader_set_fault_hook_for_test(crash_hook, NULL);
                (void) bootloader_apply_recorded(root, p, l, NULL);
                _exit(1);
        }
        waitpid(pid, &status, 0);
        ok(WIFEXITED(status) && WEXITSTATUS(status) == 0 && access(ledger, F_OK) == 0,
           "crash before the journal is removed: the ledger was written");
        ok(bootloader_cleanup_stale(root, NULL) == 0 && tree_equal(orig, dir) && access(ledger, F_OK) < 0,
           "and the cleanup rolls back the files and the ledger");

        ok(bootloader_apply_recorded(root, p, l, NULL) == 0, "applied with the ledger");
        text = slurp(dir, "var/lib/hostdevd/kernel-cmdline.owned");
        ok(text && strstr(text, "\nkvm_intel.nested=1\n"), "the ledger owns what the files got");
}

/* A file someone changed after the crash is not rolled back. */
static void test_journal_respects_later_changes(void) {
        _cleanup_free_ char *dir = copy_fixture("rhel9-bls"), *cmdline = NULL, *entry = NULL;
        _cleanup_(hostroot_freep) HostRoot *root = root_at(dir);
        _cleanup_(boot_plan_freep) BootPlan *p = plan_at(root, cases[0].edits, cases[0].n, NULL, 0, NULL);
        _cleanup_strv_free_ char **actions = NULL;
        const char *e503 = "boot/loader/entries/" MID "-5.14.0-503.11.1.el9_5.x86_64.conf";
        int status;
        pid_t pid = fork();

        if (pid == 0) {
                bootloader_set_fault_hook_for_test(crash_hook, NULL);
                (void) bootloader_apply(root, p, NULL);
                _exit(1);
        }
        waitpid(pid, &status, 0);
        put(dir, "etc/kernel/cmdline", "root=/dev/sda1 edited-by-admin\n");
        ok(bootloader_cleanup_stale(root, &actions) == 0, "journal replay after a later change");
        cmdline = slurp(dir, "etc/kernel/cmdline");
        entry = slurp(dir, e503);
        ok(cmdline && streq(cmdline, "root=/dev/sda1 edited-by-admin\n"), "the file changed since is left alone");
        ok(entry && !strstr(entry, "nosmt"), "the others are restored");
        ok(has_warning(actions, "left alone: ", "/etc/kernel/cmdline"), "and the cleanup says so");
}

/* Kills an applying child at random moments: each file is old or new,
 * and after the cleanup the set is all old or all new. */
static void reset_files(const BootPlan *p) {
        for (size_t i = 0; i < p->n_files; i++)
                if (write_file_atomic(p->files[i].path, p->files[i].old_contents, p->files[i].old_size,
                                      p->files[i].mode) < 0)
                        abort();
}

static long apply_usec(const HostRoot *root, const BootPlan *p) {
        struct timespec a, b;
        int status;
        pid_t pid;

        clock_gettime(CLOCK_MONOTONIC, &a);
        pid = fork();
        if (pid == 0)
                _exit(bootloader_apply(root, p, NULL) < 0);
        waitpid(pid, &status, 0);
        clock_gettime(CLOCK_MONOTONIC, &b);
        return (b.tv_sec - a.tv_sec) * 1000000L + (b.tv_nsec - a.tv_nsec) / 1000;
}

static void test_kill_loop(void) {
        _cleanup_free_ char *dir = copy_fixture("rhel9-bls");
        _cleanup_(hostroot_freep) HostRoot *root = root_at(dir);
        _cleanup_(boot_plan_freep) BootPlan *p = plan_at(root, cases[0].edits, cases[0].n, NULL, 0, NULL);
        unsigned torn = 0, mixed_before = 0, mixed_after = 0, old = 0, new = 0;
        long span;

        if (!p)
                return;
        span = apply_usec(root, p) * 3 / 2 + 1; /* kill anywhere in the apply, or after it */
        if (bootloader_cleanup_stale(root, NULL) < 0)
                abort();
        reset_files(p);
        srand(4242);
        for (unsigned it = 0; it < 200; it++) {
                unsigned n_new = 0, n_new_before = 0;
                int status;
                pid_t pid;

                pid = fork();
                if (pid == 0)
                        _exit(bootloader_apply(root, p, NULL) < 0);
                usleep((useconds_t) (rand() % span));
                kill(pid, SIGKILL);
                waitpid(pid, &status, 0);

                for (size_t i = 0; i < p->n_files; i++) {
                        _cleanup_free_ char *now = NULL;
                        size_t size;
                        if (read_full_file(p->files[i].path, 1 << 20, &now, &size) < 0)
                                torn++;
                        else if (size == p->files[i].new_size && memcmp(now, p->files[i].new_contents, size) == 0)
                                n_new_before++;
                        else if (!(size == p->files[i].old_size && memcmp(now, p->files[i].old_contents, size) == 0))
                                torn++;
                }
                if (n_new_before != 0 && n_new_before != p->n_files)
                        mixed_before++;
                if (bootloader_cleanup_stale(root, NULL) < 0)
                        abort();
                for (size_t i = 0; i < p->n_files; i++) {
                        _cleanup_free_ char *now = NULL;
                        if (read_full_file(p->files[i].path, 1 << 20, &now, NULL) < 0)
                                abort();
                        n_new += streq(now, p->files[i].new_contents);
                }
                if (n_new != 0 && n_new != p->n_files)
                        mixed_after++;
                n_new == 0 ? old++ : new++;
                reset_files(p); /* back to the old set for the next round */
        }
        is_int(torn, 0, "SIGKILL loop: no file was ever torn (200 kills: %u mid-way with some files written, "
               "%u ended old, %u new)", mixed_before, old, new);
        is_int(mixed_after, 0, "SIGKILL loop: after the cleanup the files are all old or all new");
}

/* ---- Other planning errors ---- */

static void test_plan_errors(void) {
        {
                _cleanup_free_ char *dir = copy_fixture("rhel8-grubenv"), *big = NULL, *error = NULL;
                _cleanup_(hostroot_freep) HostRoot *root = root_at(dir);
                _cleanup_(bootloader_freep) Bootloader *b = detect_at(root);
                BootPlan *p = NULL;

                big = malloc(900);
                memcpy(big, "x=", 2);
                memset(big + 2, 'a', 897);
                big[899] = '\0';
                BootEdit e = { BOOT_EDIT_APPEND, big };
                is_int(b ? bootloader_plan(b, &e, 1, NULL, 0, &p, &error) : 0, -E2BIG, "grubenv: refuses to overflow");
                ok(error && strstr(error, "does not fit in the 1024-byte grubenv block"), "grubenv: says why");
        }
        {
                _cleanup_free_ char *dir = NULL, *error = NULL;
                _cleanup_(hostroot_freep) HostRoot *root = NULL;
                _cleanup_(bootloader_freep) Bootloader *b = NULL;
                BootEdit e = { BOOT_EDIT_APPEND, "iommu=pt" };
                BootPlan *p = NULL;

                if (asprintf(&dir, "%s/ostree", DATA) < 0)
                        abort();
                root = root_at(dir);
                b = detect_at(root);
                is_int(b ? bootloader_plan(b, &e, 1, NULL, 0, &p, &error) : 0, -EOPNOTSUPP, "ostree: edits refused");
                ok(error && strstr(error, "rpm-ostree kargs"), "ostree: points to rpm-ostree kargs");
        }
        {
                _cleanup_free_ char *dir = copy_fixture("rhel9-bls"), *error = NULL;
                _cleanup_(hostroot_freep) HostRoot *root = root_at(dir);
                _cleanup_(bootloader_freep) Bootloader *b = detect_at(root);
                BootEdit bad[] = { { BOOT_EDIT_DELETE, "$tuned_params" }, { BOOT_EDIT_DELETE, "nosuch" },
                                   { BOOT_EDIT_APPEND, "intel_iommu=on" }, { BOOT_EDIT_DELETE, "console" } };
                int want[] = { -EINVAL, -ENOENT, -EEXIST, -ENOTUNIQ };

                for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                        BootPlan *p = NULL;
                        char *err = NULL;
                        is_int(b ? bootloader_plan(b, bad + i, 1, NULL, 0, &p, &err) : 0, want[i], "%s '%s' refused",
                               boot_edit_type_to_string(bad[i].type), bad[i].spec);
                        ok(err && strstr(err, bad[i].spec), "and the error names it: %s", strempty(err));
                        free(err);
                }
        }
        {
                /* A drop-in sorting after ours that reassigns the variable. */
                _cleanup_free_ char *dir = copy_fixture("debian-plain"), *error = NULL, *d = NULL;
                _cleanup_(hostroot_freep) HostRoot *root = root_at(dir);
                BootEdit e = { BOOT_EDIT_APPEND, "iommu=pt" };
                BootPlan *p = NULL;

                if (asprintf(&d, "%s/etc/default/grub.d", dir) < 0 || mkdir(d, 0755) < 0)
                        abort();
                put(dir, "etc/default/grub.d/zzz-late.cfg", "GRUB_CMDLINE_LINUX=\"late\"\n");
                _cleanup_(bootloader_freep) Bootloader *b = detect_at(root);
                is_int(b ? bootloader_plan(b, &e, 1, NULL, 0, &p, &error) : 0, -EINVAL,
                       "grub: a later drop-in overriding ours makes the plan fail");
                ok(error && strstr(error, "sorting after"), "grub: and says why: %s", strempty(error));
        }
}

static void test_regenerate(void) {
        static const struct {
                const char *fixture, *command;
        } t[] = {
                { "rhel9-bls", NULL }, { "rhel8-grubenv", NULL }, { "systemd-boot", NULL },
                { "debian", "update-grub" }, { "proxmox", "proxmox-boot-tool refresh" },
                { "proxmox-grub", "proxmox-boot-tool refresh" },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                _cleanup_free_ char *dir = NULL;
                _cleanup_(hostroot_freep) HostRoot *root = NULL;
                _cleanup_(bootloader_freep) Bootloader *b = NULL;
                _cleanup_(boot_regen_result_freep) BootRegenResult *res = NULL;

                if (asprintf(&dir, "%s/%s", DATA, t[i].fixture) < 0)
                        abort();
                root = root_at(dir);
                b = detect_at(root);
                ok(b && bootloader_regenerate(b, 0, &res) == 0 && !res->ran && res->exit_status == -1,
                   "%s: nothing runs under a fixture root", t[i].fixture);
                is_str(res ? res->command : NULL, t[i].command, "%s: the command that would run", t[i].fixture);
                ok(res && res->reason && (t[i].command ? strstr(res->reason, "not the host") : strstr(res->reason, "Not needed")),
                   "%s: says why: %s", t[i].fixture, res ? strempty(res->reason) : "");
                ok(t[i].command ? b && bootloader_regen_tool(b) &&
                                          startswith(t[i].command, bootloader_regen_tool(b))
                                : b && !bootloader_regen_tool(b),
                   "%s: the tool is the command's first word", t[i].fixture);
        }
}

/* ---- The shell evaluator ---- */

static void shell_case(const char *text, const char *name, const char *want) {
        _cleanup_(shell_vars_freep) ShellVars *v = NULL;
        _cleanup_free_ char *error = NULL, *cmd = NULL, *path = NULL;
        const char *value = NULL;
        char buf[1024];
        FILE *f;
        int r;

        if (shell_vars_new(&v) < 0)
                abort();
        r = shell_eval(v, text, "t", &error);
        if (r >= 0)
                r = shell_vars_get(v, name, &value);
        is_str(r >= 0 ? value : NULL, want, "shell: %s", text);

        /* bash agrees */
        if (asprintf(&path, "%s/snippet.sh", tmpbase) < 0 || write_file_atomic(path, text, strlen(text), 0644) < 0 ||
            asprintf(&cmd, "bash -c '. \"%s\"; printf %%s \"$%s\"' 2>/dev/null", path, name) < 0)
                abort();
        f = popen(cmd, "r");
        if (f) {
                size_t n = fread(buf, 1, sizeof buf - 1, f);
                buf[n] = '\0';
                if (pclose(f) == 0)
                        is_str(buf, want, "shell: bash gives the same");
        }
}

static void shell_refused(const char *text, int want, const char *what) {
        _cleanup_(shell_vars_freep) ShellVars *v = NULL;
        _cleanup_free_ char *error = NULL;
        const char *value;
        int r;

        if (shell_vars_new(&v) < 0)
                abort();
        r = shell_eval(v, text, "t", &error);
        if (r >= 0)
                r = shell_vars_get(v, "GRUB_CMDLINE_LINUX", &value);
        is_int(r, want, "shell refuses %s", what);
}

/* GRUB_CMDLINE_LINUX=${GRUB_A:-${GRUB_A:-...x...}}, n deep. */
static char *nested(size_t n) {
        static const char head[] = "GRUB_CMDLINE_LINUX=";
        char *s = malloc(sizeof head + n * 11 + 2), *p;

        if (!s)
                abort();
        p = mempcpy(s, head, strlen(head));
        for (size_t i = 0; i < n; i++)
                p = mempcpy(p, "${GRUB_A:-", 10);
        *p++ = 'x';
        memset(p, '}', n);
        p += n;
        *p++ = '\n';
        *p = 0;
        return s;
}

static void test_shell_nesting(void) {
        _cleanup_free_ char *ok64 = nested(64), *deep = nested(40000);

        shell_case(ok64, "GRUB_CMDLINE_LINUX", "x");
        /* A 240 KB fragment (files are read up to 256 KiB) recursed once per level: refused, not a crash. */
        shell_refused(deep, -EINVAL, "expansions nested 40000 deep");
}

static void test_shell(void) {
        shell_case("GRUB_CMDLINE_LINUX='a $b \"c\"'\n", "GRUB_CMDLINE_LINUX", "a $b \"c\"");
        shell_case("A=x\nGRUB_CMDLINE_LINUX=\"$A ${A}y \\$A \\\" \\\\ \\q\"\n", "GRUB_CMDLINE_LINUX", "x xy $A \" \\ \\q");
        shell_case("GRUB_CMDLINE_LINUX=\"a \\\nb\"\n", "GRUB_CMDLINE_LINUX", "a b");
        shell_case("GRUB_CMDLINE_LINUX=\"\"\nGRUB_CMDLINE_LINUX=\"${GRUB_CMDLINE_LINUX:+$GRUB_CMDLINE_LINUX }x\"\n",
                   "GRUB_CMDLINE_LINUX", "x");
        shell_case("GRUB_CMDLINE_LINUX=a; GRUB_CMDLINE_LINUX=${GRUB_CMDLINE_LINUX:+$GRUB_CMDLINE_LINUX }b # c\n",
                   "GRUB_CMDLINE_LINUX", "a b");
        shell_case("GRUB_X=1 GRUB_CMDLINE_LINUX=$GRUB_X\\ 2\n", "GRUB_CMDLINE_LINUX", "1 2");
        shell_case("export GRUB_CMDLINE_LINUX=a\"b c\"'d'\n", "GRUB_CMDLINE_LINUX", "ab cd");
        shell_case("GRUB_CMDLINE_LINUX=${GRUB_UNSET:-def}${GRUB_UNSET-x}${GRUB_UNSET+y}\n", "GRUB_CMDLINE_LINUX", "defx");
        shell_case("GRUB_CMDLINE_LINUX=x#y\n", "GRUB_CMDLINE_LINUX", "x#y");
        shell_case("GRUB_DISTRIBUTOR=`lsb_release -i -s 2>/dev/null || echo Debian`\nGRUB_CMDLINE_LINUX=ok\n",
                   "GRUB_CMDLINE_LINUX", "ok");
        shell_refused("if true; then GRUB_CMDLINE_LINUX=a; fi\n", -EINVAL, "an if");
        shell_refused("GRUB_CMDLINE_LINUX=a echo hi\n", -EINVAL, "an assignment before a command");
        shell_refused("GRUB_CMDLINE_LINUX+=a\n", -EINVAL, "bash's +=");
        shell_refused(". /some/file\n", -EINVAL, "sourcing another file");
        shell_refused("GRUB_CMDLINE_LINUX=\"$(cat x)\"\n", -EDOM, "a command substitution (unknown value)");
        shell_refused("GRUB_CMDLINE_LINUX=\"$HOME\"\n", -EDOM, "the environment (unknown value)");
        shell_refused("GRUB_CMDLINE_LINUX=\"a\n", -EINVAL, "an unterminated quote");
}

int main(void) {
        const char *t = getenv("TMPDIR");
        char *tmpl = NULL;

        if (asprintf(&tmpl, "%s/test-bootloader.XXXXXX", t && *t ? t : "/tmp") < 0 || !mkdtemp(tmpl))
                abort();
        tmpbase = tmpl;

        test_detect();
        test_read_rhel9();
        test_read_rhel8();
        test_read_others();
        test_proxmox_variants();
        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                run_case(cases + i);
        test_idempotent_forms();
        test_dry_run();
        test_conflicts();
        test_ledger();
        test_rollback();
        test_stale_cleanup();
        test_ledger_in_the_transaction();
        test_journal_respects_later_changes();
        test_kill_loop();
        test_plan_errors();
        test_regenerate();
        test_shell();
        test_shell_nesting();

        if (!getenv("KEEP_TMP"))
                (void) run_argv((char *const[]) { (char *) "rm", (char *) "-rf", tmpbase, NULL });
        free(tmpbase);
        return tap_done();
}

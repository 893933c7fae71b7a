/* Applying a plan so that a host is never left unbootable: backups, a
 * journal, atomic writes, verification by re-reading, rollback; and the
 * cleanup at start that finishes what a crash interrupted. */

/*
 * Design. Order of an apply:
 *  1. Refuse if any file no longer has the contents the plan was made from.
 *  2. Back up each existing file to AREA_STATE/backup/<path under the root>
 *     (atomically; the previous backup is replaced). Backups live in the
 *     state directory, not beside the files: bootloaders and grub-mkconfig
 *     glob /boot/loader/entries/ and /etc/default/grub.d/, and an ESP is
 *     small.
 *  3. Write the journal AREA_STATE/kernel-cmdline.journal: one line per
 *     file, "<path>\t<backup or '-' for a file the plan creates>\t<hash of
 *     the new contents>" (FNV-1a, 64 bits).
 *  4. Write each file atomically: ".<name>.hostdevd-tmp.XXXXXX" in the same
 *     directory, fsync, rename, fsync of the directory; the mode is kept.
 *  5. Verify: every file reads back byte for byte, and the setup detected
 *     again from disk gives every target exactly the planned arguments.
 *  6. Remove the journal (and fsync the state directory).
 * With bootloader_apply_recorded(), hostdevd's ledger of the arguments it
 * added is the plan's last file (backed up to AREA_STATE/backup/<its path>):
 * the files and the ledger change together or not at all.
 * A failure in 4 or 5 restores every file of the plan from memory (created
 * files are removed), checks the restore, then removes the journal. A crash
 * leaves each file old or new (rename is atomic); if it happens between 3
 * and 6 the journal is still there and bootloader_cleanup_stale() restores
 * all files from their backups, so the set is all old, never mixed. It
 * restores only a file that still has the old or the planned contents: one
 * that someone changed since is left alone (and reported).
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/strv.h"
#include "bootloader-internal.h"

#define TMP_TAG "hostdevd-tmp"
#define JOURNAL "kernel-cmdline.journal"

static BootFaultHook fault_hook;
static void *fault_userdata;

void bootloader_set_fault_hook_for_test(BootFaultHook hook, void *userdata) {
        fault_hook = hook;
        fault_userdata = userdata;
}

static int fault(const char *step, const char *path) {
        return fault_hook ? fault_hook(step, path, fault_userdata) : 0;
}

bool bl_is_our_temp(const char *name) {
        const char *t = strstr(name, "." TMP_TAG ".");

        return name[0] == '.' && t && strlen(t) == strlen("." TMP_TAG ".XXXXXX");
}

int bl_write_file(const char *path, const char *contents, size_t size, unsigned mode) {
        int r = mkdir_parents(path);

        if (r < 0)
                return r;
        return write_file_atomic_tagged(path, contents, size, mode, TMP_TAG);
}

static uint64_t fnv1a(const char *s, size_t n) {
        uint64_t h = UINT64_C(14695981039346656037);

        for (size_t i = 0; i < n; i++)
                h = (h ^ (unsigned char) s[i]) * UINT64_C(1099511628211);
        return h;
}

static char *backup_path(const HostRoot *root, const BootFileChange *f) {
        return hostroot_path(root, AREA_STATE, "backup%s", f->display_path);
}

static int fail_text(char **ret_error, int r, const char *fmt, ...) _printf_(3, 4);
static int fail_text(char **ret_error, int r, const char *fmt, ...) {
        va_list ap;

        if (ret_error) {
                va_start(ap, fmt);
                if (vasprintf(ret_error, fmt, ap) < 0)
                        *ret_error = NULL;
                va_end(ap);
        }
        return r;
}

static int check_unchanged(const BootFileChange *f) {
        _cleanup_free_ char *now = NULL;
        size_t size;
        int r;

        r = read_full_file(f->path, BL_FILE_MAX, &now, &size);
        if (r == -ENOENT)
                return f->existed ? -ESTALE : 0;
        if (r < 0)
                return r;
        if (!f->existed || size != f->old_size || memcmp(now, f->old_contents, size) != 0)
                return -ESTALE;
        return 0;
}

static int write_journal(const HostRoot *root, const BootPlan *plan) {
        _cleanup_(sb_done) StrBuf j = {};
        _cleanup_free_ char *path = hostroot_path(root, AREA_STATE, JOURNAL);

        if (!path)
                return -ENOMEM;
        for (size_t i = 0; i < plan->n_files; i++) {
                const BootFileChange *f = plan->files + i;
                _cleanup_free_ char *backup = f->existed ? backup_path(root, f) : strdup("-");

                if (!backup || sb_printf(&j, "%s\t%s\t%016" PRIx64 "\n", f->path, backup,
                                         fnv1a(f->new_contents, f->new_size)) < 0)
                        return -ENOMEM;
        }
        return bl_write_file(path, j.s ?: "", j.len, 0600);
}

static int remove_journal(const HostRoot *root) {
        _cleanup_free_ char *path = hostroot_path(root, AREA_STATE, JOURNAL);
        _cleanup_free_ char *dir = hostroot_path(root, AREA_STATE, "%s", "");
        _cleanup_close_ int fd = -EBADF;

        if (!path || !dir)
                return -ENOMEM;
        if (unlink(path) < 0 && errno != ENOENT)
                return -errno;
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0)
                (void) fsync(fd);
        return 0;
}

static int restore_one(const BootFileChange *f) {
        _cleanup_free_ char *now = NULL;
        size_t size;
        int r;

        if (!f->existed)
                return unlink(f->path) < 0 && errno != ENOENT ? -errno : 0;
        r = bl_write_file(f->path, f->old_contents, f->old_size, f->mode);
        if (r < 0)
                return r;
        r = read_full_file(f->path, BL_FILE_MAX, &now, &size);
        if (r < 0)
                return r;
        return size == f->old_size && memcmp(now, f->old_contents, size) == 0 ? 0 : -EIO;
}

/* Restores files [0, n) in reverse order. */
static int rollback(const HostRoot *root, const BootPlan *plan, size_t n, char **ret_error, int error,
                    const char *why) {
        const char *failed = NULL;

        for (size_t i = n; i-- > 0;)
                if (restore_one(plan->files + i) < 0)
                        failed = plan->files[i].display_path;
        if (failed)
                return fail_text(ret_error, error, "%s; restoring %s FAILED: its backup is in the state "
                                 "directory and the journal was kept", why, failed);
        (void) remove_journal(root);
        return fail_text(ret_error, error, "%s; every file was restored", why);
}

/* Every file reads back as written, and the setup reads back as planned. */
static int verify(const HostRoot *root, const BootPlan *plan, char **ret_why) {
        _cleanup_(bootloader_freep) Bootloader *b = NULL;
        _cleanup_free_ char *error = NULL;
        int r;

        for (size_t i = 0; i < plan->n_files; i++) {
                const BootFileChange *f = plan->files + i;
                _cleanup_free_ char *now = NULL;
                size_t size;

                r = read_full_file(f->path, BL_FILE_MAX, &now, &size);
                if (r < 0 || size != f->new_size || memcmp(now, f->new_contents, size) != 0)
                        return fail_text(ret_why, r < 0 ? r : -EIO, "%s does not read back as written",
                                         f->display_path);
        }
        r = bl_load(root, NULL, 0, &b, &error);
        if (r < 0)
                return fail_text(ret_why, r, "the bootloader setup cannot be read back: %s", strempty(error));
        for (size_t i = 0; i < plan->n_targets; i++) {
                const BootTarget *t = plan->targets + i;
                _cleanup_(kcmdline_freep) KCmdline *got = NULL;
                bool found = false;

                for (size_t k = 0; k < b->n_targets && !found; k++)
                        if (streq(b->targets[k].name, t->name)) {
                                found = true;
                                r = bl_target_args(b->targets + k, &got);
                                if (r < 0)
                                        return r;
                        }
                if (!found || !kcmdline_equal(got, t->after))
                        return fail_text(ret_why, -EIO, "%s does not have the intended arguments after writing",
                                         t->name);
        }
        return 0;
}

static int write_all(const HostRoot *root, const BootPlan *plan, char **ret_error) {
        _cleanup_free_ char *why = NULL;
        size_t i;
        int r = 0;

        for (i = 0; i < plan->n_files; i++) {
                const BootFileChange *f = plan->files + i;

                r = fault("write", f->path);
                if (r >= 0)
                        r = bl_write_file(f->path, f->new_contents, f->new_size, f->mode);
                if (r < 0) {
                        if (asprintf(&why, "Failed to write %s: %s", f->display_path, strerror(-r)) < 0)
                                why = NULL;
                        return rollback(root, plan, i + 1, ret_error, r, why ?: "Failed to write");
                }
        }
        r = fault("verify", NULL);
        if (r >= 0)
                r = verify(root, plan, &why);
        else if (asprintf(&why, "Verification failed: %s", strerror(-r)) < 0)
                why = NULL;
        if (r < 0)
                return rollback(root, plan, plan->n_files, ret_error, r, why ?: "Verification failed");
        return 0;
}

static int apply_files(const HostRoot *root, const BootPlan *plan, char **ret_error) {
        int r;

        if (plan->conflicts && plan->conflicts[0])
                return fail_text(ret_error, -EBUSY, "The plan has conflicts: %s", plan->conflicts[0]);
        if (plan->n_files == 0)
                return 0;

        for (size_t i = 0; i < plan->n_files; i++) {
                r = check_unchanged(plan->files + i);
                if (r < 0)
                        return fail_text(ret_error, r, "%s changed since the plan was made",
                                         plan->files[i].display_path);
        }
        for (size_t i = 0; i < plan->n_files; i++) {
                const BootFileChange *f = plan->files + i;
                _cleanup_free_ char *backup = NULL;

                if (!f->existed)
                        continue;
                backup = backup_path(root, f);
                if (!backup)
                        return -ENOMEM;
                r = bl_write_file(backup, f->old_contents, f->old_size, 0600);
                if (r < 0)
                        return fail_text(ret_error, r, "Failed to back up %s: %s", f->display_path, strerror(-r));
        }
        r = write_journal(root, plan);
        if (r < 0)
                return fail_text(ret_error, r, "Failed to write the journal: %s", strerror(-r));

        r = write_all(root, plan, ret_error);
        if (r < 0)
                return r;
        return remove_journal(root);
}

int bootloader_apply(const HostRoot *root, const BootPlan *plan, char **ret_error) {
        return bootloader_apply_recorded(root, plan, NULL, ret_error);
}

/* The ledger's file is one more file of the plan, written last: backed up,
 * journaled and rolled back with the others, so that no crash and no failed
 * write leaves files and ledger disagreeing. */
int bootloader_apply_recorded(const HostRoot *root, const BootPlan *plan, const BootLedger *ledger,
                              char **ret_error) {
        _cleanup_(bl_file_change_done) BootFileChange owned = {};
        _cleanup_free_ BootFileChange *files = NULL;
        BootPlan whole;
        int r;

        if (!root || !plan)
                return -EINVAL;
        if (!ledger || plan->n_files == 0)
                return apply_files(root, plan, ret_error);
        r = bl_ledger_change(root, ledger, &owned);
        if (r < 0)
                return fail_text(ret_error, r, "Failed to read hostdevd's ledger of the arguments it added: %s",
                                 strerror(-r));
        if (owned.existed && owned.old_size == owned.new_size &&
            memcmp(owned.old_contents, owned.new_contents, owned.new_size) == 0)
                return apply_files(root, plan, ret_error);

        files = calloc(plan->n_files + 1, sizeof(BootFileChange));
        if (!files)
                return -ENOMEM;
        /* Shallow copies: the plan keeps its files' strings, owned its own. */
        memcpy(files, plan->files, plan->n_files * sizeof(BootFileChange));
        files[plan->n_files] = owned;
        whole = *plan;
        whole.files = files;
        whole.n_files = plan->n_files + 1;
        return apply_files(root, &whole, ret_error);
}

/* ---- Cleanup at start ---- */

static int clean_dir(const char *dir, bool recurse, char ***actions) {
        _cleanup_closedir_ DIR *d = opendir(dir);
        struct dirent *de;
        int r;

        if (!d)
                return 0;
        while ((de = readdir(d))) {
                _cleanup_free_ char *p = NULL;

                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (asprintf(&p, "%s/%s", dir, de->d_name) < 0)
                        return -ENOMEM;
                if (recurse && de->d_type == DT_DIR) {
                        r = clean_dir(p, true, actions);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (!bl_is_our_temp(de->d_name))
                        continue;
                if (unlink(p) < 0 && errno != ENOENT)
                        return -errno;
                if (actions && strv_extendf(actions, "removed stale temporary file %s", p) < 0)
                        return -ENOMEM;
        }
        return 0;
}

static int replay_line(char *line, unsigned number, void *userdata) {
        char ***actions = userdata;
        _cleanup_free_ char *contents = NULL, *now = NULL;
        char *backup, *hash, *end = NULL;
        size_t size, now_size = 0;
        uint64_t want;
        struct stat st;
        int r;

        backup = strchr(line, '\t');
        hash = backup ? strchr(backup + 1, '\t') : NULL;
        if (!hash)
                return -EBADMSG;
        *backup++ = '\0';
        *hash++ = '\0';
        errno = 0;
        want = strtoull(hash, &end, 16);
        if (errno != 0 || !end || *end || end == hash)
                return -EBADMSG;

        r = read_full_file(line, BL_FILE_MAX, &now, &now_size);
        if (r < 0 && r != -ENOENT)
                return r;
        if (!streq(backup, "-")) {
                r = read_full_file(backup, BL_FILE_MAX, &contents, &size);
                if (r < 0)
                        return r;
                if (now && now_size == size && memcmp(now, contents, size) == 0)
                        return 0; /* still old */
        } else if (!now)
                return 0; /* never created */

        if (now && fnv1a(now, now_size) != want)
                return actions ? strv_extendf(actions, "left alone: %s changed since the interrupted edit", line) : 0;
        if (streq(backup, "-")) {
                if (unlink(line) < 0 && errno != ENOENT)
                        return -errno;
                return actions ? strv_extendf(actions, "rolled back: removed %s", line) : 0;
        }
        r = bl_write_file(line, contents, size, stat(line, &st) >= 0 ? st.st_mode & 07777 : 0644);
        if (r < 0)
                return r;
        return actions ? strv_extendf(actions, "rolled back: restored %s", line) : 0;
}

static int replay_journal(const HostRoot *root, char ***actions) {
        _cleanup_free_ char *path = hostroot_path(root, AREA_STATE, JOURNAL);
        int r;

        if (!path)
                return -ENOMEM;
        r = read_lines(path, replay_line, actions);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        return remove_journal(root);
}

int bootloader_cleanup_stale(const HostRoot *root, char ***ret_actions) {
        static const struct {
                HostArea area;
                const char *sub;
                bool recurse;
        } dirs[] = {
                { AREA_STATE, "", true },
                { AREA_ETC, "kernel", false },
                { AREA_ETC, "default", false },
                { AREA_ETC, "default/grub.d", false },
                { AREA_BOOT, "grub2", false },
                { AREA_BOOT, "loader/entries", false },
                { AREA_BOOT, "efi/loader/entries", false },
                { AREA_ROOT, "efi/loader/entries", false },
        };
        _cleanup_strv_free_ char **actions = strv_new_empty();
        int r;

        if (!root || !actions)
                return -ENOMEM;
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                _cleanup_free_ char *dir = hostroot_path(root, dirs[i].area, "%s", dirs[i].sub);

                if (!dir)
                        return -ENOMEM;
                r = clean_dir(dir, dirs[i].recurse, &actions);
                if (r < 0)
                        return r;
        }
        r = replay_journal(root, &actions);
        if (r < 0)
                return r;
        if (ret_actions)
                *ret_actions = TAKE_PTR(actions);
        return 0;
}

/* The distribution's regeneration tool after an edit: update-grub for
 * Debian/Ubuntu GRUB, proxmox-boot-tool refresh for Proxmox; none where the
 * bootloader reads the edited files itself (BLS with blscfg, RHEL 8
 * grubenv, systemd-boot). It runs only on the host's own root, with a fixed
 * environment, no shell, stdin from /dev/null, output capped, time-limited. */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "basic/strv.h"
#include "bootloader-internal.h"

#define OUTPUT_MAX (64U * 1024U)
#define RUN_TIMEOUT_SEC 600

BootRegenResult *boot_regen_result_free(BootRegenResult *r) {
        if (!r)
                return NULL;
        free(r->command);
        free(r->reason);
        free(r->output);
        free(r);
        return NULL;
}

/* The tool's argv, or NULL when the setup needs none. */
static const char *const *regen_argv(const Bootloader *b) {
        static const char *const update_grub[] = { "update-grub", NULL };
        static const char *const pbt_refresh[] = { "proxmox-boot-tool", "refresh", NULL };

        switch (b->kind) {
        case BOOTLOADER_GRUB_DEBIAN:
                return b->esps ? pbt_refresh : update_grub; /* esps: proxmox-boot-tool manages ESPs */
        case BOOTLOADER_PROXMOX:
                return pbt_refresh;
        default:
                return NULL;
        }
}

static int find_tool(const Bootloader *b, const char *name, char **ret) {
        static const char *const dirs[] = { "usr/sbin", "usr/bin", "sbin", "bin" };

        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                _cleanup_free_ char *p = hostroot_path(b->root, AREA_ROOT, "%s/%s", dirs[i], name);

                if (!p)
                        return -ENOMEM;
                if (access(p, X_OK) >= 0) {
                        *ret = TAKE_PTR(p);
                        return 0;
                }
        }
        return -ENOENT;
}

static int read_output(int fd, pid_t pid, BootRegenResult *res) {
        _cleanup_(sb_done) StrBuf out = {};
        time_t deadline = time(NULL) + RUN_TIMEOUT_SEC;
        char buf[4096];

        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                time_t left = deadline - time(NULL);
                ssize_t n;

                if (left <= 0) {
                        (void) kill(pid, SIGKILL);
                        if (sb_put(&out, "\n[hostdevd: killed after the time limit]\n") < 0)
                                return -ENOMEM;
                        break;
                }
                if (poll(&p, 1, (int) (left > 60 ? 60000 : left * 1000)) < 0 && errno != EINTR)
                        return -errno;
                n = read(fd, buf, sizeof buf);
                if (n < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                if (n <= 0)
                        break;
                if (out.len < OUTPUT_MAX &&
                    sb_putn(&out, buf, (size_t) n < OUTPUT_MAX - out.len ? (size_t) n : OUTPUT_MAX - out.len) < 0)
                        return -ENOMEM;
        }
        res->output = sb_steal(&out);
        return res->output ? 0 : -ENOMEM;
}

static int run(const Bootloader *b, const char *path, const char *const *argv, BootRegenResult *res) {
        static char *const env[] = { (char *) "PATH=/usr/sbin:/usr/bin:/sbin:/bin", (char *) "LC_ALL=C", NULL };
        _cleanup_free_ char *devnull = hostroot_path(b->root, AREA_DEV, "null");
        _cleanup_close_ int rd = -EBADF;
        int fds[2], status, r;
        pid_t pid;

        if (!devnull)
                return -ENOMEM;
        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        pid = fork();
        if (pid < 0) {
                r = -errno;
                close(fds[0]);
                close(fds[1]);
                return r;
        }
        if (pid == 0) {
                int null = open(devnull, O_RDONLY | O_CLOEXEC);
                if (null < 0 || dup2(null, 0) < 0 || dup2(fds[1], 1) < 0 || dup2(fds[1], 2) < 0)
                        _exit(127);
                execve(path, (char *const *) argv, env);
                _exit(127);
        }
        close(fds[1]);
        rd = fds[0];
        r = read_output(rd, pid, res);
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        if (r < 0)
                return r;
        res->ran = true;
        res->exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        return 0;
}

const char *bootloader_regen_tool(const Bootloader *b) {
        const char *const *argv = b ? regen_argv(b) : NULL;

        return argv ? argv[0] : NULL;
}

int bootloader_regenerate(const Bootloader *b, BootRegenFlags flags, BootRegenResult **ret) {
        _cleanup_(boot_regen_result_freep) BootRegenResult *res = calloc(1, sizeof(BootRegenResult));
        const char *const *argv = b ? regen_argv(b) : NULL;
        _cleanup_(sb_done) StrBuf cmd = {};
        _cleanup_free_ char *path = NULL;

        if (!b || !ret)
                return -EINVAL;
        if (!res)
                return -ENOMEM;
        res->exit_status = -1;
        if (!argv) {
                res->reason = strdup("Not needed: the bootloader reads the edited files at boot.");
                if (!res->reason)
                        return -ENOMEM;
                *ret = TAKE_PTR(res);
                return 0;
        }
        for (size_t i = 0; argv[i]; i++)
                if ((i > 0 && sb_putc(&cmd, ' ') < 0) || sb_put(&cmd, argv[i]) < 0)
                        return -ENOMEM;
        res->command = sb_steal(&cmd);
        if (!res->command)
                return -ENOMEM;

        if (!hostroot_is_host(b->root) && !(flags & BOOT_REGEN_IN_ROOT))
                res->reason = strdup("Not run: the root is not the host's own; this command would have run.");
        else if (find_tool(b, argv[0], &path) < 0) {
                if (asprintf(&res->reason, "Not run: '%s' was not found.", argv[0]) < 0)
                        res->reason = NULL;
        } else {
                int r = run(b, path, argv, res);
                if (r < 0)
                        return r;
        }
        if (!res->ran && !res->reason)
                return -ENOMEM;
        *ret = TAKE_PTR(res);
        return 0;
}

/* Small-file helpers, see fileio.h. sysfs attributes report their size as
 * 4096 whatever they hold, so files are read until EOF rather than by st_size. */
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"

int read_full_file(const char *path, size_t max, char **ret, size_t *ret_size) {
        _cleanup_close_ int fd = -EBADF;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        return read_full_fd(fd, max, ret, ret_size);
}

int read_full_fd(int fd, size_t max, char **ret, size_t *ret_size) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0, allocated = 0;

        for (;;) {
                ssize_t n;

                if (allocated - size < 2) {
                        size_t want = allocated ? allocated * 2 : 4096;
                        char *p;

                        if (allocated >= max + 1)
                                return -EFBIG;
                        if (want > max + 2)
                                want = max + 2;
                        p = realloc(buf, want);
                        if (!p)
                                return -ENOMEM;
                        buf = p;
                        allocated = want;
                }

                n = read(fd, buf + size, allocated - size - 1);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                size += (size_t) n;
                if (size > max)
                        return -EFBIG;
        }

        if (!buf) {
                buf = strdup("");
                if (!buf)
                        return -ENOMEM;
        } else {
                char *shrunk;

                buf[size] = 0;
                /* Callers keep what they read (an IOMMU group's type, for each of
                 * thousands of groups): not the page-sized buffer it was read into. */
                if (allocated > size + 1 && (shrunk = realloc(buf, size + 1)))
                        buf = shrunk;
        }

        *ret = TAKE_PTR(buf);
        if (ret_size)
                *ret_size = size;
        return 0;
}

int read_secret_file(const char *path, size_t max, unsigned forbidden, unsigned fix_mode, char **ret,
                     size_t *ret_size, char **ret_why) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        unsigned mode;
        int k;

        *ret_why = NULL;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        /* Checked on the file opened, not on the path: no window for a swap. */
        mode = st.st_mode & 07777;
        if (!S_ISREG(st.st_mode))
                k = asprintf(ret_why, "is not a regular file.");
        else if (mode & forbidden)
                k = asprintf(ret_why, "is %s by its group or others (mode %04o): refused. Fix: chmod %04o %s",
                             forbidden & (S_IRGRP | S_IROTH) ? "readable or writable" : "writable", mode, fix_mode,
                             path);
        else if (st.st_uid != 0 && st.st_uid != geteuid())
                k = asprintf(ret_why, "belongs to uid %u, not root: refused. Fix: chown root: %s",
                             (unsigned) st.st_uid, path);
        else
                return read_full_fd(fd, max, ret, ret_size);
        if (k < 0) {
                *ret_why = NULL;
                return -ENOMEM;
        }
        return S_ISREG(st.st_mode) ? -EPERM : -EBADFD;
}

int read_one_line_file(const char *path, char **ret) {
        char *s;
        int r;

        r = read_full_file(path, 64 * 1024, &s, NULL);
        if (r < 0)
                return r;
        s[strcspn(s, "\n")] = 0;
        *ret = s;
        return 0;
}

int readlinkat_malloc(int dir_fd, const char *path, char **ret) {
        size_t l = 256;

        for (;;) {
                _cleanup_free_ char *buf = malloc(l);
                ssize_t n;

                if (!buf)
                        return -ENOMEM;
                n = readlinkat(dir_fd, path, buf, l);
                if (n < 0)
                        return -errno;
                if ((size_t) n < l) {
                        buf[n] = 0;
                        *ret = TAKE_PTR(buf);
                        return 0;
                }
                if (l > 64 * 1024)
                        return -ENAMETOOLONG;
                l *= 2;
        }
}

int readlink_malloc(const char *path, char **ret) {
        return readlinkat_malloc(AT_FDCWD, path, ret);
}

int readlink_basename_at(int dir_fd, const char *name, char **ret) {
        _cleanup_free_ char *target = NULL;
        const char *slash;
        char *b;
        int r;

        r = readlinkat_malloc(dir_fd, name, &target);
        if (r < 0)
                return r;
        slash = strrchr(target, '/');
        b = strdup(slash ? slash + 1 : target);
        if (!b)
                return -ENOMEM;
        *ret = b;
        return 0;
}

int readlink_basename(const char *path, char **ret) {
        return readlink_basename_at(AT_FDCWD, path, ret);
}

int mkdir_parents(const char *path) {
        _cleanup_free_ char *p = strdup(path);

        if (!p)
                return -ENOMEM;
        for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
                *s = 0;
                if (mkdir(p, 0755) < 0 && errno != EEXIST)
                        return -errno;
                *s = '/';
        }
        return 0;
}

static int fsync_directory_of(const char *path) {
        _cleanup_free_ char *copy = strdup(path);
        _cleanup_close_ int fd = -EBADF;

        if (!copy)
                return -ENOMEM;
        fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        return fsync(fd) < 0 ? -errno : 0;
}

/* Writes contents to the temporary file tmp (a mkostemp() template in the
 * target's directory), then renames it over path. */
static int write_atomic_via(const char *path, char *tmp, const char *contents, size_t size, unsigned mode) {
        _cleanup_close_ int fd = -EBADF;
        size_t done = 0;
        int r;

        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return -errno;

        while (done < size) {
                ssize_t n = write(fd, contents + done, size - done);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        goto fail;
                }
                done += (size_t) n;
        }
        if (fchmod(fd, mode) < 0 || fsync(fd) < 0) {
                r = -errno;
                goto fail;
        }
        if (close(TAKE_FD(fd)) < 0) {
                r = -errno;
                goto fail;
        }
        if (rename(tmp, path) < 0) {
                r = -errno;
                goto fail;
        }
        return fsync_directory_of(path);

fail:
        (void) unlink(tmp);
        return r;
}

int write_file_atomic(const char *path, const char *contents, size_t size, unsigned mode) {
        _cleanup_free_ char *tmp = NULL;

        if (asprintf(&tmp, "%s.tmp.XXXXXX", path) < 0)
                return -ENOMEM;
        return write_atomic_via(path, tmp, contents, size, mode);
}

int write_file_atomic_tagged(const char *path, const char *contents, size_t size, unsigned mode,
                             const char *tag) {
        _cleanup_free_ char *tmp = NULL;
        const char *slash = strrchr(path, '/');
        int dir_len = slash ? (int) (slash - path + 1) : 0;

        if (asprintf(&tmp, "%.*s.%s.%s.XXXXXX", dir_len, path, slash ? slash + 1 : path, tag) < 0)
                return -ENOMEM;
        return write_atomic_via(path, tmp, contents, size, mode);
}

int read_one_line_at(int dir_fd, const char *name, char **ret) {
        _cleanup_close_ int fd = -EBADF;
        char buf[4097]; /* one sysfs attribute: the kernel caps it at a page */
        ssize_t n;
        char *s;

        fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        do
                n = read(fd, buf, sizeof buf - 1);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        buf[n] = 0;
        buf[strcspn(buf, "\n")] = 0;
        s = strdup(buf);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}


int read_lines(const char *path, line_fn fn, void *userdata) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");

        if (!f)
                return -errno;
        return read_lines_file(f, fn, userdata);
}

int read_lines_file(FILE *f, line_fn fn, void *userdata) {
        _cleanup_free_ char *line = NULL;
        size_t cap = 0;
        unsigned n = 0;

        while (getline(&line, &cap, f) > 0) {
                int r;

                line[strcspn(line, "\n")] = 0;
                r = fn(line, ++n, userdata);
                if (r < 0)
                        return r;
        }
        return ferror(f) ? -EIO : 0;
}

int parse_lines(char *text, line_fn fn, void *userdata) {
        unsigned n = 0;

        for (char *line = text, *next; *line; line = next) {
                int r;

                next = line + strcspn(line, "\n");
                if (*next)
                        *next++ = 0;
                r = fn(line, ++n, userdata);
                if (r < 0)
                        return r;
        }
        return 0;
}

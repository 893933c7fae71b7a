/* Fault injection for the test suite, as an LD_PRELOAD object: makes write(),
 * fsync(), rename() and unlink() fail with a chosen errno on files whose path
 * matches, or kills the process at the Nth such call, so tests can prove that
 * a failed write or a crash at any point of a write of the agent's state or
 * of a bootloader file leaves the old contents (or the new ones) and an
 * honest error. Configured by the environment:
 *
 *   HOSTDEVD_FAULT=<op>:<match>:<errno name>[:<count>[:<skip>]]
 *
 *     op is write, fsync (fdatasync too), rename (renameat and renameat2 too,
 *     matched on the new name) or unlink (unlinkat too); count limits how
 *     many calls fail (default: all); the first skip matching calls succeed
 *     (default 0), so ":1:<N-1>" fails the Nth matching call alone. Example:
 *       HOSTDEVD_FAULT=write:maintenance.json:ENOSPC
 *
 *   HOSTDEVD_CRASH=<before|after>:<ops>:<match>:<N>
 *
 *     raises SIGKILL at the Nth call (counted from 1 over all threads) of any
 *     of ops (a comma list of write, fsync, rename, unlink, as above) on a
 *     matching path: before the call reaches the kernel, or after it
 *     returned. Killing before each of calls 1..K and after call K reaches
 *     every state between two calls: the middle of an atomic write (before
 *     its rename), between the rename of one file and the next, between a
 *     file and the journal or the ledger. N = 0 kills nothing and reports
 *     every counted call on stderr ("faultinject: #3 rename /x/y"); the
 *     call that is killed is reported the same way first.
 *
 * match is a comma list of path substrings: a path matches when it contains
 * one that has no '!' and none of those prefixed with '!' (".../root,!/operations/").
 * For write and fsync the path is the file descriptor's (/proc/self/fd);
 * descriptors 0-2 are never matched.
 *
 * With an ASan-built agent, also set ASAN_OPTIONS=verify_asan_link_order=0
 * (this object is not instrumented and allocates nothing). Preloaded with
 * pcimock.so, it comes first, so that the writes to sysfs attributes that
 * the mock plays are counted too. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MATCH_MAX 512

enum { OP_WRITE = 1, OP_FSYNC = 2, OP_RENAME = 4, OP_UNLINK = 8 };

static const struct {
        const char *name;
        int value;
} op_names[] = {
        { "write", OP_WRITE }, { "fsync", OP_FSYNC }, { "rename", OP_RENAME }, { "unlink", OP_UNLINK },
};

static const struct {
        const char *name;
        int value;
} errnos[] = {
        { "ENOSPC", ENOSPC }, { "EIO", EIO }, { "EDQUOT", EDQUOT }, { "EROFS", EROFS }, { "EACCES", EACCES },
};

static struct {
        int parsed;
        int op;
        char match[MATCH_MAX];
        int error;
        long remaining; /* -1: unlimited */
        long skip;
} fault;

static struct {
        int parsed;
        int ops;
        int after;
        char match[MATCH_MAX];
        long n; /* 0: report only */
        long count;
} crash;

static int op_from_name(const char *s) {
        for (size_t i = 0; i < sizeof op_names / sizeof op_names[0]; i++)
                if (strcmp(s, op_names[i].name) == 0)
                        return op_names[i].value;
        return 0;
}

static const char *op_name(int op) {
        for (size_t i = 0; i < sizeof op_names / sizeof op_names[0]; i++)
                if (op_names[i].value == op)
                        return op_names[i].name;
        return "?";
}

static long parse_long(const char *s, long fallback) {
        char *end = NULL;
        long v;

        if (!s)
                return fallback;
        errno = 0;
        v = strtol(s, &end, 10);
        return errno == 0 && end != s && !*end && v >= 0 ? v : fallback;
}

/* Whether path contains one of match's plain substrings and none of its '!' ones. */
static int path_matches(const char *match, const char *path) {
        int hit = 0;

        if (!path)
                return 0;
        for (const char *p = match; *p;) {
                const char *end = strchr(p, ',');
                size_t n = end ? (size_t) (end - p) : strlen(p);
                int exclude = *p == '!';

                if (n > (size_t) exclude && memmem(path, strlen(path), p + exclude, n - (size_t) exclude)) {
                        if (exclude)
                                return 0;
                        hit = 1;
                }
                p += n + (end ? 1 : 0);
        }
        return hit;
}

static void parse_fault(void) {
        const char *spec = getenv("HOSTDEVD_FAULT");
        char buf[1024], *op, *match, *err, *count, *skip, *save = NULL;

        if (fault.parsed)
                return;
        fault.parsed = 1;
        fault.remaining = 0;
        if (!spec || strlen(spec) >= sizeof buf)
                return;
        snprintf(buf, sizeof buf, "%s", spec);
        op = strtok_r(buf, ":", &save);
        match = strtok_r(NULL, ":", &save);
        err = strtok_r(NULL, ":", &save);
        count = strtok_r(NULL, ":", &save);
        skip = strtok_r(NULL, ":", &save);
        if (!op || !match || !err || strlen(match) >= sizeof fault.match)
                return;
        for (size_t i = 0; i < sizeof errnos / sizeof errnos[0]; i++)
                if (strcmp(err, errnos[i].name) == 0)
                        fault.error = errnos[i].value;
        fault.op = op_from_name(op);
        if (!fault.error || !fault.op)
                return;
        snprintf(fault.match, sizeof fault.match, "%s", match);
        fault.remaining = parse_long(count, -1);
        fault.skip = parse_long(skip, 0);
}

static void parse_crash(void) {
        const char *spec = getenv("HOSTDEVD_CRASH");
        char buf[1024], *when, *ops, *match, *n, *save = NULL, *save2 = NULL;

        if (crash.parsed)
                return;
        crash.parsed = 1;
        if (!spec || strlen(spec) >= sizeof buf)
                return;
        snprintf(buf, sizeof buf, "%s", spec);
        when = strtok_r(buf, ":", &save);
        ops = strtok_r(NULL, ":", &save);
        match = strtok_r(NULL, ":", &save);
        n = strtok_r(NULL, ":", &save);
        if (!when || !ops || !match || !n || strlen(match) >= sizeof crash.match)
                return;
        if (strcmp(when, "before") != 0 && strcmp(when, "after") != 0)
                return;
        for (char *o = strtok_r(ops, ",", &save2); o; o = strtok_r(NULL, ",", &save2))
                crash.ops |= op_from_name(o);
        crash.after = strcmp(when, "after") == 0;
        crash.n = parse_long(n, -1);
        if (crash.n < 0)
                crash.ops = 0;
        snprintf(crash.match, sizeof crash.match, "%s", match);
}

/* write() of the real libc, for the reports: not through our own write(). */
#define NEXT(name) ((__typeof__(&name)) dlsym(RTLD_NEXT, #name))

static void report(long k, int op, const char *path) {
        char line[4200];
        int n = snprintf(line, sizeof line, "faultinject: #%ld %s %s\n", k, op_name(op), path);

        if (n > 0)
                (void) !NEXT(write)(2, line, (size_t) n < sizeof line ? (size_t) n : sizeof line - 1);
}

/* The number of this call when it is counted, else 0. */
static long crash_count(int op, const char *path) {
        long k;

        parse_crash();
        if (!(crash.ops & op) || !path_matches(crash.match, path))
                return 0;
        k = __atomic_add_fetch(&crash.count, 1, __ATOMIC_SEQ_CST);
        if (crash.n == 0 || k == crash.n)
                report(k, op, path);
        return k;
}

static void crash_at(long k, int after) {
        if (k > 0 && crash.n > 0 && k == crash.n && crash.after == after)
                raise(SIGKILL);
}

static int should_fail(int op, const char *path) {
        long left;

        parse_fault();
        if (fault.remaining == 0 || op != fault.op || !path_matches(fault.match, path))
                return 0;
        if (__atomic_load_n(&fault.skip, __ATOMIC_SEQ_CST) > 0 &&
            __atomic_sub_fetch(&fault.skip, 1, __ATOMIC_SEQ_CST) >= 0)
                return 0;
        left = __atomic_load_n(&fault.remaining, __ATOMIC_SEQ_CST);
        if (left > 0)
                return __atomic_sub_fetch(&fault.remaining, 1, __ATOMIC_SEQ_CST) >= 0;
        return left < 0;
}

/* The path of fd, in buf; NULL when it has none. */
static const char *fd_path(int fd, char *buf, size_t size) {
        char link[64];
        ssize_t n;

        if (fd <= 2)
                return NULL;
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        n = readlink(link, buf, size - 1);
        if (n < 0)
                return NULL;
        buf[n] = 0;
        return buf;
}

/* The path dir_fd/name names (name itself when absolute or at AT_FDCWD). */
static const char *at_path(int dir_fd, const char *name, char *buf, size_t size) {
        char dir[4096];

        if (!name || name[0] == '/' || dir_fd == AT_FDCWD)
                return name;
        if (!fd_path(dir_fd, dir, sizeof dir))
                return name;
        snprintf(buf, size, "%s/%s", dir, name);
        return buf;
}

/* Whether anything is configured: the common case (no variable) costs no readlink(). */
static int active(void) {
        parse_fault();
        parse_crash();
        return fault.remaining != 0 || crash.ops != 0;
}

#define INTERCEPT(op, path, call)                                                \
        do {                                                                     \
                long k_ = crash_count(op, path);                                 \
                __typeof__(call) r_;                                             \
                crash_at(k_, 0);                                                 \
                if (should_fail(op, path)) {                                     \
                        errno = fault.error;                                     \
                        return -1;                                               \
                }                                                                \
                r_ = call;                                                       \
                crash_at(k_, 1);                                                 \
                return r_;                                                       \
        } while (0)

ssize_t write(int fd, const void *buf, size_t count) {
        char path[4096];

        if (!active())
                return NEXT(write)(fd, buf, count);
        INTERCEPT(OP_WRITE, fd_path(fd, path, sizeof path), NEXT(write)(fd, buf, count));
}

int fsync(int fd) {
        char path[4096];

        if (!active())
                return NEXT(fsync)(fd);
        INTERCEPT(OP_FSYNC, fd_path(fd, path, sizeof path), NEXT(fsync)(fd));
}

int fdatasync(int fd) {
        char path[4096];

        if (!active())
                return NEXT(fdatasync)(fd);
        INTERCEPT(OP_FSYNC, fd_path(fd, path, sizeof path), NEXT(fdatasync)(fd));
}

int rename(const char *oldpath, const char *newpath) {
        INTERCEPT(OP_RENAME, newpath, NEXT(rename)(oldpath, newpath));
}

int renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath) {
        char path[8192];

        INTERCEPT(OP_RENAME, at_path(newdirfd, newpath, path, sizeof path),
                  NEXT(renameat)(olddirfd, oldpath, newdirfd, newpath));
}

int renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned flags) {
        char path[8192];

        INTERCEPT(OP_RENAME, at_path(newdirfd, newpath, path, sizeof path),
                  NEXT(renameat2)(olddirfd, oldpath, newdirfd, newpath, flags));
}

int unlink(const char *pathname) {
        INTERCEPT(OP_UNLINK, pathname, NEXT(unlink)(pathname));
}

int unlinkat(int dir_fd, const char *pathname, int flags) {
        char path[8192];

        INTERCEPT(OP_UNLINK, at_path(dir_fd, pathname, path, sizeof path), NEXT(unlinkat)(dir_fd, pathname, flags));
}

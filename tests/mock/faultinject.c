/* Fault injection for the test suite, as an LD_PRELOAD object: makes write(),
 * fsync(), fdatasync() and rename() fail with a chosen errno on files whose
 * path contains a given string, so tests can prove that a failed write of
 * the agent's state or of a bootloader file leaves the old contents and an
 * honest error. Configured by the environment:
 *
 *   HOSTDEVD_FAULT=<op>:<substring>:<errno name>[:<count>]
 *
 * op is write, fsync (fdatasync too) or rename (matched on the new name);
 * count limits how many calls fail (default: all). Example:
 *   HOSTDEVD_FAULT=write:maintenance.json:ENOSPC
 *
 * With an ASan-built agent, also set ASAN_OPTIONS=verify_asan_link_order=0
 * (this object is not instrumented and allocates nothing). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct {
        int parsed;
        char op[16];
        char needle[256];
        int error;
        long remaining; /* -1: unlimited */
} fault;

static const struct {
        const char *name;
        int value;
} errnos[] = {
        { "ENOSPC", ENOSPC }, { "EIO", EIO }, { "EDQUOT", EDQUOT }, { "EROFS", EROFS }, { "EACCES", EACCES },
};

static void parse(void) {
        const char *spec = getenv("HOSTDEVD_FAULT");
        char buf[512], *op, *needle, *err, *count, *save = NULL;

        if (fault.parsed)
                return;
        fault.parsed = 1;
        fault.remaining = 0;
        if (!spec || strlen(spec) >= sizeof buf)
                return;
        snprintf(buf, sizeof buf, "%s", spec);
        op = strtok_r(buf, ":", &save);
        needle = strtok_r(NULL, ":", &save);
        err = strtok_r(NULL, ":", &save);
        count = strtok_r(NULL, ":", &save);
        if (!op || !needle || !err || strlen(op) >= sizeof fault.op || strlen(needle) >= sizeof fault.needle)
                return;
        for (size_t i = 0; i < sizeof errnos / sizeof errnos[0]; i++)
                if (strcmp(err, errnos[i].name) == 0)
                        fault.error = errnos[i].value;
        if (!fault.error)
                return;
        snprintf(fault.op, sizeof fault.op, "%s", op);
        snprintf(fault.needle, sizeof fault.needle, "%s", needle);
        fault.remaining = count ? strtol(count, NULL, 10) : -1;
}

static int should_fail(const char *op, const char *path) {
        parse();
        if (fault.remaining == 0 || strcmp(op, fault.op) != 0 || !path || !strstr(path, fault.needle))
                return 0;
        if (fault.remaining > 0)
                fault.remaining--;
        return 1;
}

static int fd_matches(const char *op, int fd) {
        char link[64], path[4096];
        ssize_t n;

        parse();
        if (fault.remaining == 0 || strcmp(op, fault.op) != 0)
                return 0;
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        n = readlink(link, path, sizeof path - 1);
        if (n < 0)
                return 0;
        path[n] = 0;
        return should_fail(op, path);
}

#define NEXT(name) ((__typeof__(&name)) dlsym(RTLD_NEXT, #name))

ssize_t write(int fd, const void *buf, size_t count) {
        if (fd > 2 && fd_matches("write", fd)) {
                errno = fault.error;
                return -1;
        }
        return NEXT(write)(fd, buf, count);
}

int fsync(int fd) {
        if (fd_matches("fsync", fd)) {
                errno = fault.error;
                return -1;
        }
        return NEXT(fsync)(fd);
}

int fdatasync(int fd) {
        if (fd_matches("fsync", fd)) {
                errno = fault.error;
                return -1;
        }
        return NEXT(fdatasync)(fd);
}

int rename(const char *oldpath, const char *newpath) {
        if (should_fail("rename", newpath)) {
                errno = fault.error;
                return -1;
        }
        return NEXT(rename)(oldpath, newpath);
}

/* Writing sysfs attributes: see sysfs-write.h. */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "basic/macro.h"
#include "sysfs-write.h"

int sysfs_write_attr(int dir_fd, const char *name, const char *value) {
        size_t len = strlen(value);
        ssize_t n;
        int fd, r = 0;

        fd = openat(dir_fd, name, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        n = write(fd, value, len);
        if (n < 0)
                r = -errno;
        else if ((size_t) n != len)
                r = -EIO; /* sysfs takes a write whole or not at all */
        if (close(fd) < 0 && r == 0 && errno != EINTR)
                r = -errno;
        return r;
}

int sysfs_open_dir(int dir_fd, const char *path) {
        int fd = openat(dir_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

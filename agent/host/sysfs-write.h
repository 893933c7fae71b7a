/* The one door through which hostdevd writes to sysfs. Every write the
 * agent makes to the kernel (driver_override, unbind, drivers_probe) goes
 * through sysfs_write_attr(), so the test double of the kernel
 * (tests/mock/pcimock.c) sees exactly one open/write/close per write. */
#pragma once

/* Writes value to the attribute name under dir_fd with a single write(2):
 * sysfs acts on each write as a whole, so it is never split or retried.
 * Returns 0 or the negative errno the kernel gave (-ENODEV, -EBUSY...). */
int sysfs_write_attr(int dir_fd, const char *name, const char *value);

/* Opens a sysfs directory (following symlinks) for sysfs_write_attr():
 * path relative to dir_fd, or absolute. */
int sysfs_open_dir(int dir_fd, const char *path);

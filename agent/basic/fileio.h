/* Reading small files: sysfs attributes, procfs entries, configuration.
 * All functions return 0 or a negative errno; -ENOENT when the file is absent. */
#pragma once

#include <stddef.h>
#include <stdio.h>

/* Reads a whole file, at most max bytes (-EFBIG when larger), NUL-terminated. */
int read_full_file(const char *path, size_t max, char **ret, size_t *ret_size);

/* The same from an open file, read to its end; the fd stays open. */
int read_full_fd(int fd, size_t max, char **ret, size_t *ret_size);

/* Reads a file that holds or guards secrets (tokens, a TLS key) as
 * read_full_file() does, refusing it, as sshd's StrictModes does, when its
 * mode grants any of the forbidden bits (e.g. S_IWGRP | S_IWOTH) or it
 * belongs to someone other than root or this process: -EPERM, or -EBADFD
 * when it is not a regular file, with *ret_why saying why and what fixes it
 * ("is writable by its group or others (mode 0664): refused. Fix: chmod 0644
 * PATH", fix_mode being the mode suggested), to follow the file's name.
 * *ret_why is NULL on any other error. Checked on the file opened. */
int read_secret_file(const char *path, size_t max, unsigned forbidden, unsigned fix_mode, char **ret,
                     size_t *ret_size, char **ret_why);

/* Reads the first line without its newline. */
int read_one_line_file(const char *path, char **ret);

/* Reads the target of a symlink as written (relative or absolute). */
int readlink_malloc(const char *path, char **ret);
int readlinkat_malloc(int dir_fd, const char *path, char **ret);

/* The last component of a symlink's target: ".../drivers/e1000e" -> "e1000e". */
int readlink_basename(const char *path, char **ret);

/* Creates every missing directory above path (not path itself), mode 0755. */
int mkdir_parents(const char *path);

/* Writes a string with a newline to a file atomically: a temporary file in the
 * same directory, fsync, rename over the target, fsync of the directory. */
int write_file_atomic(const char *path, const char *contents, size_t size, unsigned mode);
/* The same with the temporary file named ".<name>.<tag>.XXXXXX", hidden
 * from globs such as *.conf and recognizable by a cleanup of stale ones. */
int write_file_atomic_tagged(const char *path, const char *contents, size_t size, unsigned mode,
                             const char *tag);

/* The same, relative to a directory fd (sysfs device directories are
 * walked this way: no path is rebuilt per attribute). */
int read_one_line_at(int dir_fd, const char *name, char **ret);
int readlink_basename_at(int dir_fd, const char *name, char **ret);

/* Calls fn for each line of a file, without its newline, with the line's
 * number (from 1); stops at the first negative return and passes it on.
 * -ENOENT when the file does not exist. */
typedef int (*line_fn)(char *line, unsigned number, void *userdata);
int read_lines(const char *path, line_fn fn, void *userdata);
/* The same over text in memory, split in place at each newline. */
int parse_lines(char *text, line_fn fn, void *userdata);
/* The same over an open stream: the parsers of line files take one, so
 * that text in memory (fmemopen(), as the fuzz targets give it) is read
 * exactly as a file is. */
int read_lines_file(FILE *f, line_fn fn, void *userdata);

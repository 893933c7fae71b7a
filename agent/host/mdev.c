/* Reading a parent's mediated device types and instances: see mdev.h. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/parse-util.h"
#include "mdev.h"

static void mdev_type_done(MdevType *t) {
        free(t->id);
        free(t->name);
        free(t->description);
        free(t->device_api);
}

static void mdev_instance_done(MdevInstance *i) {
        free(i->type);
        free(i->driver);
}

MdevParent *mdev_parent_free(MdevParent *p) {
        if (!p)
                return NULL;
        for (size_t i = 0; i < p->n_types; i++)
                mdev_type_done(&p->types[i]);
        for (size_t i = 0; i < p->n_instances; i++)
                mdev_instance_done(&p->instances[i]);
        free(p->types);
        free(p->instances);
        free(p);
        return NULL;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(MdevParent *, mdev_parent_free);

int mdev_uuid_canonical(const char *s, char ret[static MDEV_UUID_STRLEN]) {
        if (!s || strlen(s) != MDEV_UUID_STRLEN - 1)
                return -EINVAL;
        for (size_t i = 0; i < MDEV_UUID_STRLEN - 1; i++) {
                bool dash = i == 8 || i == 13 || i == 18 || i == 23;

                if (dash ? s[i] != '-' : !isxdigit((unsigned char) s[i]))
                        return -EINVAL;
                ret[i] = (char) tolower((unsigned char) s[i]);
        }
        ret[MDEV_UUID_STRLEN - 1] = 0;
        return 0;
}

int mdev_uuid_random(char ret[static MDEV_UUID_STRLEN]) {
        uint8_t b[16];

        if (getrandom(b, sizeof b, 0) != (ssize_t) sizeof b)
                return -EIO;
        b[6] = (b[6] & 0x0f) | 0x40; /* version 4 */
        b[8] = (b[8] & 0x3f) | 0x80; /* RFC 4122 variant */
        snprintf(ret, MDEV_UUID_STRLEN, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
                 b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
        return 0;
}

/* An optional text attribute: NULL when absent or unreadable. */
static int read_optional_at(int dir_fd, const char *name, char **ret) {
        int r = read_one_line_at(dir_fd, name, ret);

        if (r == -ENOMEM)
                return r;
        if (r < 0)
                *ret = NULL;
        return 0;
}

/* A text attribute of several lines (a type's description), without its
 * last newline; NULL when absent or unreadable. */
static int read_text_at(int dir_fd, const char *name, char **ret) {
        _cleanup_close_ int fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        size_t n = 0;
        int r;

        *ret = NULL;
        if (fd < 0)
                return 0;
        r = read_full_fd(fd, 4096, ret, &n); /* one sysfs page */
        if (r == -ENOMEM)
                return r;
        if (r < 0 || strlen(*ret) != n) { /* unreadable, or binary */
                free(*ret);
                *ret = NULL;
                return 0;
        }
        if (n > 0 && (*ret)[n - 1] == '\n')
                (*ret)[n - 1] = 0;
        return 0;
}

static int read_instance(int parent_fd, const char *uuid, const char *type, MdevInstance *ret) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *group = NULL;
        MdevInstance i = { .iommu_group = -1 };

        if (mdev_uuid_canonical(uuid, i.uuid) < 0)
                return -EINVAL; /* not the kernel's: skipped */
        i.type = strdup(type);
        if (!i.type)
                return -ENOMEM;
        fd = openat(parent_fd, uuid, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0) {
                if (readlink_basename_at(fd, "iommu_group", &group) >= 0 &&
                    (safe_atoi(group, &i.iommu_group) < 0 || i.iommu_group < 0))
                        i.iommu_group = -1;
                if (readlink_basename_at(fd, "driver", &i.driver) == -ENOMEM) {
                        mdev_instance_done(&i);
                        return -ENOMEM;
                }
        }
        *ret = i;
        return 0;
}

static int append_instances(MdevParent *p, int parent_fd, int type_fd, const char *type) {
        _cleanup_closedir_ DIR *dir = NULL;
        int fd = openat(type_fd, "devices", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct dirent *de;

        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        dir = fdopendir(fd);
        if (!dir) {
                close(fd);
                return -errno;
        }
        while ((de = readdir(dir))) {
                MdevInstance i, *n;
                int r;

                if (de->d_name[0] == '.')
                        continue;
                r = read_instance(parent_fd, de->d_name, type, &i);
                if (r == -EINVAL)
                        continue;
                if (r < 0)
                        return r;
                n = realloc(p->instances, (p->n_instances + 1) * sizeof *n);
                if (!n) {
                        mdev_instance_done(&i);
                        return -ENOMEM;
                }
                p->instances = n;
                p->instances[p->n_instances++] = i;
        }
        return 0;
}

static int read_type(MdevParent *p, int parent_fd, int types_fd, const char *id) {
        _cleanup_close_ int fd = openat(types_fd, id, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        _cleanup_free_ char *available = NULL;
        MdevType t = { .available = -1 }, *n;
        int r;

        if (fd < 0)
                return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
        t.id = strdup(id);
        if (!t.id || read_optional_at(fd, "name", &t.name) < 0 ||
            read_text_at(fd, "description", &t.description) < 0 ||
            read_optional_at(fd, "device_api", &t.device_api) < 0 ||
            read_optional_at(fd, "available_instances", &available) < 0) {
                mdev_type_done(&t);
                return -ENOMEM;
        }
        if (available && (safe_atoi(available, &t.available) < 0 || t.available < 0))
                t.available = -1;
        n = realloc(p->types, (p->n_types + 1) * sizeof *n);
        if (!n) {
                mdev_type_done(&t);
                return -ENOMEM;
        }
        p->types = n;
        p->types[p->n_types++] = t;
        r = append_instances(p, parent_fd, fd, id);
        return r;
}

static int type_cmp(const void *a, const void *b) {
        return strcmp(((const MdevType *) a)->id, ((const MdevType *) b)->id);
}

static int instance_cmp(const void *a, const void *b) {
        return strcmp(((const MdevInstance *) a)->uuid, ((const MdevInstance *) b)->uuid);
}

int mdev_parent_read(int dir_fd, MdevParent **ret) {
        _cleanup_(mdev_parent_freep) MdevParent *p = NULL;
        _cleanup_closedir_ DIR *dir = NULL;
        struct dirent *de;
        int fd;

        *ret = NULL;
        fd = openat(dir_fd, "mdev_supported_types", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
        dir = fdopendir(fd);
        if (!dir) {
                close(fd);
                return -errno;
        }
        p = calloc(1, sizeof *p);
        if (!p)
                return -ENOMEM;
        while ((de = readdir(dir))) {
                int r;

                if (de->d_name[0] == '.')
                        continue;
                r = read_type(p, dir_fd, dirfd(dir), de->d_name);
                if (r < 0)
                        return r;
        }
        qsort_safe(p->types, p->n_types, sizeof *p->types, type_cmp);
        qsort_safe(p->instances, p->n_instances, sizeof *p->instances, instance_cmp);
        *ret = TAKE_PTR(p);
        return 0;
}

static int dup_or_null(const char *s, char **ret) {
        *ret = s ? strdup(s) : NULL;
        return s && !*ret ? -ENOMEM : 0;
}

int mdev_parent_copy(const MdevParent *src, MdevParent **ret) {
        _cleanup_(mdev_parent_freep) MdevParent *p = NULL;

        *ret = NULL;
        if (!src)
                return 0;
        p = calloc(1, sizeof *p);
        if (!p || (src->n_types && !(p->types = calloc(src->n_types, sizeof *p->types))) ||
            (src->n_instances && !(p->instances = calloc(src->n_instances, sizeof *p->instances))))
                return -ENOMEM;
        for (size_t i = 0; i < src->n_types; i++, p->n_types++) {
                const MdevType *s = &src->types[i];
                MdevType *t = &p->types[i];

                t->available = s->available;
                if (dup_or_null(s->id, &t->id) < 0 || dup_or_null(s->name, &t->name) < 0 ||
                    dup_or_null(s->description, &t->description) < 0 ||
                    dup_or_null(s->device_api, &t->device_api) < 0) {
                        p->n_types++; /* freed with the others */
                        return -ENOMEM;
                }
        }
        for (size_t i = 0; i < src->n_instances; i++, p->n_instances++) {
                const MdevInstance *s = &src->instances[i];
                MdevInstance *n = &p->instances[i];

                memcpy(n->uuid, s->uuid, sizeof n->uuid);
                n->iommu_group = s->iommu_group;
                if (dup_or_null(s->type, &n->type) < 0 || dup_or_null(s->driver, &n->driver) < 0) {
                        p->n_instances++;
                        return -ENOMEM;
                }
        }
        *ret = TAKE_PTR(p);
        return 0;
}

bool mdev_parent_equal(const MdevParent *a, const MdevParent *b) {
        if (!a || !b)
                return a == b;
        if (a->n_types != b->n_types || a->n_instances != b->n_instances)
                return false;
        for (size_t i = 0; i < a->n_types; i++) {
                const MdevType *x = &a->types[i], *y = &b->types[i];

                if (!streq_ptr(x->id, y->id) || !streq_ptr(x->name, y->name) ||
                    !streq_ptr(x->description, y->description) || !streq_ptr(x->device_api, y->device_api) ||
                    x->available != y->available)
                        return false;
        }
        for (size_t i = 0; i < a->n_instances; i++) {
                const MdevInstance *x = &a->instances[i], *y = &b->instances[i];

                if (!streq(x->uuid, y->uuid) || !streq_ptr(x->type, y->type) || x->iommu_group != y->iommu_group ||
                    !streq_ptr(x->driver, y->driver))
                        return false;
        }
        return true;
}

const MdevType *mdev_parent_find_type(const MdevParent *p, const char *id) {
        for (size_t i = 0; p && i < p->n_types; i++)
                if (streq(p->types[i].id, id))
                        return &p->types[i];
        return NULL;
}

const MdevInstance *mdev_parent_find_instance(const MdevParent *p, const char *uuid) {
        for (size_t i = 0; p && i < p->n_instances; i++)
                if (streq(p->instances[i].uuid, uuid))
                        return &p->instances[i];
        return NULL;
}

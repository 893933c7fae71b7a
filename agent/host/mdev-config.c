/* mdevctl's definitions, read and written: see mdev-config.h. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "mdev-config.h"

#define DEFINITION_MAX (64 * 1024)

void mdev_definitions_free(MdevDefinition *d, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(d[i].parent);
                free(d[i].type);
                free(d[i].error);
        }
        free(d);
}

/* Fills type, auto_start, n_attrs from the file's text, or error. */
static int parse_definition(MdevDefinition *d, const char *text) {
        json_tokener *tok = json_tokener_new();
        json_object *o = NULL, *v;
        const char *why = NULL;

        if (!tok)
                return -ENOMEM;
        o = json_tokener_parse_ex(tok, text, (int) strlen(text));
        if (!o || json_tokener_get_error(tok) != json_tokener_success || !json_object_is_type(o, json_type_object))
                why = "not a JSON object";
        else if (!json_object_object_get_ex(o, "mdev_type", &v) || !json_object_is_type(v, json_type_string) ||
                 !*json_object_get_string(v))
                why = "no \"mdev_type\" string";
        else if (!(d->type = strdup(json_object_get_string(v))))
                why = "out of memory";
        else {
                d->auto_start = json_object_object_get_ex(o, "start", &v) && json_object_is_type(v, json_type_string) &&
                                streq(json_object_get_string(v), "auto");
                if (json_object_object_get_ex(o, "attrs", &v) && json_object_is_type(v, json_type_array))
                        d->n_attrs = json_object_array_length(v);
        }
        json_object_put(o);
        json_tokener_free(tok);
        if (why && !(d->error = strdup(why)))
                return -ENOMEM;
        return 0;
}

static int append(MdevDefinition **list, size_t *n, const char *parent, const char *uuid, const char *path) {
        _cleanup_free_ char *text = NULL;
        MdevDefinition d = {}, *l;
        int r;

        if (mdev_uuid_canonical(uuid, d.uuid) < 0)
                return 0; /* not a definition */
        d.parent = strdup(parent);
        if (!d.parent)
                return -ENOMEM;
        r = read_full_file(path, DEFINITION_MAX, &text, NULL);
        if (r >= 0)
                r = parse_definition(&d, text);
        else if (r != -ENOMEM)
                r = asprintf(&d.error, "cannot read it: %s", strerror(-r)) < 0 ? -ENOMEM : 0;
        if (r >= 0 && !(l = realloc(*list, (*n + 1) * sizeof *l)))
                r = -ENOMEM;
        if (r < 0) {
                free(d.parent);
                free(d.type);
                free(d.error);
                return r;
        }
        l[(*n)++] = d;
        *list = l;
        return 0;
}

static int definition_cmp(const void *a, const void *b) {
        const MdevDefinition *x = a, *y = b;
        int c = strcmp(x->parent, y->parent);

        return c ? c : strcmp(x->uuid, y->uuid);
}

int mdev_definitions_load(const HostRoot *root, MdevDefinition **ret, size_t *ret_n) {
        _cleanup_free_ char *base = hostroot_path(root, AREA_ETC, "mdevctl.d");
        _cleanup_closedir_ DIR *top = NULL;
        MdevDefinition *list = NULL;
        struct dirent *p;
        size_t n = 0;
        int r = 0;

        *ret = NULL;
        *ret_n = 0;
        if (!base)
                return -ENOMEM;
        top = opendir(base);
        if (!top)
                return errno == ENOENT ? 0 : -errno;
        while (r >= 0 && (p = readdir(top))) {
                _cleanup_free_ char *dir_path = NULL;
                _cleanup_closedir_ DIR *dir = NULL;
                struct dirent *f;

                if (p->d_name[0] == '.' || streq(p->d_name, "scripts.d"))
                        continue;
                if (asprintf(&dir_path, "%s/%s", base, p->d_name) < 0) {
                        r = -ENOMEM;
                        break;
                }
                dir = opendir(dir_path);
                while (r >= 0 && dir && (f = readdir(dir))) {
                        _cleanup_free_ char *path = NULL;

                        if (f->d_name[0] == '.')
                                continue;
                        r = asprintf(&path, "%s/%s", dir_path, f->d_name) < 0
                                    ? -ENOMEM
                                    : append(&list, &n, p->d_name, f->d_name, path);
                }
        }
        if (r < 0) {
                mdev_definitions_free(list, n);
                return r;
        }
        qsort_safe(list, n, sizeof *list, definition_cmp);
        *ret = list;
        *ret_n = n;
        return 0;
}

const MdevDefinition *mdev_definitions_find(const MdevDefinition *d, size_t n, const char *uuid) {
        for (size_t i = 0; i < n; i++)
                if (streq(d[i].uuid, uuid))
                        return &d[i];
        return NULL;
}

int mdev_definition_write(const HostRoot *root, const char *parent, const char *uuid, const char *type,
                          bool auto_start) {
        _cleanup_free_ char *path = hostroot_path(root, AREA_ETC, "mdevctl.d/%s/%s", parent, uuid);
        _cleanup_free_ char *text = NULL;
        json_object *t;
        int r;

        if (!path)
                return -ENOMEM;
        /* mdevctl's own layout, two-space indented; the type escaped as JSON. */
        t = json_object_new_string(type);
        if (!t)
                return -ENOMEM;
        r = asprintf(&text, "{\n  \"mdev_type\": %s,\n  \"start\": \"%s\",\n  \"attrs\": []\n}\n",
                     json_object_to_json_string_ext(t, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
                     auto_start ? "auto" : "manual");
        json_object_put(t);
        if (r < 0)
                return -ENOMEM;
        r = mkdir_parents(path);
        if (r < 0)
                return r;
        return write_file_atomic_tagged(path, text, strlen(text), 0644, "hostdevd-tmp");
}

int mdev_definition_remove(const HostRoot *root, const char *parent, const char *uuid) {
        _cleanup_free_ char *path = hostroot_path(root, AREA_ETC, "mdevctl.d/%s/%s", parent, uuid);
        _cleanup_free_ char *dir = hostroot_path(root, AREA_ETC, "mdevctl.d/%s", parent);

        if (!path || !dir)
                return -ENOMEM;
        if (unlink(path) < 0 && errno != ENOENT)
                return -errno;
        (void) rmdir(dir); /* mdevctl leaves an empty parent directory too; either is fine */
        return 0;
}

/* The state directory: see store.h.
 *
 * Layout: maintenance.json; operations/<id>.json, one file per operation.
 * Files are JSON objects with integer microsecond timestamps (the API
 * renders them as RFC 3339). */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <json-c/json.h>

#include "basic/fileio.h"
#include "basic/hex.h"
#include "basic/log.h"
#include "basic/macro.h"
#include "store.h"

#define STATE_FILE_MAX (256 * 1024)

static const char *const operation_states[_OPERATION_STATE_MAX] = {
        [OPERATION_ACCEPTED] = "accepted",
        [OPERATION_RUNNING] = "running",
        [OPERATION_SUCCEEDED] = "succeeded",
        [OPERATION_FAILED] = "failed",
};

const char *operation_state_to_string(OperationState s) {
        return s < _OPERATION_STATE_MAX ? operation_states[s] : NULL;
}

static int operation_state_from_string(const char *s) {
        for (int i = 0; i < _OPERATION_STATE_MAX; i++)
                if (streq(s, operation_states[i]))
                        return i;
        return -EINVAL;
}

bool operation_is_done(const Operation *op) {
        return op->state == OPERATION_SUCCEEDED || op->state == OPERATION_FAILED;
}

void maintenance_done(Maintenance *m) {
        free(m->reason);
        free(m->by);
        *m = (Maintenance) {};
}

Operation *operation_free(Operation *op) {
        if (!op)
                return NULL;
        free(op->kind);
        free(op->requested_by);
        free(op->error);
        free(op->method);
        free(op->boot_id_before);
        free(op->boot_id_after);
        for (size_t i = 0; i < op->n_expected; i++)
                free(op->expected[i].argument);
        free(op->expected);
        for (size_t i = 0; i < op->n_steps; i++)
                free(op->steps[i].step);
        free(op->steps);
        json_object_put(op->problem);
        json_object_put(op->result);
        free(op);
        return NULL;
}

int operation_new(const char *kind, const char *requested_by, uint64_t now_usec, Operation **ret) {
        _cleanup_(operation_freep) Operation *op = calloc(1, sizeof(Operation));
        int r;

        if (!op)
                return -ENOMEM;
        r = random_hex(16, op->id);
        if (r < 0)
                return r;
        op->kind = strdup(kind);
        op->requested_by = strdup(requested_by);
        if (!op->kind || !op->requested_by)
                return -ENOMEM;
        op->state = OPERATION_ACCEPTED;
        op->created_usec = op->updated_usec = now_usec;
        op->iommu_active = -1;
        *ret = TAKE_PTR(op);
        return 0;
}

int operation_add_expected(Operation *op, const char *argument) {
        ExpectedArgument *n = realloc(op->expected, (op->n_expected + 1) * sizeof(ExpectedArgument));

        if (!n)
                return -ENOMEM;
        op->expected = n;
        n[op->n_expected] = (ExpectedArgument) { .argument = strdup(argument) };
        if (!n[op->n_expected].argument)
                return -ENOMEM;
        op->n_expected++;
        return 0;
}

int operation_add_step(Operation *op, const char *step, uint64_t now_usec) {
        OperationStep *n = realloc(op->steps, (op->n_steps + 1) * sizeof(OperationStep));

        if (!n)
                return -ENOMEM;
        op->steps = n;
        n[op->n_steps] = (OperationStep) { .step = strdup(step), .time_usec = now_usec };
        if (!n[op->n_steps].step)
                return -ENOMEM;
        op->n_steps++;
        op->updated_usec = now_usec;
        return 0;
}

int operation_fail(Operation *op, const char *error, json_object *problem, uint64_t now_usec) {
        char *e = strdup(error);

        if (!e) {
                json_object_put(problem);
                return -ENOMEM;
        }
        free(op->error);
        op->error = e;
        json_object_put(op->problem);
        op->problem = problem;
        op->state = OPERATION_FAILED;
        op->updated_usec = now_usec;
        return 0;
}

/* ---- JSON files ---- */

static void add_str(json_object *o, const char *key, const char *s) {
        json_object_object_add(o, key, s ? json_object_new_string(s) : NULL);
}

static const char *json_text(json_object *o) {
        return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
}

static int write_json(const char *path, json_object *o) {
        const char *s = json_text(o);

        if (!s)
                return -ENOMEM;
        return write_file_atomic(path, s, strlen(s), 0600);
}

static int parse_json(const char *text, json_object **ret) {
        json_object *o = json_tokener_parse(text);

        if (!o || !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                return -EBADMSG;
        }
        *ret = o;
        return 0;
}

static int read_json(const char *path, json_object **ret) {
        _cleanup_free_ char *text = NULL;
        int r;

        r = read_full_file(path, STATE_FILE_MAX, &text, NULL);
        if (r < 0)
                return r;
        return parse_json(text, ret);
}

/* Formats o (consumed) as its file holds it. */
static int format_json(json_object *o, char **ret) {
        const char *s = o ? json_text(o) : NULL;
        char *copy = s ? strdup(s) : NULL;

        json_object_put(o);
        if (!copy)
                return -ENOMEM;
        *ret = copy;
        return 0;
}

/* Typed getters that fail on a missing or mistyped field. */
static int get_field(json_object *o, const char *key, json_type type, bool nullable, json_object **ret) {
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v))
                return -EBADMSG;
        if (!v && nullable) {
                *ret = NULL;
                return 0;
        }
        if (!v || !json_object_is_type(v, type))
                return -EBADMSG;
        *ret = v;
        return 0;
}

static int get_str(json_object *o, const char *key, bool nullable, char **ret) {
        json_object *v;
        int r = get_field(o, key, json_type_string, nullable, &v);

        if (r < 0)
                return r;
        if (!v) {
                *ret = NULL;
                return 0;
        }
        *ret = strdup(json_object_get_string(v));
        return *ret ? 0 : -ENOMEM;
}

static int get_u64(json_object *o, const char *key, uint64_t *ret) {
        json_object *v;
        int r = get_field(o, key, json_type_int, false, &v);

        if (r < 0)
                return r;
        if (json_object_get_int64(v) < 0)
                return -EBADMSG;
        *ret = (uint64_t) json_object_get_int64(v);
        return 0;
}

static int get_bool(json_object *o, const char *key, bool *ret) {
        json_object *v;
        int r = get_field(o, key, json_type_boolean, false, &v);

        if (r < 0)
                return r;
        *ret = json_object_get_boolean(v);
        return 0;
}

static json_object *maintenance_to_json(const Maintenance *m) {
        json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        json_object_object_add(o, "enabled", json_object_new_boolean(m->enabled));
        add_str(o, "reason", m->reason);
        add_str(o, "by", m->by);
        json_object_object_add(o, "since_usec", json_object_new_int64((int64_t) m->since_usec));
        return o;
}

static int maintenance_from_json(json_object *o, Maintenance *ret) {
        Maintenance m = {};
        int r;

        if ((r = get_bool(o, "enabled", &m.enabled)) < 0 || (r = get_str(o, "reason", true, &m.reason)) < 0 ||
            (r = get_str(o, "by", true, &m.by)) < 0 || (r = get_u64(o, "since_usec", &m.since_usec)) < 0) {
                maintenance_done(&m);
                return r;
        }
        *ret = m;
        return 0;
}

static json_object *steps_to_json(const Operation *op) {
        json_object *a = json_object_new_array();

        for (size_t i = 0; a && i < op->n_steps; i++) {
                json_object *e = json_object_new_object();

                if (!e)
                        break;
                add_str(e, "step", op->steps[i].step);
                json_object_object_add(e, "time_usec", json_object_new_int64((int64_t) op->steps[i].time_usec));
                json_object_array_add(a, e);
        }
        return a;
}

static json_object *operation_to_json(const Operation *op) {
        json_object *o = json_object_new_object(), *exp = json_object_new_array();

        if (!o || !exp) {
                json_object_put(o);
                json_object_put(exp);
                return NULL;
        }
        add_str(o, "id", op->id);
        add_str(o, "kind", op->kind);
        add_str(o, "state", operation_state_to_string(op->state));
        add_str(o, "requested_by", op->requested_by);
        json_object_object_add(o, "created_usec", json_object_new_int64((int64_t) op->created_usec));
        json_object_object_add(o, "updated_usec", json_object_new_int64((int64_t) op->updated_usec));
        add_str(o, "error", op->error);
        add_str(o, "method", op->method);
        add_str(o, "boot_id_before", op->boot_id_before);
        add_str(o, "boot_id_after", op->boot_id_after);
        for (size_t i = 0; i < op->n_expected; i++) {
                json_object *e = json_object_new_object();

                if (!e)
                        break;
                add_str(e, "argument", op->expected[i].argument);
                json_object_object_add(e, "running", json_object_new_boolean(op->expected[i].running));
                json_object_array_add(exp, e);
        }
        json_object_object_add(o, "expected_arguments", exp);
        json_object_object_add(o, "iommu_expected", json_object_new_boolean(op->iommu_expected));
        json_object_object_add(o, "iommu_active", json_object_new_int(op->iommu_active));
        json_object_object_add(o, "progress", steps_to_json(op));
        json_object_object_add(o, "problem", json_object_get(op->problem));
        json_object_object_add(o, "result", json_object_get(op->result));
        return o;
}

/* The fields operations of kernel-cmdline, bind and release added; a file
 * written before them has none. */
static int steps_from_json(json_object *o, Operation *op) {
        json_object *a, *v;
        int r;

        if (json_object_object_get_ex(o, "problem", &v) && v) {
                if (!json_object_is_type(v, json_type_object))
                        return -EBADMSG;
                op->problem = json_object_get(v);
        }
        if (json_object_object_get_ex(o, "result", &v) && v) {
                if (!json_object_is_type(v, json_type_object))
                        return -EBADMSG;
                op->result = json_object_get(v);
        }
        if (!json_object_object_get_ex(o, "progress", &a))
                return 0;
        if (!json_object_is_type(a, json_type_array))
                return -EBADMSG;
        for (size_t i = 0; i < json_object_array_length(a); i++) {
                json_object *e = json_object_array_get_idx(a, i);
                _cleanup_free_ char *step = NULL;
                uint64_t t;

                if (!json_object_is_type(e, json_type_object) || (r = get_str(e, "step", false, &step)) < 0 ||
                    (r = get_u64(e, "time_usec", &t)) < 0)
                        return -EBADMSG;
                r = operation_add_step(op, step, t);
                if (r < 0)
                        return r;
        }
        return 0;
}

static bool valid_id(const char *id) {
        return strlen(id) == 32 && strspn(id, "0123456789abcdef") == 32;
}

static int operation_from_json(json_object *o, Operation **ret) {
        _cleanup_(operation_freep) Operation *op = calloc(1, sizeof(Operation));
        _cleanup_free_ char *id = NULL, *state = NULL;
        json_object *exp, *v;
        int r, s;

        if (!op)
                return -ENOMEM;
        if ((r = get_str(o, "id", false, &id)) < 0 || (r = get_str(o, "kind", false, &op->kind)) < 0 ||
            (r = get_str(o, "state", false, &state)) < 0 ||
            (r = get_str(o, "requested_by", false, &op->requested_by)) < 0 ||
            (r = get_u64(o, "created_usec", &op->created_usec)) < 0 ||
            (r = get_u64(o, "updated_usec", &op->updated_usec)) < 0 ||
            (r = get_str(o, "error", true, &op->error)) < 0 || (r = get_str(o, "method", true, &op->method)) < 0 ||
            (r = get_str(o, "boot_id_before", true, &op->boot_id_before)) < 0 ||
            (r = get_str(o, "boot_id_after", true, &op->boot_id_after)) < 0 ||
            (r = get_field(o, "expected_arguments", json_type_array, false, &exp)) < 0 ||
            (r = get_bool(o, "iommu_expected", &op->iommu_expected)) < 0 ||
            (r = get_field(o, "iommu_active", json_type_int, false, &v)) < 0)
                return r;
        if (!valid_id(id) || (s = operation_state_from_string(state)) < 0)
                return -EBADMSG;
        memcpy(op->id, id, sizeof op->id); /* valid_id(): 32 digits and the NUL */
        op->state = (OperationState) s;
        op->iommu_active = json_object_get_int(v) < 0 ? -1 : json_object_get_int(v) > 0;
        for (size_t i = 0; i < json_object_array_length(exp); i++) {
                json_object *e = json_object_array_get_idx(exp, i);
                _cleanup_free_ char *arg = NULL;
                bool running;

                if (!json_object_is_type(e, json_type_object) || (r = get_str(e, "argument", false, &arg)) < 0 ||
                    (r = get_bool(e, "running", &running)) < 0)
                        return r < 0 ? r : -EBADMSG;
                r = operation_add_expected(op, arg);
                if (r < 0)
                        return r;
                op->expected[op->n_expected - 1].running = running;
        }
        r = steps_from_json(o, op);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(op);
        return 0;
}

int maintenance_parse(const char *text, Maintenance *ret) {
        json_object *o = NULL;
        int r;

        r = parse_json(text, &o);
        if (r < 0)
                return r;
        r = maintenance_from_json(o, ret);
        json_object_put(o);
        return r;
}

int maintenance_format(const Maintenance *m, char **ret) {
        return format_json(maintenance_to_json(m), ret);
}

int operation_parse(const char *text, Operation **ret) {
        json_object *o = NULL;
        int r;

        r = parse_json(text, &o);
        if (r < 0)
                return r;
        r = operation_from_json(o, ret);
        json_object_put(o);
        return r;
}

int operation_format(const Operation *op, char **ret) {
        return format_json(operation_to_json(op), ret);
}

/* ---- the directory ---- */

/* "<dir>/<name>", or "<dir>/operations/<id>.json" for an operation id. */
static char *state_path(const Store *s, const char *name) {
        char *p = NULL;

        if (asprintf(&p, "%s/%s", s->dir, name) < 0)
                return NULL;
        return p;
}

static char *operation_path(const Store *s, const char *id) {
        char *p = NULL;

        if (asprintf(&p, "%s/operations/%s.json", s->dir, id) < 0)
                return NULL;
        return p;
}

static int mkdir_private(const char *path) {
        if (mkdir(path, 0700) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

/* A file that does not parse is kept for inspection under another name. */
static void move_aside(const char *path, int error) {
        _cleanup_free_ char *aside = NULL;

        log_error_errno(error, "State file %s is unreadable (%m): moved aside, not used.", path);
        if (asprintf(&aside, "%s.corrupt", path) >= 0)
                (void) rename(path, aside);
}

/* write_file_atomic()'s temporary files are "<name>.tmp.XXXXXX". */
static void remove_stale_temporaries(const char *dir) {
        _cleanup_closedir_ DIR *d = opendir(dir);
        struct dirent *de;

        if (!d)
                return;
        while ((de = readdir(d))) {
                const char *t = strstr(de->d_name, ".tmp.");

                if (t && strlen(t) == 11 && unlinkat(dirfd(d), de->d_name, 0) == 0)
                        log_notice("Removed %s/%s, left by an interrupted write.", dir, de->d_name);
        }
}

static int load_maintenance(Store *s) {
        _cleanup_free_ char *path = state_path(s, "maintenance.json");
        json_object *o = NULL;
        int r;

        if (!path)
                return -ENOMEM;
        r = read_json(path, &o);
        if (r == -ENOENT)
                return 0;
        if (r >= 0) {
                r = maintenance_from_json(o, &s->maintenance);
                json_object_put(o);
        }
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                move_aside(path, r);
        return 0;
}

static int cmp_operation(const void *a, const void *b) {
        const Operation *x = *(Operation *const *) a, *y = *(Operation *const *) b;

        if (x->created_usec != y->created_usec)
                return x->created_usec < y->created_usec ? -1 : 1;
        return strcmp(x->id, y->id);
}

static int push_operation(Store *s, Operation *op) {
        Operation **n = realloc(s->operations, (s->n_operations + 1) * sizeof(Operation *));

        if (!n)
                return -ENOMEM;
        s->operations = n;
        n[s->n_operations++] = op;
        return 0;
}

static int load_operations(Store *s) {
        _cleanup_free_ char *dir = state_path(s, "operations");
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        int r;

        if (!dir)
                return -ENOMEM;
        r = mkdir_private(dir);
        if (r < 0)
                return r;
        remove_stale_temporaries(dir);
        d = opendir(dir);
        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                _cleanup_free_ char *path = NULL;
                Operation *op = NULL;
                json_object *o = NULL;
                const char *dot = strrchr(de->d_name, '.');

                if (!dot || !streq(dot, ".json"))
                        continue;
                if (asprintf(&path, "%s/%s", dir, de->d_name) < 0)
                        return -ENOMEM;
                r = read_json(path, &o);
                if (r >= 0) {
                        r = operation_from_json(o, &op);
                        json_object_put(o);
                }
                if (r >= 0 && strncmp(de->d_name, op->id, 32) != 0)
                        r = -EBADMSG; /* the name and the contents disagree */
                if (r >= 0 && (r = push_operation(s, op)) < 0)
                        operation_free(op);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        move_aside(path, r);
        }
        if (s->n_operations > 1)
                qsort_safe(s->operations, s->n_operations, sizeof(Operation *), cmp_operation);
        return 0;
}

int store_open(const char *dir, Store **ret) {
        _cleanup_(store_freep) Store *s = calloc(1, sizeof(Store));
        int r;

        if (!s)
                return -ENOMEM;
        s->dir = strdup(dir);
        if (!s->dir)
                return -ENOMEM;
        r = mkdir_parents(dir); /* var/lib as it would be, 0755; the directory itself private */
        if (r >= 0)
                r = mkdir_private(dir);
        if (r < 0)
                return r;
        remove_stale_temporaries(dir);
        r = load_maintenance(s);
        if (r < 0)
                return r;
        r = load_operations(s);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}

Store *store_free(Store *s) {
        if (!s)
                return NULL;
        maintenance_done(&s->maintenance);
        for (size_t i = 0; i < s->n_operations; i++)
                operation_free(s->operations[i]);
        free(s->operations);
        free(s->dir);
        free(s);
        return NULL;
}

int store_set_maintenance(Store *s, bool enabled, const char *reason, const char *by, uint64_t now_usec) {
        _cleanup_free_ char *path = state_path(s, "maintenance.json");
        Maintenance m = { .enabled = enabled, .since_usec = now_usec };
        json_object *o;
        int r;

        if (!path)
                return -ENOMEM;
        if ((reason && !(m.reason = strdup(reason))) || (by && !(m.by = strdup(by)))) {
                maintenance_done(&m);
                return -ENOMEM;
        }
        o = maintenance_to_json(&m);
        r = o ? write_json(path, o) : -ENOMEM;
        json_object_put(o);
        if (r < 0) {
                maintenance_done(&m);
                return r;
        }
        maintenance_done(&s->maintenance);
        s->maintenance = m;
        return 0;
}

static int write_operation(Store *s, const Operation *op) {
        _cleanup_free_ char *path = operation_path(s, op->id);
        json_object *o;
        int r;

        if (!path)
                return -ENOMEM;
        o = operation_to_json(op);
        r = o ? write_json(path, o) : -ENOMEM;
        json_object_put(o);
        return r;
}

static void operation_written(Store *s, const Operation *op) {
        if (s->operation_hook)
                s->operation_hook(op, s->operation_hook_userdata);
}

int store_save_operation(Store *s, Operation *op) {
        int r;

        r = write_operation(s, op);
        if (r < 0)
                return r;
        operation_written(s, op);
        return 0;
}

void store_set_operation_hook(Store *s, OperationHook cb, void *userdata) {
        s->operation_hook = cb;
        s->operation_hook_userdata = userdata;
}

/* Drops the oldest finished operations beyond the limit, files first. */
static void prune_operations(Store *s) {
        size_t done = 0;

        for (size_t i = 0; i < s->n_operations; i++)
                done += operation_is_done(s->operations[i]);
        for (size_t i = 0; i < s->n_operations && done > STORE_MAX_DONE_OPERATIONS;) {
                Operation *op = s->operations[i];
                _cleanup_free_ char *path = NULL;

                if (!operation_is_done(op)) {
                        i++;
                        continue;
                }
                path = operation_path(s, op->id);
                if (!path || (unlink(path) < 0 && errno != ENOENT))
                        return;
                operation_free(op);
                memmove(s->operations + i, s->operations + i + 1, (s->n_operations - i - 1) * sizeof(Operation *));
                s->n_operations--;
                done--;
        }
}

int store_add_operation(Store *s, Operation *op) {
        int r;

        r = write_operation(s, op);
        if (r < 0)
                return r;
        r = push_operation(s, op);
        if (r < 0)
                return r;
        operation_written(s, op);
        prune_operations(s);
        return 0;
}

Operation *store_find_operation(const Store *s, const char *id) {
        for (size_t i = 0; i < s->n_operations; i++)
                if (streq(s->operations[i]->id, id))
                        return s->operations[i];
        return NULL;
}

Operation *store_active_operation(const Store *s, const char *kind) {
        for (size_t i = s->n_operations; i > 0; i--) {
                Operation *op = s->operations[i - 1];

                if ((!kind || streq(op->kind, kind)) && !operation_is_done(op))
                        return op;
        }
        return NULL;
}

int store_fail_interrupted(Store *s, const char *kind, const char *reason, uint64_t now_usec) {
        for (size_t i = 0; i < s->n_operations; i++) {
                Operation *op = s->operations[i];
                int r;

                if (!streq(op->kind, kind) || operation_is_done(op))
                        continue;
                r = operation_fail(op, reason, NULL, now_usec);
                if (r >= 0)
                        r = store_save_operation(s, op);
                if (r < 0)
                        return r;
                log_warning("Operation %s (%s) was under way when the agent stopped: marked failed.", op->id,
                            op->kind);
        }
        return 0;
}

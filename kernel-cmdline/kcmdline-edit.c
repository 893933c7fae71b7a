/* Edits of a parsed kernel command line: append, delete and replace with
 * rpm-ostree kargs semantics (see kcmdline-edit.h), comparing parsed
 * (key, value) pairs, never text. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"
#include "kcmdline-edit.h"

int karg_parse(const char *spec, KArg *ret) {
        _cleanup_(kcmdline_freep) KCmdline *c = NULL;
        size_t quotes = 0;
        int r;

        if (!spec || !ret)
                return -EINVAL;

        for (const char *p = spec; *p; p++)
                if (*p == '"')
                        quotes++;
        if (quotes % 2 != 0)
                return -EINVAL; /* a quote left open swallows what follows */

        r = kcmdline_parse(spec, &c);
        if (r < 0)
                return r;
        if (c->n_args != 1 || c->args[0].section != KARG_KERNEL)
                return -EINVAL;

        *ret = c->args[0];
        ret->noise = false;
        c->args[0] = (KArg) {}; /* the strings now belong to *ret */
        return 0;
}

static bool bad_byte(char c) {
        unsigned char u = (unsigned char) c;

        return u < 0x20 || u == 0x7f || c == '"';
}

int karg_check_new(const KArg *a) {
        if (!a || !a->key || a->key[0] == '\0')
                return -EINVAL;

        for (const char *p = a->key; *p; p++)
                if (bad_byte(*p) || *p == '=' || kcmdline_isspace(*p))
                        return -EINVAL;
        if (a->value)
                for (const char *p = a->value; *p; p++)
                        if (bad_byte(*p))
                                return -EINVAL;

        if (!a->value && streq(a->key, "--"))
                return -EINVAL; /* would end the kernel section */
        if (streq(a->key, "BOOT_IMAGE"))
                return -EINVAL; /* the boot loader's */
        return 0;
}

/* An argument that edits see: kernel section, not boot loader noise. */
static bool editable(const KArg *a, const char *key) {
        return a->section == KARG_KERNEL && !a->noise && kcmdline_key_equal(a->key, key);
}

static bool is_pair(const KArg *a, const char *key, const char *value) {
        return editable(a, key) && streq_ptr(a->value, value);
}

static size_t count_pairs(const KCmdline *c, const char *key, const char *value) {
        size_t n = 0;

        for (size_t i = 0; i < c->n_args; i++)
                if (is_pair(c->args + i, key, value))
                        n++;
        return n;
}

/* The value that every editable argument with this key has (borrowed; NULL
 * for flags). -ENOENT: none; -ENOTUNIQ: they differ. */
static int common_value(const KCmdline *c, const char *key, const char **ret) {
        const KArg *first = NULL;

        for (size_t i = 0; i < c->n_args; i++) {
                const KArg *a = c->args + i;

                if (!editable(a, key))
                        continue;
                if (!first)
                        first = a;
                else if (!streq_ptr(first->value, a->value))
                        return -ENOTUNIQ;
        }
        if (!first)
                return -ENOENT;

        *ret = first->value;
        return 0;
}

/* Whether an argument at position pos would be read as boot loader noise. */
static bool would_be_noise(const KCmdline *c, size_t pos, const char *key, const char *value) {
        if (!value)
                return false;
        if (streq(key, "BOOT_IMAGE"))
                return true;
        if (!streq(key, "initrd"))
                return false;

        for (size_t i = 0; i < pos; i++)
                if (!c->args[i].noise)
                        return false;
        return true; /* only noise before it: a leading initrd= */
}

/* Where the kernel section ends: the first init argument, or the end. */
static size_t kernel_end(const KCmdline *c) {
        size_t i = 0;

        while (i < c->n_args && c->args[i].section == KARG_KERNEL)
                i++;
        return i;
}

/* Inserts *a at pos; on success the strings of *a belong to c. */
static int insert_at(KCmdline *c, size_t pos, KArg *a) {
        KArg *args;

        args = realloc(c->args, (c->n_args + 1) * sizeof(KArg));
        if (!args)
                return -ENOMEM;
        c->args = args;

        memmove(args + pos + 1, args + pos, (c->n_args - pos) * sizeof(KArg));
        args[pos] = *a;
        args[pos].section = KARG_KERNEL;
        args[pos].noise = false;
        *a = (KArg) {};
        c->n_args++;
        return 0;
}

/* Removes every occurrence of the pair; value must not point into c. */
static size_t remove_pairs(KCmdline *c, const char *key, const char *value) {
        size_t j = 0, removed = 0;

        for (size_t i = 0; i < c->n_args; i++) {
                if (is_pair(c->args + i, key, value)) {
                        karg_done(c->args + i);
                        removed++;
                        continue;
                }
                c->args[j++] = c->args[i];
        }
        c->n_args = j;
        return removed;
}

static int done(KCmdline *c, bool changed, bool *ret_changed) {
        if (changed)
                kcmdline_mark_noise(c);
        if (ret_changed)
                *ret_changed = changed;
        return 0;
}

static int append_impl(KCmdline *c, const char *spec, bool if_missing, bool *ret_changed) {
        _cleanup_(karg_done) KArg a = {};
        size_t pos;
        int r;

        if (!c)
                return -EINVAL;

        r = karg_parse(spec, &a);
        if (r < 0)
                return r;
        r = karg_check_new(&a);
        if (r < 0)
                return r;

        if (count_pairs(c, a.key, a.value) > 0)
                return if_missing ? done(c, false, ret_changed) : -EEXIST;

        pos = kernel_end(c);
        if (would_be_noise(c, pos, a.key, a.value))
                return -EINVAL;
        if (pos > 0) {
                _cleanup_free_ char *t = NULL;

                r = karg_format_full(c->args + pos - 1, &t);
                if (r == -ENOMEM)
                        return r;
                if (r > 0)
                        return -EINVAL; /* its open quote would swallow the new one */
        }

        r = insert_at(c, pos, &a);
        if (r < 0)
                return r;
        return done(c, true, ret_changed);
}

int kcmdline_append(KCmdline *c, const char *spec, bool *ret_changed) {
        return append_impl(c, spec, false, ret_changed);
}

int kcmdline_append_if_missing(KCmdline *c, const char *spec, bool *ret_changed) {
        return append_impl(c, spec, true, ret_changed);
}

static int delete_impl(KCmdline *c, const char *spec, bool if_present, bool *ret_changed) {
        _cleanup_(karg_done) KArg s = {};
        _cleanup_free_ char *single = NULL;
        const char *value;
        int r;

        if (!c)
                return -EINVAL;

        r = karg_parse(spec, &s);
        if (r < 0)
                return r;
        value = s.value;

        if (!s.value && count_pairs(c, s.key, NULL) == 0) {
                /* "KEY" and no flag KEY: the one value that KEY has. */
                r = common_value(c, s.key, &value);
                if (r == -ENOENT)
                        return if_present ? done(c, false, ret_changed) : -ENOENT;
                if (r < 0)
                        return r;
                single = strdup(value); /* value is non-NULL: no flag KEY */
                if (!single)
                        return -ENOMEM;
                value = single;
        }

        if (remove_pairs(c, s.key, value) == 0)
                return if_present ? done(c, false, ret_changed) : -ENOENT;
        return done(c, true, ret_changed);
}

int kcmdline_delete(KCmdline *c, const char *spec, bool *ret_changed) {
        return delete_impl(c, spec, false, ret_changed);
}

int kcmdline_delete_if_present(KCmdline *c, const char *spec, bool *ret_changed) {
        return delete_impl(c, spec, true, ret_changed);
}

/* Reads "KEY=" + part as one argument spec. */
static int parse_part(const char *key, size_t key_len, const char *part, size_t part_len, KArg *ret) {
        _cleanup_free_ char *s = NULL;

        s = malloc(key_len + part_len + 2);
        if (!s)
                return -ENOMEM;
        memcpy(s, key, key_len);
        s[key_len] = '=';
        memcpy(s + key_len + 1, part, part_len);
        s[key_len + 1 + part_len] = '\0';

        return karg_parse(s, ret);
}

/* Splits "KEY=OLD=NEW" or "KEY=NEW"; ret_old->key stays NULL without OLD. */
static int split_replace(const char *spec, KArg *ret_old, KArg *ret_new) {
        const char *eq, *rest, *sep = NULL;
        bool quoted = false;
        int r;

        if (!spec)
                return -EINVAL;
        eq = strchr(spec, '=');
        if (!eq || eq == spec)
                return -EINVAL;
        for (const char *p = spec; p < eq; p++)
                if (*p == '"' || kcmdline_isspace(*p))
                        return -EINVAL;

        rest = eq + 1;
        for (const char *p = rest; *p && !sep; p++) {
                if (*p == '"')
                        quoted = !quoted;
                else if (*p == '=' && !quoted)
                        sep = p;
        }

        if (sep) {
                r = parse_part(spec, eq - spec, rest, sep - rest, ret_old);
                if (r < 0)
                        return r;
                rest = sep + 1;
        }
        return parse_part(spec, eq - spec, rest, strlen(rest), ret_new);
}

static bool replace_target(const KArg *a, const KArg *old, const char *key) {
        return old->key ? is_pair(a, old->key, old->value) : editable(a, key);
}

/* Gives every target the new value: all copies first, so that a failure
 * leaves c as it was. */
static int replace_values(KCmdline *c, const KArg *old, const KArg *new, bool *ret_changed) {
        _cleanup_free_ char **copies = NULL;
        size_t m = 0, k = 0;
        bool changed = false;

        for (size_t i = 0; i < c->n_args; i++)
                if (replace_target(c->args + i, old, new->key)) {
                        if (would_be_noise(c, i, c->args[i].key, new->value))
                                return -EINVAL;
                        m++;
                }
        if (m == 0)
                return -ENOENT;

        copies = calloc(m, sizeof(char *));
        if (!copies)
                return -ENOMEM;
        for (k = 0; k < m; k++) {
                copies[k] = strdup(new->value);
                if (!copies[k]) {
                        while (k > 0)
                                free(copies[--k]);
                        return -ENOMEM;
                }
        }

        k = 0;
        for (size_t i = 0; i < c->n_args; i++) {
                KArg *a = c->args + i;

                if (!replace_target(a, old, new->key))
                        continue;
                changed = changed || !streq_ptr(a->value, new->value);
                free(a->value);
                a->value = copies[k++];
        }
        return done(c, changed, ret_changed);
}

int kcmdline_replace(KCmdline *c, const char *spec, bool *ret_changed) {
        _cleanup_(karg_done) KArg old = {}, new = {};
        const char *common;
        int r;

        if (!c)
                return -EINVAL;

        r = split_replace(spec, &old, &new);
        if (r < 0)
                return r;
        r = karg_check_new(&new);
        if (r < 0)
                return r;

        if (!old.key) {
                /* "KEY=NEW": only when KEY has one value, else which one? */
                r = common_value(c, new.key, &common);
                if (r < 0)
                        return r;
        }
        return replace_values(c, &old, &new, ret_changed);
}

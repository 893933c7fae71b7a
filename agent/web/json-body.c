/* Request bodies as JSON: see json-body.h.
 *
 * json-c (strict mode: no comments, no trailing commas, no leading zeros)
 * parses and builds the value; a second walk over the same text, which
 * json-c has just accepted, follows its structure only far enough to see
 * each object's keys: every key is decoded by json-c itself (so "\u0061"
 * and "a" are the same key, as they are to json-c) and looked up in a
 * per-object set. The walk keeps the path so far, which becomes the JSON
 * pointer (RFC 6901) of a duplicate. Nesting is bounded by json-c's depth
 * limit (32), the walk refuses deeper text all the same. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"
#include "json-body.h"
#include "json-util.h"

#define WALK_MAX_DEPTH 64

typedef struct Walk {
        const char *p, *end;
        json_tokener *keys;                /* decodes one key at a time */
        char *path[WALK_MAX_DEPTH];        /* unescaped segments, owned */
        size_t depth;
        char *duplicate;                   /* the pointer found, owned */
} Walk;

static void walk_done(Walk *w) {
        for (size_t i = 0; i < w->depth; i++)
                free(w->path[i]);
        free(w->duplicate);
        if (w->keys)
                json_tokener_free(w->keys);
}

static bool is_ws(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void skip_ws(Walk *w) {
        while (w->p < w->end && is_ws(*w->p))
                w->p++;
}

/* At an opening quote (" or ', which json-c also takes): past the closing one. */
static int skip_string(Walk *w) {
        char q = *w->p++;

        while (w->p < w->end && *w->p != q)
                w->p += *w->p == '\\' ? 2 : 1;
        if (w->p >= w->end)
                return -EBADMSG;
        w->p++;
        return 0;
}

/* Appends s to b (at *n of cap bytes) as one RFC 6901 segment. */
static void pointer_append(char *b, size_t *n, const char *s) {
        b[(*n)++] = '/';
        for (; *s; s++)
                if (*s == '~' || *s == '/') {
                        b[(*n)++] = '~';
                        b[(*n)++] = *s == '~' ? '0' : '1';
                } else
                        b[(*n)++] = *s;
        b[*n] = 0;
}

char *json_pointer_of_key(const char *key) {
        char *b = malloc(2 * strlen(key) + 2);
        size_t n = 0;

        if (b)
                pointer_append(b, &n, key);
        return b;
}

static int set_duplicate(Walk *w, const char *key) {
        size_t cap = 2 * strlen(key) + 2, n = 0;
        char *b;

        for (size_t i = 0; i < w->depth; i++)
                cap += 2 * strlen(w->path[i]) + 1;
        b = malloc(cap);
        if (!b)
                return -ENOMEM;
        for (size_t i = 0; i < w->depth; i++)
                pointer_append(b, &n, w->path[i]);
        pointer_append(b, &n, key);
        w->duplicate = b;
        return -ENOTUNIQ;
}

static int push(Walk *w, char *segment) {
        if (!segment)
                return -ENOMEM;
        if (w->depth >= WALK_MAX_DEPTH) {
                free(segment);
                return -EBADMSG;
        }
        w->path[w->depth++] = segment;
        return 0;
}

static void pop(Walk *w) {
        free(w->path[--w->depth]);
}

/* The key between start and w->p, decoded as json-c decodes it. */
static int decode_key(Walk *w, const char *start, char **ret) {
        _cleanup_(json_object_putp) json_object *s = NULL;
        char *k;

        json_tokener_reset(w->keys);
        s = json_tokener_parse_ex(w->keys, start, (int) (w->p - start));
        if (!s || !json_object_is_type(s, json_type_string))
                return -EBADMSG;
        k = strdup(json_object_get_string(s));
        if (!k)
                return -ENOMEM;
        *ret = k;
        return 0;
}

static int walk_value(Walk *w);

/* One "key": value pair of an object whose keys so far are in seen. */
static int walk_member(Walk *w, json_object *seen) {
        _cleanup_free_ char *key = NULL;
        const char *start;
        int r;

        skip_ws(w);
        if (w->p >= w->end || (*w->p != '"' && *w->p != '\''))
                return -EBADMSG;
        start = w->p;
        r = skip_string(w);
        if (r >= 0)
                r = decode_key(w, start, &key);
        if (r < 0)
                return r;
        if (json_object_object_get_ex(seen, key, NULL))
                return set_duplicate(w, key);
        if (json_object_object_add(seen, key, NULL) < 0)
                return -ENOMEM;

        skip_ws(w);
        if (w->p >= w->end || *w->p != ':')
                return -EBADMSG;
        w->p++;
        r = push(w, TAKE_PTR(key));
        if (r < 0)
                return r;
        r = walk_value(w);
        pop(w);
        return r;
}

/* From '{' or '[' to past the matching '}' or ']'. */
static int walk_container(Walk *w) {
        _cleanup_(json_object_putp) json_object *seen = NULL;
        bool object = *w->p == '{';
        char close = object ? '}' : ']';
        int r;

        if (object && !(seen = json_object_new_object()))
                return -ENOMEM;
        w->p++;
        skip_ws(w);
        if (w->p < w->end && *w->p == close) {
                w->p++;
                return 0;
        }
        for (size_t i = 0;; i++) {
                if (object)
                        r = walk_member(w, seen);
                else {
                        char *index = NULL;

                        r = push(w, asprintf(&index, "%zu", i) < 0 ? NULL : index);
                        if (r < 0)
                                return r;
                        r = walk_value(w);
                        pop(w);
                }
                if (r < 0)
                        return r;
                skip_ws(w);
                if (w->p < w->end && *w->p == ',')
                        w->p++;
                else if (w->p < w->end && *w->p == close) {
                        w->p++;
                        return 0;
                } else
                        return -EBADMSG;
        }
}

static int walk_value(Walk *w) {
        const char *start;

        skip_ws(w);
        if (w->p >= w->end)
                return -EBADMSG;
        if (*w->p == '{' || *w->p == '[')
                return walk_container(w);
        if (*w->p == '"' || *w->p == '\'')
                return skip_string(w);
        start = w->p; /* a number or a literal (true, null, NaN, ...) */
        while (w->p < w->end && !is_ws(*w->p) && !strchr(",:]}", *w->p))
                w->p++;
        return w->p > start ? 0 : -EBADMSG;
}

static int parse_strict(const char *text, size_t size, json_object **ret) {
        json_object *o;
        json_tokener *tok;
        size_t end;

        if (size > INT32_MAX)
                return -EBADMSG;
        tok = json_tokener_new();
        if (!tok)
                return -ENOMEM;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        o = json_tokener_parse_ex(tok, text, (int) size);
        if (json_tokener_get_error(tok) == json_tokener_continue) {
                /* A number or literal that ends the text ("false", "12"): json-c waits for more, and
                 * the end of the text (a NUL) is what ends it. */
                o = json_tokener_parse_ex(tok, "", 1);
                end = json_tokener_get_error(tok) == json_tokener_success ? size : 0;
        } else
                end = json_tokener_get_error(tok) == json_tokener_success ? json_tokener_get_parse_end(tok) : 0;
        json_tokener_free(tok);
        if (end == 0) {
                json_object_put(o);
                return -EBADMSG;
        }
        for (size_t i = end; i < size; i++)
                if (!is_ws(text[i])) {
                        json_object_put(o);
                        return -EBADMSG;
                }
        *ret = o; /* NULL for the text "null" */
        return 0;
}

int json_body_parse(const char *text, size_t size, json_object **ret, char **ret_pointer) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        _cleanup_(walk_done) Walk w = { .p = text, .end = text + size };
        int r;

        r = parse_strict(text, size, &o);
        if (r < 0)
                return r;
        w.keys = json_tokener_new();
        if (!w.keys)
                return -ENOMEM;
        json_tokener_set_flags(w.keys, JSON_TOKENER_STRICT);
        r = walk_value(&w);
        if (r == -ENOTUNIQ && ret_pointer)
                *ret_pointer = TAKE_PTR(w.duplicate);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}

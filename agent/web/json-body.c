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
#include <stdint.h>
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

/* The length of the UTF-8 sequence at p (RFC 3629: no overlong forms, no
 * surrogates, nothing beyond U+10FFFF), 0 when there is none. */
static size_t utf8_length(const unsigned char *p, const unsigned char *end) {
        size_t n = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3 : (*p & 0xf8) == 0xf0 ? 4 : 0;
        uint32_t c;

        if (n == 0 || (size_t) (end - p) < n)
                return 0;
        c = n == 1 ? *p : *p & (0x7f >> n);
        for (size_t i = 1; i < n; i++) {
                if ((p[i] & 0xc0) != 0x80)
                        return 0;
                c = c << 6 | (p[i] & 0x3f);
        }
        if ((n == 2 && c < 0x80) || (n == 3 && c < 0x800) || (n == 4 && c < 0x10000) || c > 0x10ffff ||
            (c >= 0xd800 && c <= 0xdfff))
                return 0;
        return n;
}

/* At an opening quote (" or ', which json-c also takes): past the closing
 * one. What json-c takes beyond JSON is refused: a raw control character,
 * bytes that are not UTF-8; and \u0000, which C code would read as the
 * string's end. */
static int skip_string(Walk *w) {
        char q = *w->p++;

        while (w->p < w->end && *w->p != q) {
                size_t n;

                if (*w->p == '\\') {
                        if (w->end - w->p >= 6 && memcmp(w->p, "\\u0000", 6) == 0)
                                return -EBADMSG;
                        w->p += 2;
                        continue;
                }
                if ((unsigned char) *w->p < 0x20)
                        return -EBADMSG;
                n = utf8_length((const unsigned char *) w->p, (const unsigned char *) w->end);
                if (n == 0)
                        return -EBADMSG;
                w->p += n;
        }
        if (w->p >= w->end)
                return -EBADMSG;
        w->p++;
        return 0;
}

/* A JSON number (RFC 8259: -? int frac? exp?) or literal, exactly [p, end):
 * json-c also takes NaN, Infinity and "1.". */
static bool scalar_ok(const char *p, const char *end) {
        size_t l = (size_t) (end - p), d;

        if ((l == 4 && memcmp(p, "true", 4) == 0) || (l == 5 && memcmp(p, "false", 5) == 0) ||
            (l == 4 && memcmp(p, "null", 4) == 0))
                return true;
        if (p < end && *p == '-')
                p++;
        d = strspn(p, "0123456789");
        if (d == 0 || p + d > end || (d > 1 && *p == '0'))
                return false;
        p += d;
        if (p < end && *p == '.') {
                d = strspn(++p, "0123456789");
                if (d == 0 || p + d > end)
                        return false;
                p += d;
        }
        if (p < end && (*p == 'e' || *p == 'E')) {
                p++;
                if (p < end && (*p == '+' || *p == '-'))
                        p++;
                d = strspn(p, "0123456789");
                if (d == 0 || p + d > end)
                        return false;
                p += d;
        }
        return p == end;
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

/* Remembers the first repeated key; the walk goes on, so that text that is
 * not JSON further on is refused as such, not as a duplicate. */
static int note_duplicate(Walk *w, const char *key) {
        size_t cap = 2 * strlen(key) + 2, n = 0;
        char *b;

        if (w->duplicate)
                return 0;
        for (size_t i = 0; i < w->depth; i++)
                cap += 2 * strlen(w->path[i]) + 1;
        b = malloc(cap);
        if (!b)
                return -ENOMEM;
        for (size_t i = 0; i < w->depth; i++)
                pointer_append(b, &n, w->path[i]);
        pointer_append(b, &n, key);
        w->duplicate = b;
        return 0;
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
                r = note_duplicate(w, key);
        else
                r = json_object_object_add(seen, key, NULL) < 0 ? -ENOMEM : 0;
        if (r < 0)
                return r;

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
        return w->p > start && scalar_ok(start, w->p) ? 0 : -EBADMSG;
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
        if (r >= 0 && w.duplicate) {
                if (ret_pointer)
                        *ret_pointer = TAKE_PTR(w.duplicate);
                return -ENOTUNIQ;
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}

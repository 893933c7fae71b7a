/* libFuzzer target for the strict JSON body parser (web/json-body.c): it
 * accepts exactly one value of RFC 8259 JSON with only white space around
 * it (checked by a grammar written out here: numbers, literals, strings of
 * UTF-8 without raw control characters, and no \u0000) that json-c
 * (strict, 32 levels deep at most) takes too, unless an object has a key
 * twice; then the JSON pointer it gives is that of the first repeated key
 * in the text, found here by a walk of its own (keys decoded by json-c,
 * pointers escaped as RFC 6901 says). What it accepts is json-c's value and
 * survives printing and parsing again. */

#include <ctype.h>

#include "basic/macro.h"
#include "fuzz.h"
#include "web/json-body.h"
#include "web/json-util.h"

static bool is_ws(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* ---- RFC 8259, written out ---- */

typedef struct Text {
        const unsigned char *p, *end;
        char *path[4096];  /* the segments down to the value being read */
        size_t depth;
        char *duplicate;   /* the pointer of the first repeated key */
} Text;

/* A key's text, decoded as json-c decodes it. */
static char *decode_key(const unsigned char *start, const unsigned char *end) {
        json_tokener *tok = json_tokener_new();
        json_object *o;
        char *k;

        FUZZ_OOM(tok);
        o = json_tokener_parse_ex(tok, (const char *) start, (int) (end - start));
        FUZZ_ASSERT(o && json_object_is_type(o, json_type_string)); /* string() took it */
        k = fuzz_memdup(json_object_get_string(o), (size_t) json_object_get_string_len(o));
        json_object_put(o);
        json_tokener_free(tok);
        return k;
}

static void pointer_add(char **p, const char *segment) {
        size_t n = strlen(*p);

        *p = realloc(*p, n + 2 * strlen(segment) + 2);
        FUZZ_OOM(*p);
        (*p)[n++] = '/';
        for (const char *c = segment; *c; c++) {
                if (*c == '~' || *c == '/') {
                        (*p)[n++] = '~';
                        (*p)[n++] = *c == '~' ? '0' : '1';
                } else
                        (*p)[n++] = *c;
        }
        (*p)[n] = 0;
}

static void note_key(Text *t, char **keys, size_t n_keys, const char *key) {
        if (t->duplicate)
                return;
        for (size_t i = 0; i < n_keys; i++)
                if (streq(keys[i], key)) {
                        t->duplicate = fuzz_memdup("", 0);
                        for (size_t d = 0; d < t->depth; d++)
                                pointer_add(&t->duplicate, t->path[d]);
                        pointer_add(&t->duplicate, key);
                        return;
                }
}

static void skip_ws(Text *t) {
        while (t->p < t->end && is_ws((char) *t->p))
                t->p++;
}

static bool take(Text *t, const char *word) {
        size_t l = strlen(word);

        if ((size_t) (t->end - t->p) < l || memcmp(t->p, word, l) != 0)
                return false;
        t->p += l;
        return true;
}

static bool digits(Text *t) {
        const unsigned char *s = t->p;

        while (t->p < t->end && *t->p >= '0' && *t->p <= '9')
                t->p++;
        return t->p > s;
}

static bool number(Text *t) {
        if (t->p < t->end && *t->p == '-')
                t->p++;
        if (t->p < t->end && *t->p == '0')
                t->p++;
        else if (!digits(t))
                return false;
        if (t->p < t->end && *t->p == '.' && (t->p++, !digits(t)))
                return false;
        if (t->p < t->end && (*t->p == 'e' || *t->p == 'E')) {
                t->p++;
                if (t->p < t->end && (*t->p == '+' || *t->p == '-'))
                        t->p++;
                return digits(t);
        }
        return true;
}

/* One UTF-8 character, by RFC 3629's table of well-formed sequences. */
static bool utf8_char(Text *t) {
        static const struct { unsigned char lo, hi, n, lo2, hi2; } rows[] = {
                { 0x00, 0x7f, 1, 0, 0 },       { 0xc2, 0xdf, 2, 0x80, 0xbf }, { 0xe0, 0xe0, 3, 0xa0, 0xbf },
                { 0xe1, 0xec, 3, 0x80, 0xbf }, { 0xed, 0xed, 3, 0x80, 0x9f }, { 0xee, 0xef, 3, 0x80, 0xbf },
                { 0xf0, 0xf0, 4, 0x90, 0xbf }, { 0xf1, 0xf3, 4, 0x80, 0xbf }, { 0xf4, 0xf4, 4, 0x80, 0x8f },
        };
        unsigned char c = *t->p;

        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                if (c < rows[i].lo || c > rows[i].hi)
                        continue;
                if ((size_t) (t->end - t->p) < rows[i].n)
                        return false;
                if (rows[i].n > 1 && (t->p[1] < rows[i].lo2 || t->p[1] > rows[i].hi2))
                        return false;
                for (size_t k = 2; k < rows[i].n; k++)
                        if (t->p[k] < 0x80 || t->p[k] > 0xbf)
                                return false;
                t->p += rows[i].n;
                return true;
        }
        return false;
}

static bool string(Text *t) {
        if (!take(t, "\""))
                return false;
        while (t->p < t->end && *t->p != '"') {
                if (*t->p < 0x20)
                        return false;
                if (*t->p == '\\') {
                        t->p++;
                        if (t->p >= t->end)
                                return false;
                        if (*t->p == 'u') {
                                if (t->end - t->p < 5)
                                        return false;
                                for (int i = 1; i <= 4; i++)
                                        if (!isxdigit(t->p[i]))
                                                return false;
                                if (memcmp(t->p, "u0000", 5) == 0)
                                        return false; /* hostdevd's rule: no NUL in a string */
                                t->p += 5;
                        } else if (strchr("\"\\/bfnrt", *t->p) && *t->p)
                                t->p++;
                        else
                                return false;
                } else if (!utf8_char(t))
                        return false;
        }
        return take(t, "\"");
}

static bool value(Text *t);

static bool members(Text *t, bool object) {
        char **keys = NULL;
        size_t n = 0;
        bool ok = false;

        skip_ws(t);
        if (take(t, object ? "}" : "]"))
                return true;
        FUZZ_ASSERT(t->depth < ELEMENTSOF(t->path)); /* one level takes at least one byte */
        for (;;) {
                char *segment = NULL;

                if (object) {
                        const unsigned char *start;

                        skip_ws(t);
                        start = t->p;
                        if (!string(t))
                                break;
                        segment = decode_key(start, t->p);
                        note_key(t, keys, n, segment);
                        keys = realloc(keys, (n + 1) * sizeof(char *));
                        FUZZ_OOM(keys);
                        keys[n++] = fuzz_memdup(segment, strlen(segment));
                        skip_ws(t);
                        if (!take(t, ":")) {
                                free(segment);
                                break;
                        }
                } else
                        FUZZ_OOM(asprintf(&segment, "%zu", n++) >= 0);
                t->path[t->depth++] = segment;
                ok = value(t);
                free(t->path[--t->depth]);
                if (!ok)
                        break;
                ok = false;
                skip_ws(t);
                if (take(t, object ? "}" : "]")) {
                        ok = true;
                        break;
                }
                if (!take(t, ","))
                        break;
        }
        for (size_t i = 0; object && i < n; i++)
                free(keys[i]);
        free(keys);
        return ok;
}

static bool value(Text *t) {
        skip_ws(t);
        if (t->p >= t->end)
                return false;
        switch (*t->p) {
        case '{':
        case '[':
                t->p++;
                return members(t, t->p[-1] == '{');
        case '"':
                return string(t);
        default:
                return take(t, "true") || take(t, "false") || take(t, "null") || number(t);
        }
}

/* Whether the text is one JSON value; *ret_duplicate the pointer of its
 * first repeated key, or NULL. */
static bool rfc8259(const char *text, size_t size, char **ret_duplicate) {
        static Text t;
        bool ok;

        t = (Text) { .p = (const unsigned char *) text, .end = (const unsigned char *) text + size };
        ok = value(&t);
        skip_ws(&t);
        ok = ok && t.p == t.end;
        *ret_duplicate = ok ? t.duplicate : NULL;
        if (!ok)
                free(t.duplicate);
        return ok;
}

/* json-c alone, strict, reading the text as a whole document: nothing but
 * white space after the value. */
static bool json_c_takes(const char *text, size_t size, json_object **ret) {
        json_tokener *tok = json_tokener_new();
        json_object *o;
        size_t end;

        FUZZ_OOM(tok);
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        o = json_tokener_parse_ex(tok, text, (int) size);
        if (json_tokener_get_error(tok) == json_tokener_continue) { /* the end of the text ends a number or literal */
                o = json_tokener_parse_ex(tok, "", 1);
                end = json_tokener_get_error(tok) == json_tokener_success ? size : 0;
        } else
                end = json_tokener_get_error(tok) == json_tokener_success ? json_tokener_get_parse_end(tok) : 0;
        json_tokener_free(tok);
        for (size_t i = end; end > 0 && i < size; i++)
                if (!is_ws(text[i]))
                        end = 0;
        if (end == 0) {
                json_object_put(o);
                return false;
        }
        *ret = o;
        return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(json_object_putp) json_object *o = NULL, *c = NULL, *again = NULL;
        _cleanup_free_ char *pointer = NULL, *duplicate = NULL, *text = NULL;
        bool takes;
        int r;

        if (size > 64 * 1024)
                return 0;
        text = fuzz_memdup(data, size); /* the body as the server keeps it */
        r = json_body_parse(text, size, &o, &pointer);
        takes = json_c_takes(text, size, &c) && rfc8259(text, size, &duplicate);

        if (r == -EBADMSG) {
                FUZZ_ASSERT(!takes);
                return 0;
        }
        FUZZ_ASSERT(takes);
        if (r == -ENOTUNIQ) {
                FUZZ_ASSERT(pointer && duplicate && streq(pointer, duplicate));
                return 0;
        }
        FUZZ_ASSERT(r == 0 && !duplicate);
        FUZZ_ASSERT(json_object_equal(o, c));
        if (o) {
                const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
                _cleanup_free_ char *p2 = NULL;

                FUZZ_ASSERT(s);
                FUZZ_ASSERT(json_body_parse(s, strlen(s), &again, &p2) == 0 && json_object_equal(o, again));
        }
        return 0;
}

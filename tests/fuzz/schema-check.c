/* The OpenAPI document as an oracle: see schema-check.h. */

#include <regex.h>
#include <stdio.h>
#include <string.h>

#include "basic/macro.h"
#include "fuzz.h"
#include "schema-check.h"

extern const char hostdevd_openapi_start[];

static json_object *document(void) {
        static json_object *doc;

        if (!doc) {
                doc = json_tokener_parse(hostdevd_openapi_start);
                FUZZ_ASSERT(doc);
        }
        return doc;
}

json_object *schema_get(const char *ref) {
        json_object *o = document();

        if (strncmp(ref, "#/", 2) != 0)
                return NULL;
        for (const char *p = ref + 2; o && *p;) {
                size_t l = strcspn(p, "/");
                _cleanup_free_ char *seg = fuzz_memdup(p, l);

                if (!json_object_object_get_ex(o, seg, &o))
                        o = NULL;
                p += l + (p[l] == '/');
        }
        return o;
}

typedef struct Check {
        char *why;
        size_t size;
        char path[256];
} Check;

static bool fail(Check *c, const char *what) {
        if (c->why && c->size)
                snprintf(c->why, c->size, "%s at '%s'", what, c->path);
        return false;
}

static bool valid(Check *c, json_object *s, json_object *v);

static bool type_is(json_object *v, const char *t) {
        json_type vt = json_object_get_type(v);

        if (streq(t, "null"))
                return vt == json_type_null;
        if (streq(t, "boolean"))
                return vt == json_type_boolean;
        if (streq(t, "integer"))
                return vt == json_type_int;
        if (streq(t, "number"))
                return vt == json_type_int || vt == json_type_double;
        if (streq(t, "string"))
                return vt == json_type_string;
        if (streq(t, "array"))
                return vt == json_type_array;
        if (streq(t, "object"))
                return vt == json_type_object;
        return false;
}

static bool type_ok(json_object *type, json_object *v) {
        if (json_object_is_type(type, json_type_string))
                return type_is(v, json_object_get_string(type));
        for (size_t i = 0; i < json_object_array_length(type); i++)
                if (type_is(v, json_object_get_string(json_object_array_get_idx(type, i))))
                        return true;
        return false;
}

/* Code points of UTF-8 text (bytes that do not start one are not counted). */
static size_t code_points(const char *s, size_t n) {
        size_t k = 0;

        for (size_t i = 0; i < n; i++)
                k += ((unsigned char) s[i] & 0xc0) != 0x80;
        return k;
}

/* The document's patterns, compiled once each (the pattern strings are the
 * document's own, which lives as long as the process). */
static const regex_t *compiled(const char *pattern) {
        static struct {
                const char *pattern;
                regex_t re;
                bool ok;
        } cache[32];
        static size_t n;

        for (size_t i = 0; i < n; i++)
                if (cache[i].pattern == pattern)
                        return cache[i].ok ? &cache[i].re : NULL;
        FUZZ_ASSERT(n < ELEMENTSOF(cache));
        cache[n].pattern = pattern;
        cache[n].ok = regcomp(&cache[n].re, pattern, REG_EXTENDED | REG_NOSUB) == 0;
        return cache[n].ok ? &cache[n++].re : (n++, NULL);
}

static bool pattern_ok(const char *pattern, json_object *v) {
        const char *s = json_object_get_string(v);
        const regex_t *re = compiled(pattern);
        bool ok;

        if (!re)
                return true; /* not one POSIX reads: not checked */
        ok = regexec(re, s, 0, NULL, 0) == 0;
        /* A NUL inside: the C string is a prefix of the value, which an anchored pattern cannot match. */
        if ((size_t) json_object_get_string_len(v) != strlen(s) && pattern[strlen(pattern) - 1] == '$')
                ok = false;
        return ok;
}

static bool number_in(json_object *s, json_object *v) {
        json_object *m;
        double x = json_object_get_double(v);

        if (json_object_object_get_ex(s, "minimum", &m) && x < json_object_get_double(m))
                return false;
        if (json_object_object_get_ex(s, "maximum", &m) && x > json_object_get_double(m))
                return false;
        return true;
}

static bool string_ok(Check *c, json_object *s, json_object *v) {
        json_object *m;
        size_t n = code_points(json_object_get_string(v), (size_t) json_object_get_string_len(v));

        if (json_object_object_get_ex(s, "minLength", &m) && n < (size_t) json_object_get_int64(m))
                return fail(c, "shorter than minLength");
        if (json_object_object_get_ex(s, "maxLength", &m) && n > (size_t) json_object_get_int64(m))
                return fail(c, "longer than maxLength");
        if (json_object_object_get_ex(s, "pattern", &m) && !pattern_ok(json_object_get_string(m), v))
                return fail(c, "does not match the pattern");
        return true;
}

static bool at(Check *c, json_object *s, json_object *v, const char *segment) {
        size_t l = strlen(c->path);
        bool ok;

        snprintf(c->path + l, sizeof c->path - l, "/%s", segment);
        ok = valid(c, s, v);
        c->path[l] = 0;
        return ok;
}

static bool array_ok(Check *c, json_object *s, json_object *v) {
        size_t n = json_object_array_length(v);
        json_object *m;

        if (json_object_object_get_ex(s, "minItems", &m) && n < (size_t) json_object_get_int64(m))
                return fail(c, "fewer items than minItems");
        if (json_object_object_get_ex(s, "maxItems", &m) && n > (size_t) json_object_get_int64(m))
                return fail(c, "more items than maxItems");
        if (json_object_object_get_ex(s, "items", &m))
                for (size_t i = 0; i < n; i++) {
                        char seg[24];

                        snprintf(seg, sizeof seg, "%zu", i);
                        if (!at(c, m, json_object_array_get_idx(v, i), seg))
                                return false;
                }
        return true;
}

static bool object_ok(Check *c, json_object *s, json_object *v) {
        json_object *props = NULL, *add = NULL, *req, *m;

        json_object_object_get_ex(s, "properties", &props);
        json_object_object_get_ex(s, "additionalProperties", &add);
        if (json_object_object_get_ex(s, "required", &req))
                for (size_t i = 0; i < json_object_array_length(req); i++)
                        if (!json_object_object_get_ex(v, json_object_get_string(json_object_array_get_idx(req, i)), NULL))
                                return fail(c, "a required member is missing");
        if (json_object_object_get_ex(s, "maxProperties", &m) && json_object_object_length(v) > json_object_get_int(m))
                return fail(c, "more members than maxProperties");
        if (json_object_object_get_ex(s, "minProperties", &m) && json_object_object_length(v) < json_object_get_int(m))
                return fail(c, "fewer members than minProperties");
        json_object_object_foreach(v, key, value) {
                json_object *ps;

                if (props && json_object_object_get_ex(props, key, &ps)) {
                        if (!at(c, ps, value, key))
                                return false;
                } else if (add && json_object_is_type(add, json_type_boolean) && !json_object_get_boolean(add))
                        return fail(c, "a member the schema does not allow");
                else if (add && json_object_is_type(add, json_type_object) && !at(c, add, value, key))
                        return false;
        }
        return true;
}

static size_t count_valid(Check *c, json_object *list, json_object *v) {
        size_t n = 0;

        for (size_t i = 0; i < json_object_array_length(list); i++) {
                Check quiet = { .path = "" };

                n += valid(&quiet, json_object_array_get_idx(list, i), v);
        }
        return n;
}

static bool valid(Check *c, json_object *s, json_object *v) {
        json_object *m, *t;

        if (json_object_object_get_ex(s, "$ref", &m)) {
                json_object *target = schema_get(json_object_get_string(m));

                FUZZ_ASSERT(target);
                if (!valid(c, target, v))
                        return false;
        }
        if (json_object_object_get_ex(s, "type", &m) && !type_ok(m, v))
                return fail(c, "of another type");
        if (json_object_object_get_ex(s, "const", &m) && !json_object_equal(m, v))
                return fail(c, "not the constant");
        if (json_object_object_get_ex(s, "enum", &m)) {
                bool found = false;

                for (size_t i = 0; i < json_object_array_length(m) && !found; i++)
                        found = json_object_equal(json_object_array_get_idx(m, i), v);
                if (!found)
                        return fail(c, "not one of the enum");
        }
        if (json_object_is_type(v, json_type_string) && !string_ok(c, s, v))
                return false;
        if ((json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)) && !number_in(s, v))
                return fail(c, "out of range");
        if (json_object_is_type(v, json_type_array) && !array_ok(c, s, v))
                return false;
        if (json_object_is_type(v, json_type_object) && !object_ok(c, s, v))
                return false;
        if (json_object_object_get_ex(s, "allOf", &m) && count_valid(c, m, v) != json_object_array_length(m))
                return fail(c, "not valid against allOf");
        if (json_object_object_get_ex(s, "anyOf", &m) && count_valid(c, m, v) == 0)
                return fail(c, "not valid against anyOf");
        if (json_object_object_get_ex(s, "oneOf", &m) && count_valid(c, m, v) != 1)
                return fail(c, "not valid against exactly one of oneOf");
        if (json_object_object_get_ex(s, "if", &m)) {
                Check quiet = { .path = "" };

                if (valid(&quiet, m, v) ? json_object_object_get_ex(s, "then", &t) : json_object_object_get_ex(s, "else", &t))
                        return valid(c, t, v);
        }
        return true;
}

bool schema_valid(json_object *schema, json_object *v, char *why, size_t why_size) {
        Check c = { .why = why, .size = why_size, .path = "" };

        return valid(&c, schema, v);
}

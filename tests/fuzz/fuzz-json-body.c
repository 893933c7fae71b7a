/* libFuzzer target for the strict JSON body parser (web/json-body.c): it
 * accepts exactly what json-c (strict) accepts as one value with only white
 * space around it, unless an object has a key twice; then the JSON pointer
 * it gives names that key in that object. What it accepts is json-c's value
 * and survives printing and parsing again. */

#include "basic/macro.h"
#include "fuzz.h"
#include "web/json-body.h"
#include "web/json-util.h"

static bool is_ws(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r';
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

/* Follows an RFC 6901 pointer to the object holding its last segment. */
static json_object *parent_of(json_object *root, const char *pointer, char **ret_last) {
        json_object *o = root;

        FUZZ_ASSERT(pointer[0] == '/');
        for (const char *p = pointer + 1;;) {
                size_t l = strcspn(p, "/");
                char *seg = fuzz_memdup(p, l), *w = seg;

                for (const char *q = seg; *q; q++) { /* ~1 is '/', ~0 is '~' */
                        if (q[0] == '~' && (q[1] == '0' || q[1] == '1')) {
                                *w++ = q[1] == '0' ? '~' : '/';
                                q++;
                        } else
                                *w++ = *q;
                }
                *w = 0;
                if (!p[l]) {
                        *ret_last = seg;
                        return o;
                }
                if (json_object_is_type(o, json_type_array)) {
                        char *end;
                        unsigned long i = strtoul(seg, &end, 10);

                        FUZZ_ASSERT(*seg && !*end && i < json_object_array_length(o));
                        o = json_object_array_get_idx(o, i);
                } else
                        FUZZ_ASSERT(json_object_object_get_ex(o, seg, &o));
                free(seg);
                p += l + 1;
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(json_object_putp) json_object *o = NULL, *c = NULL, *again = NULL;
        _cleanup_free_ char *pointer = NULL, *last = NULL, *text = NULL;
        bool takes;
        int r;

        if (size > 64 * 1024)
                return 0;
        text = fuzz_memdup(data, size); /* the body as the server keeps it */
        r = json_body_parse(text, size, &o, &pointer);
        takes = json_c_takes(text, size, &c);

        if (r == -EBADMSG) {
                FUZZ_ASSERT(!takes);
                return 0;
        }
        FUZZ_ASSERT(takes);
        if (r == -ENOTUNIQ) {
                json_object *parent;

                FUZZ_ASSERT(pointer);
                parent = parent_of(c, pointer, &last);
                FUZZ_ASSERT(json_object_is_type(parent, json_type_object));
                FUZZ_ASSERT(json_object_object_get_ex(parent, last, NULL));
                return 0;
        }
        FUZZ_ASSERT(r == 0);
        FUZZ_ASSERT(json_object_equal(o, c));
        if (o) {
                const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
                _cleanup_free_ char *p2 = NULL;

                FUZZ_ASSERT(s);
                FUZZ_ASSERT(json_body_parse(s, strlen(s), &again, &p2) == 0 && json_object_equal(o, again));
        }
        return 0;
}

/* The streaming JSON writer: compact and indented output, escaping, invalid
 * UTF-8, empty containers, sticky errors; and what it writes parses back
 * with json-c to the values written. */
#include <errno.h>
#include <json-c/json.h>

#include "basic/macro.h"
#include "tap.h"
#include "web/json-writer.h"

static char *finish(JsonWriter *w) {
        char *s = NULL;
        size_t n;

        if (json_writer_finish(w, &s, &n) < 0)
                return NULL;
        ok(strlen(s) == n, "size is the string's length (%zu)", n);
        return s;
}

static void sample(JsonWriter *w) {
        jw_object_begin(w);
        jw_kint(w, "n", -42);
        jw_kstring(w, "s", "a\"b\\c\n\t\x01/é");
        jw_kstring(w, "null", NULL);
        jw_key(w, "list");
        jw_array_begin(w);
        jw_bool(w, true);
        jw_hex(w, 0x30000, 6);
        jw_int(w, INT64_MIN);
        jw_array_end(w);
        jw_key(w, "empty");
        jw_array_begin(w);
        jw_array_end(w);
        jw_key(w, "obj");
        jw_object_begin(w);
        jw_object_end(w);
        jw_object_end(w);
}

int main(void) {
        JsonWriter w;
        char *s;

        json_writer_init(&w, false, 0);
        sample(&w);
        s = finish(&w);
        is_str(s, "{\"n\":-42,\"s\":\"a\\\"b\\\\c\\n\\t\\u0001/é\",\"null\":null,"
                  "\"list\":[true,\"030000\",-9223372036854775808],\"empty\":[],\"obj\":{}}\n",
               "compact");
        {
                json_object *o = json_tokener_parse(s);
                json_object *v;

                ok(o != NULL, "compact output parses");
                ok(json_object_object_get_ex(o, "s", &v) && streq(json_object_get_string(v), "a\"b\\c\n\t\x01/é"),
                   "the string round-trips");
                json_object_put(o);
        }
        free(s);

        json_writer_init(&w, true, 16);
        sample(&w);
        s = finish(&w);
        is_str(s,
               "{\n"
               "  \"n\": -42,\n"
               "  \"s\": \"a\\\"b\\\\c\\n\\t\\u0001/é\",\n"
               "  \"null\": null,\n"
               "  \"list\": [\n"
               "    true,\n"
               "    \"030000\",\n"
               "    -9223372036854775808\n"
               "  ],\n"
               "  \"empty\": [],\n"
               "  \"obj\": {}\n"
               "}\n",
               "indented");
        free(s);

        /* Invalid UTF-8 (a lone continuation byte, an overlong form, a
         * surrogate, a truncated sequence) becomes U+FFFD; valid 4-byte stays. */
        json_writer_init(&w, false, 0);
        jw_string(&w, "x\x80y\xc0\xafz\xed\xa0\x80w\xf0\x9f\x98\x80v\xe2\x82");
        s = finish(&w);
        is_str(s, "\"x\xef\xbf\xbdy\xef\xbf\xbd\xef\xbf\xbdz\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdw\xf0\x9f\x98\x80v"
                  "\xef\xbf\xbd\xef\xbf\xbd\"\n",
               "invalid UTF-8 replaced");
        free(s);

        /* Unbalanced or too deep: an error, and nothing handed over. */
        json_writer_init(&w, false, 0);
        jw_object_begin(&w);
        ok(json_writer_finish(&w, &s, &(size_t) { 0 }) == -ENOMEM, "an unclosed object is refused");
        json_writer_init(&w, false, 0);
        for (int i = 0; i < JSON_WRITER_MAX_DEPTH + 1; i++)
                jw_array_begin(&w);
        for (int i = 0; i < JSON_WRITER_MAX_DEPTH + 1; i++)
                jw_array_end(&w);
        ok(json_writer_finish(&w, &s, &(size_t) { 0 }) == -ENOMEM, "nesting beyond the limit is refused");
        json_writer_init(&w, false, 0);
        jw_hex(&w, 1, 9);
        ok(json_writer_finish(&w, &s, &(size_t) { 0 }) == -ENOMEM, "a hex width beyond 8 is refused");

        /* A long document grows the buffer and stays exact. */
        json_writer_init(&w, false, 0);
        jw_array_begin(&w);
        for (int i = 0; i < 100000; i++)
                jw_int(&w, i);
        jw_array_end(&w);
        s = finish(&w);
        {
                json_object *o = json_tokener_parse(s);
                ok(o && json_object_array_length(o) == 100000 &&
                           json_object_get_int(json_object_array_get_idx(o, 99999)) == 99999,
                   "100,000 values parse back");
                json_object_put(o);
        }
        free(s);
        return tap_done();
}

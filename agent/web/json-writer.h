/* A streaming JSON writer: values are appended to one growing buffer as they
 * are written, compact or indented for people, with no tree in between. The
 * large bodies (every device, every group) are written this way, so that a
 * rendering costs one buffer and no allocation per value.
 *
 * Errors are sticky: after an allocation fails every call is a no-op and
 * json_writer_finish() returns -ENOMEM, so callers write without checking. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_WRITER_MAX_DEPTH 32

typedef struct JsonWriter {
        char *buf;
        size_t len, cap;
        bool pretty;
        bool failed;
        unsigned depth;
        bool has_member[JSON_WRITER_MAX_DEPTH]; /* a value was written at this depth: the next needs a comma */
        bool after_key;                          /* the next value follows "key": */
} JsonWriter;

/* size_hint: the bytes expected (the last rendering's size), 0 if unknown. */
void json_writer_init(JsonWriter *w, bool pretty, size_t size_hint);
void json_writer_done(JsonWriter *w);
/* Ends the document with a newline and hands over the buffer (NUL-terminated;
 * *ret_size excludes the NUL). -ENOMEM if anything failed. */
int json_writer_finish(JsonWriter *w, char **ret, size_t *ret_size);

void jw_object_begin(JsonWriter *w);
void jw_object_end(JsonWriter *w);
void jw_array_begin(JsonWriter *w);
void jw_array_end(JsonWriter *w);
/* The key of the next member of the object being written. */
void jw_key(JsonWriter *w, const char *key);

/* Values; a NULL string is JSON null. Invalid UTF-8 becomes U+FFFD: sysfs
 * and mount tables are bytes, a JSON text is not. */
void jw_string(JsonWriter *w, const char *s);
void jw_int(JsonWriter *w, int64_t v);
void jw_bool(JsonWriter *w, bool v);
void jw_null(JsonWriter *w);
/* Lower-case hex of width digits as a string: "8086", "030000". */
void jw_hex(JsonWriter *w, uint32_t v, int width);
/* An array of strings from a NULL-terminated list (empty for NULL). */
void jw_strv(JsonWriter *w, char *const *l);

/* "key": value in one call. */
static inline void jw_kstring(JsonWriter *w, const char *key, const char *s) {
        jw_key(w, key);
        jw_string(w, s);
}

static inline void jw_kint(JsonWriter *w, const char *key, int64_t v) {
        jw_key(w, key);
        jw_int(w, v);
}

static inline void jw_kbool(JsonWriter *w, const char *key, bool v) {
        jw_key(w, key);
        jw_bool(w, v);
}

/* An int, or null when negative (unknown). */
static inline void jw_int_or_null(JsonWriter *w, int64_t v) {
        if (v < 0)
                jw_null(w);
        else
                jw_int(w, v);
}

static inline void jw_kint_or_null(JsonWriter *w, const char *key, int64_t v) {
        jw_key(w, key);
        jw_int_or_null(w, v);
}

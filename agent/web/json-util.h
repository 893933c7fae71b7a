/* json-c conveniences. Ownership: json_object_object_add() and
 * json_object_array_add() take the reference they are given (a NULL value
 * becomes JSON null); json_object_object_get_ex() borrows. */
#pragma once

#include <stdint.h>

#include <json-c/json.h>

static inline void json_object_putp(json_object **o) {
        if (*o)
                json_object_put(*o);
}

/* A string or JSON null when s is NULL. */
static inline json_object *json_string_or_null(const char *s) {
        return s ? json_object_new_string(s) : NULL;
}

static inline void json_add(json_object *o, const char *key, json_object *value) {
        json_object_object_add(o, key, value);
}

static inline void json_add_str(json_object *o, const char *key, const char *s) {
        json_object_object_add(o, key, json_string_or_null(s));
}

static inline void json_add_int(json_object *o, const char *key, int64_t v) {
        json_object_object_add(o, key, json_object_new_int64(v));
}

static inline void json_add_bool(json_object *o, const char *key, int v) {
        json_object_object_add(o, key, json_object_new_boolean(v));
}

/* An array of strings from a NULL-terminated list (empty array for NULL). */
json_object *json_strv(char *const *l);

/* Lower-case hex of width digits: "8086", "030000". */
json_object *json_hex(uint32_t v, int width);

/* An RFC 3339 UTC timestamp ("2026-11-23T22:01:02Z") of a CLOCK_REALTIME
 * time in microseconds; JSON null for 0 (never set). */
json_object *json_timestamp(uint64_t usec);

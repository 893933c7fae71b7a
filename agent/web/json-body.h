/* Request bodies as JSON: one strict parse for every route, refusing what
 * json-c would quietly accept — text after the value, an object naming the
 * same key twice (json-c keeps the last one, so `{"enabled": true,
 * "enabled": false}` would mean whatever came last), and what is not JSON
 * (NaN, control characters, bytes that are not UTF-8, which would go back
 * out in replies and the event stream). */
#pragma once

#include <stddef.h>

#include <json-c/json.h>

/* Parses size bytes of text (need not be NUL-terminated). Returns 0 and the
 * value; -EBADMSG when it is not one JSON value as RFC 8259 has it
 * (whitespace around it allowed; json-c's NaN, Infinity, "1.", raw control
 * characters and non-UTF-8 bytes in strings are refused) or a string holds
 * \u0000; -ENOTUNIQ when an object, at any depth, has a key twice, with
 * the JSON pointer of the second one in *ret_pointer; -ENOMEM. */
int json_body_parse(const char *text, size_t size, json_object **ret, char **ret_pointer);

/* The JSON pointer (RFC 6901) of a member of the top-level object: "/" and
 * the key with '~' written "~0" and '/' "~1". NULL when out of memory. */
char *json_pointer_of_key(const char *key);

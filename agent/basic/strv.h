/* NULL-terminated string arrays (systemd's strv), enough for lists of
 * addresses, reset methods and reasons. */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/* Iterates s over the strings of l (NULL: none). */
#define STRV_FOREACH(s, l) for (char **s = (l); s && *s; s++)

size_t strv_length(char *const *l);
/* Appends a copy of value; on failure *l is unchanged. */
int strv_extend(char ***l, const char *value);
/* Appends a formatted string; on failure *l is unchanged. */
int strv_extendf(char ***l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int strv_extendfv(char ***l, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* Appends value itself, taking ownership of it on success only. */
int strv_push(char ***l, char *value);
bool strv_contains(char *const *l, const char *value);
/* Splits s at any of the separator characters, dropping empty fields. */
int strv_split(const char *s, const char *separators, char ***ret);
void strv_sort(char **l);
/* A deep copy; NULL for NULL (*ret NULL too). */
int strv_copy(char *const *l, char ***ret);
bool strv_equal(char *const *a, char *const *b);
/* "a b c" with sep between; NULL for an empty list or when out of memory. */
char *strv_join(char *const *l, const char *sep);

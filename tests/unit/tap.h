/* A minimal TAP producer for the unit tests: tap_check() prints one result
 * line (control bytes in the description shown as \xNN, so a line stays one
 * line); ok()/is_str()/is_int() add the failing location and values;
 * tap_done() prints the plan and returns the exit code. */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned tap_n, tap_failed;

__attribute__((format(printf, 2, 3), unused)) static bool tap_check(bool pass, const char *fmt, ...) {
        char *d = NULL;
        va_list ap;

        tap_n++;
        if (!pass)
                tap_failed++;
        va_start(ap, fmt);
        if (vasprintf(&d, fmt, ap) < 0)
                abort();
        va_end(ap);

        printf("%sok %u - ", pass ? "" : "not ", tap_n);
        for (const char *p = d; *p; p++) {
                unsigned char u = (unsigned char) *p;
                if (u < 0x20 || u == 0x7f)
                        printf("\\x%02x", u);
                else
                        putchar(u);
        }
        putchar('\n');
        free(d);
        return pass;
}

#define ok(cond, ...)                                                           \
        do {                                                                    \
                if (!tap_check(!!(cond), __VA_ARGS__))                          \
                        printf("# failed at %s:%d\n", __FILE__, __LINE__);      \
        } while (0)

#define is_str(got, want, ...)                                                  \
        do {                                                                    \
                const char *_g = (got), *_w = (want);                           \
                int _eq = (!_g && !_w) || (_g && _w && strcmp(_g, _w) == 0);    \
                ok(_eq, __VA_ARGS__);                                           \
                if (!_eq)                                                       \
                        printf("#   got: '%s'\n#  want: '%s'\n", _g ? _g : "(null)", _w ? _w : "(null)"); \
        } while (0)

#define is_int(got, want, ...)                                                  \
        do {                                                                    \
                long long _g = (got), _w = (want);                              \
                ok(_g == _w, __VA_ARGS__);                                      \
                if (_g != _w)                                                   \
                        printf("#   got: %lld\n#  want: %lld\n", _g, _w);       \
        } while (0)

__attribute__((unused)) static int tap_done(void) {
        printf("1..%u\n", tap_n);
        if (tap_failed > 0)
                printf("# %u of %u failed\n", tap_failed, tap_n);
        return tap_failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

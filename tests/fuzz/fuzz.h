/* What the fuzz targets share: the assertion that turns a broken property
 * into a crash libFuzzer (or fuzz-main.c under `make check`) reports, and
 * small helpers to copy an input and cut it into parts. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(expr)                                                       \
        do {                                                                    \
                if (!(expr)) {                                                  \
                        fprintf(stderr, "%s:%d: assertion failed: %s\n",        \
                                __FILE__, __LINE__, #expr);                     \
                        abort();                                                \
                }                                                               \
        } while (0)

/* Defined (true) by fuzz-main.c only. */
extern const bool fuzz_replaying_corpus __attribute__((weak));

/* Whether to try every case an input allows (a replay of the corpus under
 * `make check`), or only the one the input selects (under libFuzzer, where
 * the next executions try the others, so each costs less). */
static inline bool fuzz_every_case(void) {
        return &fuzz_replaying_corpus && fuzz_replaying_corpus;
}

/* Out of memory is not something a target tests: it stops the run. */
#define FUZZ_OOM(p)                                                             \
        do {                                                                    \
                if (!(p))                                                       \
                        abort();                                                \
        } while (0)

/* A copy of size bytes with a NUL after them (NULs inside are kept). */
static inline char *fuzz_memdup(const void *data, size_t size) {
        char *s = malloc(size + 1);

        FUZZ_OOM(s);
        if (size > 0)
                memcpy(s, data, size);
        s[size] = 0;
        return s;
}

/* One part of an input: a pointer into it and a length. */
typedef struct FuzzPart {
        const char *p;
        size_t size;
} FuzzPart;

/* Cuts data at every occurrence of sep into at most max parts (the last
 * one takes the rest); returns how many. An empty input is one empty part. */
static inline size_t fuzz_split(const char *data, size_t size, const char *sep, FuzzPart *parts, size_t max) {
        size_t n = 0, l = strlen(sep);

        while (n + 1 < max) {
                const char *s = l > 0 && size >= l ? memmem(data, size, sep, l) : NULL;

                if (!s)
                        break;
                parts[n++] = (FuzzPart) { data, (size_t) (s - data) };
                size -= (size_t) (s - data) + l;
                data = s + l;
        }
        parts[n++] = (FuzzPart) { data, size };
        return n;
}

/* Takes one byte off the front of the input (0 when there is none). */
static inline uint8_t fuzz_take_byte(const uint8_t **data, size_t *size) {
        uint8_t b = 0;

        if (*size > 0) {
                b = **data;
                (*data)++;
                (*size)--;
        }
        return b;
}

/* The input as a stream, for the parsers that read one (read_lines_file()). */
static inline FILE *fuzz_fmemopen(const void *data, size_t size) {
        FILE *f = fmemopen((void *) data, size, "r");

        FUZZ_OOM(f);
        return f;
}

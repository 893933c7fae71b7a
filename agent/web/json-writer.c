/* JSON writer: see json-writer.h. Indented output uses two spaces and
 * "key": value, as json-c's pretty printer does; compact output has no
 * whitespace at all. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "json-writer.h"

static bool reserve(JsonWriter *w, size_t more) {
        size_t need, cap;
        char *b;

        if (w->failed)
                return false;
        need = w->len + more + 1;
        if (need <= w->cap)
                return true;
        cap = w->cap ? w->cap : 4096;
        while (cap < need)
                cap *= 2;
        b = realloc(w->buf, cap);
        if (!b) {
                w->failed = true;
                return false;
        }
        w->buf = b;
        w->cap = cap;
        return true;
}

static void put(JsonWriter *w, const char *s, size_t n) {
        if (!reserve(w, n))
                return;
        memcpy(w->buf + w->len, s, n);
        w->len += n;
}

static void putc_(JsonWriter *w, char c) {
        if (!reserve(w, 1))
                return;
        w->buf[w->len++] = c;
}

static void newline(JsonWriter *w) {
        static const char spaces[2 * JSON_WRITER_MAX_DEPTH] = { [0 ... 2 * JSON_WRITER_MAX_DEPTH - 1] = ' ' };

        putc_(w, '\n');
        put(w, spaces, 2 * (size_t) w->depth);
}

void json_writer_init(JsonWriter *w, bool pretty, size_t size_hint) {
        *w = (JsonWriter) { .pretty = pretty };
        if (size_hint > 0)
                (void) reserve(w, size_hint + size_hint / 8);
}

void json_writer_done(JsonWriter *w) {
        free(w->buf);
        *w = (JsonWriter) {};
}

int json_writer_finish(JsonWriter *w, char **ret, size_t *ret_size) {
        putc_(w, '\n');
        if (w->failed || w->depth != 0) {
                json_writer_done(w);
                return -ENOMEM;
        }
        w->buf[w->len] = 0;
        /* A cached body lives as long as its snapshot: give back the doubling's slack. */
        if (w->cap > w->len + 1) {
                char *b = realloc(w->buf, w->len + 1);
                if (b)
                        w->buf = b;
        }
        *ret = w->buf;
        *ret_size = w->len;
        *w = (JsonWriter) {};
        return 0;
}

/* Before any value: the comma after the previous member, and in indented
 * output the line break, unless the value follows its key. */
static void before_value(JsonWriter *w) {
        if (w->after_key) {
                w->after_key = false;
                return;
        }
        if (w->depth == 0)
                return;
        if (w->has_member[w->depth])
                putc_(w, ',');
        w->has_member[w->depth] = true;
        if (w->pretty)
                newline(w);
}

static void begin(JsonWriter *w, char c) {
        before_value(w);
        putc_(w, c);
        if (w->depth + 1 >= JSON_WRITER_MAX_DEPTH) {
                w->failed = true; /* a programming error: our documents are shallow */
                return;
        }
        w->depth++;
        w->has_member[w->depth] = false;
}

static void end(JsonWriter *w, char c) {
        if (w->depth == 0) {
                w->failed = true;
                return;
        }
        w->depth--;
        if (w->pretty && w->has_member[w->depth + 1])
                newline(w);
        putc_(w, c);
}

void jw_object_begin(JsonWriter *w) {
        begin(w, '{');
}

void jw_object_end(JsonWriter *w) {
        end(w, '}');
}

void jw_array_begin(JsonWriter *w) {
        begin(w, '[');
}

void jw_array_end(JsonWriter *w) {
        end(w, ']');
}

/* The length of the valid UTF-8 sequence at p (at most n bytes), 0 if invalid. */
static size_t utf8_len(const unsigned char *p, size_t n) {
        uint32_t cp;
        size_t l;

        if (p[0] < 0xc2 || p[0] > 0xf4)
                return 0;
        l = p[0] < 0xe0 ? 2 : p[0] < 0xf0 ? 3 : 4;
        if (n < l)
                return 0;
        cp = p[0] & (0x7f >> l);
        for (size_t i = 1; i < l; i++) {
                if ((p[i] & 0xc0) != 0x80)
                        return 0;
                cp = cp << 6 | (p[i] & 0x3f);
        }
        if ((l == 3 && cp < 0x800) || (l == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        return l;
}

static void quoted(JsonWriter *w, const char *s) {
        static const char hex[] = "0123456789abcdef";
        const unsigned char *p = (const unsigned char *) s;

        putc_(w, '"');
        for (;;) {
                const unsigned char *run = p;
                size_t l;

                /* The common case: printable ASCII, copied as a run. */
                while (*p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
                        p++;
                put(w, (const char *) run, (size_t) (p - run));
                if (*p == 0)
                        break;
                if (*p == '"' || *p == '\\') {
                        char e[2] = { '\\', (char) *p };
                        put(w, e, 2);
                        p++;
                } else if (*p < 0x20) {
                        char e[6] = { '\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15] };
                        if (*p == '\n' || *p == '\t' || *p == '\r')
                                put(w, *p == '\n' ? "\\n" : *p == '\t' ? "\\t" : "\\r", 2);
                        else
                                put(w, e, 6);
                        p++;
                } else if ((l = utf8_len(p, strnlen((const char *) p, 4)))) {
                        put(w, (const char *) p, l);
                        p += l;
                } else {
                        put(w, "\xef\xbf\xbd", 3); /* U+FFFD */
                        p++;
                }
        }
        putc_(w, '"');
}

void jw_key(JsonWriter *w, const char *key) {
        before_value(w);
        quoted(w, key);
        if (w->pretty)
                put(w, ": ", 2);
        else
                putc_(w, ':');
        w->after_key = true;
}

void jw_string(JsonWriter *w, const char *s) {
        if (!s) {
                jw_null(w);
                return;
        }
        before_value(w);
        quoted(w, s);
}

void jw_int(JsonWriter *w, int64_t v) {
        char b[24], *e = b + sizeof b, *p = e;
        uint64_t u = v < 0 ? -(uint64_t) v : (uint64_t) v;

        do
                *--p = (char) ('0' + u % 10);
        while ((u /= 10));
        if (v < 0)
                *--p = '-';
        before_value(w);
        put(w, p, (size_t) (e - p));
}

void jw_bool(JsonWriter *w, bool v) {
        before_value(w);
        if (v)
                put(w, "true", 4);
        else
                put(w, "false", 5);
}

void jw_null(JsonWriter *w) {
        before_value(w);
        put(w, "null", 4);
}

void jw_hex(JsonWriter *w, uint32_t v, int width) {
        static const char hex[] = "0123456789abcdef";
        char b[11];
        int n = 0;

        if (width < 1 || width > 8) {
                w->failed = true;
                return;
        }
        b[n++] = '"';
        for (int i = width - 1; i >= 0; i--)
                b[n++] = hex[(v >> (4 * i)) & 15];
        b[n++] = '"';
        before_value(w);
        put(w, b, (size_t) n);
}

void jw_strv(JsonWriter *w, char *const *l) {
        jw_array_begin(w);
        for (; l && *l; l++)
                jw_string(w, *l);
        jw_array_end(w);
}

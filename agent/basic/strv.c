/* String arrays: see strv.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "strv.h"

size_t strv_length(char *const *l) {
        size_t n = 0;

        if (l)
                while (l[n])
                        n++;
        return n;
}

int strv_push(char ***l, char *value) {
        size_t n = strv_length(*l);
        char **c;

        c = realloc(*l, sizeof(char *) * (n + 2));
        if (!c)
                return -ENOMEM;
        c[n] = value;
        c[n + 1] = NULL;
        *l = c;
        return 0;
}

int strv_extendfv(char ***l, const char *fmt, va_list ap) {
        char *s = NULL;
        int r;

        if (vasprintf(&s, fmt, ap) < 0)
                return -ENOMEM;
        r = strv_push(l, s);
        if (r < 0)
                free(s);
        return r;
}

int strv_extendf(char ***l, const char *fmt, ...) {
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = strv_extendfv(l, fmt, ap);
        va_end(ap);
        return r;
}

int strv_extend(char ***l, const char *value) {
        char *v = strdup(value);
        int r;

        if (!v)
                return -ENOMEM;
        r = strv_push(l, v);
        if (r < 0)
                free(v);
        return r;
}

bool strv_contains(char *const *l, const char *value) {
        if (l)
                for (; *l; l++)
                        if (streq(*l, value))
                                return true;
        return false;
}

int strv_split(const char *s, const char *separators, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;

        for (;;) {
                size_t n;
                char *w;

                s += strspn(s, separators);
                if (!*s)
                        break;
                n = strcspn(s, separators);
                w = strndup(s, n);
                if (!w || strv_push(&l, w) < 0) {
                        free(w);
                        return -ENOMEM;
                }
                s += n;
        }
        if (!l) {
                l = calloc(1, sizeof(char *));
                if (!l)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

void strv_sort(char **l) {
        qsort_safe(l, strv_length(l), sizeof(char *), cmp_str);
}

int strv_copy(char *const *l, char ***ret) {
        size_t n = strv_length(l);
        char **c;

        if (!l) {
                *ret = NULL;
                return 0;
        }
        c = calloc(n + 1, sizeof(char *));
        if (!c)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                if (!(c[i] = strdup(l[i]))) {
                        strv_free(c);
                        return -ENOMEM;
                }
        *ret = c;
        return 0;
}

bool strv_equal(char *const *a, char *const *b) {
        size_t i;

        for (i = 0; a && b && a[i] && b[i]; i++)
                if (strcmp(a[i], b[i]) != 0)
                        return false;
        /* NULL and empty differ: "the kernel does not say" is not "none" */
        if (!a || !b)
                return !a && !b;
        return !a[i] && !b[i];
}

char *strv_join(char *const *l, const char *sep) {
        size_t n = 0, k = strlen(sep);
        char *s, *p;

        if (strv_length(l) == 0)
                return NULL;
        for (char *const *w = l; *w; w++)
                n += strlen(*w) + k;
        s = malloc(n + 1);
        if (!s)
                return NULL;
        p = s;
        for (char *const *w = l; *w; w++) {
                size_t m = strlen(*w);

                if (w != l) {
                        memcpy(p, sep, k);
                        p += k;
                }
                memcpy(p, *w, m);
                p += m;
        }
        *p = 0;
        return s;
}

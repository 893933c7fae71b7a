/* Small helpers of the bootloader backends: growing strings, lines,
 * rpm-style version comparison, and command-line comparisons used by drift
 * warnings and conflict checks. */

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/strv.h"
#include "bootloader-internal.h"

int sb_putn(StrBuf *b, const char *s, size_t n) {
        if (b->len + n + 1 > b->size) {
                size_t size = b->size > 0 ? b->size * 2 : 128;
                char *p;

                while (size < b->len + n + 1)
                        size *= 2;
                p = realloc(b->s, size);
                if (!p)
                        return -ENOMEM;
                b->s = p;
                b->size = size;
        }
        memcpy(b->s + b->len, s, n);
        b->len += n;
        b->s[b->len] = '\0';
        return 0;
}

int sb_put(StrBuf *b, const char *s) {
        return sb_putn(b, s, strlen(s));
}

int sb_putc(StrBuf *b, char c) {
        return sb_putn(b, &c, 1);
}

int sb_printf(StrBuf *b, const char *fmt, ...) {
        _cleanup_free_ char *s = NULL;
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (n < 0)
                return -ENOMEM;
        return sb_putn(b, s, (size_t) n);
}

char *sb_steal(StrBuf *b) {
        char *s = b->s ? b->s : strdup("");

        *b = (StrBuf) {};
        return s;
}

void sb_done(StrBuf *b) {
        free(b->s);
        *b = (StrBuf) {};
}

char **strv_new_empty(void) {
        return calloc(1, sizeof(char *));
}

int split_lines(const char *text, size_t size, char ***ret, bool *ret_final_newline) {
        _cleanup_strv_free_ char **l = strv_new_empty();
        const char *p = text, *end = text + size;

        if (!l)
                return -ENOMEM;
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                size_t n = nl ? (size_t) (nl - p) : (size_t) (end - p);
                char *line = strndup(p, n);

                if (!line || strv_push(&l, line) < 0) {
                        free(line);
                        return -ENOMEM;
                }
                p += n + (nl ? 1 : 0);
        }
        *ret_final_newline = size > 0 && text[size - 1] == '\n';
        *ret = TAKE_PTR(l);
        return 0;
}

int join_lines(char *const *lines, bool final_newline, char **ret, size_t *ret_size) {
        _cleanup_(sb_done) StrBuf b = {};
        size_t size;
        char *s;

        for (size_t i = 0; lines && lines[i]; i++)
                if (sb_put(&b, lines[i]) < 0 ||
                    ((lines[i + 1] || final_newline) && sb_putc(&b, '\n') < 0))
                        return -ENOMEM;
        size = b.len;
        s = sb_steal(&b);
        if (!s)
                return -ENOMEM;
        *ret = s;
        if (ret_size)
                *ret_size = size;
        return 0;
}

/* rpmvercmp(): runs of digits compare numerically, runs of letters
 * lexically, digits are newer than letters, '~' sorts before anything. */
int bl_vercmp(const char *a, const char *b) {
        while (*a || *b) {
                const char *sa, *sb;
                size_t la, lb;
                bool digits;
                int c;

                while (*a && !isalnum((unsigned char) *a) && *a != '~')
                        a++;
                while (*b && !isalnum((unsigned char) *b) && *b != '~')
                        b++;
                if (*a == '~' || *b == '~') {
                        if (*a != '~')
                                return 1;
                        if (*b != '~')
                                return -1;
                        a++, b++;
                        continue;
                }
                if (!*a || !*b)
                        break;

                digits = isdigit((unsigned char) *a);
                sa = a, sb = b;
                while (*a && (digits ? isdigit((unsigned char) *a) : isalpha((unsigned char) *a)))
                        a++;
                while (*b && (digits ? isdigit((unsigned char) *b) : isalpha((unsigned char) *b)))
                        b++;
                if (sb == b) /* different kinds: the number is newer */
                        return digits ? 1 : -1;
                if (digits) {
                        while (*sa == '0' && sa + 1 < a)
                                sa++;
                        while (*sb == '0' && sb + 1 < b)
                                sb++;
                        if ((size_t) (a - sa) != (size_t) (b - sb))
                                return (a - sa) > (b - sb) ? 1 : -1;
                }
                la = (size_t) (a - sa);
                lb = (size_t) (b - sb);
                c = strncmp(sa, sb, la < lb ? la : lb);
                if (c != 0)
                        return c < 0 ? -1 : 1;
                if (la != lb)
                        return la < lb ? -1 : 1;
        }
        if (!*a && !*b)
                return 0;
        return *a ? 1 : -1;
}

int kcmdline_copy(const KCmdline *c, KCmdline **ret) {
        return kcmdline_concat((KCmdline *const *) &c, 1, ret);
}

int kcmdline_concat(KCmdline *const *parts, size_t n, KCmdline **ret) {
        _cleanup_(kcmdline_freep) KCmdline *c = calloc(1, sizeof(KCmdline));
        size_t total = 0;

        if (!c)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                total += parts[i] ? parts[i]->n_args : 0;
        if (total > 0) {
                c->args = calloc(total, sizeof(KArg));
                if (!c->args)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++)
                for (size_t j = 0; parts[i] && j < parts[i]->n_args; j++) {
                        const KArg *a = parts[i]->args + j;
                        KArg *d = c->args + c->n_args;

                        d->key = strdup(a->key);
                        d->value = a->value ? strdup(a->value) : NULL;
                        d->section = a->section;
                        c->n_args++;
                        if (!d->key || (a->value && !d->value))
                                return -ENOMEM;
                }
        kcmdline_mark_noise(c);
        *ret = TAKE_PTR(c);
        return 0;
}

char *kcmdline_to_text(const KCmdline *c) {
        char *s = NULL;

        if (kcmdline_format_full(c, &s) < 0)
                return strdup("(unformattable)");
        return s;
}

bool kcmdline_has_pair(const KCmdline *c, const KArg *a) {
        for (size_t i = 0; c && i < c->n_args; i++) {
                const KArg *x = c->args + i;

                if (x->section == KARG_KERNEL && !x->noise && kcmdline_key_equal(x->key, a->key) &&
                    streq_ptr(x->value, a->value))
                        return true;
        }
        return false;
}

int kcmdline_missing_text(const KCmdline *a, const KCmdline *b, char **ret) {
        _cleanup_(sb_done) StrBuf s = {};
        char *t;

        for (size_t i = 0; a && i < a->n_args; i++) {
                const KArg *x = a->args + i;
                _cleanup_free_ char *f = NULL;

                if (x->section != KARG_KERNEL || x->noise || kcmdline_has_pair(b, x))
                        continue;
                f = karg_format(x);
                if (!f && errno == ENOMEM)
                        return -ENOMEM;
                if ((s.len > 0 && sb_putc(&s, ' ') < 0) || sb_put(&s, f ?: x->key) < 0)
                        return -ENOMEM;
        }
        t = sb_steal(&s);
        if (!t)
                return -ENOMEM;
        *ret = t;
        return 0;
}

bool karg_key_cumulative(const char *key) {
        static const char *const keys[] = {
                "console", "earlycon", "hugepagesz", "hugepages", "memmap", "ip",
                "nameserver", "rd.lvm.lv", "rd.lvm.vg", "rd.luks.uuid", "rd.luks.name",
                "rd.md.uuid", "rd.driver.pre", "rd.driver.blacklist", "rd.driver.post",
                "modprobe.blacklist", "module_blacklist", "rd.route", "rd.peerdns",
                "systemd.mount-extra", "systemd.wants", "systemd.mask", "netconsole",
        };

        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (kcmdline_key_equal(key, keys[i]))
                        return true;
        return false;
}

/* GRUB's environment block (boot/grub2/grubenv): read its variables, set
 * one (RHEL 8 keeps the kernel arguments in "kernelopts"), expand $vars
 * the way GRUB does when it boots a BLS entry. */

/*
 * Design: the format, as grub-core/lib/envblk.c writes and reads it.
 *
 *   "# GRUB Environment Block\n"            the signature, always first
 *   "name=value\n" ...                      one variable per line
 *   "#####..."                              padding up to the block size
 *
 * The block has a fixed size (1024 bytes as grub-editenv creates it) and
 * GRUB writes it in place at boot (save_env): it must never grow or
 * shrink, so we keep the file's size and refuse an edit that does not fit.
 * In a value, a backslash escapes the next byte (GRUB escapes '\\' and
 * newline); a name is the bytes before the first '=', escapes and all, as
 * GRUB matches it; lines starting with '#' are comments. We rewrite only the one
 * variable, keep every other byte in order, and pad with '#' again.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/strv.h"
#include "bootloader-internal.h"

#define GRUBENV_SIGNATURE "# GRUB Environment Block\n"

static int check_block(const char *block, size_t size) {
        if (size < strlen(GRUBENV_SIGNATURE) || memcmp(block, GRUBENV_SIGNATURE, strlen(GRUBENV_SIGNATURE)) != 0)
                return -EBADMSG;
        if (memchr(block, '\0', size))
                return -EBADMSG;
        return 0;
}

/* The end of the line starting at p: the unescaped newline, or end. */
static const char *line_end(const char *p, const char *end) {
        while (p < end && *p != '\n')
                p += (*p == '\\' && p + 1 < end) ? 2 : 1;
        return p;
}

/* Whether the line [p, e) ends in a backslash that escapes nothing. */
static bool ends_in_lone_backslash(const char *p, const char *e) {
        while (p + 1 < e)
                p += *p == '\\' ? 2 : 1;
        return p + 1 == e && *p == '\\';
}

int grubenv_parse(const char *block, size_t size, char ***ret) {
        _cleanup_strv_free_ char **env = strv_new_empty();
        const char *p, *end = block + size;
        int r;

        if (!env)
                return -ENOMEM;
        r = check_block(block, size);
        if (r < 0)
                return r;

        for (p = block + strlen(GRUBENV_SIGNATURE); p < end;) {
                const char *e = line_end(p, end);
                _cleanup_(sb_done) StrBuf v = {};

                const char *eq = *p != '#' ? memchr(p, '=', (size_t) (e - p)) : NULL;

                /* As grub_envblk_iterate() reads it: the name is the bytes before the
                 * first '=', as they stand (grub_envblk_set() finds it so); only the
                 * value has escapes. */
                if (eq) {
                        if (sb_putn(&v, p, (size_t) (eq - p + 1)) < 0)
                                return -ENOMEM;
                        for (const char *q = eq + 1; q < e; q++) {
                                if (*q == '\\' && q + 1 < e)
                                        q++;
                                if (sb_putc(&v, *q) < 0)
                                        return -ENOMEM;
                        }
                        if (strv_push(&env, sb_steal(&v)) < 0)
                                return -ENOMEM;
                }
                p = e < end ? e + 1 : e;
        }
        *ret = TAKE_PTR(env);
        return 0;
}

const char *grubenv_get(char *const *env, const char *name) {
        size_t l = strlen(name);

        for (size_t i = 0; env && env[i]; i++)
                if (strncmp(env[i], name, l) == 0 && env[i][l] == '=')
                        return env[i] + l + 1;
        return NULL;
}

static int put_escaped(StrBuf *b, const char *value) {
        for (const char *p = value; *p; p++)
                if (((*p == '\\' || *p == '\n') && sb_putc(b, '\\') < 0) || sb_putc(b, *p) < 0)
                        return -ENOMEM;
        return 0;
}

int grubenv_set(const char *block, size_t size, const char *name, const char *value,
                char **ret, char **ret_error) {
        _cleanup_(sb_done) StrBuf b = {};
        const char *p, *end = block + size;
        size_t l = strlen(name);
        bool done = false;
        int r;

        r = check_block(block, size);
        if (r < 0)
                return r;

        /* The variables end where the padding begins (a '#' line that
         * runs to the end, or the end). */
        if (sb_put(&b, GRUBENV_SIGNATURE) < 0)
                return -ENOMEM;
        for (p = block + strlen(GRUBENV_SIGNATURE); p < end;) {
                const char *e = line_end(p, end);

                if (*p == '#' && e == end)
                        break; /* the padding */
                if (e == end && ends_in_lone_backslash(p, e)) {
                        /* The block ends in a lone backslash: with the newline a copy adds,
                         * it would escape that newline and swallow what follows. */
                        if (ret_error && !(*ret_error = strdup("the grubenv block ends inside an escape "
                                                                "(a lone backslash): it is not one grub-editenv wrote")))
                                return -ENOMEM;
                        return -EBADMSG;
                }
                if (!done && strncmp(p, name, l) == 0 && p + l < e && p[l] == '=') {
                        r = sb_printf(&b, "%s=", name);
                        if (r >= 0)
                                r = put_escaped(&b, value);
                        if (r < 0 || sb_putc(&b, '\n') < 0)
                                return -ENOMEM;
                        done = true;
                } else if (sb_putn(&b, p, (size_t) (e - p)) < 0 || sb_putc(&b, '\n') < 0)
                        return -ENOMEM;
                p = e < end ? e + 1 : e;
        }
        if (!done) {
                if (sb_printf(&b, "%s=", name) < 0 || put_escaped(&b, value) < 0 || sb_putc(&b, '\n') < 0)
                        return -ENOMEM;
        }
        if (b.len > size) {
                if (ret_error && asprintf(ret_error, "%s=%s does not fit in the %zu-byte grubenv block "
                                          "(%zu bytes over)", name, value, size, b.len - size) < 0)
                        *ret_error = NULL;
                return -E2BIG;
        }
        while (b.len < size)
                if (sb_putc(&b, '#') < 0)
                        return -ENOMEM;

        *ret = sb_steal(&b);
        return *ret ? 0 : -ENOMEM;
}

int grubenv_expand(char *const *env, const char *text, char **ret) {
        _cleanup_(sb_done) StrBuf b = {};
        char *s;

        for (const char *p = text; *p;) {
                const char *name = NULL, *value;
                size_t n = 0, skip = 0;

                if (p[0] == '$' && p[1] == '{') {
                        const char *close = strchr(p + 2, '}');
                        if (close) {
                                name = p + 2;
                                n = (size_t) (close - name);
                                skip = n + 3;
                        }
                } else if (p[0] == '$') {
                        name = p + 1;
                        while (name[n] == '_' || (name[n] >= 'a' && name[n] <= 'z') ||
                               (name[n] >= 'A' && name[n] <= 'Z') || (name[n] >= '0' && name[n] <= '9'))
                                n++;
                        skip = n + 1;
                }
                if (!name || n == 0) {
                        if (sb_putc(&b, *p++) < 0)
                                return -ENOMEM;
                        continue;
                }
                _cleanup_free_ char *key = strndup(name, n);
                if (!key)
                        return -ENOMEM;
                value = grubenv_get(env, key);
                if (value && sb_put(&b, value) < 0)
                        return -ENOMEM;
                p += skip;
        }
        s = sb_steal(&b);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

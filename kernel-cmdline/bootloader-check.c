/* Which characters each bootloader backend can store literally in a kernel
 * argument it writes: an argument with any other one is refused before
 * planning, so that what boots is what was asked for.
 *
 * Every backend: no control characters (newline, tab, NUL, DEL, ...) — they
 * end a line of every file format here, or the argument on the kernel's own
 * command line — and a double quote only where the kernel's parser takes
 * it, around the whole value (key="a b") or the whole argument ("key=a b");
 * anywhere else the kernel would split the argument somewhere else. And
 * no '#' first: GRUB's script reads a word that starts with one as a
 * comment, and so does /etc/kernel/cmdline at the start of a line.
 *
 * GRUB (bls, bls-grubenv, grub-debian): the options of a BLS entry and the
 * grubenv value of kernelopts become text of a GRUB script (blscfg expands
 * `$name` in `options`: that is how $tuned_params works), and grub.cfg made
 * by grub-mkconfig holds GRUB_CMDLINE_LINUX as script text too: no `$`,
 * `\`, `'`, and none of GRUB's word separators `;` `&` `|` `<` `>` `{` `}`.
 * grub-debian's GRUB_CMDLINE_LINUX is also a shell variable in double
 * quotes, so a backquote is refused there too.
 *
 * systemd-boot: entries' `options` and /etc/kernel/cmdline are read
 * literally (only the common rule). proxmox-boot-tool: /etc/kernel/cmdline
 * goes through its shell script into loader entries: no `\` either. ostree
 * is not editable; it gets the strictest rule. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bootloader.h"

static const char *const refused[_BOOTLOADER_KIND_MAX] = {
        [BOOTLOADER_BLS] = "$\\';&|<>{}",
        [BOOTLOADER_BLS_GRUBENV] = "$\\';&|<>{}",
        [BOOTLOADER_GRUB_DEBIAN] = "$\\';&|<>{}`",
        [BOOTLOADER_SYSTEMD_BOOT] = "",
        [BOOTLOADER_PROXMOX] = "\\",
        [BOOTLOADER_OSTREE] = "$\\';&|<>{}`",
};

const char *bootloader_refused_characters(BootloaderKind kind) {
        return kind >= 0 && kind < _BOOTLOADER_KIND_MAX ? refused[kind] : NULL;
}

/* Whether the double quotes of arg are where the kernel takes them. */
static bool quotes_ok(const char *arg) {
        size_t n = strlen(arg);
        const char *q = strchr(arg, '"'), *eq = strchr(arg, '=');

        if (!q)
                return true;
        if (n < 2 || arg[n - 1] != '"' || strchr(q + 1, '"') != arg + n - 1)
                return false; /* exactly two, the second one last */
        return q == arg || (eq && q == eq + 1);
}

static int refuse(char c, const char *what, char **ret_reason) {
        char *s = NULL;
        int k;

        if ((unsigned char) c < 0x20 || c == 0x7f)
                k = asprintf(&s, "the control character 0x%02x cannot be stored in %s", (unsigned) (unsigned char) c,
                             what);
        else
                k = asprintf(&s, "the character '%c' cannot be stored literally by the %s backend", c, what);
        if (k < 0)
                s = NULL;
        if (ret_reason)
                *ret_reason = s;
        else
                free(s);
        return -EINVAL;
}

int bootloader_check_argument(BootloaderKind kind, const char *arg, char **ret_reason) {
        const char *set = bootloader_refused_characters(kind), *what = bootloader_kind_to_string(kind);

        if (!set || !arg)
                return -EINVAL;
        for (const char *p = arg; *p; p++) {
                if ((unsigned char) *p < 0x20 || *p == 0x7f)
                        return refuse(*p, "a kernel argument", ret_reason);
                if (strchr(set, *p))
                        return refuse(*p, what, ret_reason);
        }
        if (arg[0] == '#') {
                if (ret_reason)
                        *ret_reason = strdup("an argument that starts with '#' is a comment where the arguments "
                                             "are read: in GRUB's script and at the start of a line of "
                                             "/etc/kernel/cmdline");
                return -EINVAL;
        }
        if (!quotes_ok(arg)) {
                if (ret_reason)
                        *ret_reason = strdup("a double quote is only taken around the whole value "
                                             "(key=\"a b\") or the whole argument: the kernel would "
                                             "split this one elsewhere");
                return -EINVAL;
        }
        return 0;
}

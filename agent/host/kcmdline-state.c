/* The kernel command line's state and what is pending: see
 * kcmdline-state.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/strv.h"
#include "kcmdline-state.h"

/* ---- Loading ---- */

static int read_running(const HostRoot *root, KCmdline **ret) {
        _cleanup_free_ char *path = hostroot_path(root, AREA_PROC, "cmdline"), *text = NULL;
        int r;

        if (!path)
                return -ENOMEM;
        r = read_full_file(path, KCMDLINE_SIZE_MAX, &text, NULL);
        if (r < 0)
                return r;
        return kcmdline_parse(text, ret); /* the trailing newline is fine */
}

static int set_error(KcState *s, int r, char **error, const char *fallback) {
        if (r == -ENOMEM)
                return r;
        s->error = *error ? TAKE_PTR(*error) : strdup(fallback ?: strerror(-r));
        return s->error ? 0 : -ENOMEM;
}

int kc_state_load(const HostRoot *root, KcState *ret) {
        _cleanup_free_ char *error = NULL;
        KcState s = {};
        int r;

        r = read_running(root, &s.running);
        if (r == -ENOMEM)
                return r;
        r = bootloader_detect(root, &s.bootloader, &error);
        if (r < 0)
                r = set_error(&s, r, &error, r == -ENOENT ? "no supported bootloader setup was found" : NULL);
        else if ((r = bootloader_read(s.bootloader, &s.config, &error)) < 0)
                r = set_error(&s, r, &error, NULL);
        if (r >= 0) {
                r = boot_ledger_load(root, &s.ledger);
                s.ledger_error = r < 0 ? r : 0;
                r = r == -ENOMEM ? r : 0;
        }
        if (r < 0) {
                kc_state_done(&s);
                return r;
        }
        *ret = s;
        return 0;
}

void kc_state_done(KcState *s) {
        kcmdline_free(s->running);
        boot_config_free(s->config);
        bootloader_free(s->bootloader);
        free(s->error);
        boot_ledger_free(s->ledger);
        *s = (KcState) {};
}

/* ---- Pending ---- */

static bool same_pair(const KArg *a, const KArg *b) {
        return a->section == b->section && kcmdline_key_equal(a->key, b->key) && streq_ptr(a->value, b->value);
}

static bool has_pair(const KCmdline *c, const KArg *a) {
        for (size_t i = 0; i < c->n_args; i++)
                if (!c->args[i].noise && same_pair(c->args + i, a))
                        return true;
        return false;
}

/* Listed already (a repeated argument is pending once). */
static bool listed(const PendingArg *p, size_t n, const KArg *a, bool add) {
        for (size_t i = 0; i < n; i++)
                if (p[i].add == add && same_pair(p[i].arg, a))
                        return true;
        return false;
}

/* Added to the kernel's line by the tool that writes grub.cfg, not by the
 * variables grub-debian reads (grub-mkconfig's 10_linux). */
static bool generated_by_bootloader(BootloaderKind kind, const KArg *a) {
        static const char *const grub_keys[] = { "root", "ro", "vt.handoff" };

        if (kind != BOOTLOADER_GRUB_DEBIAN || a->section != KARG_KERNEL)
                return false;
        for (size_t i = 0; i < ELEMENTSOF(grub_keys); i++)
                if (kcmdline_key_equal(a->key, grub_keys[i]))
                        return true;
        return false;
}

static void collect(const KCmdline *from, const KCmdline *other, BootloaderKind kind, bool add, PendingArg *p,
                    size_t *n) {
        for (size_t i = 0; i < from->n_args; i++) {
                const KArg *a = from->args + i;

                if (a->noise || has_pair(other, a) || listed(p, *n, a, add) ||
                    (!add && generated_by_bootloader(kind, a)))
                        continue;
                p[(*n)++] = (PendingArg) { .arg = a, .add = add };
        }
}

int kcmdline_pending(const KCmdline *running, const KCmdline *configured, BootloaderKind kind,
                     PendingArg **ret, size_t *ret_n) {
        PendingArg *p = calloc(running->n_args + configured->n_args + 1, sizeof(PendingArg));
        size_t n = 0;

        if (!p)
                return -ENOMEM;
        collect(configured, running, kind, true, p, &n);
        collect(running, configured, kind, false, p, &n);
        *ret = p;
        *ret_n = n;
        return 0;
}

char *karg_to_text(const KArg *a) {
        char *s = karg_format(a);

        if (s || errno == ENOMEM)
                return s;
        /* No token reads back as exactly this argument (an unterminated
         * quote at the end of the line): show it unquoted. */
        if (asprintf(&s, "%s%s%s", a->key, a->value ? "=" : "", strempty(a->value)) < 0)
                return NULL;
        return s;
}


BootloaderKind kc_state_kind(const KcState *s) {
        return s->bootloader ? bootloader_kind(s->bootloader) : _BOOTLOADER_KIND_MAX;
}

static int pending_texts(const KcState *s, char ***ret) {
        _cleanup_free_ PendingArg *p = NULL;
        _cleanup_strv_free_ char **l = NULL;
        size_t n = 0;
        int k;

        k = kcmdline_pending(s->running, s->config->configured, kc_state_kind(s), &p, &n);
        if (k < 0)
                return k;
        for (size_t i = 0; i < n; i++) {
                char *t;

                if (!p[i].add)
                        continue;
                t = karg_to_text(p[i].arg);
                if (!t || strv_push(&l, t) < 0) {
                        free(t);
                        return -ENOMEM;
                }
        }
        *ret = TAKE_PTR(l);
        return 0;
}

int kc_pending_additions(const HostRoot *root, char ***ret, char **ret_why) {
        _cleanup_(kc_state_done) KcState s = {};
        int k;

        k = kc_state_load(root, &s);
        if (k < 0)
                return k;
        if (!s.running || !s.config) {
                *ret_why = strdup(s.error ?: "the running command line is unreadable");
                if (!*ret_why)
                        return -ENOMEM;
                *ret = NULL;
                return 0;
        }
        *ret_why = NULL;
        return pending_texts(&s, ret);
}

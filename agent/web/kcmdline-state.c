/* The kernel command line's state, pending differences and views: see
 * kcmdline-state.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "json-util.h"
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

/* ---- Views ---- */

static const char *section_to_string(KArgSection s) {
        return s == KARG_INIT ? "init" : "kernel";
}

static json_object *view_karg(const KArg *a) {
        json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        json_add_str(o, "key", a->key);
        json_add_str(o, "value", a->value);
        json_add_str(o, "section", section_to_string(a->section));
        json_add_bool(o, "noise", a->noise);
        return o;
}

json_object *view_kargs(const KCmdline *c) {
        json_object *a = json_object_new_array();

        for (size_t i = 0; a && c && i < c->n_args; i++) {
                json_object *o = view_karg(c->args + i);

                if (!o || json_object_array_add(a, o) < 0) {
                        json_object_put(o);
                        json_object_put(a);
                        return NULL;
                }
        }
        return a;
}

json_object *view_kcmdline(const KCmdline *c, const char *source, bool with_source) {
        _cleanup_free_ char *text = NULL;
        json_object *o, *args;

        if (!c)
                return NULL;
        o = json_object_new_object();
        args = view_kargs(c);
        if (!o || !args) {
                json_object_put(o);
                json_object_put(args);
                return NULL;
        }
        text = kcmdline_format(c); /* NULL also when no text reads back as c: say null */
        if (with_source)
                json_add_str(o, "source", source);
        json_add_str(o, "text", text);
        json_add(o, "arguments", args);
        return o;
}

json_object *view_bootloader(const Bootloader *b) {
        json_object *o = json_object_new_object();
        const char *reason = NULL;
        bool editable;

        if (!o)
                return NULL;
        editable = bootloader_editable(b, &reason);
        json_add_str(o, "kind", bootloader_kind_to_string(bootloader_kind(b)));
        json_add_str(o, "flavour", bootloader_flavour(b));
        json_add(o, "files", json_strv(bootloader_files(b)));
        json_add_bool(o, "editable", editable);
        json_add_str(o, "reason", editable ? NULL : reason ?: "not editable");
        return o;
}

json_object *view_boot_entries(const BootConfig *c) {
        json_object *a = json_object_new_array();

        for (size_t i = 0; a && c && i < c->n_entries; i++) {
                const BootEntry *e = c->entries + i;
                json_object *o = json_object_new_object();

                if (!o) {
                        json_object_put(a);
                        return NULL;
                }
                json_add_str(o, "id", e->id);
                json_add_str(o, "path", e->path);
                json_add_str(o, "title", e->title);
                json_add_str(o, "version", e->version);
                json_add_bool(o, "default", e->is_default);
                json_add_bool(o, "rescue", e->is_rescue);
                json_add_str(o, "options", e->options);
                json_object_array_add(a, o);
        }
        return a;
}

json_object *view_regeneration(const BootRegenResult *r) {
        json_object *o;

        if (!r)
                return NULL;
        o = json_object_new_object();
        if (!o)
                return NULL;
        json_add_str(o, "command", r->command);
        json_add_bool(o, "ran", r->ran);
        json_add_str(o, "reason", r->reason);
        json_add(o, "exit_status", r->exit_status >= 0 ? json_object_new_int(r->exit_status) : NULL);
        json_add_str(o, "output", r->output);
        return o;
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

json_object *view_pending(const PendingArg *p, size_t n) {
        json_object *a = json_object_new_array();

        for (size_t i = 0; a && i < n; i++) {
                _cleanup_free_ char *text = karg_to_text(p[i].arg);
                json_object *o = json_object_new_object();

                if (!o || !text) {
                        json_object_put(o);
                        json_object_put(a);
                        return NULL;
                }
                json_add_str(o, "action", p[i].add ? "add" : "remove");
                json_add_str(o, "argument", text);
                json_add_str(o, "key", p[i].arg->key);
                json_add_str(o, "value", p[i].arg->value);
                json_add_str(o, "section", section_to_string(p[i].arg->section));
                json_object_array_add(a, o);
        }
        return a;
}

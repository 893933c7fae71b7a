/* JSON views of the kernel command line's state: see kcmdline-views.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/macro.h"
#include "json-util.h"
#include "kcmdline-views.h"

static const char *section_to_string(KArgSection s) {
        return s == KARG_INIT ? "init" : "kernel";
}

/* ---- Views ---- */

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

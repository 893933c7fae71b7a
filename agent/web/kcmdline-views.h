/* JSON views of the kernel command line's state (host/kcmdline-state.h):
 * the shapes of /v1/kernel-cmdline in api/openapi.json. Each view returns
 * a new reference, or NULL when out of memory. */
#pragma once

#include <stdbool.h>

#include <json-c/json.h>

#include "host/kcmdline-state.h"

/* [{"key", "value" (null: a flag), "section": "kernel"|"init", "noise"}]:
 * every argument, bootloader noise (BOOT_IMAGE=, a leading initrd=)
 * included and flagged. */
json_object *view_kargs(const KCmdline *c);
/* {"text", "arguments"} plus "source" when source is given; JSON null for
 * c NULL. */
json_object *view_kcmdline(const KCmdline *c, const char *source, bool with_source);
/* {"kind", "flavour", "files", "editable", "reason"}. */
json_object *view_bootloader(const Bootloader *b);
json_object *view_boot_entries(const BootConfig *c);
/* {"command", "ran", "reason", "exit_status", "output"}; null for NULL. */
json_object *view_regeneration(const BootRegenResult *r);
/* [{"action": "add"|"remove", "argument", "key", "value", "section"}]. */
json_object *view_pending(const PendingArg *p, size_t n);

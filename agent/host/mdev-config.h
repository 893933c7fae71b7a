/* Persistent mediated devices, kept where and as mdevctl keeps them:
 * /etc/mdevctl.d/<parent>/<uuid>, JSON {"mdev_type": TYPE, "start":
 * "auto"|"manual", "attrs": [...]}. hostdevd reads every definition there
 * (mdevctl's too) and writes its own in the same form, so `mdevctl list
 * --defined` shows what hostdevd defined and hostdevd reports what mdevctl
 * defined; either starts the "auto" ones when their parent appears (mdevctl
 * from its udev rule, hostdevd at start: mdev-change.h). Attributes (attrs)
 * are kept and reported, never written by hostdevd: a definition with
 * attributes is started by hostdevd only after mdevctl would have set them,
 * so it leaves those to mdevctl. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "basic/hostroot.h"
#include "mdev.h"

typedef struct MdevDefinition {
        char *parent;                  /* the directory name: "0000:00:02.0" */
        char uuid[MDEV_UUID_STRLEN];
        char *type;                    /* NULL when the file could not be read: see error */
        bool auto_start;               /* "start": "auto" */
        size_t n_attrs;                /* device attributes mdevctl sets after creating it */
        char *error;                   /* why the file is not a definition; NULL when it is */
} MdevDefinition;

/* Every definition under etc/mdevctl.d, sorted by parent then UUID; files
 * not named by a UUID are skipped (mdevctl's scripts.d, temporaries). */
int mdev_definitions_load(const HostRoot *root, MdevDefinition **ret, size_t *ret_n);
void mdev_definitions_free(MdevDefinition *d, size_t n);
const MdevDefinition *mdev_definitions_find(const MdevDefinition *d, size_t n, const char *uuid);

/* Writes (atomically) or removes one definition. Removing an absent one is
 * not an error. */
int mdev_definition_write(const HostRoot *root, const char *parent, const char *uuid, const char *type,
                          bool auto_start);
int mdev_definition_remove(const HostRoot *root, const char *parent, const char *uuid);

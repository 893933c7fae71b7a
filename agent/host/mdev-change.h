/* Creating and removing mediated devices (mdev.h), as mdevctl start/stop
 * and define/undefine do: one write to the type's create attribute, or of
 * "1" to the instance's remove. Refused before writing when the type has
 * no instance left (available_instances 0), when the UUID is already an
 * instance's, and, for a removal, while the instance's IOMMU group is held
 * open (a VM): the kernel would block the write until the user lets go
 * (vfio_unregister_group_dev waits for the last close). Persistent
 * instances are mdevctl definitions (mdev-config.h), started again at the
 * agent's start when their parent has them as "auto".
 *
 * Library code: nothing is logged above debug; the report says what
 * happened. Every write goes through sysfs_write_attr(). */
#pragma once

#include <stdbool.h>

#include "basic/hostroot.h"
#include "inventory.h"
#include "mdev.h"

typedef struct MdevCreateRequest {
        char *type;                     /* a type id of the parent */
        char uuid[MDEV_UUID_STRLEN];    /* "": a random one is chosen */
        bool persistent;                /* also defined, started at every start ("auto") */
} MdevCreateRequest;

typedef enum MdevOutcome {
        MDEV_DONE,
        MDEV_REFUSED,  /* nothing written: see reasons */
        MDEV_FAILED,   /* see error */
        _MDEV_OUTCOME_MAX,
} MdevOutcome;

typedef struct MdevReport {
        MdevOutcome outcome;
        char uuid[MDEV_UUID_STRLEN];
        char parent[PCI_ADDR_STRLEN];
        ReasonList reasons;             /* REFUSED: the blockers */
        char *error;                    /* FAILED: what failed, with the kernel's errno */
        char **writes;                  /* "mdev_supported_types/T/create=UUID", in order */
        bool defined;                   /* a definition exists after the call */
} MdevReport;

void mdev_report_done(MdevReport *r);
const char *mdev_outcome_to_string(MdevOutcome o);

/* 1 with the blockers in rep when the creation is refused, 0 when nothing
 * refuses it. -ENOENT: no such device; -ENOTSUP: it offers no mdev types;
 * -ESRCH: not one of its types. */
int mdev_create_check(const HostRoot *root, const Inventory *inv, const char *parent, MdevCreateRequest *req,
                      MdevReport *rep);
/* The checks, then the write, then the definition when asked (a failed
 * definition removes the instance again). */
int mdev_create(const HostRoot *root, const Inventory *inv, const char *parent, MdevCreateRequest *req,
                MdevReport *rep);

/* The parent of an active instance, or of a definition: NULL when neither. */
const PciDevice *mdev_find_parent(const Inventory *inv, const char *uuid, const MdevInstance **ret_instance);

/* 1 refused (the group is held), 0 fine; -ENOENT: neither an instance nor
 * a definition. */
int mdev_remove_check(const HostRoot *root, const Inventory *inv, const char *uuid, MdevReport *rep);
/* Removes the instance, if active, and its definition, if any. */
int mdev_remove(const HostRoot *root, const Inventory *inv, const char *uuid, MdevReport *rep);

typedef struct MdevReapplyResult {
        char uuid[MDEV_UUID_STRLEN];
        char *parent;
        const char *outcome;   /* "started", "active", "drifted", "left-to-mdevctl", "failed" */
        char *detail;          /* for people */
} MdevReapplyResult;

/* At start: every "auto" definition whose parent is here and offers its
 * type, and that is not active, is created. */
int mdev_reapply(const HostRoot *root, const Inventory *inv, MdevReapplyResult **ret, size_t *ret_n);
void mdev_reapply_results_free(MdevReapplyResult *r, size_t n);

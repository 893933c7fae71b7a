/* Binding an IOMMU group to vfio-pci and giving it back. The group moves as
 * a whole: every endpoint goes to vfio-pci through driver_override, unbind
 * from its driver and drivers_probe (never new_id, which would capture every
 * device with the same ids); bridges are left alone. The original drivers
 * are recorded in the state directory (vfio-state.h) before the first write,
 * the group is verified viable afterwards, and a failure rolls back what was
 * done. Refused, before anything is written, when the group holds a device
 * the host uses or a piece of the platform, when no IOMMU is active, or when
 * a process holds the group open. Idempotent: binding a bound group, or
 * releasing a released one, writes nothing and says so.
 *
 * Library code: nothing is logged above debug; the report says what happened
 * and the caller logs it. Every sysfs write goes through sysfs_write_attr(). */
#pragma once

#include <stdbool.h>

#include "basic/hostroot.h"
#include "inventory.h"
#include "vfio-state.h"

typedef enum BindOutcome {
        BIND_DONE,      /* sysfs was written and the result verified */
        BIND_UNCHANGED, /* it already was so: nothing written to sysfs */
        BIND_REFUSED,   /* nothing written: see reasons (blockers) */
        BIND_FAILED,    /* a step failed: see error; what was done was rolled back: see rollback */
        _BIND_OUTCOME_MAX,
} BindOutcome;

typedef struct BindDeviceResult {
        char address[PCI_ADDR_STRLEN];
        bool bridge;
        char *before;   /* the driver before; NULL: none */
        char *after;    /* the driver after, as re-read from sysfs; NULL: none */
} BindDeviceResult;

typedef struct BindReport {
        BindOutcome outcome;
        int group;                 /* -1: none */
        BindDeviceResult *devices; /* every member of the group, address order */
        size_t n_devices;
        ReasonList reasons;        /* REFUSED: why; otherwise warnings (a driver that did not come back) */
        char *error;               /* FAILED: the step that failed and the kernel's errno */
        char *rollback;            /* FAILED: what the rollback restored, or could not */
        bool persistent;           /* the binding's flag after the call */
        bool recorded;             /* a binding record exists after the call */
} BindReport;

void bind_report_done(BindReport *r);
const char *bind_outcome_to_string(BindOutcome o);

/* Binds the group of address (any member) to vfio-pci. state_dir holds the
 * binding records. -ENOENT when the inventory has no such device; other
 * negative errnos when the state cannot be read or written (then nothing
 * was written to sysfs either). inv is not changed: rescan afterwards. */
int vfio_bind_group(const HostRoot *root, const Inventory *inv, const char *state_dir, const char *address,
                    bool persistent, BindReport *ret);

/* Gives the group of address back to the drivers recorded when hostdevd
 * bound it: driver_override restored (cleared with "\n"), unbound from
 * vfio-pci, drivers_probe; then checks the original drivers came back (a
 * warning for each that did not). REFUSED for a group hostdevd did not bind
 * that is on vfio-pci, and for a group a process holds open. */
int vfio_unbind_group(const HostRoot *root, const Inventory *inv, const char *state_dir, const char *address,
                      BindReport *ret);

/* What vfio_bind_group() (bind true) or vfio_unbind_group() would refuse
 * now, found without writing anything: 1 with *ret (outcome BIND_REFUSED,
 * the blockers) when it would be refused, 0 when nothing refuses it now
 * (the change itself checks again). -ENOENT for no such device. */
int vfio_check_group(const HostRoot *root, const Inventory *inv, const char *state_dir, const char *address,
                     bool bind, BindReport *ret);

typedef enum ReapplyOutcome {
        REAPPLY_APPLIED,  /* a persistent binding, bound again */
        REAPPLY_ALREADY,  /* a persistent binding still (or already) in place */
        REAPPLY_KEPT,     /* a binding of this boot: the agent restarted, it stands */
        REAPPLY_DROPPED,  /* a binding of an earlier boot that was not persistent: forgotten */
        REAPPLY_DRIFTED,  /* not applied: the device or its group changed (kept, see detail) */
        REAPPLY_REFUSED,  /* not applied: the group is not assignable now (see detail) */
        REAPPLY_FAILED,   /* binding failed and was rolled back (see detail) */
        REAPPLY_RELEASED, /* a release that the agent's stop interrupted, finished: the record is gone */
        _REAPPLY_OUTCOME_MAX,
} ReapplyOutcome;

typedef struct ReapplyResult {
        char requested[PCI_ADDR_STRLEN];
        int group;
        ReapplyOutcome outcome;
        char *detail;   /* for people; NULL when there is nothing to add */
} ReapplyResult;

/* At agent start, before the server: re-applies persistent bindings made in
 * an earlier boot (their ids and group membership checked first, as
 * Proxmox's mappings are), forgets non-persistent ones of an earlier boot,
 * keeps those of this boot; and finishes a change that a crash of the agent
 * interrupted (a record marked pending): a bind is carried to its end, a
 * release too (in an earlier boot a pending release is only forgotten).
 * The state is saved when it changed. */
int vfio_bind_reapply(const HostRoot *root, const Inventory *inv, const char *state_dir, ReapplyResult **ret,
                      size_t *ret_n);
void reapply_results_free(ReapplyResult *r, size_t n);
const char *reapply_outcome_to_string(ReapplyOutcome o);

/* Whether the vfio-pci driver is registered (sys/bus/pci/drivers/vfio-pci). */
bool vfio_pci_loaded(const HostRoot *root);

/* The default state directory under a root: var/lib/hostdevd. */
char *vfio_default_state_dir(const HostRoot *root);

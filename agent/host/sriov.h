/* Changing a physical function's VF count, as VDSM's hostdevChangeNumvfs
 * does: writes sriov_drivers_autoprobe when asked, then sriov_numvfs,
 * through 0 when going from one non-zero count to another (the kernel
 * answers EBUSY otherwise: sriov_numvfs_store). Refused, before anything is
 * written, when the PF has no driver (the kernel enables VFs through it),
 * and, when VFs would go away, while one of them is used by the host or
 * its IOMMU group is held open (a running VM). A failure after VFs were
 * disabled puts the old count back. The count may be recorded to be set
 * again at every start (sriov-state.h).
 *
 * Library code: nothing is logged above debug; the report says what
 * happened. Every write goes through sysfs_write_attr(). */
#pragma once

#include <stdbool.h>

#include "basic/hostroot.h"
#include "inventory.h"

typedef struct SriovRequest {
        unsigned numvfs;
        int drivers_autoprobe;  /* 1, 0; -1: leave it */
        int persistent;         /* 1: record it; 0: forget any record; -1: leave the record */
} SriovRequest;

typedef enum SriovOutcome {
        SRIOV_DONE,
        SRIOV_UNCHANGED,  /* already so: nothing written to sysfs */
        SRIOV_REFUSED,    /* nothing written: see reasons */
        SRIOV_FAILED,     /* see error and rollback */
        _SRIOV_OUTCOME_MAX,
} SriovOutcome;

typedef struct SriovReport {
        SriovOutcome outcome;
        int before, after;       /* sriov_numvfs before and (re-read) after */
        ReasonList reasons;      /* REFUSED: blockers; otherwise warnings */
        char *error;             /* FAILED: the write that failed and the kernel's errno */
        char *rollback;          /* FAILED: what was put back, or could not be */
        char **writes;           /* each write made, "sriov_numvfs=0", in order */
        bool recorded;           /* a record exists after the call */
} SriovReport;

void sriov_report_done(SriovReport *r);
const char *sriov_outcome_to_string(SriovOutcome o);

/* What sriov_set() would refuse now, without writing: 1 with the blockers
 * in *ret, 0 when nothing refuses it. -ENOENT: no such device; -ENOTSUP:
 * it has no SR-IOV capability; -ERANGE: more VFs than sriov_totalvfs. */
int sriov_check(const HostRoot *root, const Inventory *inv, const char *pf, const SriovRequest *req,
                SriovReport *ret);

/* Makes the change (the checks first, as sriov_check()); negative errnos as
 * sriov_check(), or from the state directory. inv is not changed: refresh
 * the PF afterwards. */
int sriov_set(const HostRoot *root, const Inventory *inv, const char *state_dir, const char *pf,
              const SriovRequest *req, SriovReport *ret);

/* sriov_drivers_autoprobe of a PF as the kernel has it now: 1, 0, or -1
 * when it cannot be read. */
int sriov_read_autoprobe(const HostRoot *root, const char *pf);

typedef struct SriovReapplyResult {
        char address[PCI_ADDR_STRLEN];
        unsigned numvfs;
        const char *outcome;   /* "applied", "already", "drifted", "refused", "failed" */
        char *detail;          /* for people; NULL when nothing to add */
} SriovReapplyResult;

/* At start, before the vfio-pci bindings: every recorded count set again,
 * unless the device at the address has other ids (drift: kept, not applied). */
int sriov_reapply(const HostRoot *root, const Inventory *inv, const char *state_dir, SriovReapplyResult **ret,
                  size_t *ret_n);
void sriov_reapply_results_free(SriovReapplyResult *r, size_t n);

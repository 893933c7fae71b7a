/* The host as the agent holds it between requests: where its files are, the
 * pci.ids names, and the current inventory snapshot with a generation
 * counter that every new snapshot bumps. The HTTP layer reads it; a rescan
 * or a refresh replaces the snapshot, and a listener hears what changed. */
#pragma once

#include <stdint.h>

#include "basic/histogram.h"
#include "basic/hostroot.h"
#include "inventory-diff.h"
#include "inventory.h"
#include "pci-access.h"

typedef struct HostState HostState;

/* Called after the snapshot was replaced, with what changed and why
 * ("rescan", "uevent", "consistency", "vfio-holders", "operation"). */
typedef void (*HostStateListener)(HostState *s, const InventoryDiff *diff, const char *cause, void *userdata);

/* How long reading the host takes, for the metrics. */
typedef struct HostStateStats {
        Histogram scan;             /* full scans: the first, and every rescan */
        Histogram refresh;          /* incremental refreshes: uevents, VFIO opens, consistency, operations */
        uint64_t scan_failures, refresh_failures;
} HostStateStats;

struct HostState {
        HostRoot *root;
        PciNames *names;
        Inventory *inventory; /* never NULL after host_state_new() succeeded */
        uint64_t generation;  /* 1 for the first scan */

        HostStateListener listener;
        void *listener_userdata;
        HostStateStats stats;
};

int host_state_new(const char *root_dir, const char *pci_ids, HostState **ret, char **ret_error);
HostState *host_state_free(HostState *s);
static inline void host_state_freep(HostState **s) {
        host_state_free(*s);
}

void host_state_set_listener(HostState *s, HostStateListener cb, void *userdata);

/* Scans again, a new snapshot whatever changed; on failure the previous
 * inventory stays in place. */
int host_state_rescan(HostState *s, char **ret_error);

/* Reads again the functions named (see inventory_refresh()) and, with
 * holders, the VFIO holders. Replaces the snapshot and returns 1 only when
 * something changed; 0 when nothing did. The diff, if ret_diff is given, is
 * the caller's to free. */
int host_state_refresh(HostState *s, char *const *addrs, bool holders, const char *cause, InventoryDiff *ret_diff,
                       char **ret_error);

/* The host as the agent holds it between requests: where its files are, the
 * pci.ids names, and the current inventory with a generation counter that a
 * rescan bumps. The HTTP layer reads it; only a rescan replaces it. */
#pragma once

#include <stdint.h>

#include "basic/hostroot.h"
#include "inventory.h"
#include "pci-access.h"

typedef struct HostState {
        HostRoot *root;
        PciNames *names;
        Inventory *inventory; /* never NULL after host_state_new() succeeded */
        uint64_t generation;  /* 1 for the first scan */
} HostState;

int host_state_new(const char *root_dir, const char *pci_ids, HostState **ret, char **ret_error);
HostState *host_state_free(HostState *s);
static inline void host_state_freep(HostState **s) {
        host_state_free(*s);
}

/* Scans again; on failure the previous inventory stays in place. */
int host_state_rescan(HostState *s, char **ret_error);

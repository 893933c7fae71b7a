/* Host state: see host-state.h. */
#include <malloc.h>
#include <stdlib.h>

#include "basic/macro.h"
#include "basic/time-util.h"
#include "host-state.h"

/* A full scan, timed. */
static int scan(HostState *s, Inventory **ret, char **ret_error) {
        uint64_t t0 = now_monotonic_usec();
        int r;

        r = inventory_scan(s->root, s->names, ret, ret_error);
        pci_names_trim(s->names);
        if (r < 0)
                s->stats.scan_failures++;
        else
                histogram_observe(&s->stats.scan, now_monotonic_usec() - t0);
        return r;
}

int host_state_new(const char *root_dir, const char *pci_ids, HostState **ret, char **ret_error) {
        _cleanup_(host_state_freep) HostState *s = calloc(1, sizeof(HostState));
        int r;

        if (!s)
                return -ENOMEM;
        r = hostroot_new(root_dir, &s->root);
        if (r < 0)
                return r;
        r = pci_names_new(pci_ids, &s->names);
        if (r < 0)
                return r;
        r = scan(s, &s->inventory, ret_error);
        if (r < 0)
                return r;
        s->generation = 1;
        (void) malloc_trim(0); /* what the scan needed only while scanning */
        *ret = TAKE_PTR(s);
        return 0;
}

HostState *host_state_free(HostState *s) {
        if (!s)
                return NULL;
        inventory_unref(s->inventory);
        pci_names_free(s->names);
        hostroot_free(s->root);
        free(s);
        return NULL;
}

void host_state_set_listener(HostState *s, HostStateListener cb, void *userdata) {
        s->listener = cb;
        s->listener_userdata = userdata;
}

/* Installs inv (taking it over) and tells the listener what changed; the
 * diff goes to *ret_diff, or is freed. */
static void replace(HostState *s, Inventory *inv, InventoryDiff *diff, const char *cause, InventoryDiff *ret_diff) {
        inventory_unref(s->inventory);
        s->inventory = inv;
        s->generation++;
        if (s->listener)
                s->listener(s, diff, cause, s->listener_userdata);
        if (ret_diff)
                *ret_diff = *diff;
        else
                inventory_diff_done(diff);
        /* The old snapshot and its renderings are gone (unless a reply in
         * flight holds them): give their pages back rather than keep the
         * high-water mark of every refresh. After the listener, so it costs
         * the new ETag no latency. */
        (void) malloc_trim(0);
}

int host_state_rescan(HostState *s, char **ret_error) {
        InventoryDiff diff = {};
        Inventory *inv;
        int r;

        r = scan(s, &inv, ret_error);
        if (r < 0)
                return r;
        r = inventory_diff(s->inventory, inv, &diff);
        if (r < 0) {
                inventory_unref(inv);
                return r;
        }
        replace(s, inv, &diff, "rescan", NULL);
        return 0;
}

int host_state_refresh(HostState *s, char *const *addrs, bool holders, const char *cause, InventoryDiff *ret_diff,
                       char **ret_error) {
        InventoryDiff diff = {};
        Inventory *inv;
        uint64_t t0 = now_monotonic_usec();
        int r;

        r = inventory_refresh(s->inventory, s->root, s->names, addrs, holders, &inv, ret_error);
        pci_names_trim(s->names);
        if (r < 0) {
                s->stats.refresh_failures++;
                return r;
        }
        histogram_observe(&s->stats.refresh, now_monotonic_usec() - t0);
        r = inventory_diff(s->inventory, inv, &diff);
        if (r < 0 || inventory_diff_is_empty(&diff)) {
                /* nothing changed: the current snapshot, its ETag and caches stay */
                inventory_unref(inv);
                inventory_diff_done(&diff);
                if (r >= 0 && ret_diff)
                        *ret_diff = (InventoryDiff) {};
                return r < 0 ? r : 0;
        }
        replace(s, inv, &diff, cause, ret_diff);
        return 1;
}

/* Host state: see host-state.h. */
#include <stdlib.h>

#include "basic/macro.h"
#include "host-state.h"

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
        r = host_state_rescan(s, ret_error);
        if (r < 0)
                return r;
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

int host_state_rescan(HostState *s, char **ret_error) {
        Inventory *inv;
        int r;

        r = inventory_scan(s->root, s->names, &inv, ret_error);
        if (r < 0)
                return r;
        inventory_unref(s->inventory);
        s->inventory = inv;
        s->generation++;
        return 0;
}

/* The inventory: every PCI function of the host with its IOMMU group, what
 * the host uses it for, and whether it can be assigned to a VM. Scanned once
 * and then read-only: the HTTP layer serves it from memory until a rescan
 * replaces it as a whole. */
#pragma once

#include <stdint.h>

#include "basic/hostroot.h"
#include "pci-access.h"
#include "pci-device.h"
#include "vfio-holders.h"

typedef struct IommuGroup {
        int id;
        size_t *members;  /* indices into Inventory.devices, in address order */
        size_t n_members;
        size_t n_endpoints;
        char *type;       /* the kernel's domain type: "DMA", "DMA-FQ", "identity"... */

        bool viable;      /* usable through VFIO now (VFIO_GROUP_FLAGS_VIABLE) */
        ReasonList viable_reasons;
        bool assignable;  /* may be given to a VM, as a whole */
        ReasonList reasons;
} IommuGroup;

typedef struct Inventory {
        unsigned n_ref;
        PciDevice *devices;
        size_t n_devices;
        IommuGroup *groups; /* sorted by id */
        size_t n_groups;
        bool iommu_active;  /* the kernel made IOMMU groups */
        VfioHolder *holders; /* who has which group open now, sorted by group */
        size_t n_holders;
        uint64_t scanned_at_usec; /* CLOCK_REALTIME */
} Inventory;

int inventory_scan(const HostRoot *root, PciNames *names, Inventory **ret, char **ret_error);

/* A new snapshot from old: the functions named in addrs (NULL-terminated;
 * NULL for none) read again, with their PF and VFs, added or dropped as
 * sysfs has them now; with holders, the VFIO holders read again too. Every
 * verdict is judged afresh. old is not changed. */
int inventory_refresh(const Inventory *old, const HostRoot *root, PciNames *names, char *const *addrs, bool holders,
                      Inventory **ret, char **ret_error);
/* References are taken and dropped on the event loop's thread only. */
Inventory *inventory_ref(Inventory *inv);
Inventory *inventory_unref(Inventory *inv);
static inline void inventory_unrefp(Inventory **inv) {
        inventory_unref(*inv);
}

const PciDevice *inventory_find(const Inventory *inv, const char *addr);
/* The kernel's rule for one member of a viable group: no driver, or one that
 * manages DMA itself (vfio-pci, pci-stub; pcieport on a bridge). A group is
 * viable when every member passes and one is on vfio-pci. */
bool pci_driver_keeps_group_viable(const char *driver, bool is_bridge);
const IommuGroup *inventory_group(const Inventory *inv, int id);

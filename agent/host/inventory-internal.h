/* What the full scan (inventory.c) and the incremental refresh
 * (inventory-refresh.c) share: reading sysfs beside libpci, and turning
 * read devices into a judged snapshot. */
#pragma once

#include "inventory.h"

/* pci_device_read_sysfs() and the pci.ids names for each device. */
int inventory_read_extras(const HostRoot *root, PciNames *names, PciDevice *devices, size_t n);

/* Completes inv, whose devices (sorted) and holders are in place: reset
 * methods inferred, host usage, groups, verdicts, the time. Group types
 * come from old (may be NULL) except for the stale groups (sorted ids). */
int inventory_assemble(const HostRoot *root, Inventory *inv, const Inventory *old, const int *stale_groups,
                       size_t n_stale);

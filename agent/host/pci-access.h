/* The one door to libpci: scanning the bus through sysfs under the host
 * root, and names from pci.ids. Nothing else includes <pci/pci.h>. */
#pragma once

#include <stddef.h>

#include "basic/hostroot.h"
#include "pci-device.h"

typedef struct PciNames PciNames;

/* Name lookups from pci.ids; ids_file NULL uses libpci's default. The
 * database is read once, on first use, and kept. */
int pci_names_new(const char *ids_file, PciNames **ret);
PciNames *pci_names_free(PciNames *n);
static inline void pci_names_freep(PciNames **n) {
        pci_names_free(*n);
}

/* Fills vendor, device, subsystem and class names of d (NULL when unknown). */
int pci_names_fill(PciNames *n, PciDevice *d);

/* Scans every PCI function under <root>/sys/bus/pci. Fills identity, class,
 * revision, subsystem, NUMA node, IOMMU group and driver; the rest is read
 * by pci_device_read_sysfs(). Sorted by address. On failure
 * ret_error (if given) holds libpci's message. */
int pci_scan(const HostRoot *root, PciDevice **ret, size_t *ret_n, char **ret_error);

/* Reads only the functions named (NULL-terminated addresses), as pci_scan()
 * does: those whose sysfs directory is gone are left out. Sorted. */
int pci_read_devices(const HostRoot *root, char *const *addrs, PciDevice **ret, size_t *ret_n, char **ret_error);

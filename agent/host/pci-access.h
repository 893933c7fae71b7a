/* The one door to libpci: scanning the bus through sysfs under the host
 * root, and names from pci.ids. Nothing else includes <pci/pci.h>. */
#pragma once

#include <stddef.h>

#include "basic/hostroot.h"
#include "pci-device.h"

typedef struct PciNames PciNames;

/* Name lookups from pci.ids; ids_file NULL uses libpci's default. Names
 * are interned and every lookup is remembered; the database is read when
 * an id not looked up before needs it, and kept until pci_names_trim(). */
int pci_names_new(const char *ids_file, PciNames **ret);
/* Drops the parsed database, keeping the names: after a scan. */
void pci_names_trim(PciNames *n);
/* Frees the names too: after every PciDevice that points at them. */
PciNames *pci_names_free(PciNames *n);
static inline void pci_names_freep(PciNames **n) {
        pci_names_free(*n);
}

/* Points vendor, device, subsystem and class names of d at the interned
 * names (NULL when unknown). */
int pci_names_fill(PciNames *n, PciDevice *d);

/* Scans every PCI function under <root>/sys/bus/pci. Fills identity, class,
 * revision, subsystem and NUMA node; the rest (driver and IOMMU group
 * included) is read by pci_device_read_sysfs(). Sorted by address. On failure
 * ret_error (if given) holds libpci's message. */
int pci_scan(const HostRoot *root, PciDevice **ret, size_t *ret_n, char **ret_error);

/* Reads only the functions named (NULL-terminated addresses), as pci_scan()
 * does: those whose sysfs directory is gone are left out. Sorted. */
int pci_read_devices(const HostRoot *root, char *const *addrs, PciDevice **ret, size_t *ret_n, char **ret_error);

/* What the host itself uses each PCI device for: the disks behind mounted
 * filesystems and swap, the network interfaces that carry its routes and
 * addresses, the boot VGA and framebuffer consoles. Such a device, and every
 * device that shares its IOMMU group, must never be taken from the host. */
#pragma once

#include <stddef.h>

#include "basic/hostroot.h"
#include "pci-device.h"

/* Adds host usage entries to the devices (sorted by address). Missing
 * procfs or sysfs files mean "no usage known", never an error. */
int host_usage_scan(const HostRoot *root, PciDevice *devices, size_t n);

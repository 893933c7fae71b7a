/* One PCI function as hostdevd knows it: what libpci reports (identity,
 * class, names) plus what only sysfs knows (SR-IOV, driver_override, reset
 * methods, link state, boot VGA), plus the verdicts computed over the whole
 * inventory (host usage, assignability). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "pci-addr.h"

typedef enum ReasonSeverity {
        REASON_BLOCKER, /* the device cannot be assigned */
        REASON_WARNING, /* it can, but the operator should know */
} ReasonSeverity;

typedef struct Reason {
        char *code;     /* stable, machine-readable: "host-uses-device" */
        ReasonSeverity severity;
        char *device;   /* the address the reason is about, or NULL */
        char *message;  /* for people */
} Reason;

typedef struct ReasonList {
        Reason *items;
        size_t n;
} ReasonList;

typedef enum HostUsageKind {
        USAGE_ROOT_FILESYSTEM,
        USAGE_BOOT_FILESYSTEM,
        USAGE_FILESYSTEM,
        USAGE_SWAP,
        USAGE_DEFAULT_ROUTE,
        USAGE_NETWORK_ADDRESS,
        USAGE_BOOT_VGA,
        USAGE_FRAMEBUFFER,
        _USAGE_MAX,
} HostUsageKind;

typedef struct HostUsage {
        HostUsageKind kind;
        char *detail;   /* "nvme0n1p2 mounted on /" */
} HostUsage;

typedef struct PciLink {
        char *current_speed; /* "8.0 GT/s PCIe" as the kernel writes it */
        char *max_speed;
        int current_width;   /* -1 when unknown */
        int max_width;
} PciLink;

typedef struct PciDevice {
        PciAddr addr;
        char name[PCI_ADDR_STRLEN];      /* "0000:01:00.0" */

        uint16_t vendor_id, device_id;
        uint16_t subsys_vendor_id, subsys_device_id;
        bool has_subsys;
        uint32_t class_code;             /* base, sub, prog-if: 0x030000 */
        uint8_t revision;
        /* From pci.ids, interned by PciNames (pci-access.h): shared, not freed with the device. */
        const char *vendor_name, *device_name, *subsys_name, *class_name;

        char *driver;                    /* NULL: no driver bound */
        char *driver_override;           /* NULL: none set */
        int iommu_group;                 /* -ENOENT: no group */
        int numa_node;                   /* -1: unknown or single node */
        char *local_cpulist;
        char *parent;                    /* upstream bridge, NULL on a root bus */
        bool is_bridge;                  /* PCI-to-PCI or CardBus bridge */
        bool has_link;
        PciLink link;

        bool is_pf;                      /* has SR-IOV capability */
        int total_vfs, enabled_vfs;
        char **vfs;                      /* addresses of enabled VFs */
        char *physfn;                    /* for a VF: its PF */
        struct MdevParent *mdev;         /* mediated device types and instances; NULL: no parent (mdev.h) */

        bool has_reset_method;           /* the kernel exposes reset_method */
        char **reset_methods;
        int boot_vga;                    /* 1, 0, or -1 when not a VGA device */

        HostUsage *usage;
        size_t n_usage;

        bool assignable;
        ReasonList reasons;
} PciDevice;

/* Reads from the device's sysfs directory what libpci does not provide.
 * bus_fd is an open directory fd of sys/bus/pci/devices, dir_fd of the
 * device's own directory in it. */
int pci_device_read_sysfs(PciDevice *d, int bus_fd, int dir_fd);

void pci_device_done(PciDevice *d);
/* A deep copy of what was read from the kernel, without the verdicts
 * (host usage, reasons, assignable), which the inventory computes again. */
int pci_device_copy(const PciDevice *src, PciDevice *ret);

bool pci_class_is_bridge(uint32_t class_code);
/* Host, ISA/EISA/MCA bridges and the IOMMU itself: parts of the platform. */
bool pci_class_is_platform(uint32_t class_code);

int reason_list_add(ReasonList *l, const char *code, ReasonSeverity severity,
                    const char *device, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void reason_list_done(ReasonList *l);
bool reason_list_has_blocker(const ReasonList *l);
bool reason_list_has_code(const ReasonList *l, const char *code);
/* The message of the first blocker; NULL when there is none. */
const char *reason_list_first_blocker(const ReasonList *l);

const char *host_usage_kind_to_string(HostUsageKind k);
int pci_device_add_usage(PciDevice *d, HostUsageKind kind, const char *detail);

/* Binary search in an array sorted by address; NULL if absent. */
PciDevice *pci_devices_find(PciDevice *devices, size_t n, const char *addr);

/* The nearest PCI function above a sysfs device path (the last path component
 * that is a PCI address), copied into ret; -ENOENT for virtual devices. */
int sysfs_path_pci_ancestor(const char *path, char ret[static PCI_ADDR_STRLEN]);

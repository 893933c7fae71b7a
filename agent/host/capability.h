/* Can this host pass PCI devices through, and if not, why and what to do:
 * checks in the spirit of virt-host-validate, a verdict, and the kernel
 * arguments still missing, chosen from the IOMMU the firmware describes. */
#pragma once

#include "basic/hostroot.h"
#include "hostinfo.h"
#include "inventory.h"

typedef enum CheckStatus {
        CHECK_PASS,
        CHECK_WARN,
        CHECK_FAIL,
} CheckStatus;

typedef struct Check {
        const char *id;     /* "cpu-virtualization", ... */
        CheckStatus status;
        char *detail;
        char *hint;         /* what to do; NULL when nothing */
} Check;

typedef enum IommuKind {
        IOMMU_UNKNOWN,
        IOMMU_INTEL,        /* VT-d: ACPI DMAR */
        IOMMU_AMD,          /* AMD-Vi: ACPI IVRS */
        IOMMU_ARM,          /* SMMU: ACPI IORT */
} IommuKind;

typedef struct Capabilities {
        const char *verdict;     /* ready, needs-kernel-arguments, disabled-in-firmware,
                                  * no-cpu-support, vfio-unavailable */
        IommuKind iommu;          /* what the firmware describes; IOMMU_UNKNOWN: none */
        const char *iommu_source; /* the ACPI table: "DMAR", "IVRS", "IORT", or NULL */
        IommuKind cpu_iommu;      /* the IOMMU this CPU's vendor pairs with (Intel: VT-d,
                                   * AMD: AMD-Vi), whatever the firmware says */
        bool iommu_active;
        unsigned n_groups;
        char **args_add;         /* kernel arguments to add */
        char **args_remove;      /* and to remove */
        char **args_optional;    /* worth adding: iommu=pt */
        Check checks[12];
        size_t n_checks;
} Capabilities;

int capabilities_evaluate(const HostRoot *root, const HostInfo *host, const Inventory *inv,
                          Capabilities *ret);
void capabilities_done(Capabilities *c);

const char *check_status_to_string(CheckStatus s);
const char *iommu_kind_to_string(IommuKind k);

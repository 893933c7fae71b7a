/* Passthrough plans: what giving a set of PCI functions to one VM takes on
 * this host, computed from the inventory and changing nothing. The IOMMU
 * group is the unit: every other endpoint of a requested device's group goes
 * to vfio-pci too (a placeholder: bound, not necessarily passed), bridges
 * stay with the host. The plan lists the driver moves, what blocks or
 * should worry the operator, and how the VM must be pinned (this host, no
 * live migration, the devices' NUMA nodes and CPUs). Deterministic: groups
 * by id, devices by address, the request itself canonical and sorted. */
#pragma once

#include <stddef.h>

#include "hostinfo.h"
#include "inventory.h"
#include "vfio-holders.h"

#define PLAN_MAX_DEVICES 256

typedef enum PlanRole {
        PLAN_ROLE_REQUESTED,   /* asked for: goes into the VM */
        PLAN_ROLE_PLACEHOLDER, /* same group: bound to vfio-pci, need not enter the VM */
        PLAN_ROLE_BRIDGE,      /* same group: never unbound, never passed */
        _PLAN_ROLE_MAX,
} PlanRole;

typedef struct PlanDevice {
        char address[PCI_ADDR_STRLEN];
        PlanRole role;
        char *driver;     /* bound now; NULL: none */
        int numa_node;    /* -1: unknown */
        char *local_cpus; /* cpulist; NULL: unknown */
} PlanDevice;

typedef struct PlanAction {
        char address[PCI_ADDR_STRLEN];
        char *from;       /* the driver now; NULL: none bound */
        const char *to;   /* "vfio-pci" */
} PlanAction;

typedef struct PlanGroup {
        int id;           /* -1: the device is in no IOMMU group */
        PlanDevice *devices; /* address order */
        size_t n_devices;
        PlanAction *actions; /* endpoints not yet on vfio-pci, address order */
        size_t n_actions;
        ReasonList reasons;  /* blockers and warnings about this group */
} PlanGroup;

typedef struct PassthroughPlan {
        char *vm;               /* NULL when not given */
        char **requested;       /* canonical addresses, sorted */
        PlanGroup *groups;      /* by id, groupless devices (-1) first */
        size_t n_groups;
        ReasonList reasons;     /* host-wide: no IOMMU, vfio-pci not loaded */
        bool feasible;          /* no blocker anywhere */
        char *host_id;          /* the host the VM must be pinned to; NULL: unknown */
        const char *host_id_source;
        int *numa_nodes;        /* of the requested devices, sorted, unique */
        size_t n_numa_nodes;
        char *local_cpus;       /* union of the requested devices' local CPUs; NULL: unknown */
} PassthroughPlan;

typedef struct PlanInput {
        const Inventory *inv;
        const HostInfo *host;          /* NULL: host id unknown */
        const VfioHolder *holders;     /* sorted, as vfio_holders_scan() gives them */
        size_t n_holders;
        bool vfio_pci_loaded;          /* sys/bus/pci/drivers/vfio-pci exists */
        char *const *devices;          /* addresses as the client wrote them */
        size_t n_devices;
        const char *vm;                /* NULL: none given */
} PlanInput;

/* What is wrong with the request itself, naming the entry (index into
 * PlanInput.devices; the list itself for EMPTY and TOO_MANY). */
typedef enum PlanErrorKind {
        PLAN_ERROR_EMPTY,       /* no device asked for */
        PLAN_ERROR_TOO_MANY,    /* more than PLAN_MAX_DEVICES */
        PLAN_ERROR_MALFORMED,   /* not a PCI address */
        PLAN_ERROR_DUPLICATE,   /* the same function twice */
        PLAN_ERROR_BRIDGE,      /* a bridge: never passed through */
        PLAN_ERROR_UNKNOWN,     /* well-formed, but not on this host */
} PlanErrorKind;

typedef struct PlanError {
        PlanErrorKind kind;
        size_t index;
        char *message;          /* for people; freed by plan_error_done() */
} PlanError;

/* 0 and the plan; -EINVAL with *ret_error set when the request is wrong
 * (the only case ret_error is written); -ENOMEM. */
int passthrough_plan_build(const PlanInput *in, PassthroughPlan **ret, PlanError *ret_error);
PassthroughPlan *passthrough_plan_free(PassthroughPlan *p);
static inline void passthrough_plan_freep(PassthroughPlan **p) {
        passthrough_plan_free(*p);
}
void plan_error_done(PlanError *e);

const char *plan_role_to_string(PlanRole r);

/* cpulist union ("0-3" + "2-5,8" -> "0-5,8"); -EINVAL on a malformed list. */
int cpulist_union(const char *a, const char *b, char **ret);

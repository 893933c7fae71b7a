/* What changed between two inventory snapshots, device by device and group
 * by group, with the changed fields named as the API names them
 * ("driver", "sriov", "reasons"): the events a manager is sent. */
#pragma once

#include "inventory.h"

typedef enum ChangeKind {
        CHANGE_ADDED,
        CHANGE_REMOVED,
        CHANGE_CHANGED,
        _CHANGE_KIND_MAX,
} ChangeKind;

typedef struct DeviceChange {
        ChangeKind kind;
        char address[PCI_ADDR_STRLEN];
        char **fields;     /* CHANGE_CHANGED only */
} DeviceChange;

typedef struct GroupChange {
        ChangeKind kind;
        int id;
        char **fields;
} GroupChange;

typedef struct InventoryDiff {
        DeviceChange *devices; /* in address order */
        size_t n_devices;
        GroupChange *groups;   /* in id order */
        size_t n_groups;
} InventoryDiff;

int inventory_diff(const Inventory *a, const Inventory *b, InventoryDiff *ret);
void inventory_diff_done(InventoryDiff *d);
bool inventory_diff_is_empty(const InventoryDiff *d);
const char *change_kind_to_string(ChangeKind k);

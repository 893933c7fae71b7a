/* The large views of the inventory, written straight into a JsonWriter:
 * devices (all their fields, or the sparse fieldset a poller asks for with
 * ?fields=) and IOMMU groups, in the shapes api/openapi.json describes. */
#pragma once

#include <stdint.h>

#include "host/inventory.h"
#include "json-writer.h"

/* One bit per field of a Device, in the order the object lists them. */
typedef enum DeviceField {
        DEVICE_ADDRESS,
        DEVICE_VENDOR_ID,
        DEVICE_VENDOR_NAME,
        DEVICE_DEVICE_ID,
        DEVICE_DEVICE_NAME,
        DEVICE_SUBSYSTEM_VENDOR_ID,
        DEVICE_SUBSYSTEM_DEVICE_ID,
        DEVICE_SUBSYSTEM_NAME,
        DEVICE_CLASS,
        DEVICE_CLASS_NAME,
        DEVICE_REVISION,
        DEVICE_DRIVER,
        DEVICE_DRIVER_OVERRIDE,
        DEVICE_IOMMU_GROUP,
        DEVICE_NUMA_NODE,
        DEVICE_LOCAL_CPUS,
        DEVICE_PARENT,
        DEVICE_IS_BRIDGE,
        DEVICE_LINK,
        DEVICE_SRIOV,
        DEVICE_PHYSFN,
        DEVICE_MDEV,
        DEVICE_RESET_METHODS,
        DEVICE_BOOT_VGA,
        DEVICE_HOST_USAGE,
        DEVICE_ASSIGNABLE,
        DEVICE_REASONS,
        _DEVICE_FIELD_MAX,
} DeviceField;

typedef uint32_t DeviceFieldSet;
#define DEVICE_FIELDS_ALL ((DeviceFieldSet) ((UINT32_C(1) << _DEVICE_FIELD_MAX) - 1))

/* "address,driver,iommu_group": a comma-separated list of field names, each
 * at most once. On an unknown or repeated name returns -EINVAL and points
 * *ret_bad at it (within s; *ret_bad_len bytes). */
int device_fields_parse(const char *s, DeviceFieldSet *ret, const char **ret_bad, size_t *ret_bad_len);

void write_device(JsonWriter *w, const Inventory *inv, const PciDevice *d, DeviceFieldSet fields);
/* {"uuid", "type", "iommu_group", "driver"}: one mediated device. */
struct MdevInstance;
void write_mdev_instance(JsonWriter *w, const struct MdevInstance *x);
void write_group(JsonWriter *w, const Inventory *inv, const IommuGroup *g);
void write_reasons(JsonWriter *w, const ReasonList *l);

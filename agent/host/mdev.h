/* Mediated devices (vGPU, GVT-g slices) as the kernel shows them under a
 * parent's sysfs directory (drivers/vfio/mdev/mdev_sysfs.c):
 *
 *   D/mdev_supported_types/<type>/        type id: "<parent driver>-<name>"
 *       name, description (optional), device_api ("vfio-pci"), available_instances
 *       create                            write a UUID: an instance appears
 *       devices/<uuid> -> ../../../<uuid> the instances of this type
 *   D/<uuid>/                             the instance (bus "mdev")
 *       mdev_type -> ../mdev_supported_types/<type>, remove (write 1),
 *       iommu_group (a group of its own), driver (vfio_mdev, nvidia-vgpu-vfio...)
 *
 * Read with the parent's other attributes (pci-device.c): a device that is
 * no parent costs one failed openat. Changing them: mdev-change.h. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define MDEV_UUID_STRLEN 37 /* "8-4-4-4-12" and the NUL */

typedef struct MdevType {
        char *id;               /* "i915-GVTg_V5_4": the directory name */
        char *name;             /* the type's name attribute; NULL when absent */
        char *description;      /* NULL when the driver gives none */
        char *device_api;       /* "vfio-pci"; NULL when unreadable */
        int available;          /* available_instances; -1 when unreadable */
} MdevType;

typedef struct MdevInstance {
        char uuid[MDEV_UUID_STRLEN];
        char *type;             /* its type's id */
        int iommu_group;        /* -1: none (no vfio driver bound yet) */
        char *driver;           /* NULL: none bound */
} MdevInstance;

typedef struct MdevParent {
        MdevType *types;        /* sorted by id */
        size_t n_types;
        MdevInstance *instances; /* sorted by uuid */
        size_t n_instances;
} MdevParent;

/* 0 with *ret NULL when the device offers no mdev types. dir_fd: the
 * device's sysfs directory. */
int mdev_parent_read(int dir_fd, MdevParent **ret);
MdevParent *mdev_parent_free(MdevParent *p);
int mdev_parent_copy(const MdevParent *p, MdevParent **ret);
bool mdev_parent_equal(const MdevParent *a, const MdevParent *b);

const MdevType *mdev_parent_find_type(const MdevParent *p, const char *id);
const MdevInstance *mdev_parent_find_instance(const MdevParent *p, const char *uuid);

/* A UUID as the kernel's guid_parse() takes it (hex digits, dashes at 8,
 * 13, 18, 23), written lower-case into ret as the kernel names the device.
 * -EINVAL otherwise. */
int mdev_uuid_canonical(const char *s, char ret[static MDEV_UUID_STRLEN]);
/* A random (version 4) UUID. */
int mdev_uuid_random(char ret[static MDEV_UUID_STRLEN]);

/* Kernel-argument presets, as oVirt's host kernel tab offers them: named
 * switches ("iommu", "nested-virtualization", ...) that map to the arguments
 * this host needs, chosen by the IOMMU its firmware describes (ACPI DMAR:
 * Intel, IVRS: AMD) and its CPU vendor; and vfio-pci.ids for early binding,
 * with warnings when the ids would take more than the devices meant, and
 * a refusal when they would take a device the host uses. */
#pragma once

#include <stdbool.h>

#include "capability.h"
#include "hostinfo.h"
#include "host-state.h"
#include "kernel-cmdline/kcmdline.h"

typedef struct PresetInfo {
        const char *name;
        const char *description;
        bool takes_ids;           /* "vfio-pci-ids": its arguments come from a list of ids */
} PresetInfo;

extern const PresetInfo kcmdline_presets[];
extern const size_t n_kcmdline_presets;

const PresetInfo *preset_find(const char *name);

/* What the presets are mapped from. */
typedef struct PresetHost {
        HostInfo info;
        Capabilities caps;
        const Inventory *inv;     /* borrowed */
} PresetHost;

int preset_host_read(const HostState *state, PresetHost *ret);
void preset_host_done(PresetHost *h);

/* The arguments (NULL-terminated, formatted) a preset adds on this host.
 * -ENOENT for an unknown name; -EOPNOTSUPP when it does not apply to this
 * host (*ret_reason says why) or takes ids (use vfio_ids_argument()). */
int preset_arguments(const PresetHost *h, const char *name, char ***ret_args, char **ret_reason);

/* What removing a preset deletes (if hostdevd added it): the arguments of
 * every host variant, so removal works whatever the host is now. */
int preset_arguments_any_host(const char *name, char ***ret_args);

/* Maximum number of ids in one vfio-pci.ids request. */
#define VFIO_IDS_MAX 32

/* "10de:1EB8" -> "10de:1eb8" (ret: 10 bytes). -EINVAL unless "vvvv:dddd" in hex. */
int vfio_id_normalize(const char *id, char ret[static 10]);
/* "vfio-pci.ids=a,b" from normalized ids (duplicates dropped). */
int vfio_ids_argument(char *const *ids, char **ret);
/* Sentences about devices these ids would also capture at boot: several
 * devices with one id, a device the host uses, an id no device has. */
int vfio_ids_warnings(const Inventory *inv, char *const *ids, char ***ret);

/* Whether one entry of vfio-pci.ids (the kernel's
 * vendor:device[:subvendor[:subdevice[:class[:class_mask]]]], hex, ffffffff
 * for any) makes vfio-pci take d at boot; false for an entry the kernel
 * ignores (fewer than two fields). */
bool vfio_id_matches(const char *entry, const PciDevice *d);
/* The refusal of a command line (after) whose vfio-pci.ids would give
 * vfio-pci at boot a device the host uses that before's did not (a
 * management NIC with the ids of the NIC meant for a VM): *ret_reason (a
 * sentence naming the devices, or NULL when there are none). 0 or -ENOMEM. */
int vfio_ids_host_devices_taken(const Inventory *inv, const KCmdline *before, const KCmdline *after,
                                char **ret_reason);

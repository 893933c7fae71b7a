/* Which processes hold VFIO groups open. A process with /dev/vfio/<group>
 * (or an iommufd device node, /dev/vfio/devices/vfioN, of a member) among its
 * open files is a VM, or another VFIO user, using the group's devices now:
 * such a group must not be unbound, and a host running it is not idle.
 * Read from procfs while processes come and go: one that vanishes or hides
 * its files (EACCES) is skipped, never an error. Standalone: plans, binding
 * and maintenance mode all ask it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "basic/hostroot.h"

typedef struct VfioHolder {
        int group;      /* the IOMMU group whose VFIO node is open */
        pid_t pid;
        char *comm;     /* proc/<pid>/comm; NULL when unreadable */
        char *vm_name;  /* QEMU's "-name guest=NAME,..." or "-name NAME"; NULL when none */
} VfioHolder;

/* Every holder, one entry per (group, pid), sorted by group then pid.
 * *ret is NULL when there are none. */
int vfio_holders_scan(const HostRoot *root, VfioHolder **ret, size_t *ret_n);
void vfio_holders_free(VfioHolder *h, size_t n);
int vfio_holders_copy(const VfioHolder *h, size_t n, VfioHolder **ret);
bool vfio_holders_equal(const VfioHolder *a, size_t n_a, const VfioHolder *b, size_t n_b);

/* The first holder of group in a sorted array, or NULL; the others follow it. */
const VfioHolder *vfio_holders_find(const VfioHolder *h, size_t n, int group);

/* For people: "process 4242 (qemu-system-x86, VM 'win10')". NULL on OOM. */
char *vfio_holder_describe(const VfioHolder *h);

/* The guest name in a QEMU command line (NUL-separated, as procfs gives it):
 * -name's implied "guest" key, with QEMU's ",," escape undone. -ENOENT when
 * there is none. Exposed for tests. */
int qemu_cmdline_vm_name(const char *cmdline, size_t size, char **ret);

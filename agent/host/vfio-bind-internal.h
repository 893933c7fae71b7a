/* What vfio-bind.c shares with vfio-reapply.c, and nobody else: the
 * context of one operation (sysfs directories, the binding table, the boot)
 * and the bind itself. */
#pragma once

#include "vfio-bind.h"

#define VFIO_PCI "vfio-pci"

typedef struct Ctx {
        const HostRoot *root;
        const Inventory *inv;
        const char *state_dir;
        int devices_fd, drivers_fd, bus_fd; /* sys/bus/pci/{devices,drivers,} */
        BindingTable table;
        char *boot_id;
} Ctx;

#define CTX_NULL { .devices_fd = -EBADF, .drivers_fd = -EBADF, .bus_fd = -EBADF }

/* Opens the sysfs directories, reads the boot id, loads the binding table. */
int vfio_ctx_open(Ctx *c, const HostRoot *root, const Inventory *inv, const char *state_dir);
void vfio_ctx_done(Ctx *c);

/* vfio_bind_group() within an open context (the table is saved on change). */
int vfio_bind_locked(Ctx *c, const PciDevice *d, bool persistent, BindReport *rep);

/* vfio_unbind_group() within an open context. */
int vfio_unbind_locked(Ctx *c, const PciDevice *d, BindReport *rep);

/* Appends "; "-separated text to *s. */
int vfio_appendf(char **s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

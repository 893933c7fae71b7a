/* The bindings hostdevd made, as it remembers them in its state directory:
 * for each IOMMU group it moved to vfio-pci, every member with its ids and
 * the driver (and driver_override) it had before, whether the binding is
 * persistent, and the boot it was made in. One file, "vfio-bindings",
 * rewritten atomically on every change: a crash leaves the old or the new
 * table, never a torn one. Pure data plus a drift check against the
 * inventory; the sysfs side is vfio-bind.c. */
#pragma once

#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>

#include "inventory.h"

typedef struct BindingMember {
        char address[PCI_ADDR_STRLEN];
        bool bridge;
        uint16_t vendor_id, device_id;
        char *driver;     /* before hostdevd bound the group; NULL: none */
        char *override;   /* driver_override before; NULL: none */
} BindingMember;

/* A change of the group under way: written before its first sysfs write
 * and cleared after its last, so that the next start finishes a change
 * that a crash interrupted. */
typedef enum BindingPending {
        BINDING_PENDING_NONE,
        BINDING_PENDING_BIND,    /* moving the group to vfio-pci */
        BINDING_PENDING_RELEASE, /* giving the group back to the recorded drivers */
} BindingPending;

typedef struct Binding {
        int group;
        char requested[PCI_ADDR_STRLEN]; /* the address the operator named */
        bool persistent;                 /* re-applied when the agent starts in a new boot */
        char *boot_id;                   /* the boot it was (last) applied in; NULL: unknown */
        uint64_t created_usec;           /* CLOCK_REALTIME */
        BindingPending pending;
        BindingMember *members;          /* the whole group, address order */
        size_t n_members;
} Binding;

typedef struct BindingTable {
        Binding *items;
        size_t n;
} BindingTable;

#define BINDINGS_FILE "vfio-bindings"

/* A missing file is an empty table; a malformed one -EBADMSG. */
int binding_table_load(const char *state_dir, BindingTable *ret);
/* Creates state_dir (and its parents) when needed. */
int binding_table_save(const char *state_dir, const BindingTable *t);
/* What load and save do to the file's text: parse a stream (-EBADMSG when
 * malformed), and format a table as the file holds it. */
int binding_table_load_file(FILE *f, BindingTable *ret);
int binding_table_format(const BindingTable *t, char **ret, size_t *ret_size);
void binding_table_done(BindingTable *t);

/* The binding that has address among its members, or NULL. */
Binding *binding_table_find(const BindingTable *t, const char *address);
/* Appends b, taking over what it owns (b is left zeroed). */
int binding_table_add(BindingTable *t, Binding *b);
void binding_table_remove(BindingTable *t, Binding *b);

void binding_done(Binding *b);
const BindingMember *binding_member(const Binding *b, const char *address);

/* How the host differs from the record now: a member gone ("device-missing")
 * or with other vendor:device ids ("device-changed"), the group of the
 * requested device with other members ("group-changed"). Blockers: a drifted
 * binding is never re-applied. Empty when the record still describes the host. */
int binding_check_drift(const Binding *b, const Inventory *inv, ReasonList *ret);

/* The VF counts hostdevd keeps across boots: one line per physical
 * function, "ADDRESS NUMVFS AUTOPROBE VENDOR:DEVICE" (AUTOPROBE 1, 0, or
 * "-" for left as the kernel has it), in the state directory's "sriov",
 * rewritten atomically. The ids are the PF's when it was recorded: a
 * different card at the address later is drift, never configured. */
#pragma once

#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>

#include "pci-addr.h"

typedef struct SriovRecord {
        char address[PCI_ADDR_STRLEN];
        unsigned numvfs;
        int drivers_autoprobe;  /* 1, 0; -1: not set */
        uint16_t vendor_id, device_id;
} SriovRecord;

typedef struct SriovTable {
        SriovRecord *items;
        size_t n;
} SriovTable;

#define SRIOV_FILE "sriov"

/* A missing file is an empty table; a malformed one -EBADMSG. */
int sriov_table_load(const char *state_dir, SriovTable *ret);
int sriov_table_save(const char *state_dir, const SriovTable *t);
/* What load and save do to the file's text: parse a stream (-EBADMSG when
 * malformed), and format a table as the file holds it. */
int sriov_table_load_file(FILE *f, SriovTable *ret);
int sriov_table_format(const SriovTable *t, char **ret, size_t *ret_size);
void sriov_table_done(SriovTable *t);

SriovRecord *sriov_table_find(const SriovTable *t, const char *address);
/* Replaces the record of r->address, or adds it. */
int sriov_table_put(SriovTable *t, const SriovRecord *r);
/* Removes the record of address; 0 when there was none. */
int sriov_table_remove(SriovTable *t, const char *address);

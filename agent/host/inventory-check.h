/* Which functions the kernel shows otherwise than an inventory snapshot
 * does (present, gone, another driver, group, override or VF count): the
 * consistency pass that repairs what uevents missed. */
#pragma once

#include "inventory.h"

/* The addresses to read again (NULL when none). */
int inventory_check(const Inventory *inv, const HostRoot *root, char ***ret_stale);

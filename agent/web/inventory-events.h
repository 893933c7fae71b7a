/* The inventory's changes on the event stream: one event per device and
 * IOMMU group that came, went or changed, then inventory-changed with the
 * new ETags of the two lists (rendered here, once, so that the poll the
 * event prompts is a cache hit). */
#pragma once

#include "host/host-state.h"
#include "state/event-log.h"
#include "cache.h"

void inventory_events_publish(EventLog *log, RenderCache *cache, const HostState *s, const InventoryDiff *diff,
                              const char *cause);

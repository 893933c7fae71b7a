/* JSON views of the host model: the shapes api/openapi.json describes
 * (devices and groups, the large ones, are in views-inventory.h).
 * Each returns a new reference, or NULL when out of memory. */
#pragma once

#include <json-c/json.h>

#include "host/capability.h"
#include "host/hostinfo.h"
#include "host/inventory.h"
#include "state/store.h"

json_object *view_capabilities(const Capabilities *c);
json_object *view_host(const HostInfo *h, const char *agent_version);
json_object *view_reasons(const ReasonList *l);
/* What a refusal says: its first blocker's message, "refused" when it has none. */
const char *view_first_blocker(const ReasonList *l);
/* GET /v1/maintenance, and the maintenance-changed event. */
json_object *view_maintenance(const Maintenance *m);
/* GET /v1/operations/{id}, and the operation-changed event. */
json_object *view_operation(const Operation *op);

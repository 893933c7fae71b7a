/* JSON views of passthrough plans, binding records and bind reports: the
 * shapes api/openapi.json names PassthroughPlan, Binding, DriverState and
 * DriverChange. Each returns a new reference, or NULL when out of memory. */
#pragma once

#include <json-c/json.h>

#include "host/inventory.h"
#include "host/passthrough-plan.h"
#include "host/vfio-bind.h"
#include "host/vfio-state.h"

json_object *view_plan(const PassthroughPlan *p);
/* A record with what the host shows now: current drivers, in effect, drift. */
json_object *view_binding(const Binding *b, const Inventory *inv);
/* GET /v1/devices/{address}/driver: the device's driver and hostdevd's binding (or null). */
json_object *view_driver_state(const PciDevice *d, const Binding *b, const Inventory *inv);
/* PUT/DELETE result: outcome, per-member before/after, warnings, the binding now (or null). */
json_object *view_driver_change(const BindReport *rep, const Binding *b, const Inventory *inv);

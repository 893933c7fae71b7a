/* Handlers, one file per resource, named after route and method. */
#pragma once

#include "host/sriov.h"
#include "json-writer.h"
#include "reply.h"
#include "router.h"

enum MHD_Result get_host(Request *r);
enum MHD_Result get_capabilities(Request *r);
enum MHD_Result get_devices(Request *r);
enum MHD_Result get_device(Request *r);
enum MHD_Result get_iommu_groups(Request *r);
enum MHD_Result get_iommu_group(Request *r);
enum MHD_Result get_inventory(Request *r);
enum MHD_Result post_inventory_rescan(Request *r);
enum MHD_Result get_openapi(Request *r);
enum MHD_Result get_device_driver(Request *r);
enum MHD_Result put_device_driver(Request *r);
enum MHD_Result delete_device_driver(Request *r);
enum MHD_Result post_passthrough_plan(Request *r);
enum MHD_Result get_passthrough_bindings(Request *r);
enum MHD_Result get_maintenance(Request *r);
enum MHD_Result put_maintenance(Request *r);
enum MHD_Result post_reboot(Request *r);
enum MHD_Result get_operations(Request *r);
enum MHD_Result get_operation(Request *r);
enum MHD_Result get_root(Request *r);
enum MHD_Result get_kernel_cmdline(Request *r);
enum MHD_Result patch_kernel_cmdline(Request *r);
enum MHD_Result get_kernel_cmdline_presets(Request *r);
enum MHD_Result get_events(Request *r);
enum MHD_Result get_metrics(Request *r);
enum MHD_Result get_device_sriov(Request *r);
enum MHD_Result put_device_sriov(Request *r);
enum MHD_Result get_device_mdevs(Request *r);
enum MHD_Result post_device_mdevs(Request *r);
enum MHD_Result get_mdevs(Request *r);
enum MHD_Result delete_mdev(Request *r);

/* ---- Request bodies ----
 * Each route that takes a body decodes and checks it here, before its
 * handler acts: true with the values (strings borrowed from *ret_body,
 * which the caller puts), or false with the 400 queued (*ret_mhd) naming
 * the field. The routes whose body is nothing or {} use
 * request_json_body(r, NULL, ...); PATCH /v1/kernel-cmdline's is
 * kcmdline-body.h's. */

/* PUT /v1/maintenance. */
typedef struct MaintenanceBody {
        bool enabled;
        const char *reason; /* NULL when absent or null */
        bool force;
} MaintenanceBody;
bool maintenance_body_parse(Request *r, json_object **ret_body, MaintenanceBody *ret, enum MHD_Result *ret_mhd);

/* PUT /v1/devices/{address}/driver: "driver" is "vfio-pci"; *ret_persistent. */
bool driver_body_parse(Request *r, bool *ret_persistent, enum MHD_Result *ret_mhd);

/* PUT /v1/devices/{address}/sriov, in two steps: the fields, whatever the
 * device (a malformed body is 400 to any), then the values, numvfs against
 * the PF's sriov_totalvfs. */
bool sriov_body_parse(Request *r, json_object **ret_body, enum MHD_Result *ret_mhd);
bool sriov_body_check(Request *r, const PciDevice *pf, json_object *body, SriovRequest *ret,
                      enum MHD_Result *ret_mhd);

/* POST /v1/passthrough/plan: the devices as strings (a new list), the VM's
 * name or NULL. */
bool plan_body_parse(Request *r, json_object **ret_body, char ***ret_devices, const char **ret_vm,
                     enum MHD_Result *ret_mhd);

/* The device the path's {address} names; on failure queues the 400
 * (malformed) or 404 (not on this host) and returns NULL. */
const PciDevice *request_device(Request *r, enum MHD_Result *ret_mhd);

/* An IOMMU group number as a client writes it: decimal digits, no sign, no
 * leading zero but "0" itself. -EINVAL otherwise. */
int parse_group_id(const char *s, int *ret);

/* Writes one body from the inventory; userdata is the handler's. */
typedef void (*BodyWriter)(JsonWriter *w, const Inventory *inv, const void *userdata);

/* A new body written by write, compact or indented; NULL when out of memory. */
RenderedBody *render_body(const Inventory *inv, bool pretty, size_t size_hint, BodyWriter write, const void *userdata);
/* The compact rendering of key for the current snapshot, from the cache or
 * written and cached now; a new reference, NULL when out of memory. key
 * names everything write depends on besides the snapshot. */
RenderedBody *render_cached(RenderCache *cache, const HostState *s, const char *key, BodyWriter write,
                            const void *userdata);
/* Replies with render_cached(), or with a fresh indented body for ?pretty=true. */
enum MHD_Result reply_cached(Request *r, const char *key, BodyWriter write, const void *userdata);
/* Replies with a body written for this request alone. */
enum MHD_Result reply_written(Request *r, BodyWriter write, const void *userdata);

/* The unfiltered lists, as cached (and named in inventory-changed events). */
#define CACHE_KEY_DEVICES "devices"
#define CACHE_KEY_GROUPS "iommu-groups"
/* GET /v1/devices without a query (userdata NULL), and GET /v1/iommu-groups (userdata unused). */
void write_device_list(JsonWriter *w, const Inventory *inv, const void *userdata);
void write_group_list(JsonWriter *w, const Inventory *inv, const void *userdata);

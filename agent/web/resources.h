/* Handlers, one file per resource, named after route and method. */
#pragma once

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

/* An IOMMU group number as a client writes it: decimal digits, no sign, no
 * leading zero but "0" itself. -EINVAL otherwise. */
int parse_group_id(const char *s, int *ret);

/* The rendering of key for the current snapshot, from the cache or built
 * and cached now; a new reference, NULL when out of memory. */
RenderedBody *render_cached(RenderCache *cache, const HostState *s, const char *key,
                           json_object *(*build)(const Inventory *inv));
/* Replies with render_cached(). */
enum MHD_Result reply_cached(Request *r, const char *key, json_object *(*build)(const Inventory *inv));

/* The unfiltered lists, as cached (and named in inventory-changed events). */
#define CACHE_KEY_DEVICES "devices"
#define CACHE_KEY_GROUPS "iommu-groups"
json_object *view_group_list(const Inventory *inv);

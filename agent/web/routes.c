/* The route table of API v1: every path the agent serves, the query
 * parameters it takes and the least role that may use it, in one place
 * ("pretty" is taken by every path: server.c). */
#include "resources.h"

static const char *const kcmdline_preset_query[] = { "vfio_pci_ids", NULL };
static const char *const device_filters[] = { "class", "vendor", "driver", "iommu_group", "assignable", "fields", NULL };
static const char *const device_fields[] = { "fields", NULL };

#define READER .role = ROLE_READER
#define OPERATOR .role = ROLE_OPERATOR
#define ADMIN .role = ROLE_ADMIN
#define EVENT_STREAM .event_stream = true
#define TEXT_PLAIN .text_plain = true

const Route routes[] = {
        { "GET", "/", get_root, NULL, READER },
        { "GET", "/v1/host", get_host, NULL, READER },
        { "GET", "/v1/capabilities", get_capabilities, NULL, READER },
        { "GET", "/v1/devices", get_devices, device_filters, READER },
        { "GET", "/v1/devices/{address}", get_device, device_fields, READER },
        { "GET", "/v1/devices/{address}/driver", get_device_driver, NULL, READER },
        { "PUT", "/v1/devices/{address}/driver", put_device_driver, NULL, OPERATOR },
        { "DELETE", "/v1/devices/{address}/driver", delete_device_driver, NULL, OPERATOR },
        { "GET", "/v1/devices/{address}/sriov", get_device_sriov, NULL, READER },
        { "PUT", "/v1/devices/{address}/sriov", put_device_sriov, NULL, OPERATOR },
        { "GET", "/v1/devices/{address}/mdevs", get_device_mdevs, NULL, READER },
        { "POST", "/v1/devices/{address}/mdevs", post_device_mdevs, NULL, OPERATOR },
        { "GET", "/v1/mdevs", get_mdevs, NULL, READER },
        { "DELETE", "/v1/mdevs/{uuid}", delete_mdev, NULL, OPERATOR },
        { "GET", "/v1/iommu-groups", get_iommu_groups, NULL, READER },
        { "GET", "/v1/iommu-groups/{id}", get_iommu_group, NULL, READER },
        { "GET", "/v1/inventory", get_inventory, NULL, READER },
        { "POST", "/v1/passthrough/plan", post_passthrough_plan, NULL, READER }, /* changes nothing */
        { "GET", "/v1/passthrough/bindings", get_passthrough_bindings, NULL, READER },
        { "POST", "/v1/inventory/rescan", post_inventory_rescan, NULL, OPERATOR },
        { "GET", "/v1/maintenance", get_maintenance, NULL, READER },
        { "PUT", "/v1/maintenance", put_maintenance, NULL, OPERATOR },
        { "POST", "/v1/reboot", post_reboot, NULL, ADMIN },
        { "GET", "/v1/operations", get_operations, NULL, READER },
        { "GET", "/v1/operations/{id}", get_operation, NULL, READER },
        { "GET", "/v1/kernel-cmdline", get_kernel_cmdline, NULL, READER },
        { "PATCH", "/v1/kernel-cmdline", patch_kernel_cmdline, NULL, ADMIN },
        { "GET", "/v1/kernel-cmdline/presets", get_kernel_cmdline_presets, kcmdline_preset_query, READER },
        { "GET", "/v1/openapi.json", get_openapi, NULL, READER },
        { "GET", "/v1/events", get_events, NULL, READER, EVENT_STREAM },
        { "GET", "/v1/metrics", get_metrics, NULL, READER, TEXT_PLAIN },
};

const size_t n_routes = sizeof(routes) / sizeof(routes[0]);

/* The route table of API v1: every path the agent serves, in one place. */
#include "resources.h"

static const char *const device_filters[] = { "class", "vendor", "driver", "iommu_group", "assignable", NULL };

const Route routes[] = {
        { "GET", "/", get_root, NULL },
        { "GET", "/v1/host", get_host, NULL },
        { "GET", "/v1/capabilities", get_capabilities, NULL },
        { "GET", "/v1/devices", get_devices, device_filters },
        { "GET", "/v1/devices/{address}", get_device, NULL },
        { "GET", "/v1/iommu-groups", get_iommu_groups, NULL },
        { "GET", "/v1/iommu-groups/{id}", get_iommu_group, NULL },
        { "GET", "/v1/inventory", get_inventory, NULL },
        { "POST", "/v1/inventory/rescan", post_inventory_rescan, NULL },
        { "GET", "/v1/openapi.json", get_openapi, NULL },
};

const size_t n_routes = sizeof(routes) / sizeof(routes[0]);

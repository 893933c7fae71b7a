# The HTTP layer: server, routes, problem+json, JSON views of the host model.
noinst_LIBRARIES += libweb.a
libweb_a_CFLAGS = $(AM_CFLAGS) $(MHD_CFLAGS) $(JSONC_CFLAGS) $(SYSTEMD_CFLAGS) $(GNUTLS_CFLAGS) $(ZLIB_CFLAGS) $(ZSTD_CFLAGS)
libweb_a_CCASFLAGS = -DOPENAPI_JSON='"$(top_srcdir)/api/openapi.json"'
libweb_a_SOURCES = \
	agent/web/request.h agent/web/context.h \
	agent/web/auth.c agent/web/auth.h \
	agent/web/tls.c agent/web/tls.h \
	agent/web/audit.c agent/web/audit.h \
	agent/web/json-util.c agent/web/json-util.h \
	agent/web/json-body.c agent/web/json-body.h \
	agent/web/json-writer.c agent/web/json-writer.h \
	agent/web/problem.c agent/web/problem.h \
	agent/web/reply.c agent/web/reply.h \
	agent/web/cache.c agent/web/cache.h \
	agent/web/router.c agent/web/router.h \
	agent/web/metrics.c agent/web/metrics.h \
	agent/web/event-streams.c agent/web/event-streams.h \
	agent/web/request-deadline.c agent/web/request-deadline.h \
	agent/web/server.c agent/web/server.h \
	agent/web/views.c agent/web/views.h \
	agent/web/views-inventory.c agent/web/views-inventory.h \
	agent/web/inventory-events.c agent/web/inventory-events.h \
	agent/web/resources.h agent/web/routes.c \
	agent/web/resource-host.c \
	agent/web/resource-capabilities.c \
	agent/web/resource-devices.c \
	agent/web/resource-iommu-groups.c \
	agent/web/resource-inventory.c \
	agent/web/resource-openapi.c \
	agent/web/resource-events.c \
	agent/web/resource-maintenance.c \
	agent/web/resource-operations.c \
	agent/web/kcmdline-views.c agent/web/kcmdline-views.h \
	agent/web/kcmdline-body.c agent/web/kcmdline-body.h \
	agent/web/operations.c agent/web/operations.h \
	agent/web/resource-kernel-cmdline.c \
	agent/web/resource-kernel-cmdline-presets.c \
	agent/web/views-passthrough.c agent/web/views-passthrough.h \
	agent/web/resource-passthrough.c \
	agent/web/resource-driver.c \
	agent/web/resource-sriov.c agent/web/resource-mdev.c \
	agent/web/resource-metrics.c \
	agent/web/openapi-blob.S
EXTRA_libweb_a_DEPENDENCIES = $(top_srcdir)/api/openapi.json
agent/web/libweb_a-openapi-blob.$(OBJEXT): $(top_srcdir)/api/openapi.json

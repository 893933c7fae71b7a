# The host model: inventory, IOMMU groups, capabilities. Knows no HTTP.
noinst_LIBRARIES += libhost.a
libhost_a_CFLAGS = $(AM_CFLAGS) $(LIBPCI_CFLAGS) $(SYSTEMD_CFLAGS) $(JSONC_CFLAGS)
libhost_a_SOURCES = \
	agent/host/pci-addr.c agent/host/pci-addr.h \
	agent/host/pci-device.c agent/host/pci-device.h \
	agent/host/pci-access.c agent/host/pci-access.h \
	agent/host/host-usage.c agent/host/host-usage.h \
	agent/host/inventory.c agent/host/inventory.h agent/host/inventory-internal.h \
	agent/host/inventory-refresh.c \
	agent/host/inventory-diff.c agent/host/inventory-diff.h \
	agent/host/inventory-check.c agent/host/inventory-check.h \
	agent/host/uevent.c agent/host/uevent.h \
	agent/host/host-watch.c agent/host/host-watch.h
libhost_a_SOURCES += \
	agent/host/hostinfo.c agent/host/hostinfo.h \
	agent/host/capability.c agent/host/capability.h
libhost_a_SOURCES += \
	agent/host/host-state.c agent/host/host-state.h
libhost_a_SOURCES += \
	agent/host/vfio-holders.c agent/host/vfio-holders.h
libhost_a_SOURCES += \
	agent/host/sysfs-write.c agent/host/sysfs-write.h \
	agent/host/passthrough-plan.c agent/host/passthrough-plan.h \
	agent/host/vfio-state.c agent/host/vfio-state.h \
	agent/host/vfio-bind.c agent/host/vfio-bind.h agent/host/vfio-bind-internal.h \
	agent/host/vfio-reapply.c \
	agent/host/sriov-state.c agent/host/sriov-state.h \
	agent/host/sriov.c agent/host/sriov.h \
	agent/host/mdev.c agent/host/mdev.h \
	agent/host/mdev-config.c agent/host/mdev-config.h \
	agent/host/mdev-change.c agent/host/mdev-change.h
libhost_a_SOURCES += \
	agent/host/kcmdline-state.c agent/host/kcmdline-state.h \
	agent/host/kcmdline-presets.c agent/host/kcmdline-presets.h \
	agent/host/kcmdline-edits.c agent/host/kcmdline-edits.h \
	agent/host/kcmdline-apply.c agent/host/kcmdline-apply.h

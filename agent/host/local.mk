# The host model: inventory, IOMMU groups, capabilities. Knows no HTTP.
noinst_LIBRARIES += libhost.a
libhost_a_CFLAGS = $(AM_CFLAGS) $(LIBPCI_CFLAGS) $(SYSTEMD_CFLAGS)
libhost_a_SOURCES = \
	agent/host/pci-addr.c agent/host/pci-addr.h \
	agent/host/pci-device.c agent/host/pci-device.h \
	agent/host/pci-access.c agent/host/pci-access.h \
	agent/host/host-usage.c agent/host/host-usage.h \
	agent/host/inventory.c agent/host/inventory.h
libhost_a_SOURCES += \
	agent/host/hostinfo.c agent/host/hostinfo.h \
	agent/host/capability.c agent/host/capability.h
libhost_a_SOURCES += \
	agent/host/host-state.c agent/host/host-state.h
libhost_a_SOURCES += \
	agent/host/vfio-holders.c agent/host/vfio-holders.h
libhost_a_SOURCES += \
	agent/host/vfio-holders.c agent/host/vfio-holders.h

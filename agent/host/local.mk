# The host model: inventory, IOMMU groups, capabilities. Knows no HTTP.
noinst_LIBRARIES += libhost.a
libhost_a_SOURCES =

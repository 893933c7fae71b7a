# Tests. Unit tests of the parsing pieces speak TAP; the integration suite
# (pytest) starts the real daemon against fixture trees and real kernel
# snapshots and talks to it with curl, validating every response against
# api/openapi.json.
TEST_EXTENSIONS = .sh
LOG_DRIVER = env AM_TAP_AWK='$(AWK)' $(SHELL) $(top_srcdir)/build-aux/tap-driver.sh
SH_LOG_COMPILER = $(SHELL)
AM_TESTS_ENVIRONMENT = \
	HOSTDEVD='$(abs_top_builddir)/hostdevd' \
	HOSTDEVD_SRCDIR='$(abs_top_srcdir)' \
	HOSTDEVD_BUILDDIR='$(abs_top_builddir)' \
	PYTHON='$(PYTHON)' \
	LSPCI='$(LSPCI)'; export HOSTDEVD HOSTDEVD_SRCDIR HOSTDEVD_BUILDDIR PYTHON LSPCI;

UNIT_LDADD = libhost.a libkcmdline.a libbasic.a $(LIBPCI_LIBS) $(SYSTEMD_LIBS)
WEB_UNIT_LDADD = libweb.a libstate.a $(UNIT_LDADD) $(MHD_LIBS) $(GNUTLS_LIBS) $(ZLIB_LIBS) $(ZSTD_LIBS) $(JSONC_LIBS) -lpthread

check_PROGRAMS += tests/unit/test-pci-addr tests/unit/test-basic tests/unit/test-router
tests_unit_test_pci_addr_SOURCES = tests/unit/test-pci-addr.c tests/unit/tap.h
tests_unit_test_pci_addr_LDADD = $(UNIT_LDADD)
tests_unit_test_basic_SOURCES = tests/unit/test-basic.c tests/unit/tap.h
tests_unit_test_basic_LDADD = $(UNIT_LDADD)
tests_unit_test_router_SOURCES = tests/unit/test-router.c tests/unit/tap.h
tests_unit_test_router_CFLAGS = $(AM_CFLAGS) $(MHD_CFLAGS) $(JSONC_CFLAGS) $(SYSTEMD_CFLAGS)
tests_unit_test_router_LDADD = $(WEB_UNIT_LDADD)
TESTS += tests/unit/test-pci-addr tests/unit/test-basic tests/unit/test-router

check_PROGRAMS += tests/unit/test-json-writer
tests_unit_test_json_writer_SOURCES = tests/unit/test-json-writer.c tests/unit/tap.h
tests_unit_test_json_writer_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS)
tests_unit_test_json_writer_LDADD = libweb.a $(JSONC_LIBS)
TESTS += tests/unit/test-json-writer

check_PROGRAMS += tests/unit/test-event-log
tests_unit_test_event_log_SOURCES = tests/unit/test-event-log.c tests/unit/tap.h
tests_unit_test_event_log_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS)
tests_unit_test_event_log_LDADD = libstate.a libbasic.a $(JSONC_LIBS)
TESTS += tests/unit/test-event-log

# Fault injection for the integration suite (LD_PRELOAD): an uninstrumented
# shared object even in sanitizer builds, so it is built with its own flags.
check_PROGRAMS += tests/mock/faultinject.so
tests_mock_faultinject_so_SOURCES = tests/mock/faultinject.c
tests_mock_faultinject_so_CFLAGS = $(WARN_CFLAGS) -fPIC -O1
tests_mock_faultinject_so_LDFLAGS = -shared
tests_mock_faultinject_so_LDADD = -ldl

# The integration suite runs after the binary is built.
TESTS += tests/integration/run-pytest.sh
EXTRA_DIST += \
	tests/integration/run-pytest.sh \
	tests/integration/conftest.py \
	tests/integration/openapi_check.py \
	tests/integration/test_http.py \
	tests/integration/test_snapshots.py \
	tests/integration/test_topologies.py \
	tests/integration/test_host_usage.py \
	tests/integration/test_auth.py \
	tests/integration/test_maintenance.py \
	tests/integration/test_tls.py \
	tests/integration/tlscerts.py \
	tests/integration/test_passthrough.py \
	tests/integration/test_binding.py \
	tests/integration/test_kernel_cmdline.py \
	tests/integration/test_crash_consistency.py \
	tests/integration/test_live.py \
	tests/integration/test_hostile_input.py \
	tests/integration/test_operations.py \
	tests/integration/test_events.py \
	tests/integration/test_representations.py \
	tests/integration/test_reload.py \
	tests/integration/test_metrics.py \
	tests/integration/test_sriov.py \
	tests/integration/test_mdev.py \
	tests/integration/test_load.py \
	tests/bench/bench.py \
	tests/bench/bench-events.py \
	tests/soak/soak.py \
	tests/data/sysfs/README.md \
	tests/data/sysfs/intel-gpu-like.tar.gz \
	tests/data/sysfs/intel-gpu-like-vfio-bound.tar.gz \
	tests/data/sysfs/iommu-off.tar.gz \
	tests/data/sysfs/iommu-off-vfio-bound.tar.gz \
	tests/data/sysfs/no-iommu.tar.gz \
	tests/data/sysfs/no-iommu-vfio-bound.tar.gz \
	tests/run-suite.sh \
	tests/fixtures/mksysfs.py \
	tests/fixtures/topologies.py \
	tests/fixtures/test_mksysfs.py

clean-local: clean-local-tests
clean-local-tests:
	-rm -rf tests/integration/tmp tests/integration/junit.xml \
		tests/vm/results tests/vm/junit.xml
.PHONY: clean-local-tests

# The passthrough engine: holders, plans, binding (against fixture trees from
# mksysfs.py; binding with the kernel double tests/mock/pcimock.so preloaded).
FIXTURE_CPPFLAGS = $(AM_CPPFLAGS) -DTOP_SRCDIR='"$(abs_top_srcdir)"' -DTOP_BUILDDIR='"$(abs_top_builddir)"'
check_PROGRAMS += tests/unit/test-vfio-holders tests/unit/test-passthrough-plan tests/unit/test-vfio-bind
tests_unit_test_vfio_holders_SOURCES = tests/unit/test-vfio-holders.c tests/unit/tap.h tests/unit/fixture.h
tests_unit_test_vfio_holders_CPPFLAGS = $(FIXTURE_CPPFLAGS)
tests_unit_test_vfio_holders_LDADD = $(UNIT_LDADD)
tests_unit_test_passthrough_plan_SOURCES = tests/unit/test-passthrough-plan.c tests/unit/tap.h tests/unit/fixture.h
tests_unit_test_passthrough_plan_CPPFLAGS = $(FIXTURE_CPPFLAGS)
tests_unit_test_passthrough_plan_LDADD = $(UNIT_LDADD)
tests_unit_test_vfio_bind_SOURCES = tests/unit/test-vfio-bind.c tests/unit/tap.h tests/unit/fixture.h
tests_unit_test_vfio_bind_CPPFLAGS = $(FIXTURE_CPPFLAGS)
tests_unit_test_vfio_bind_LDADD = $(UNIT_LDADD)
check_PROGRAMS += tests/unit/test-sriov
tests_unit_test_sriov_SOURCES = tests/unit/test-sriov.c tests/unit/tap.h tests/unit/fixture.h
tests_unit_test_sriov_CPPFLAGS = $(FIXTURE_CPPFLAGS)
tests_unit_test_sriov_LDADD = $(UNIT_LDADD)
TESTS += tests/unit/test-vfio-holders tests/unit/test-passthrough-plan tests/unit/test-vfio-bind tests/unit/test-sriov

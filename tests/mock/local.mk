# pcimock.so: the test double of the kernel's driver-binding files, preloaded
# into the daemon and the binding tests (see tests/mock/pcimock.c). Built as a
# check program linked -shared, without the sanitizers: it runs inside
# instrumented binaries (ASAN_OPTIONS=verify_asan_link_order=0).
check_PROGRAMS += tests/mock/pcimock.so
tests_mock_pcimock_so_SOURCES = tests/mock/pcimock.c
tests_mock_pcimock_so_CFLAGS = $(WARN_CFLAGS) -std=gnu11 -fPIC -Wno-missing-prototypes
tests_mock_pcimock_so_LDFLAGS = -shared -fPIC
tests_mock_pcimock_so_LDADD = -ldl -lpthread

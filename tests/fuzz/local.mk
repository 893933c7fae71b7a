# Fuzz targets (libFuzzer), one per parser of hostile input. Under `make
# check` each is linked with fuzz-main.c and replays, as a TAP test, its seed
# corpus (tests/fuzz/corpus/NAME) and every input that once broke it
# (tests/fuzz/regress/NAME). A build configured with --enable-fuzzing (clang)
# links them with libFuzzer instead, for tests/fuzz/fuzz.sh: `make
# fuzz-targets` builds them there, and they are not tests.
if FUZZING
FUZZ_MAIN =
else
FUZZ_MAIN = tests/fuzz/fuzz-main.c
endif
FUZZ_SOURCES = tests/fuzz/fuzz.h $(FUZZ_MAIN)
# fuzz-main.c replays FUZZ_CORPUS_DIR/FUZZ_NAME and FUZZ_REGRESS_DIR/FUZZ_NAME.
FUZZ_CPPFLAGS = $(AM_CPPFLAGS) \
	-DFUZZ_CORPUS_DIR='"$(abs_top_srcdir)/tests/fuzz/corpus"' \
	-DFUZZ_REGRESS_DIR='"$(abs_top_srcdir)/tests/fuzz/regress"'

FUZZ_TARGETS = \
	tests/fuzz/fuzz-kcmdline \
	tests/fuzz/fuzz-grub-shell \
	tests/fuzz/fuzz-grubenv \
	tests/fuzz/fuzz-bls \
	tests/fuzz/fuzz-kernel-cmdline-file \
	tests/fuzz/fuzz-ledger \
	tests/fuzz/fuzz-pci-addr \
	tests/fuzz/fuzz-sysfs \
	tests/fuzz/fuzz-uevent \
	tests/fuzz/fuzz-sriov-state \
	tests/fuzz/fuzz-vfio-state \
	tests/fuzz/fuzz-store \
	tests/fuzz/fuzz-tokens \
	tests/fuzz/fuzz-config \
	tests/fuzz/fuzz-json-body \
	tests/fuzz/fuzz-bodies \
	tests/fuzz/fuzz-router

check_PROGRAMS += $(FUZZ_TARGETS)
if !FUZZING
TESTS += $(FUZZ_TARGETS)
endif
fuzz-targets: $(FUZZ_TARGETS)
.PHONY: fuzz-targets

EXTRA_DIST += \
	tests/fuzz/fuzz.sh \
	tests/fuzz/corpus \
	tests/fuzz/regress

# The kernel command line: parse, format, edit.
tests_fuzz_fuzz_kcmdline_SOURCES = tests/fuzz/fuzz-kcmdline.c $(FUZZ_SOURCES)
tests_fuzz_fuzz_kcmdline_CPPFLAGS = $(FUZZ_CPPFLAGS) -DFUZZ_NAME='"kcmdline"'
tests_fuzz_fuzz_kcmdline_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_kcmdline_LDADD = libkcmdline.a libbasic.a

# The bootloader targets share an in-memory host (fuzz-bootloader.c).
FUZZ_BOOTLOADER_SOURCES = tests/fuzz/fuzz-bootloader.c tests/fuzz/fuzz-bootloader.h $(FUZZ_SOURCES)

# The GRUB shell evaluator, and the Debian GRUB setup on it.
tests_fuzz_fuzz_grub_shell_SOURCES = tests/fuzz/fuzz-grub-shell.c $(FUZZ_BOOTLOADER_SOURCES)
tests_fuzz_fuzz_grub_shell_CPPFLAGS = $(FUZZ_CPPFLAGS) -DFUZZ_NAME='"grub-shell"'
tests_fuzz_fuzz_grub_shell_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_grub_shell_LDADD = libkcmdline.a libbasic.a

# grubenv blocks: parse, set, expand.
tests_fuzz_fuzz_grubenv_SOURCES = tests/fuzz/fuzz-grubenv.c $(FUZZ_SOURCES)
tests_fuzz_fuzz_grubenv_CPPFLAGS = $(FUZZ_CPPFLAGS) -DFUZZ_NAME='"grubenv"'
tests_fuzz_fuzz_grubenv_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_grubenv_LDADD = libkcmdline.a libbasic.a

# BLS entries in the GRUB, RHEL 8 and systemd-boot setups.
tests_fuzz_fuzz_bls_SOURCES = tests/fuzz/fuzz-bls.c $(FUZZ_BOOTLOADER_SOURCES)
tests_fuzz_fuzz_bls_CPPFLAGS = $(FUZZ_CPPFLAGS) -DFUZZ_NAME='"bls"'
tests_fuzz_fuzz_bls_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_bls_LDADD = libkcmdline.a libbasic.a

# /etc/kernel/cmdline in the Proxmox, systemd-boot and RHEL setups.
tests_fuzz_fuzz_kernel_cmdline_file_SOURCES = tests/fuzz/fuzz-kernel-cmdline-file.c $(FUZZ_BOOTLOADER_SOURCES)
tests_fuzz_fuzz_kernel_cmdline_file_CPPFLAGS = $(FUZZ_CPPFLAGS) -DFUZZ_NAME='"kernel-cmdline-file"'
tests_fuzz_fuzz_kernel_cmdline_file_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_kernel_cmdline_file_LDADD = libkcmdline.a libbasic.a

# PCI addresses, and the sysfs path helper built on them.
tests_fuzz_fuzz_pci_addr_SOURCES = tests/fuzz/fuzz-pci-addr.c $(FUZZ_SOURCES)
tests_fuzz_fuzz_pci_addr_CPPFLAGS = $(FUZZ_CPPFLAGS) -DFUZZ_NAME='"pci-addr"'
tests_fuzz_fuzz_pci_addr_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_pci_addr_LDADD = $(UNIT_LDADD)

# Kernel uevents, as read from netlink or the test socket.
tests_fuzz_fuzz_uevent_SOURCES = tests/fuzz/fuzz-uevent.c $(FUZZ_SOURCES)
tests_fuzz_fuzz_uevent_CPPFLAGS = $(FUZZ_CPPFLAGS) -DFUZZ_NAME='"uevent"'
tests_fuzz_fuzz_uevent_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_uevent_LDADD = $(UNIT_LDADD)

# The kernel-argument ownership ledger.
tests_fuzz_fuzz_ledger_SOURCES = tests/fuzz/fuzz-ledger.c $(FUZZ_SOURCES)
tests_fuzz_fuzz_ledger_CPPFLAGS = $(FUZZ_CPPFLAGS) -DFUZZ_NAME='"ledger"'
tests_fuzz_fuzz_ledger_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_ledger_LDADD = libkcmdline.a libbasic.a

# A device's sysfs attributes and links, and the number parsers.
tests_fuzz_fuzz_sysfs_SOURCES = tests/fuzz/fuzz-sysfs.c $(FUZZ_SOURCES)
tests_fuzz_fuzz_sysfs_CPPFLAGS = $(FUZZ_CPPFLAGS) -DFUZZ_NAME='"sysfs"'
tests_fuzz_fuzz_sysfs_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_sysfs_LDADD = $(UNIT_LDADD)

# The state records: VF counts, bindings, maintenance and operations.
tests_fuzz_fuzz_sriov_state_SOURCES = tests/fuzz/fuzz-sriov-state.c $(FUZZ_SOURCES)
tests_fuzz_fuzz_sriov_state_CPPFLAGS = $(FUZZ_CPPFLAGS) -DFUZZ_NAME='"sriov-state"'
tests_fuzz_fuzz_sriov_state_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_sriov_state_LDADD = $(UNIT_LDADD)
tests_fuzz_fuzz_vfio_state_SOURCES = tests/fuzz/fuzz-vfio-state.c $(FUZZ_SOURCES)
tests_fuzz_fuzz_vfio_state_CPPFLAGS = $(FUZZ_CPPFLAGS) -DFUZZ_NAME='"vfio-state"'
tests_fuzz_fuzz_vfio_state_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_vfio_state_LDADD = $(UNIT_LDADD)
tests_fuzz_fuzz_store_SOURCES = tests/fuzz/fuzz-store.c $(FUZZ_SOURCES)
tests_fuzz_fuzz_store_CPPFLAGS = $(FUZZ_CPPFLAGS) -DFUZZ_NAME='"store"'
tests_fuzz_fuzz_store_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS)
tests_fuzz_fuzz_store_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_store_LDADD = libstate.a libbasic.a $(JSONC_LIBS) $(SYSTEMD_LIBS)

# The tokens file.
tests_fuzz_fuzz_tokens_SOURCES = tests/fuzz/fuzz-tokens.c $(FUZZ_SOURCES)
tests_fuzz_fuzz_tokens_CPPFLAGS = $(FUZZ_CPPFLAGS) -DFUZZ_NAME='"tokens"'
tests_fuzz_fuzz_tokens_CFLAGS = $(AM_CFLAGS) $(MHD_CFLAGS) $(JSONC_CFLAGS)
tests_fuzz_fuzz_tokens_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_tokens_LDADD = $(WEB_UNIT_LDADD)

# The agent's configuration file (agent-config.c is the daemon's own).
tests_fuzz_fuzz_config_SOURCES = tests/fuzz/fuzz-config.c agent/agent-config.c agent/agent-config.h $(FUZZ_SOURCES)
tests_fuzz_fuzz_config_CPPFLAGS = $(FUZZ_CPPFLAGS) -DFUZZ_NAME='"config"'
tests_fuzz_fuzz_config_CFLAGS = $(AM_CFLAGS) $(MHD_CFLAGS) $(JSONC_CFLAGS) $(SYSTEMD_CFLAGS)
tests_fuzz_fuzz_config_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_config_LDADD = $(WEB_UNIT_LDADD)

# JSON bodies: the strict parser and its duplicate keys.
tests_fuzz_fuzz_json_body_SOURCES = tests/fuzz/fuzz-json-body.c $(FUZZ_SOURCES)
tests_fuzz_fuzz_json_body_CPPFLAGS = $(FUZZ_CPPFLAGS) -DFUZZ_NAME='"json-body"'
tests_fuzz_fuzz_json_body_CFLAGS = $(AM_CFLAGS) $(MHD_CFLAGS) $(JSONC_CFLAGS)
tests_fuzz_fuzz_json_body_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_json_body_LDADD = $(WEB_UNIT_LDADD)

# Every route's body decoder, against api/openapi.json, its replies seen
# through a stand-in for libmicrohttpd's response calls.
tests_fuzz_fuzz_bodies_SOURCES = tests/fuzz/fuzz-bodies.c \
	tests/fuzz/mhd-double.c tests/fuzz/mhd-double.h \
	tests/fuzz/schema-check.c tests/fuzz/schema-check.h $(FUZZ_SOURCES)
tests_fuzz_fuzz_bodies_CPPFLAGS = $(FUZZ_CPPFLAGS) -DFUZZ_NAME='"bodies"'
tests_fuzz_fuzz_bodies_CFLAGS = $(AM_CFLAGS) $(MHD_CFLAGS) $(JSONC_CFLAGS) $(SYSTEMD_CFLAGS)
tests_fuzz_fuzz_bodies_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_bodies_LDADD = $(WEB_UNIT_LDADD)

# The route table, and the path and query parameters' decoders.
tests_fuzz_fuzz_router_SOURCES = tests/fuzz/fuzz-router.c \
	tests/fuzz/schema-check.c tests/fuzz/schema-check.h $(FUZZ_SOURCES)
tests_fuzz_fuzz_router_CPPFLAGS = $(FUZZ_CPPFLAGS) -DFUZZ_NAME='"router"'
tests_fuzz_fuzz_router_CFLAGS = $(AM_CFLAGS) $(MHD_CFLAGS) $(JSONC_CFLAGS) $(SYSTEMD_CFLAGS)
tests_fuzz_fuzz_router_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_router_LDADD = $(WEB_UNIT_LDADD)

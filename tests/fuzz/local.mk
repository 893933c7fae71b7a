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
	tests/fuzz/fuzz-pci-addr \
	tests/fuzz/fuzz-uevent

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

# kernel-cmdline: the kernel command-line grammar (a pure library): parse,
# look up, format, edit; and the bootloader backends that read and edit it
# where each distribution keeps it. Tested by unit tests over the
# conformance corpus (tests/data/proc-cmdline), the bootloader fixtures
# (tests/data/bootloader) and by fuzz targets (tests/fuzz/local.mk).
# libkcmdline.a uses libbasic.a: link it after (libkcmdline.a libbasic.a).
noinst_LIBRARIES += libkcmdline.a
libkcmdline_a_SOURCES = \
	kernel-cmdline/kcmdline.c kernel-cmdline/kcmdline.h \
	kernel-cmdline/kcmdline-edit.c kernel-cmdline/kcmdline-edit.h \
	kernel-cmdline/bootloader.c kernel-cmdline/bootloader.h \
	kernel-cmdline/bootloader-internal.h \
	kernel-cmdline/bootloader-util.c \
	kernel-cmdline/bootloader-check.c \
	kernel-cmdline/bootloader-shell.c kernel-cmdline/bootloader-shell.h \
	kernel-cmdline/bootloader-grubenv.c \
	kernel-cmdline/bootloader-bls.c \
	kernel-cmdline/bootloader-grub.c \
	kernel-cmdline/bootloader-proxmox.c \
	kernel-cmdline/bootloader-plan.c \
	kernel-cmdline/bootloader-render.c \
	kernel-cmdline/bootloader-apply.c \
	kernel-cmdline/bootloader-ledger.c \
	kernel-cmdline/bootloader-run.c

kcmdline_corpus_dir = $(abs_top_srcdir)/tests/data/proc-cmdline
bootloader_data_dir = $(abs_top_srcdir)/tests/data/bootloader
EXTRA_DIST += tests/data/proc-cmdline tests/data/bootloader

check_PROGRAMS += \
	tests/unit/test-kcmdline \
	tests/unit/test-kcmdline-edit \
	tests/unit/test-bootloader
TESTS += \
	tests/unit/test-kcmdline \
	tests/unit/test-kcmdline-edit \
	tests/unit/test-bootloader

tests_unit_test_kcmdline_SOURCES = tests/unit/test-kcmdline.c tests/unit/tap.h
tests_unit_test_kcmdline_CPPFLAGS = $(AM_CPPFLAGS) \
	-DKCMDLINE_CORPUS_DIR='"$(kcmdline_corpus_dir)"'
tests_unit_test_kcmdline_LDADD = libkcmdline.a libbasic.a

tests_unit_test_kcmdline_edit_SOURCES = tests/unit/test-kcmdline-edit.c tests/unit/tap.h
tests_unit_test_kcmdline_edit_LDADD = libkcmdline.a libbasic.a

# The bootloader backends on copies of the fixture trees (in a mkdtemp()
# directory), compared with golden files; BASH, when found, cross-checks the
# GRUB shell evaluator.
tests_unit_test_bootloader_SOURCES = tests/unit/test-bootloader.c tests/unit/tap.h
tests_unit_test_bootloader_CPPFLAGS = $(AM_CPPFLAGS) \
	-DBOOTLOADER_DATA_DIR='"$(bootloader_data_dir)"'
tests_unit_test_bootloader_LDADD = libkcmdline.a libbasic.a

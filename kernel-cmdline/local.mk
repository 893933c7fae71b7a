# kernel-cmdline: the kernel command-line grammar (a pure library): parse,
# look up, format, edit. Tested by unit tests over the conformance corpus
# (tests/data/proc-cmdline) and by the fuzz target run over that corpus.
noinst_LIBRARIES += libkcmdline.a
libkcmdline_a_SOURCES = \
	kernel-cmdline/kcmdline.c kernel-cmdline/kcmdline.h \
	kernel-cmdline/kcmdline-edit.c kernel-cmdline/kcmdline-edit.h

kcmdline_corpus_dir = $(abs_top_srcdir)/tests/data/proc-cmdline
EXTRA_DIST += tests/data/proc-cmdline

check_PROGRAMS += \
	tests/unit/test-kcmdline \
	tests/unit/test-kcmdline-edit \
	tests/fuzz/fuzz-kcmdline
TESTS += \
	tests/unit/test-kcmdline \
	tests/unit/test-kcmdline-edit \
	tests/fuzz/fuzz-kcmdline

tests_unit_test_kcmdline_SOURCES = tests/unit/test-kcmdline.c tests/unit/tap.h
tests_unit_test_kcmdline_CPPFLAGS = $(AM_CPPFLAGS) \
	-DKCMDLINE_CORPUS_DIR='"$(kcmdline_corpus_dir)"'
tests_unit_test_kcmdline_LDADD = libkcmdline.a libbasic.a

tests_unit_test_kcmdline_edit_SOURCES = tests/unit/test-kcmdline-edit.c tests/unit/tap.h
tests_unit_test_kcmdline_edit_LDADD = libkcmdline.a

# The libFuzzer target with a plain main(): a regression test under gcc.
# (Fuzzing proper needs clang; see the comment in fuzz-kcmdline.c.)
tests_fuzz_fuzz_kcmdline_SOURCES = \
	tests/fuzz/fuzz-kcmdline.c tests/fuzz/fuzz-main.c
tests_fuzz_fuzz_kcmdline_CPPFLAGS = $(AM_CPPFLAGS) \
	-DFUZZ_DEFAULT_CORPUS='"$(kcmdline_corpus_dir)"'
tests_fuzz_fuzz_kcmdline_LDADD = libkcmdline.a libbasic.a

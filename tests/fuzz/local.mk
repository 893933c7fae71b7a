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
	tests/fuzz/fuzz-kcmdline

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

# The base layer: logging, files, strings, the path builder.
noinst_LIBRARIES += libbasic.a
libbasic_a_SOURCES = \
	agent/basic/macro.h \
	agent/basic/log.c agent/basic/log.h \
	agent/basic/fileio.c agent/basic/fileio.h \
	agent/basic/strv.c agent/basic/strv.h \
	agent/basic/parse-util.c agent/basic/parse-util.h \
	agent/basic/hostroot.c agent/basic/hostroot.h \
	agent/basic/time-util.h \
	agent/basic/hex.c agent/basic/hex.h \
	agent/basic/histogram.c agent/basic/histogram.h

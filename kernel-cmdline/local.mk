# kernel-cmdline: the kernel command-line grammar (a pure library).
noinst_LIBRARIES += libkcmdline.a
libkcmdline_a_SOURCES = \
	kernel-cmdline/kcmdline.c kernel-cmdline/kcmdline.h

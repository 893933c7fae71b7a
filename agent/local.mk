# The daemon: main() wires the layers together.
sbin_PROGRAMS += hostdevd
hostdevd_SOURCES = agent/hostdevd.c agent/agent-config.c agent/agent-config.h \
	agent/reload.c agent/reload.h
hostdevd_CFLAGS = $(AM_CFLAGS) $(MHD_CFLAGS) $(JSONC_CFLAGS) $(LIBPCI_CFLAGS) $(SYSTEMD_CFLAGS) $(GNUTLS_CFLAGS)
HOSTDEVD_LIBS = libweb.a libstate.a libhost.a libkcmdline.a libbasic.a \
	$(MHD_LIBS) $(GNUTLS_LIBS) $(ZLIB_LIBS) $(ZSTD_LIBS) $(JSONC_LIBS) $(LIBPCI_LIBS) $(SYSTEMD_LIBS) -lpthread
hostdevd_LDADD = $(HOSTDEVD_LIBS)

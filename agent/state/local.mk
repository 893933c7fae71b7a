# Durable state (maintenance, operations) and the reboot through logind.
noinst_LIBRARIES += libstate.a
libstate_a_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS) $(SYSTEMD_CFLAGS)
libstate_a_SOURCES = \
	agent/state/store.c agent/state/store.h \
	agent/state/logind.c agent/state/logind.h \
	agent/state/reboot.c agent/state/reboot.h \
	agent/state/worker.c agent/state/worker.h

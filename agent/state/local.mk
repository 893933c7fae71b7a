# Durable state (maintenance, operations), the event log, and the reboot through logind.
noinst_LIBRARIES += libstate.a
libstate_a_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS) $(SYSTEMD_CFLAGS)
libstate_a_SOURCES = \
	agent/state/store.c agent/state/store.h \
	agent/state/event-log.c agent/state/event-log.h \
	agent/state/logind.c agent/state/logind.h \
	agent/state/reboot.c agent/state/reboot.h \
	agent/state/worker.c agent/state/worker.h

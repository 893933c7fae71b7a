# systemd unit, example configuration, dependency installer.
systemdsystemunit_DATA = packaging/hostdevd.service
CLEANFILES += packaging/hostdevd.service
EXTRA_DIST += packaging/hostdevd.service.in packaging/install-deps.sh
hostdevdconfdir = $(sysconfdir)/hostdevd
dist_hostdevdconf_DATA = packaging/hostdevd.conf

packaging/hostdevd.service: packaging/hostdevd.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) packaging && sed -e 's|@sbindir[@]|$(sbindir)|g' $< > $@

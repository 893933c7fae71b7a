# systemd unit, example configuration, dependency installer, and the
# packages: Debian (debian/, copied to the top of the unpacked tarball) and
# RPM (rpm/hostdevd.spec), with their test.
systemdsystemunit_DATA = packaging/hostdevd.service
CLEANFILES += packaging/hostdevd.service
EXTRA_DIST += packaging/hostdevd.service.in packaging/install-deps.sh
hostdevdconfdir = $(sysconfdir)/hostdevd
dist_hostdevdconf_DATA = packaging/hostdevd.conf
EXTRA_DIST += packaging/debian packaging/rpm packaging/unit-tests.mk \
	tests/packaging/test_packages.py
# The Ansible collection hostdevd.passthrough and its tests (tests/ansible).
EXTRA_DIST += packaging/ansible tests/ansible

packaging/hostdevd.service: packaging/hostdevd.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) packaging && sed -e 's|@sbindir[@]|$(sbindir)|g' $< > $@

# What running the collection's tests leaves in a tree is not shipped.
dist-hook:
	rm -rf $(distdir)/packaging/ansible/ansible_collections/hostdevd/passthrough/tests/output
	find $(distdir)/packaging/ansible $(distdir)/tests/ansible -name __pycache__ -prune -exec rm -rf {} +

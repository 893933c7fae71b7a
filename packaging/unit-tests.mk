# The tests a package build runs: those that need nothing but the build
# tree (the unit tests, TAP, and the fuzz target replaying its corpus), not
# the integration suite, which starts daemons and needs tools a build has
# not. Read together with the build's Makefile:
#     make -s --no-print-directory -f Makefile -f packaging/unit-tests.mk print-unit-tests
print-unit-tests:
	@echo $(filter tests/unit/% tests/fuzz/%,$(TESTS))

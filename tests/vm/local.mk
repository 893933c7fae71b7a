# The real-kernel test tier: boots Debian's own kernel under QEMU (software
# emulation) on machines with an Intel, an AMD or no IOMMU, and compares
# hostdevd's answers in the guest with what the kernel says, also across a
# real reboot through UEFI firmware and systemd-boot that the host drives
# over HTTP (tests/vm/).
# Not part of `make check`: it installs packages and fetches the kernel
# (setup.sh, as root) and takes about two minutes.  Run it with
#     make check-vm
# Each machine's results (kernel record, daemon answers, console log) are
# kept in tests/vm/results/MACHINE/ under the build directory.
VM_TIER_FILES = \
	tests/vm/README.md \
	tests/vm/setup.sh \
	tests/vm/mkinitramfs.sh \
	tests/vm/machines \
	tests/vm/run-machine \
	tests/vm/guest/init \
	tests/vm/guest/inventory.sh \
	tests/vm/guest/vfio-group-status.c \
	tests/vm/guest/api-agent.sh \
	tests/vm/guest/fake-hostdevd \
	tests/vm/vmrecord.py \
	tests/vm/test_vm_inventory.py \
	tests/vm/test_vm_api_reboot.py \
	tests/vm/test_vm_ansible.py
EXTRA_DIST += $(VM_TIER_FILES)

# setup.sh exits 77 when the tier cannot run (no kernel to be had, missing
# packages and not root); the tests then skip, each saying why.
check-vm: hostdevd
	$(AM_V_at)$(SHELL) $(top_srcdir)/tests/vm/setup.sh; rc=$$?; \
	test $$rc = 0 || test $$rc = 77 || exit $$rc; \
	HOSTDEVD_BINARY='$(abs_top_builddir)/hostdevd' \
	HOSTDEVD_VM_OUT='$(abs_top_builddir)/tests/vm/results' \
	PYTHONDONTWRITEBYTECODE=1 \
	$(PYTHON) -m pytest -p no:cacheprovider -v -rfEsx \
		--junitxml='$(abs_top_builddir)/tests/vm/junit.xml' \
		$(top_srcdir)/tests/vm
.PHONY: check-vm

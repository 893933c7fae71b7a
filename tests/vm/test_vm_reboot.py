"""Real-kernel tier: a real reboot with a changed kernel command line.

The intel-off machine boots through UEFI (OVMF -> systemd-boot -> kernel,
run-machine --uefi) with intel_iommu=off.  guest/reboot-iommu-on.sh takes the
inventory, edits the boot entry on the EFI system partition to
intel_iommu=on and reboots; the second boot takes the inventory again.  The
tests check that the reboot really changed the kernel's state, and that
hostdevd's verdict and groups follow it.  One run, two boots, about 30 s.

Environment as for test_vm_inventory.py.
"""

import pytest

from vmrecord import (
    HERE, Record, device_differences, group_members, kernel_group_members,
    one_per_line, out_dir, run_machine, tier_binary,
)

MACHINE = "intel-off"
GUEST_SCRIPT = HERE / "guest" / "reboot-iommu-on.sh"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The two-boot run's output directory."""
    out = out_dir(f"{MACHINE}-uefi-reboot", tmp_path_factory)
    return run_machine(MACHINE, GUEST_SCRIPT, out, tier_binary(), uefi=True, timeout=150)


@pytest.fixture(scope="module")
def first(run):
    return Record(MACHINE, run / "boots" / "1")


@pytest.fixture(scope="module")
def second(run):
    return Record(MACHINE, run / "boots" / "2")


def test_two_boots_through_the_firmware(run, first, second):
    assert "boots=2" in (run / "run.txt").read_text().split()
    for record in (first, second):
        assert record.kernel_file("firmware.txt").strip() == "uefi"
    # The entry on the ESP keeps the edit.
    assert "intel_iommu=on" in (run / "esp-entry.conf").read_text().split()


def test_reboot_turned_the_iommu_on(first, second):
    assert "intel_iommu=off" in first.cmdline()
    assert "intel_iommu=on" in second.cmdline()
    assert kernel_group_members(first.kernel_devices()) == {}
    assert len(kernel_group_members(second.kernel_devices())) > 1


def test_verdict_follows_the_reboot(first, second):
    assert (first.daemon_verdict(), second.daemon_verdict()) == \
        ("needs-kernel-arguments", "ready")


def test_groups_follow_the_reboot(first, second):
    for record in (first, second):
        kernel = record.kernel_devices()
        assert group_members(record) == kernel_group_members(kernel)
        bad = device_differences(record, kernel, {"iommu_group": lambda k: k.group})
        assert not bad, one_per_line(bad)

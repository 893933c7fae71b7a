"""Host usage through layouts the generated topologies do not cover, built by
hand on a copy of a kernel-made snapshot: a native NVMe multipath disk (the
kernel hangs it off devices/virtual/nvme-subsystem, away from the PCI tree),
and mountinfo's octal escapes."""
import os

import pytest

from conftest import unpack_snapshot


@pytest.fixture
def root(tmp_path):
    return unpack_snapshot("intel-gpu-like", tmp_path / "root")


def link(path, target):
    path.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, path)


def add_block(root, name, real, devnum):
    """A block device directory at sys/<real> with class and dev links."""
    d = root / "sys" / real
    d.mkdir(parents=True, exist_ok=True)
    (d / "dev").write_text(devnum + "\n")
    link(root / "sys/class/block" / name, os.path.relpath(d, root / "sys/class/block"))
    link(root / "sys/dev/block" / devnum, os.path.relpath(d, root / "sys/dev/block"))


def test_nvme_multipath_root_disk_is_found_through_its_controller(root, start_agent):
    ctrl = root / "sys/devices/pci0000:00/0000:00:04.0/0000:03:00.0/nvme/nvme0"
    ctrl.mkdir(parents=True, exist_ok=True)
    subsys = root / "sys/devices/virtual/nvme-subsystem/nvme-subsys0"
    link(subsys / "nvme0", os.path.relpath(ctrl, subsys))
    add_block(root, "nvme0n1", "devices/virtual/nvme-subsystem/nvme-subsys0/nvme0n1", "259:0")
    add_block(root, "nvme0n1p2", "devices/virtual/nvme-subsystem/nvme-subsys0/nvme0n1/nvme0n1p2", "259:2")
    (root / "proc/self").mkdir(parents=True)
    (root / "proc/self/mountinfo").write_text(
        "22 1 259:2 / / rw,relatime shared:1 - xfs /dev/nvme0n1p2 rw,attr2\n"
        "23 22 0:21 / /proc rw,nosuid - proc proc rw\n")
    agent = start_agent(root)
    nvme = agent.get_json("/v1/devices/0000:03:00.0")
    assert [u["kind"] for u in nvme["host_usage"]] == ["root-filesystem"]
    assert "nvme0n1p2" in nvme["host_usage"][0]["detail"]
    assert nvme["assignable"] is False
    # The other NVMe controller is not touched by it.
    assert agent.get_json("/v1/devices/0000:06:00.0")["host_usage"] == []


def test_mountinfo_escapes_and_swap_by_mapper_name(root, start_agent):
    disk = "devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sda"
    add_block(root, "sda", disk, "8:0")
    add_block(root, "sda1", disk + "/sda1", "8:1")
    add_block(root, "dm-1", "devices/virtual/block/dm-1", "253:1")
    (root / "sys/devices/virtual/block/dm-1/dm").mkdir()
    (root / "sys/devices/virtual/block/dm-1/dm/name").write_text("vg0-swap\n")
    link(root / "sys/devices/virtual/block/dm-1/slaves/sda1", "../../../pci0000:00/0000:00:1f.2/ata1/host0/"
         "target0:0:0/0:0:0:0/block/sda/sda1")
    (root / "proc/self").mkdir(parents=True)
    (root / "proc/self/mountinfo").write_text(
        "30 1 8:1 / /srv/vm\\040images rw - ext4 /dev/sda1 rw\n")
    (root / "proc/swaps").write_text(
        "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
        "/dev/mapper/vg0-swap                    partition\t1048572\t\t0\t\t-2\n")
    agent = start_agent(root)
    sata = agent.get_json("/v1/devices/0000:00:1f.2")
    kinds = {u["kind"]: u["detail"] for u in sata["host_usage"]}
    assert set(kinds) == {"filesystem", "swap"}
    assert kinds["filesystem"].endswith("mounted on /srv/vm images")
    assert kinds["swap"] == "swap on dm-1"

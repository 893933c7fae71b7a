"""The agent against real kernel-made sysfs snapshots (tests/data/sysfs/,
QEMU q35 guests running Debian's 6.1 kernel). Expected answers come from what
the guest itself recorded in meta/ (lspci, the group listing, /dev/vfio) and
from the snapshot's own symlinks, never from the agent's code."""
import os
import re
from pathlib import Path

import pytest

from conftest import normalize_lspci_k, unpack_snapshot

SNAPSHOTS = ["intel-gpu-like", "intel-gpu-like-vfio-bound", "iommu-off",
             "iommu-off-vfio-bound", "no-iommu", "no-iommu-vfio-bound"]


@pytest.fixture(scope="module")
def snapshot_roots(tmp_path_factory):
    base = tmp_path_factory.mktemp("snapshots")
    return {name: unpack_snapshot(name, base / name) for name in SNAPSHOTS}


@pytest.fixture
def snap(request, snapshot_roots, start_agent):
    root = snapshot_roots[request.param]
    agent = start_agent(root)
    return root, agent


def meta(root, name):
    return (Path(root) / "meta" / name).read_text()


def lspci_ids(root):
    """{address: (vendor, device, class4)} from lspci -nn -D."""
    out = {}
    for line in meta(root, "lspci-nn-D.txt").splitlines():
        m = re.match(r"^(\S+) .*\[([0-9a-f]{4})\]: .*\[([0-9a-f]{4}):([0-9a-f]{4})\]", line)
        if m:
            out[m.group(1)] = (m.group(3), m.group(4), m.group(2))
    return out


def recorded_groups(root):
    groups = {}
    for line in meta(root, "iommu-groups.txt").splitlines():
        m = re.match(r"group (\d+): (.*)$", line)
        if m:
            groups[int(m.group(1))] = sorted(m.group(2).split())
    return groups


@pytest.mark.parametrize("snap", SNAPSHOTS, indirect=True)
def test_devices_and_drivers_match_lspci(snap):
    root, agent = snap
    devices = {d["address"]: d for d in agent.get_json("/v1/devices")["devices"]}
    ids = lspci_ids(root)
    drivers = normalize_lspci_k(meta(root, "lspci-nn-D-k.txt"))
    assert sorted(devices) == sorted(ids)
    for addr, (vendor, device, cls) in ids.items():
        d = devices[addr]
        assert (d["vendor_id"], d["device_id"]) == (vendor, device), addr
        assert d["class"].startswith(cls), addr
        assert d["driver"] == drivers[addr], addr


@pytest.mark.parametrize("snap", SNAPSHOTS, indirect=True)
def test_groups_match_kernel_listing(snap):
    root, agent = snap
    expected = recorded_groups(root)
    body = agent.get_json("/v1/iommu-groups")
    got = {g["id"]: sorted(m["address"] for m in g["members"]) for g in body["groups"]}
    assert got == expected
    assert body["iommu_active"] == bool(expected)
    devices = agent.get_json("/v1/devices")["devices"]
    for d in devices:
        want = next((g for g, members in expected.items() if d["address"] in members), None)
        assert d["iommu_group"] == want, d["address"]


@pytest.mark.parametrize("snap", SNAPSHOTS, indirect=True)
def test_topology_matches_symlinks(snap):
    """Parent bridges and SR-IOV links, read here straight from the tree."""
    root, agent = snap
    bus = Path(root) / "sys" / "bus" / "pci" / "devices"
    for d in agent.get_json("/v1/devices")["devices"]:
        real = Path(os.path.realpath(bus / d["address"]))
        parent = real.parent.name
        assert d["parent"] == (parent if re.match(r"^[0-9a-f]{4}:", parent) else None), d["address"]
        physfn = real / "physfn"
        assert d["physfn"] == (os.readlink(physfn).split("/")[-1] if physfn.is_symlink() else None)
        if (real / "sriov_totalvfs").exists():
            vfs = sorted(os.readlink(p).split("/")[-1] for p in real.glob("virtfn*"))
            assert d["sriov"]["total_vfs"] == int((real / "sriov_totalvfs").read_text())
            assert sorted(d["sriov"]["vfs"]) == vfs
        else:
            assert d["sriov"] is None


@pytest.mark.parametrize("snap", ["intel-gpu-like-vfio-bound"], indirect=True)
def test_viable_groups_are_the_ones_vfio_opened(snap):
    """In the guest each bound group was opened through the VFIO API; /dev/vfio
    lists exactly those groups."""
    root, agent = snap
    opened = {int(n) for n in re.findall(r"^c.*\s(\d+)\s*$", meta(root, "dev-vfio.txt"), re.M)}
    groups = agent.get_json("/v1/iommu-groups")["groups"]
    assert {g["id"] for g in groups if g["viable"]} == opened
    for g in groups:
        if not g["viable"]:
            assert g["viable_reasons"], g["id"]


@pytest.mark.parametrize("snap", ["intel-gpu-like"], indirect=True)
def test_intel_snapshot_is_ready(snap):
    _, agent = snap
    caps = agent.get_json("/v1/capabilities")
    assert caps["verdict"] == "ready"
    assert caps["iommu"] == "intel-vt-d" and caps["iommu_source"] == "DMAR"
    assert caps["kernel_arguments"]["add"] == []
    # The guest's CPU is AMD (QEMU TCG -cpu max) but the firmware's table says
    # Intel: the table wins over the CPU vendor.
    assert agent.get_json("/v1/host")["cpu"]["vendor"] == "AuthenticAMD"


@pytest.mark.parametrize("snap", ["iommu-off", "iommu-off-vfio-bound"], indirect=True)
def test_iommu_off_needs_kernel_arguments(snap):
    _, agent = snap
    caps = agent.get_json("/v1/capabilities")
    assert caps["verdict"] == "needs-kernel-arguments"
    assert caps["kernel_arguments"]["add"] == ["intel_iommu=on"]
    assert caps["kernel_arguments"]["remove"] == ["intel_iommu=off"]
    checks = {c["id"]: c for c in caps["checks"]}
    assert checks["firmware-iommu"]["status"] == "pass"
    assert checks["kernel-iommu"]["status"] == "fail"
    assert all(not d["assignable"] for d in agent.get_json("/v1/devices")["devices"])


@pytest.mark.parametrize("snap", ["no-iommu"], indirect=True)
def test_no_iommu_is_disabled_in_firmware(snap):
    _, agent = snap
    caps = agent.get_json("/v1/capabilities")
    assert caps["verdict"] == "disabled-in-firmware"
    checks = {c["id"]: c for c in caps["checks"]}
    assert checks["firmware-iommu"]["status"] == "fail" and checks["firmware-iommu"]["hint"]
    # what is known: no IOMMU described; the CPU (AuthenticAMD in this snapshot) would pair with AMD-Vi
    assert caps["iommu"] is None and caps["iommu_source"] is None
    assert caps["cpu_iommu_vendor"] == "amd-vi"
    assert caps["kernel_arguments"] == {"add": [], "remove": [], "optional": []}  # nothing to tune
    for d in agent.get_json("/v1/devices")["devices"]:
        assert d["iommu_group"] is None
        assert "no-iommu-group" in [r["code"] for r in d["reasons"]]


@pytest.mark.parametrize("snap", ["intel-gpu-like"], indirect=True)
def test_group_verdicts(snap):
    _, agent = snap
    groups = {g["id"]: g for g in agent.get_json("/v1/iommu-groups")["groups"]}
    # 10: the PCIe-to-PCI bridge with the two conventional devices behind it.
    roles = {m["address"]: m["role"] for m in groups[10]["members"]}
    assert roles == {"0000:04:00.0": "bridge", "0000:05:01.0": "endpoint", "0000:05:02.0": "endpoint"}
    assert groups[10]["assignable"] is True
    bridge = agent.get_json("/v1/devices/0000:04:00.0")
    assert bridge["is_bridge"] and not bridge["assignable"]
    assert [r["code"] for r in bridge["reasons"] if r["severity"] == "blocker"] == ["bridge"]
    # 6: ICH9 LPC (an ISA bridge: platform), SATA, SMBus: never assignable.
    assert groups[6]["assignable"] is False
    assert any(r["code"] == "platform-device" and r["device"] == "0000:00:1f.0" for r in groups[6]["reasons"])
    sata = agent.get_json("/v1/devices/0000:00:1f.2")
    assert not sata["assignable"] and "group-shared" in [r["code"] for r in sata["reasons"]]
    # 7: the GPU is the boot VGA device here, so its group stays with the host.
    gpu = agent.get_json("/v1/devices/0000:01:00.0")
    assert gpu["boot_vga"] is True and [u["kind"] for u in gpu["host_usage"]] == ["boot-vga"]
    assert groups[7]["assignable"] is False

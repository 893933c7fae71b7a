"""The agent against generated sysfs trees (tests/fixtures/mksysfs.py).
Each tree comes with meta/topology.json, the description it was made from;
the expected answers are computed here from that description, independently
of the agent's code."""
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

import mksysfs

TOPOLOGIES = [t for t in mksysfs.list_topologies() if t != "large"]

USAGE_BY_MOUNT = {"/": "root-filesystem", "/boot": "boot-filesystem", "/boot/efi": "boot-filesystem",
                  "/efi": "boot-filesystem"}


@pytest.fixture(scope="module")
def trees(tmp_path_factory):
    base = tmp_path_factory.mktemp("topologies")
    out = {}
    for name in TOPOLOGIES:
        root = base / name
        mksysfs.generate(name, root)
        out[name] = (root, json.loads((root / "meta" / "topology.json").read_text()))
    return out


@pytest.fixture
def tree(request, trees, start_agent):
    root, topo = trees[request.param]
    return topo, start_agent(root)


def expected_usage(dev):
    """The kinds of host usage a device's description implies."""
    kinds = set()
    for u in dev["host_usage"]:
        if u["kind"] == "mount":
            kinds.add(USAGE_BY_MOUNT.get(u["mountpoint"], "filesystem"))
        elif u["kind"] == "swap":
            kinds.add("swap")
        elif u["kind"] == "default_route":
            kinds.add("default-route")
        elif u["kind"] == "framebuffer":
            kinds.add("framebuffer")
        elif u["kind"] in ("address", "network_address", "route"):
            kinds.add("network-address")
    if dev.get("boot_vga") == 1:
        kinds.add("boot-vga")
    return kinds


@pytest.mark.parametrize("modules, status, detail", [
    ({"vfio_pci": "loaded"}, "pass", "vfio_iommu_type1 is loaded"),  # vfio's softdep loads it with vfio-pci
    ({"vfio_pci": "module"}, "pass", "vfio_iommu_type1 is available as a module"),
    ({"vfio_pci": "loaded", "vfio_iommu_type1": "builtin"}, "pass", "vfio_iommu_type1 is built into the kernel"),
    ({"vfio_pci": "loaded", "vfio_iommu_type1": "absent", "iommufd": "loaded"}, "pass", "iommufd is loaded"),
    ({"vfio_pci": "loaded", "vfio_iommu_type1": "absent", "iommufd": "module"}, "pass",
     "iommufd is available as a module"),
    ({"vfio_pci": "loaded", "vfio_iommu_type1": "absent"}, "fail",
     "neither vfio_iommu_type1 nor iommufd is loaded, built in, or available as a module"),
])
def test_vfio_iommu_backend(tmp_path, start_agent, modules, status, detail):
    """vfio-pci without a VFIO IOMMU backend binds devices that no VM can open."""
    topo = mksysfs.load_topology("passthrough")
    topo["modules"] = modules
    root = tmp_path / "root"
    mksysfs.generate(topo, root)
    caps = start_agent(root).get_json("/v1/capabilities")
    checks = {c["id"]: c for c in caps["checks"]}
    assert [c["id"] for c in caps["checks"]].index("vfio-iommu-backend") == \
        [c["id"] for c in caps["checks"]].index("vfio-pci") + 1, "in the contract's order"
    check = checks["vfio-iommu-backend"]
    assert check["status"] == status and detail in check["detail"], check
    assert checks["vfio-pci"]["status"] == "pass"
    if status == "fail":
        assert caps["verdict"] == "vfio-unavailable"
        assert "CONFIG_VFIO_IOMMU_TYPE1" in check["hint"], check
    else:
        assert caps["verdict"] == "ready" and check["hint"] is None, caps


def test_vfio_iommu_backend_unknown_without_module_lists(tmp_path, start_agent):
    """As under hostdevd's unit before vfio-pci is loaded: the module tree is hidden."""
    topo = mksysfs.load_topology("passthrough")
    topo["modules"] = {"vfio_pci": "module"}
    root = tmp_path / "root"
    mksysfs.generate(topo, root)
    shutil.rmtree(root / "lib" / "modules")
    caps = start_agent(root).get_json("/v1/capabilities")
    check = {c["id"]: c for c in caps["checks"]}["vfio-iommu-backend"]
    assert check["status"] == "warn" and "no module list was found" in check["detail"], check
    assert "modprobe vfio_iommu_type1" in check["hint"], check


def expected_verdict(topo):
    iommu = topo["iommu"]
    if not topo["cpu"].get("virtualization"):
        return "no-cpu-support"
    if not iommu.get("acpi_table"):
        return "disabled-in-firmware"
    if not iommu.get("enabled"):
        return "needs-kernel-arguments"
    return "ready"


@pytest.mark.parametrize("tree", TOPOLOGIES, indirect=True)
def test_devices_match_description(tree):
    topo, agent = tree
    got = {d["address"]: d for d in agent.get_json("/v1/devices")["devices"]}
    assert sorted(got) == sorted(d["address"] for d in topo["devices"])
    for want in topo["devices"]:
        d = got[want["address"]]
        where = want["address"]
        assert (d["vendor_id"], d["device_id"], d["class"], d["revision"]) == \
            (want["vendor"], want["device"], want["class"], want["revision"]), where
        assert d["driver"] == want["driver"], where
        assert d["driver_override"] == want["driver_override"], where
        assert d["iommu_group"] == want["group"], where
        assert d["parent"] == want["parent"], where
        assert d["is_bridge"] == want["bridge"], where
        assert d["numa_node"] == (want["numa_node"] if want["numa_node"] >= 0 else None), where
        assert d["boot_vga"] == (None if want["boot_vga"] is None else bool(want["boot_vga"])), where
        assert d["physfn"] == want["physfn"], where
        if want["reset_method"] is None:
            assert d["reset_methods"] is None, where
        else:
            assert d["reset_methods"] == want["reset_method"].split(), where


@pytest.mark.parametrize("tree", TOPOLOGIES, indirect=True)
def test_links_and_sriov_match_description(tree):
    topo, agent = tree
    got = {d["address"]: d for d in agent.get_json("/v1/devices")["devices"]}
    for want in topo["devices"]:
        d = got[want["address"]]
        if want["link"] is None:
            assert d["link"] is None, want["address"]
        else:
            assert d["link"] == {"current_speed": want["link"]["speed"], "current_width": want["link"]["width"],
                                 "max_speed": want["link"]["max_speed"], "max_width": want["link"]["max_width"]}
        if want["sriov"] is None:
            assert d["sriov"] is None, want["address"]
        else:
            assert d["sriov"]["total_vfs"] == want["sriov"]["total_vfs"]
            assert d["sriov"]["enabled_vfs"] == want["sriov"]["num_vfs"]
            assert sorted(d["sriov"]["vfs"]) == sorted(want["sriov"]["virtfns"])


@pytest.mark.parametrize("tree", TOPOLOGIES, indirect=True)
def test_groups_match_description(tree):
    topo, agent = tree
    body = agent.get_json("/v1/iommu-groups")
    got = {str(g["id"]): [m["address"] for m in g["members"]] for g in body["groups"]}
    assert got == {k: sorted(v) for k, v in topo["groups"].items()}
    bridges = {d["address"] for d in topo["devices"] if d["bridge"]}
    for g in body["groups"]:
        for m in g["members"]:
            assert m["role"] == ("bridge" if m["address"] in bridges else "endpoint")
        single = agent.get_json(f"/v1/iommu-groups/{g['id']}")
        assert single == g


@pytest.mark.parametrize("tree", TOPOLOGIES, indirect=True)
def test_host_usage_matches_description(tree):
    topo, agent = tree
    got = {d["address"]: d for d in agent.get_json("/v1/devices")["devices"]}
    for want in topo["devices"]:
        kinds = {u["kind"] for u in got[want["address"]]["host_usage"]}
        exp = expected_usage(want)
        # An interface with a default route also carries its subnet: the
        # agent may say network-address beside default-route.
        assert exp <= kinds <= exp | ({"network-address"} if "default-route" in exp else set()), want["address"]


@pytest.mark.parametrize("tree", TOPOLOGIES, indirect=True)
def test_assignability_matches_description(tree):
    topo, agent = tree
    got = {d["address"]: d for d in agent.get_json("/v1/devices")["devices"]}
    expect = topo.get("expect", {})
    for addr in expect.get("assignable", {}):
        assert got[addr]["assignable"] is True, (addr, got[addr]["reasons"])
    for addr in expect.get("not_assignable", {}):
        assert got[addr]["assignable"] is False, addr
        assert any(r["severity"] == "blocker" for r in got[addr]["reasons"]), addr
    # Whatever the description says, a group is assignable only if no member is
    # used by the host, and bridges never are.
    for g in agent.get_json("/v1/iommu-groups")["groups"]:
        used = any(m["host_usage"] for m in g["members"])
        if used:
            assert g["assignable"] is False and all(not got[m["address"]]["assignable"] for m in g["members"])
    for d in got.values():
        if d["is_bridge"] or d["iommu_group"] is None:
            assert d["assignable"] is False


@pytest.mark.parametrize("tree", TOPOLOGIES, indirect=True)
def test_capability_verdict(tree):
    topo, agent = tree
    caps = agent.get_json("/v1/capabilities")
    assert caps["verdict"] == expected_verdict(topo)
    checks = {c["id"]: c for c in caps["checks"]}
    assert set(checks) == {"cpu-virtualization", "firmware-iommu", "kernel-iommu", "interrupt-remapping",
                           "vfio-pci", "vfio-iommu-backend", "acs-override", "kernel-arguments"}
    assert checks["acs-override"]["status"] == ("warn" if topo["iommu"].get("acs_override") else "pass")
    assert caps["iommu_source"] == topo["iommu"].get("acpi_table")
    if caps["iommu_source"] is None:
        assert caps["iommu"] is None, "no table, no IOMMU described: never a guess"
    assert caps["cpu_iommu_vendor"] == {"intel": "intel-vt-d", "amd": "amd-vi"}.get(topo["cpu"]["vendor"])
    if topo["iommu"].get("vendor") == "amd":
        assert "amd_iommu=on" not in caps["kernel_arguments"]["add"]
    if expected_verdict(topo) == "needs-kernel-arguments" and topo["iommu"]["vendor"] == "intel":
        assert "intel_iommu=on" in caps["kernel_arguments"]["add"]
    vfio = topo.get("module_states", {}).get("vfio_pci")
    assert checks["vfio-pci"]["status"] == ("pass" if vfio in ("module", "loaded", "builtin") else "fail")


@pytest.mark.parametrize("tree", TOPOLOGIES, indirect=True)
def test_host_identity(tree):
    topo, agent = tree
    host = agent.get_json("/v1/host")
    want = topo["host"]
    assert host["hostname"] == want["hostname"]
    assert host["machine_id"] == want["machine_id"]
    assert host["boot_id"] == want["boot_id"]
    assert host["host_id"] == (want.get("product_uuid") or want["machine_id"])
    assert host["kernel_release"] == topo["kernel"]["release"]
    assert host["cmdline"] == topo["kernel"]["cmdline"]
    assert host["cpu"]["count"] == topo["cpu"]["count"]


@pytest.fixture
def fast_tmp(tmp_path):
    """The 4,096-function tree is ~175,000 small files: tmpfs when there is one."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        d = Path(tempfile.mkdtemp(prefix="hostdevd-large-", dir=shm))
        yield d
        shutil.rmtree(d, ignore_errors=True)
    else:
        yield tmp_path


def test_large_tree_agrees_with_lspci(fast_tmp, start_agent):
    root = fast_tmp / "large"
    mksysfs.generate("large", root)
    agent = start_agent(root)
    devices = agent.get_json("/v1/devices")["devices"]
    out = subprocess.run(["lspci", "-A", "linux-sysfs", "-O", f"sysfs.path={root}/sys/bus/pci", "-n", "-D", "-k"],
                         capture_output=True, text=True, check=True).stdout
    lspci = {}
    current = None
    for line in out.splitlines():
        if line and not line[0].isspace():
            current = line.split()[0]
            lspci[current] = None
        elif "Kernel driver in use:" in line:
            lspci[current] = line.split(":", 1)[1].strip()
    assert len(devices) == 4096
    assert {d["address"]: d["driver"] for d in devices} == lspci
    groups = agent.get_json("/v1/iommu-groups")
    assert sum(len(g["members"]) for g in groups["groups"]) == sum(1 for d in devices if d["iommu_group"] is not None)

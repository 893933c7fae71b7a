"""Real-kernel tier: hostdevd's inventory against what the kernel says.

Each machine of tests/vm/machines boots once (a module-scoped fixture runs
run-machine with guest/inventory.sh); in that one boot the guest binds two
devices to vfio-pci, records the kernel's view (lspci, sysfs links, IOMMU
groups, VFIO viability, SR-IOV) and hostdevd's answers (/v1/devices,
/v1/iommu-groups, /v1/capabilities, /v1/host).  The tests compare the two
field by field, and check that the kernel record itself is what the machine
definition promises (so a broken machine shows up as such, not as a daemon
bug).  On the machines with an IOMMU the guest then has hostdevd plan and
bind the GPU's group to vfio-pci and release it through the API; the
binding tests judge that against the kernel's view after each step.  Last,
the guest changes the host behind hostdevd's back (SR-IOV VFs removed and
created again, the NIC unbound and probed, a VF put on vfio-pci through
driver_override, its group held open by a process) with an event stream
open; the live tests judge the answers, never preceded by a rescan, and
the events against sysfs.

Run with Debian's python (pytest is installed for it):
    HOSTDEVD_BINARY=/path/to/hostdevd /usr/bin/python3 -m pytest tests/vm
Environment:
    HOSTDEVD_BINARY   the daemon to ship into the guest (required for the
                      daemon tests; without it they fail and say so)
    HOSTDEVD_VM_OUT   where each machine's results go (default: a pytest
                      temporary directory); kept for inspection
    HOSTDEVD_VM_CACHE the kernel cache setup.sh filled (default tests/vm/cache)
Without QEMU or the kernel every test is skipped with the reason.
"""

import json
import sys

import pytest

from vmrecord import (
    COMMON_DEVICES, ENDPOINTS, GPU_AUDIO, GPU_FN0, HERE, SRIOV_PF, SRIOV_VFS,
    VFIO_BOUND, BindingRecord, LiveRecord, Record, device_differences, drivers_allow_vfio, group_members,
    kernel_group_members, kernel_groups, one_per_line, out_dir,
    parse_group_listing, parse_lspci_vmm, parse_wget_headers, run_machine,
    tier_binary,
)

GUEST_SCRIPT = HERE / "guest" / "inventory.sh"

# The verdict /v1/capabilities must give on each machine.
EXPECTED_VERDICT = {
    "intel": "ready",                       # VT-d on (intel_iommu=on)
    "amd": "ready",                         # AMD-Vi is on by default
    "intel-default": "ready",               # VT-d on with no argument at all
    "intel-off": "needs-kernel-arguments",  # DMAR table, intel_iommu=off
    "none": "disabled-in-firmware",         # no DMAR/IVRS; the CPU has svm
}
MACHINES_WITH_IOMMU = {"intel", "amd", "intel-default"}


@pytest.fixture(scope="module", params=list(EXPECTED_VERDICT))
def boot(request, tmp_path_factory):
    """Boot one machine once with the inventory script: its Record."""
    machine = request.param
    binary = tier_binary()
    out = run_machine(machine, GUEST_SCRIPT, out_dir(machine, tmp_path_factory), binary)
    return Record(machine, out / "results")


@pytest.fixture(scope="module")
def kernel(boot):
    """The kernel's record of the boot: address -> KernelDevice."""
    return boot.kernel_devices()


# ---- the kernel record is what the machine promises ------------------------

def test_kernel_record_agrees_with_lspci(boot, kernel):
    """lspci (libpci) and the sysfs files tell the same story."""
    lspci = parse_lspci_vmm(boot.kernel_file("lspci-vmm.txt"))
    assert set(lspci) == set(kernel)
    bad = []
    for addr, k in kernel.items():
        want = {"vendor_id": k.vendor_id, "device_id": k.device_id,
                "class": k.klass, "driver": k.driver, "group": k.group}
        for key, value in want.items():
            if lspci[addr][key] != value:
                bad.append(f"{addr} {key}: lspci {lspci[addr][key]!r}, sysfs {value!r}")
    assert not bad, one_per_line(bad)


def test_kernel_record_group_listing(boot, kernel):
    """The iommu_groups listing and each device's iommu_group link agree."""
    listing = parse_group_listing(boot.kernel_file("iommu-groups.txt"))
    assert listing == kernel_group_members(kernel)


def test_machine_has_its_devices(boot, kernel):
    """The devices tests/vm/machines promises, at their addresses; the
    SR-IOV PF with 2 of its 4 VFs enabled; the PCIe-to-PCI bridge."""
    have = {addr: f"{k.vendor_id}:{k.device_id}" for addr, k in kernel.items()}
    assert {addr: have.get(addr) for addr in COMMON_DEVICES} == COMMON_DEVICES
    pf = kernel[SRIOV_PF]
    assert (pf.total_vfs, pf.enabled_vfs, pf.vfs) == (4, 2, SRIOV_VFS)
    assert [kernel[vf].physfn for vf in SRIOV_VFS] == [SRIOV_PF, SRIOV_PF]
    assert kernel["0000:04:00.0"].bridge


def test_machine_iommu_state(boot, kernel):
    """IOMMU on: the known group shapes; off or absent: no groups at all."""
    cmdline = boot.cmdline()
    tables = boot.kernel_file("acpi-tables.txt").split()
    groups = parse_group_listing(boot.kernel_file("iommu-groups.txt"))
    assert ("intel_iommu=on" in cmdline) == (boot.machine == "intel")
    assert ("intel_iommu=off" in cmdline) == (boot.machine == "intel-off")
    assert ("DMAR" in tables) == boot.machine.startswith("intel")
    assert ("IVRS" in tables) == (boot.machine == "amd")
    vfio = boot.vfio_status()
    assert [kernel[a].override for a in VFIO_BOUND] == ["vfio-pci"] * 2
    if boot.machine not in MACHINES_WITH_IOMMU:
        assert groups == {} and vfio == {}
        # vfio-pci refused the devices: they are left without a driver.
        assert [kernel[a].driver for a in VFIO_BOUND] == [None, None]
        return
    group_of = lambda addr: kernel[addr].group
    assert [kernel[a].driver for a in VFIO_BOUND] == ["vfio-pci"] * 2
    # GPU on vfio-pci, its audio function on snd_hda_intel: not viable.
    # The VF alone on vfio-pci: viable.  No other group has a VFIO node.
    assert kernel[GPU_AUDIO].driver == "snd_hda_intel"
    assert vfio == {group_of(GPU_FN0): False, group_of(SRIOV_VFS[0]): True}
    # GPU and its audio function: one group.
    assert group_of("0000:01:00.0") == group_of("0000:01:00.1") is not None
    # The PCIe-to-PCI bridge shares its group with both devices behind it.
    assert groups[group_of("0000:04:00.0")] == {"0000:04:00.0", "0000:05:01.0", "0000:05:02.0"}
    # The PF and each VF alone.
    for addr in [SRIOV_PF] + SRIOV_VFS:
        assert groups[group_of(addr)] == {addr}


# ---- hostdevd against the kernel -------------------------------------------

def test_daemon_answered(boot):
    """hostdevd started, answered every endpoint and was still running."""
    status = boot.daemon_status()
    assert "binary=present" in status, "no hostdevd binary (set HOSTDEVD_BINARY)"
    assert "started=yes" in status, status
    for ep in ENDPOINTS:
        assert f"GET /v1/{ep}=ok" in status, status
    assert "alive_at_end=yes" in status, status


def test_daemon_stops_cleanly(boot):
    """SIGTERM (systemd's stop) ends hostdevd with status 0."""
    status = boot.daemon_status()
    assert "exit_after_sigterm=0" in status.split("\n"), status


def test_devices_addresses(boot, kernel):
    assert sorted(boot.daemon_devices()) == sorted(kernel)


def test_devices_ids(boot, kernel):
    bad = device_differences(boot, kernel, {
        "vendor_id": lambda k: k.vendor_id,
        "device_id": lambda k: k.device_id,
        "class": lambda k: k.klass,
    })
    assert not bad, one_per_line(bad)


def test_devices_driver(boot, kernel):
    bad = device_differences(boot, kernel, {"driver": lambda k: k.driver})
    assert not bad, one_per_line(bad)


def test_devices_iommu_group(boot, kernel):
    bad = device_differences(boot, kernel, {"iommu_group": lambda k: k.group})
    assert not bad, one_per_line(bad)


def test_devices_sriov(boot, kernel):
    """PF: total/enabled VFs and the VF list in virtfnN order; VF: physfn;
    everything else: sriov and physfn null."""
    keys = ("total_vfs", "enabled_vfs", "vfs")

    def sriov(k):
        if k.total_vfs is None:
            return None
        return dict(zip(keys, (k.total_vfs, k.enabled_vfs, k.vfs)))

    def project(key, value):
        # Only the SR-IOV fields the kernel record has are compared.
        if key == "sriov" and isinstance(value, dict):
            return {name: value.get(name, "(absent)") for name in keys}
        return value
    bad = device_differences(boot, kernel, {
        "sriov": sriov,
        "physfn": lambda k: k.physfn,
    }, project)
    assert not bad, one_per_line(bad)


def test_iommu_groups_members(boot, kernel):
    assert group_members(boot) == kernel_group_members(kernel)


def test_iommu_groups_member_details(boot, kernel):
    """Each member's driver, and its role: "bridge" exactly for devices with
    a secondary bus, "endpoint" for the rest."""
    bad = []
    for gid, g in sorted(boot.daemon_groups().items(), key=lambda i: str(i[0])):
        for m in g.get("members", []):
            k = kernel.get(m.get("address"))
            if k is None:
                bad.append(f"group {gid}: {m.get('address')!r} is no device of the kernel")
                continue
            role = "bridge" if k.bridge else "endpoint"
            if m.get("role") != role:
                bad.append(f"group {gid} {k.address} role: hostdevd {m.get('role')!r}, kernel {role!r}")
            if m.get("driver", "(absent)") != k.driver:
                bad.append(f"group {gid} {k.address} driver: hostdevd {m.get('driver', '(absent)')!r}, "
                           f"kernel {k.driver!r}")
    assert not bad, one_per_line(bad)


def test_kernel_viability_rule(boot, kernel):
    """The kernel's VIABLE flag follows the drivers of the group's members
    (a check of the record, and of what "viable" means)."""
    groups = kernel_groups(kernel)
    vfio = boot.vfio_status()
    assert {gid: drivers_allow_vfio(groups[gid]) for gid in vfio} == vfio


def test_iommu_groups_viable(boot, kernel):
    """viable: usable through VFIO now, as VFIO_GROUP_GET_STATUS says; a
    group with no /dev/vfio/N node (no member on vfio-pci) is not."""
    vfio = boot.vfio_status()
    daemon = boot.daemon_groups()
    bad = []
    for gid, members in sorted(kernel_groups(kernel).items()):
        want = vfio.get(gid, False)
        got = daemon.get(gid, {}).get("viable", "(absent)")
        if got != want:
            bad.append(f"group {gid} ({', '.join(sorted(k.address for k in members))}): "
                       f"hostdevd viable={got!r}, kernel {want!r}")
    assert not bad, one_per_line(bad)


def test_capabilities_verdict(boot):
    verdict = boot.daemon_verdict()
    checks = boot.daemon_json("capabilities").get("checks")
    assert verdict == EXPECTED_VERDICT[boot.machine], \
        f"checks: {json.dumps(checks, indent=1)[:1500]}"


def test_host_answers(boot):
    answer = boot.daemon_json("host")
    assert isinstance(answer, dict) and answer, answer


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_answers_match_openapi(boot, endpoint):
    """The answers a real kernel produced keep the contract, api/openapi.json
    (checked with the integration suite's validator)."""
    top = HERE.parent.parent
    sys.path.insert(0, str(top / "tests" / "integration"))
    try:
        from openapi_check import load_spec
    except ImportError as e:
        pytest.skip(f"no contract validator (tests/integration/openapi_check.py): {e}")
    finally:
        sys.path.pop(0)
    boot.daemon_json(endpoint)  # fails with the reason when there is no answer
    body = (boot.results / "daemon" / f"{endpoint}.json").read_bytes()
    status, headers = parse_wget_headers(
        (boot.results / "daemon" / f"{endpoint}.headers").read_text())
    spec = load_spec(top / "api" / "openapi.json")
    spec.validate_response("GET", f"/v1/{endpoint}", status, headers, body)


# ---- binding through the API (machines with an IOMMU) ----------------------

# Where the GPU is not the firmware's boot display (the intel machine has a
# host display of its own, see machines), hostdevd may bind its group; where
# it is, it must refuse.
BINDABLE_GPU = {"intel"}


@pytest.fixture(scope="module")
def binding(boot):
    """The binding phase's record; skipped where nothing can be bound."""
    if boot.machine not in MACHINES_WITH_IOMMU:
        pytest.skip(f"{boot.machine}: no IOMMU groups, so nothing to bind to vfio-pci")
    return BindingRecord(boot.results / "binding")


def test_binding_starts_from_the_hosts_drivers(binding):
    """The phase starts with the GPU released from the manual binding and
    driverless, its audio function on snd_hda_intel (a check of the record:
    the release is compared with this)."""
    assert binding.drivers("before") == {GPU_FN0: None, GPU_AUDIO: "snd_hda_intel"}


def test_plan_names_audio_placeholder(binding, boot):
    """Planning the GPU alone names its audio function, which shares the
    group, as a placeholder that must come along; the boot display is
    infeasible."""
    status, plan = binding.answer("plan")
    assert status == 200, plan
    assert plan["requested"] == [GPU_FN0], plan
    roles = {d["address"]: d["role"] for g in plan["groups"] for d in g["devices"]}
    assert roles == {GPU_FN0: "requested", GPU_AUDIO: "placeholder"}, plan
    blockers = [r for g in plan["groups"] for r in g["reasons"] if r["severity"] == "blocker"]
    if boot.machine in BINDABLE_GPU:
        assert plan["feasible"] is True and not blockers, plan
    else:
        assert plan["feasible"] is False, plan
        assert any(r["code"] == "host-uses-device" and "boot_vga" in r["message"] for r in blockers), plan


def test_bind_makes_the_group_viable(binding, boot):
    """PUT .../driver binds the whole group; the kernel's VFIO_GROUP_GET_STATUS
    then says viable, as a VM opening the group would see it.  The boot
    display is refused and nothing changes."""
    status, answer = binding.answer("bind")
    if boot.machine not in BINDABLE_GPU:
        assert status == 409 and answer["code"] == "binding-refused", answer
        assert binding.drivers("bound") == binding.drivers("before")
        return
    assert status == 200, answer
    assert answer["changed"] is True, answer
    assert binding.drivers("bound") == {GPU_FN0: "vfio-pci", GPU_AUDIO: "vfio-pci"}
    group = answer["iommu_group"]
    assert binding.results.joinpath("bound-vfio-status.txt").read_text().split() == \
        [str(group), "viable=yes"]
    status, state = binding.answer("driver-bound")
    assert status == 200, state
    assert state["driver"] == "vfio-pci" and state["binding"]["in_effect"] is True, state
    originals = {m["address"]: m["original_driver"] for m in state["binding"]["members"]}
    assert originals == binding.drivers("before"), state


def test_release_restores_the_drivers(binding, boot):
    """DELETE .../driver gives every member back to the driver it had (or
    none), as the kernel and lspci -k show it, and the VFIO node goes away."""
    status, answer = binding.answer("release")
    assert status == 200, answer
    assert answer["changed"] is (boot.machine in BINDABLE_GPU), answer
    assert binding.drivers("after") == binding.drivers("before")
    assert binding.lspci("after") == binding.lspci("before")
    group = binding.answer("bind")[1].get("iommu_group")
    vfio_nodes = binding.results.joinpath("after-dev-vfio.txt").read_text().split()
    assert str(group) not in vfio_nodes, vfio_nodes


BRIDGE, SERIAL, WATCHDOG = "0000:04:00.0", "0000:05:01.0", "0000:05:02.0"


def test_bridge_group_binds_its_endpoints_and_leaves_the_bridge(binding, boot):
    """Asking for the serial card behind the PCIe-to-PCI bridge binds every
    endpoint of the group (the watchdog too) and never the bridge; the kernel
    then says the group is viable; the release gives the drivers back."""
    before = binding.drivers("bridge-before")
    assert set(before) == {BRIDGE, SERIAL, WATCHDOG}, before
    status, answer = binding.answer("bridge-bind")
    assert status == 200, answer
    bound = binding.drivers("bridge-bound")
    assert bound[SERIAL] == bound[WATCHDOG] == "vfio-pci", bound
    assert bound[BRIDGE] == before[BRIDGE], "the bridge is never unbound"
    group = answer["iommu_group"]
    assert binding.results.joinpath("bridge-vfio-status.txt").read_text().split() == \
        [str(group), "viable=yes"]
    status, answer = binding.answer("bridge-release")
    assert status == 200, answer
    assert binding.drivers("bridge-after") == before


def test_bind_is_refused_without_an_iommu(boot):
    """Where the kernel made no IOMMU groups, PUT .../driver is refused with
    the reason and the device keeps its driver."""
    if boot.machine in MACHINES_WITH_IOMMU:
        pytest.skip(f"{boot.machine} has an IOMMU: binding is checked above")
    rec = BindingRecord(boot.results / "binding")
    status, answer = rec.answer("noiommu-bind")
    assert status == 409 and answer["code"] == "binding-refused", answer
    assert any(r["code"] == "no-iommu" for r in answer["reasons"]), answer
    before = (rec.results / "noiommu-before-driver.txt").read_text()
    assert (rec.results / "noiommu-after-driver.txt").read_text() == before


# ---- the inventory follows the kernel (every machine) ----------------------
# guest/inventory.sh (d): VFs removed and created again, a driver unbound and
# probed again, a VF given to vfio-pci by driver_override and its group held
# open by a process, all behind hostdevd's back and never followed by a
# rescan. hostdevd's answers are judged against sysfs after each change; the
# event stream open through all of it must name what changed.

def contract():
    top = HERE.parent.parent
    sys.path.insert(0, str(top / "tests" / "integration"))
    try:
        from openapi_check import load_spec
    except ImportError as e:
        pytest.skip(f"no contract validator (tests/integration/openapi_check.py): {e}")
    finally:
        sys.path.pop(0)
    return load_spec(top / "api" / "openapi.json")


@pytest.fixture(scope="module")
def live(boot):
    rec = LiveRecord(boot.results / "live")
    if rec.steps().get("skipped"):
        pytest.fail(f"{boot.machine}: the live phase did not run: {rec.steps()['skipped']}")
    return rec


def test_live_vfs_removed_and_created_again(live):
    """sriov_numvfs 0 then 3: the PF's sriov and the device list follow,
    the new VFs with their PF and (autoprobe off) no driver."""
    steps = live.steps()
    assert steps.get("vfs-off") == "seen" and steps.get("vfs-on") == "seen", live.status()
    assert live.kernel("vfs-off").split() == ["0"]
    pf = live.answer("vfs-off")["sriov"]
    assert pf["enabled_vfs"] == 0 and pf["vfs"] == [], pf
    listed = {d["address"]: d for d in live.answer("vfs-off-list")["devices"]}
    assert not [a for a, d in listed.items() if d["physfn"] == SRIOV_PF], "VFs still listed"
    assert set(SRIOV_VFS) <= set((live.results / "devices-before.txt").read_text().split())

    vfs = live.kernel("vfs-on").split()
    assert len(vfs) == 3, vfs
    pf = live.answer("vfs-on")["sriov"]
    assert pf["enabled_vfs"] == 3 and sorted(pf["vfs"]) == vfs, pf
    listed = {d["address"]: d for d in live.answer("vfs-on-list")["devices"]}
    assert sorted(a for a, d in listed.items() if d["physfn"] == SRIOV_PF) == vfs
    assert all(listed[a]["driver"] is None for a in vfs), [listed[a]["driver"] for a in vfs]


NIC = "0000:02:00.0"


def test_live_nic_unbound_and_probed_again(live):
    steps = live.steps()
    assert steps.get("unbound") == "seen" and steps.get("probed") == "seen", live.status()
    assert live.drivers("unbound") == {NIC: None}
    assert live.answer("unbound")["driver"] is None
    probed = live.drivers("probed")[NIC]
    assert probed == "e1000e" and live.answer("probed")["driver"] == probed


def test_live_vf_bound_by_override_and_held_open(live, boot):
    """libvirt's way: driver_override + drivers_probe puts a VF on vfio-pci;
    a process opening /dev/vfio/N is listed as the group's holder, and no
    longer once it exits."""
    if boot.machine not in MACHINES_WITH_IOMMU:
        pytest.skip(f"{boot.machine}: no IOMMU groups, no VFIO nodes")
    steps = live.steps()
    for step in ("vf-bound", "held", "closed"):
        assert steps.get(step) == "seen", live.status()
    vf, group = steps["vf"], int(steps["vf_group"])
    assert live.drivers("vf-bound") == {vf: "vfio-pci"}
    answer = live.answer("vf-bound")
    assert answer["driver"] == "vfio-pci" and answer["driver_override"] == "vfio-pci", answer
    assert answer["iommu_group"] == group, answer
    pid = int(live.kernel("held"))
    assert f"/dev/vfio/{group}" in (live.results / "held-fds.txt").read_text()
    held = live.answer("held")
    assert held["in_use_by"] == [{"iommu_group": group, "pid": pid, "process": "sleep", "vm": None}], held
    assert "group-in-use" in [r["code"] for r in held["reasons"]], held
    closed = live.answer("closed")
    assert closed["in_use_by"] == [] and "group-in-use" not in [r["code"] for r in closed["reasons"]]


def test_live_event_stream_names_each_change(live, boot):
    """Every event keeps the contract; hello first, ids in order; the VFs
    removed and added, the NIC's driver (each time with a new ETag) and the
    holders' changes are all there, each burst closed by an inventory-changed from a uevent or
    a VFIO open or close, never a rescan."""
    spec = contract()
    events = live.events()
    assert events and events[0][0] == "hello", events[:3]
    for kind, _, data in events:
        spec.validate_event(kind, data)
    seqs = [int(i.rsplit("-", 1)[1]) for _, i, _ in events[1:]]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs
    of = lambda kind: [d for k, _, d in events if k == kind]  # noqa: E731
    assert set(SRIOV_VFS) <= {d["address"] for d in of("device-removed")}
    assert set(live.kernel("vfs-on").split()) <= {d["address"] for d in of("device-added")}
    # The NIC may change for other reasons too (its host_usage follows the
    # guest's network); the unbind and the probe are the two driver changes.
    nic = [(i, d) for i, (k, _, d) in enumerate(events)
           if k == "device-changed" and d["address"] == NIC and "driver" in d["fields"]]
    assert len(nic) == 2, nic
    # each of the NIC's changes ends in an inventory-changed with another ETag
    closing = [next(d for k, _, d in events[i:] if k == "inventory-changed") for i, _ in nic[:2]]
    before = [d for k, _, d in events[:nic[0][0]] if k == "inventory-changed"][-1]
    tags = [d["etags"]["/v1/devices"] for d in [before] + closing]
    assert len(set(tags)) == 3, tags
    changes = of("inventory-changed")
    causes = {d["cause"] for d in changes}
    want = {"uevent", "vfio-holders"} if boot.machine in MACHINES_WITH_IOMMU else {"uevent"}
    assert want <= causes <= {"uevent", "vfio-holders"}, causes
    generations = [d["generation"] for d in changes]
    assert generations == sorted(set(generations)), generations
    if boot.machine in MACHINES_WITH_IOMMU:
        group = int(live.steps()["vf_group"])
        held = [d for d in of("iommu-group-changed") if d["id"] == group and "in_use_by" in d["fields"]]
        assert len(held) >= 2, "the open and the close of the group"


def test_live_watch_listens_to_the_kernel(live, boot):
    """No udevd runs in the guest: the kernel's own uevents are followed;
    nothing overran and the consistency pass had nothing to repair."""
    watch = live.answer("inventory")["watch"]
    assert watch["source"] == "kernel", watch
    assert watch["overruns"] == 0 and watch["consistency_fixed"] == 0, watch
    assert watch["events"] > 0 and watch["snapshots"] >= 4, watch
    if boot.machine in MACHINES_WITH_IOMMU:
        assert watch["vfio_inotify"] is True and watch["vfio_node_events"] >= 2, watch


# ---- SR-IOV through the API (guest/inventory.sh, phase e) ----

def sriov_phase(boot):
    d = boot.results / "sriov"
    status = (d / "status.txt").read_text() if (d / "status.txt").exists() else ""
    if "skipped=" in status or not status:
        pytest.fail(f"{boot.machine}: the SR-IOV phase did not run: {status or 'no results'}")
    return d, status


def read_json(path):
    return json.loads(path.read_text())


@pytest.mark.parametrize("n", [2, 0, 4])
def test_sriov_count_set_through_the_api(boot, n):
    """PUT numvfs 2, 0, 4 (an operation each): the kernel's count and virtfn
    links are what was asked, the new VFs are devices of the host, and
    hostdevd's answer lists exactly the kernel's VFs."""
    d, status = sriov_phase(boot)
    assert f"PUT /v1/devices/{SRIOV_PF}/sriov=202" in status, status
    op = read_json(d / f"set-{n}-operation.json")
    assert op["kind"] == "sriov" and op["state"] == "succeeded", op
    assert int((d / f"set-{n}-numvfs.txt").read_text()) == n
    virtfns = (d / f"set-{n}-virtfns.txt").read_text().split()
    assert len(virtfns) == n, virtfns
    devices = set((d / f"set-{n}-devices.txt").read_text().split())
    assert set(virtfns) <= devices
    result = op["result"]
    assert result["numvfs"] == n and sorted(result["vfs"]) == virtfns, result
    # from 4 VFs (phase d left 3) to 2, then 0 through one write, then 4 from 0
    before = {2: 3, 0: 2, 4: 0}[n]
    assert result["numvfs_before"] == before
    # the guest's init turned autoprobe off already: nothing to write for it
    want = (["sriov_numvfs=0"] if before and n else []) + [f"sriov_numvfs={n}"]
    assert result["writes"] == want, result["writes"]
    state = read_json(d / f"set-{n}-state.json")
    assert state["numvfs"] == n and state["drivers_autoprobe"] is False and sorted(state["vfs"]) == virtfns


def test_sriov_refused_while_a_vf_is_held(boot):
    """A VF on vfio-pci whose group a process holds open: setting 0 is 409
    devices-in-use naming the VF and the process, and the 4 VFs stay."""
    if boot.machine not in MACHINES_WITH_IOMMU:
        pytest.skip(f"{boot.machine}: no IOMMU, no VFIO group to hold")
    d, status = sriov_phase(boot)
    vf, group, holder = (d / "held-kernel.txt").read_text().split()
    body = json.loads((d / "held.json").read_text())
    assert body["status"] == 409 and body["code"] == "devices-in-use", body
    reasons = [(r["code"], r["device"]) for r in body["reasons"]]
    assert ("group-in-use", vf) in reasons, reasons
    assert any(holder in r["message"] for r in body["reasons"]), body["reasons"]
    assert int((d / "held-numvfs.txt").read_text()) == 4, "nothing written"

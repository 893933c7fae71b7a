"""The live inventory on generated trees: the agent follows uevents and opens of
VFIO nodes without any rescan request. The tree is changed first, as the kernel
changes sysfs, then the kernel-format uevent is sent to the agent's test hook
(--uevent-socket), which takes the same bytes as the kernel's netlink socket
through the same parser and handler. Expected values come from the generator's
meta/topology.json of the changed tree, never from the agent."""
import copy
import json
import os
import shutil
import socket
import tempfile
import time

import pytest

import mksysfs
import topologies
from conftest import EventStream

PF0, PF1 = "0000:01:00.0", "0000:01:00.1"
NIC = "0000:03:00.0"


def wait_for(predicate, timeout=10.0, interval=0.02):
    """Polls predicate() until it returns something true; bounded."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def send_uevent(sock_path, action, devpath, subsystem="pci", **props):
    """One message in the kernel's format: "ACTION@DEVPATH" then KEY=VALUE pairs."""
    fields = [f"{action}@{devpath}", f"ACTION={action}", f"DEVPATH={devpath}", f"SUBSYSTEM={subsystem}"]
    fields += [f"{k}={v}" for k, v in props.items()]
    fields.append(f"SEQNUM={int(time.monotonic_ns() % 10**9)}")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.sendto(b"\0".join(f.encode() for f in fields) + b"\0", str(sock_path))


def devpath(root, addr):
    """The device's DEVPATH, as the kernel sends it: its path under sys/, from the bus link."""
    real = os.path.realpath(root / "sys/bus/pci/devices" / addr)
    return real[len(os.path.realpath(root / "sys")):]


def sriov_topology(num_vfs_pf1):
    topo = topologies.builtin("sriov")
    topo = copy.deepcopy(topo)
    for d in topo["devices"]:
        if d["address"] == PF1:
            d["sriov"]["num_vfs"] = num_vfs_pf1
    return topo


def regenerate(root, topo, scratch):
    """Makes root's sys/ and proc/ what the generator makes of topo (as the kernel
    would after the change); returns the new topology.json."""
    if scratch.exists():
        shutil.rmtree(scratch)
    meta = mksysfs.generate(topo, scratch)
    for area in ("sys", "proc", "meta"):
        shutil.rmtree(root / area)
        os.rename(scratch / area, root / area)
    return meta


def devices_by_address(agent):
    return {d["address"]: d for d in agent.get_json("/v1/devices")["devices"]}


@pytest.fixture
def live(tmp_path, start_agent):
    """An agent on the sriov tree (PF1 with SR-IOV off) with the uevent hook."""
    root = tmp_path / "root"
    mksysfs.generate(sriov_topology(0), root)
    # An AF_UNIX path holds at most 107 bytes; tmp_path under a deep build
    # directory (make distcheck) is longer than that, so the socket lives in
    # a short directory of its own.
    short = tempfile.mkdtemp(prefix="hostdevd-", dir="/tmp")
    sock = os.path.join(short, "uevent.sock")
    agent = start_agent(root, f"--uevent-socket={sock}")
    yield root, sock, agent
    rc = agent.stop() if agent.proc.poll() is None else agent.proc.returncode
    shutil.rmtree(short, ignore_errors=True)
    assert rc == 0, f"hostdevd exited {rc} on SIGTERM:\n{agent.log_text()[-4000:]}"


def test_vf_burst_is_one_snapshot(live, tmp_path):
    root, sock, agent = live
    before = devices_by_address(agent)
    etag = agent.get("/v1/devices").headers["etag"]
    assert before[PF1]["sriov"]["enabled_vfs"] == 0

    meta = regenerate(root, sriov_topology(8), tmp_path / "scratch")
    expected = {d["address"]: d for d in meta["devices"] if d.get("physfn") == PF1}
    assert len(expected) == 8
    # The tree changed, but no event was sent: the agent does not poll sysfs.
    assert set(devices_by_address(agent)) == set(before)

    for addr in sorted(expected):  # as the kernel does: one add per VF, then the PF's change
        send_uevent(sock, "add", devpath(root, addr))
    send_uevent(sock, "change", devpath(root, PF1))

    now = wait_for(lambda: (lambda d: d if set(expected) <= set(d) else None)(devices_by_address(agent)))
    assert now, "the VFs never showed"
    for addr, d in expected.items():
        assert now[addr]["physfn"] == PF1
        assert now[addr]["iommu_group"] == d["group"]
        assert now[addr]["device_id"] == d["device"]
    assert sorted(now[PF1]["sriov"]["vfs"]) == sorted(expected)
    assert now[PF1]["sriov"]["enabled_vfs"] == 8
    groups = {g["id"]: g for g in agent.get_json("/v1/iommu-groups")["groups"]}
    for addr, d in expected.items():
        assert [m["address"] for m in groups[d["group"]]["members"]] == [addr]
    assert agent.get("/v1/devices").headers["etag"] != etag
    inv = agent.get_json("/v1/inventory")
    assert inv["devices"] == len(before) + 8
    assert inv["watch"]["source"] == "socket"
    assert inv["watch"]["events"] == 9
    assert inv["watch"]["snapshots"] == 1 and inv["generation"] == 2, inv  # one burst, one snapshot


def test_vfs_removed(live, tmp_path):
    root, sock, agent = live
    meta = regenerate(root, sriov_topology(4), tmp_path / "scratch")
    vfs = sorted(d["address"] for d in meta["devices"] if d.get("physfn") == PF1)
    for addr in vfs:
        send_uevent(sock, "add", devpath(root, addr))
    assert wait_for(lambda: set(vfs) <= set(devices_by_address(agent)))
    gone = {addr: devpath(root, addr) for addr in vfs[2:]}
    regenerate(root, sriov_topology(2), tmp_path / "scratch")
    for addr, path in gone.items():  # the directory is gone by the time the event arrives
        send_uevent(sock, "remove", path)
    now = wait_for(lambda: (lambda d: d if not set(gone) & set(d) else None)(devices_by_address(agent)))
    assert now and set(vfs[:2]) <= set(now)
    assert sorted(now[PF1]["sriov"]["vfs"]) == vfs[:2]


def test_unbind_changes_that_device(live):
    root, sock, agent = live
    before = devices_by_address(agent)
    assert before[NIC]["driver"] == "igb"
    d = root / "sys/bus/pci/devices" / NIC
    os.unlink(d / "driver")
    os.unlink(root / "sys/bus/pci/drivers/igb" / NIC)
    send_uevent(sock, "unbind", devpath(root, NIC), DRIVER="igb")
    assert wait_for(lambda: devices_by_address(agent)[NIC]["driver"] is None)
    after = devices_by_address(agent)
    changed = {a for a in before if before[a] != after[a]}
    assert NIC in changed
    # Only what depends on the NIC may change: its own entry and its group mates'.
    mates = {m["address"] for m in agent.get_json(f"/v1/iommu-groups/{after[NIC]['iommu_group']}")["members"]}
    assert changed <= mates | {NIC}, changed


def test_foreign_and_malformed_messages_change_nothing(live):
    root, sock, agent = live
    etag = agent.get("/v1/devices").headers["etag"]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        for junk in (b"", b"garbage", b"add@/devices/x\0ACTION=remove\0DEVPATH=/devices/x\0SUBSYSTEM=pci\0",
                     b"libudev\0\xfe\xed\xca\xfe" + b"\0" * 32, b"add@/devices/x\0ACTION=add\0SUBSYSTEM=pci\0",
                     b"\xff" * 5000):
            s.sendto(junk, str(sock))
    send_uevent(sock, "add", "/devices/virtual/net/lo", subsystem="net")
    send_uevent(sock, "add", "/devices/pci0000:00/0000:00:01.0/not-an-address")
    inv = wait_for(lambda: (lambda i: i if i["watch"]["events_ignored"] >= 7 else None)(
        agent.get_json("/v1/inventory")), timeout=5)
    assert inv, agent.get_json("/v1/inventory")
    assert inv["generation"] == 1 and inv["watch"]["snapshots"] == 0
    assert agent.get("/v1/devices").headers["etag"] == etag


def test_a_device_the_event_names_but_sysfs_lacks(live):
    root, sock, agent = live
    send_uevent(sock, "add", "/devices/pci0000:00/0000:00:01.0/0000:01:07.7")
    inv = wait_for(lambda: (lambda i: i if i["watch"]["refreshes"] >= 1 else None)(agent.get_json("/v1/inventory")))
    assert inv and inv["generation"] == 1 and "0000:01:07.7" not in devices_by_address(agent)


def test_consistency_pass_fixes_missed_events(tmp_path, start_agent):
    root = tmp_path / "root"
    mksysfs.generate(sriov_topology(0), root)
    conf = tmp_path / "hostdevd.conf"
    conf.write_text("consistency_interval_sec = 1\n")
    agent = start_agent(root, f"--config={conf}")
    assert agent.get_json("/v1/inventory")["watch"]["source"] == "none"
    meta = regenerate(root, sriov_topology(3), tmp_path / "scratch")
    d = root / "sys/bus/pci/devices" / NIC
    os.unlink(d / "driver")
    vfs = {x["address"] for x in meta["devices"] if x.get("physfn") == PF1}
    now = wait_for(lambda: (lambda d: d if vfs <= set(d) and d[NIC]["driver"] is None else None)(
        devices_by_address(agent)), timeout=15)
    assert now, "the consistency pass did not repair the inventory"
    inv = agent.get_json("/v1/inventory")
    assert inv["watch"]["consistency_passes"] >= 1
    assert inv["watch"]["consistency_fixed"] >= len(vfs) + 2  # the VFs, the PF, the NIC
    assert inv["watch"]["last_consistency_at"] is not None


def hold(root, pid, group, vm):
    proc = root / "proc" / str(pid)
    (proc / "fd").mkdir(parents=True)
    (proc / "comm").write_text("qemu-system-x86\n")
    (proc / "cmdline").write_bytes(b"/usr/bin/qemu-system-x86_64\0-name\0guest=%s\0" % vm.encode())
    os.symlink(f"/dev/vfio/{group}", proc / "fd/31")


def test_holders_follow_opens_and_closes(tmp_path, start_agent):
    root = tmp_path / "root"
    meta = mksysfs.generate(sriov_topology(0), root)
    vf = next(d for d in meta["devices"] if d.get("physfn") == PF0 and d["driver"] == "vfio-pci")
    group = vf["group"]
    (root / "dev/vfio").mkdir(parents=True)
    node = root / "dev/vfio" / str(group)
    node.write_text("")
    agent = start_agent(root)
    assert agent.get_json("/v1/inventory")["watch"]["vfio_inotify"] is True
    assert agent.get_json(f"/v1/iommu-groups/{group}")["in_use_by"] == []
    stream = EventStream(agent)
    stream.until("hello")

    hold(root, 4242, group, "win10")
    f = open(node)  # QEMU opens the group: inotify sees the open
    try:
        seen = stream.until("inventory-changed")
        assert seen[-1][2]["cause"] == "vfio-holders", seen
        changed = [d for t, _, d in seen if t == "iommu-group-changed"]
        assert [(d["id"], d["change"]) for d in changed] == [(group, "changed")], seen
        assert "in_use_by" in changed[0]["fields"], changed
        g = wait_for(lambda: (lambda g: g if g["in_use_by"] else None)(agent.get_json(f"/v1/iommu-groups/{group}")))
        assert g and g["in_use_by"] == [{"iommu_group": group, "pid": 4242, "process": "qemu-system-x86",
                                         "vm": "win10"}]
        assert "group-in-use" in [r["code"] for r in g["reasons"]]
        dev = agent.get_json(f"/v1/devices/{vf['address']}")
        assert any(r["code"] == "group-in-use" and "win10" in r["message"] for r in dev["reasons"])
        shutil.rmtree(root / "proc/4242")
    finally:
        f.close()  # QEMU exits: the close is seen
    g = wait_for(lambda: (lambda g: g if not g["in_use_by"] else None)(agent.get_json(f"/v1/iommu-groups/{group}")))
    assert g and "group-in-use" not in [r["code"] for r in g["reasons"]]
    seen = stream.until("inventory-changed")
    assert [d["id"] for t, _, d in seen if t == "iommu-group-changed"] == [group], seen
    stream.close()
    assert agent.get_json("/v1/inventory")["watch"]["vfio_node_events"] >= 2


def test_vfio_directory_made_after_start(tmp_path, start_agent):
    root = tmp_path / "root"
    meta = mksysfs.generate(sriov_topology(0), root)
    group = next(d for d in meta["devices"] if d.get("physfn") == PF0 and d["driver"] == "vfio-pci")["group"]
    (root / "dev").mkdir()
    agent = start_agent(root)
    assert agent.get_json("/v1/inventory")["watch"]["vfio_inotify"] is False
    (root / "dev/vfio").mkdir()  # vfio loaded later: the directory appears
    assert wait_for(lambda: agent.get_json("/v1/inventory")["watch"]["vfio_inotify"])
    node = root / "dev/vfio" / str(group)
    node.write_text("")
    hold(root, 77, group, "late")
    with open(node):
        assert wait_for(lambda: agent.get_json(f"/v1/iommu-groups/{group}")["in_use_by"])


def test_uevent_socket_that_cannot_be_made(tmp_path):
    import subprocess
    from conftest import BINARY
    root = tmp_path / "root"
    mksysfs.generate("sriov", root)
    bad = tmp_path / "no/such/dir/uevent.sock"
    r = subprocess.run([str(BINARY), "--root", str(root), "--listen", "127.0.0.1:0", "--tokens",
                        str(tmp_path / "tokens"), f"--uevent-socket={bad}"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and str(bad) in r.stderr, r.stderr


def test_events_for_a_vf_burst_and_an_unbind(live, tmp_path):
    root, sock, agent = live
    stream = EventStream(agent)
    try:
        hello = stream.until("hello")[-1][2]
        meta = regenerate(root, sriov_topology(3), tmp_path / "scratch")
        vfs = sorted(d["address"] for d in meta["devices"] if d.get("physfn") == PF1)
        for addr in vfs:
            send_uevent(sock, "add", devpath(root, addr))
        seen = stream.until("inventory-changed")
        changed = seen[-1][2]
        assert changed["cause"] == "uevent" and changed["generation"] == hello["generation"] + 1
        r = agent.get("/v1/devices")
        assert changed["etags"]["/v1/devices"] == r.headers["etag"]
        assert changed["etags"]["/v1/iommu-groups"] == agent.get("/v1/iommu-groups").headers["etag"]
        assert sorted(d["address"] for t, _, d in seen if t == "device-added") == vfs
        pf = [d for t, _, d in seen if t == "device-changed" and d["address"] == PF1]
        assert pf and "sriov" in pf[0]["fields"], seen
        new_groups = sorted(d["id"] for t, _, d in seen if t == "iommu-group-changed" and d["change"] == "added")
        assert new_groups == sorted(d["group"] for d in meta["devices"] if d.get("physfn") == PF1)
        assert changed["devices_changed"] == len(vfs) + 1
        ids = [i for _, i, _ in seen]
        assert len(set(ids)) == len(ids)

        os.unlink(root / "sys/bus/pci/devices" / NIC / "driver")
        send_uevent(sock, "unbind", devpath(root, NIC), DRIVER="igb")
        seen = stream.until("inventory-changed")
        nic = [d for t, _, d in seen if t == "device-changed" and d["address"] == NIC]
        assert nic and "driver" in nic[0]["fields"], seen
        assert seen[-1][2]["etags"]["/v1/devices"] == agent.get("/v1/devices").headers["etag"] != r.headers["etag"]
    finally:
        stream.close()


def test_rescan_publishes_only_what_changed(live, tmp_path):
    root, sock, agent = live
    stream = EventStream(agent)
    try:
        stream.until("hello")
        os.unlink(root / "sys/bus/pci/devices" / NIC / "driver")
        r = agent.request("/v1/inventory/rescan", method="POST", role="operator", data=b"{}")
        assert r.status == 200
        seen = stream.until("inventory-changed")
        assert seen[-1][2]["cause"] == "rescan"
        assert [(t, d["address"]) for t, _, d in seen if t.startswith("device-")] == [("device-changed", NIC)]
    finally:
        stream.close()

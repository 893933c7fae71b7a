"""PUT/DELETE /v1/devices/{address}/driver against generated trees, with the
kernel's side of driver binding played by tests/mock/pcimock.so (preloaded
into the daemon): the sysfs symlinks move as the kernel would move them, so
what the agent reports is checked against the tree itself. Covers the whole
group moving, bridges staying, refusals, idempotence, rollback on an injected
failure, and persistent bindings across a "reboot" (new boot id, native
drivers back), with drift."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import mksysfs
from conftest import BINARY, finish

BUILDDIR = Path(os.environ.get("HOSTDEVD_BUILDDIR", BINARY.parent))
PCIMOCK = BUILDDIR / "tests" / "mock" / "pcimock.so"

GPU, AUDIO = "0000:01:00.0", "0000:01:00.1"
BRIDGE, NIC, SOUND = "0000:04:00.0", "0000:05:00.0", "0000:05:01.0"
DISK = "0000:02:00.0"

pytestmark = pytest.mark.skipif(not PCIMOCK.exists(), reason=f"{PCIMOCK} not built (make check builds it)")


def mock_env(root):
    asan = os.environ.get("ASAN_OPTIONS", "")
    return {"LD_PRELOAD": str(PCIMOCK), "PCIMOCK_ROOT": str(root),
            "ASAN_OPTIONS": ":".join(filter(None, [asan, "verify_asan_link_order=0"]))}


def make_tree(tmp_path, name="passthrough"):
    root = tmp_path / name
    mksysfs.generate(name, root)
    return root


@pytest.fixture
def tree(tmp_path):
    return make_tree(tmp_path)


@pytest.fixture
def agent(tree, start_agent):
    return start_agent(tree, env=mock_env(tree))


def sysfs_driver(root, addr):
    link = root / "sys/bus/pci/devices" / addr / "driver"
    return os.path.basename(os.readlink(link)) if os.path.islink(link) else None


def mock_log(root):
    p = root / "meta/pcimock.log"
    return p.read_text() if p.exists() else ""


def settle(agent, r, kind, status):
    """A refusal found before anything is written answers at once (409);
    otherwise the change is an operation (202) whose end stands for the
    reply it replaced: its result (200) or its problem (500)."""
    if status == 409:
        assert r.status == 409, r
        return r.json()
    assert r.status == 202 and r.json()["kind"] == kind, r
    done = finish(agent, r)
    assert done.status == status, done
    if status == 200:
        steps = [s["step"] for s in done.op["progress"]]
        assert steps and "IOMMU group" in steps[0], steps
    return done.json()


def bind(agent, addr, persistent=None, status=200, role="operator"):
    body = {"driver": "vfio-pci"}
    if persistent is not None:
        body["persistent"] = persistent
    r = agent.request(f"/v1/devices/{addr}/driver", method="PUT", data=json.dumps(body).encode(), role=role)
    return settle(agent, r, "bind", status)


def release(agent, addr, status=200):
    r = agent.request(f"/v1/devices/{addr}/driver", method="DELETE", role="operator")
    return settle(agent, r, "release", status)


def drivers(agent, *addrs):
    return [agent.get_json(f"/v1/devices/{a}")["driver"] for a in addrs]


def test_gpu_and_audio_bound_and_released(agent, tree):
    c = bind(agent, GPU)
    assert c["outcome"] == "done" and c["changed"] and c["iommu_group"] == 9
    assert [(d["address"], d["before"], d["after"]) for d in c["devices"]] == [
        (GPU, "nouveau", "vfio-pci"), (AUDIO, "snd_hda_intel", "vfio-pci")]
    b = c["binding"]
    assert b["in_effect"] and not b["persistent"] and b["drift"] == []
    assert [(m["address"], m["original_driver"]) for m in b["members"]] == [
        (GPU, "nouveau"), (AUDIO, "snd_hda_intel")]
    assert [sysfs_driver(tree, a) for a in (GPU, AUDIO)] == ["vfio-pci", "vfio-pci"]
    assert drivers(agent, GPU, AUDIO) == ["vfio-pci", "vfio-pci"], "the inventory was rescanned"
    assert agent.get_json("/v1/iommu-groups/9")["viable"] is True
    assert (tree / "dev/vfio/9").exists()
    state = agent.get_json(f"/v1/devices/{AUDIO}/driver")
    assert state["driver"] == "vfio-pci" and state["driver_override"] == "vfio-pci"
    assert state["binding"]["requested"] == GPU
    assert agent.get_json("/v1/passthrough/bindings")["count"] == 1
    log = mock_log(tree)
    assert log.index(f"driver_override {GPU} vfio-pci") < log.index(f"unbind nouveau {GPU}") \
        < log.index(f"drivers_probe bus {GPU}")
    assert "new_id" not in log

    c = release(agent, AUDIO)
    assert c["outcome"] == "done" and c["binding"] is None and c["warnings"] == []
    assert [sysfs_driver(tree, a) for a in (GPU, AUDIO)] == ["nouveau", "snd_hda_intel"]
    assert drivers(agent, GPU, AUDIO) == ["nouveau", "snd_hda_intel"]
    assert agent.get_json(f"/v1/devices/{GPU}")["driver_override"] is None
    assert agent.get_json("/v1/iommu-groups/9")["viable"] is False
    assert agent.get_json("/v1/passthrough/bindings") == {"count": 0, "bindings": []}
    assert agent.get_json(f"/v1/devices/{GPU}/driver")["binding"] is None
    assert not (tree / "dev/vfio/9").exists()


def test_one_function_asked_binds_the_group(agent, tree):
    c = bind(agent, AUDIO)
    assert c["outcome"] == "done"
    assert [sysfs_driver(tree, a) for a in (GPU, AUDIO)] == ["vfio-pci", "vfio-pci"]
    assert c["binding"]["requested"] == AUDIO


def test_bridge_group(agent, tree):
    c = bind(agent, SOUND)
    assert c["outcome"] == "done"
    assert [(d["address"], d["role"], d["before"], d["after"]) for d in c["devices"]] == [
        (BRIDGE, "bridge", None, None), (NIC, "endpoint", "8139too", "vfio-pci"),
        (SOUND, "endpoint", None, "vfio-pci")]
    assert sysfs_driver(tree, BRIDGE) is None
    assert BRIDGE not in mock_log(tree), "the bridge is never written to"
    assert agent.get_json("/v1/iommu-groups/12")["viable"] is True
    p = bind(agent, BRIDGE, status=409)
    assert p["code"] == "binding-refused" and "bridge" in {x["code"] for x in p["reasons"]}
    c = release(agent, NIC)
    assert sysfs_driver(tree, NIC) == "8139too" and sysfs_driver(tree, SOUND) is None


def test_root_disk_group_refused(agent, tree):
    p = bind(agent, DISK, status=409)
    assert p["code"] == "binding-refused"
    assert "host-uses-device" in {x["code"] for x in p["reasons"]}
    assert "mounted on /" in p["detail"]
    assert sysfs_driver(tree, DISK) == "nvme" and mock_log(tree) == ""
    p = bind(agent, "0000:00:1f.3", status=409)
    assert "platform-device" in {x["code"] for x in p["reasons"]}


def test_no_iommu_refused(tmp_path, start_agent):
    root = make_tree(tmp_path, "iommu-off")
    agent = start_agent(root, env=mock_env(root))
    p = bind(agent, GPU, status=409)
    assert p["code"] == "binding-refused" and "no-iommu" in {x["code"] for x in p["reasons"]}
    assert sysfs_driver(root, GPU) == "nouveau" and mock_log(root) == ""


def test_idempotent(agent, tree):
    bind(agent, GPU)
    n = len(mock_log(tree).splitlines())
    c = bind(agent, AUDIO)
    assert c["outcome"] == "unchanged" and not c["changed"]
    c = bind(agent, GPU, persistent=True)
    assert c["outcome"] == "unchanged" and c["binding"]["persistent"] is True
    assert len(mock_log(tree).splitlines()) == n, "nothing written to sysfs"
    release(agent, GPU)
    n = len(mock_log(tree).splitlines())
    c = release(agent, GPU)
    assert c["outcome"] == "unchanged" and c["binding"] is None
    assert len(mock_log(tree).splitlines()) == n


def reboot(root, boot_id):
    """What a reboot leaves: a new boot id, every device on its native driver.
    The writes go through the kernel double, from a preloaded Python."""
    (root / "proc/sys/kernel/random/boot_id").write_text(boot_id + "\n")
    script = """
import os, sys
root = sys.argv[1]
def put(path, value):
    fd = os.open(os.path.join(root, path), os.O_WRONLY)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)
vfio = os.path.join(root, "sys/bus/pci/drivers/vfio-pci")
for addr in sorted(a for a in os.listdir(vfio) if ":" in a):
    put("sys/bus/pci/devices/%s/driver_override" % addr, "\\n")
    put("sys/bus/pci/drivers/vfio-pci/unbind", addr)
    put("sys/bus/pci/drivers_probe", addr)
"""
    subprocess.run([sys.executable, "-c", script, str(root)], env={**os.environ, **mock_env(root)}, check=True)


def test_persistent_binding_reapplied_at_start(agent, tree):
    bind(agent, GPU, persistent=True)
    bind(agent, NIC, persistent=False)
    assert agent.stop() == 0
    reboot(tree, "11111111-2222-3333-4444-555555555555")
    assert [sysfs_driver(tree, a) for a in (GPU, NIC)] == ["nouveau", "8139too"]
    agent.start()
    assert drivers(agent, GPU, AUDIO) == ["vfio-pci", "vfio-pci"], "re-applied before serving"
    assert drivers(agent, NIC) == ["8139too"], "a binding that was not persistent ends with the boot"
    listing = agent.get_json("/v1/passthrough/bindings")
    assert listing["count"] == 1
    b = listing["bindings"][0]
    assert b["persistent"] and b["in_effect"] and b["boot_id"] == "11111111-2222-3333-4444-555555555555"
    log = agent.log_text()
    assert f"vfio-pci binding of IOMMU group 9 ({GPU}): applied" in log
    assert f"vfio-pci binding of IOMMU group 12 ({NIC}): dropped" in log


def test_restart_in_the_same_boot_keeps_bindings(agent, tree):
    bind(agent, NIC)
    n = len(mock_log(tree).splitlines())
    assert agent.stop() == 0
    agent.start()
    assert agent.get_json("/v1/passthrough/bindings")["count"] == 1
    assert drivers(agent, NIC) == ["vfio-pci"]
    assert len(mock_log(tree).splitlines()) == n


def test_drift_is_reported_not_applied(agent, tree):
    bind(agent, GPU, persistent=True)
    assert agent.stop() == 0
    state = tree / "var/lib/hostdevd/vfio-bindings"
    state.write_text(state.read_text().replace("ids=10de:10f8", "ids=1002:aaf0"))
    reboot(tree, "22222222-2222-3333-4444-555555555555")
    agent.start()
    assert drivers(agent, GPU, AUDIO) == ["nouveau", "snd_hda_intel"], "a drifted binding is not applied"
    b = agent.get_json("/v1/passthrough/bindings")["bindings"][0]
    assert not b["in_effect"]
    assert [(x["code"], x["device"]) for x in b["drift"]] == [("device-changed", AUDIO)]
    assert "drifted" in agent.log_text()
    assert agent.get_json(f"/v1/devices/{GPU}/driver")["binding"]["drift"][0]["code"] == "device-changed"


def test_rollback_on_injected_failure(agent, tree):
    (tree / "meta/pcimock-faults").write_text(f"probe-fails {AUDIO} vfio-pci\n")
    p = bind(agent, GPU, status=500)
    assert p["code"] == "binding-failed"
    assert AUDIO in p["detail"] and "not on vfio-pci" in p["detail"]
    assert f"{GPU} back on nouveau" in p["rollback"] and f"{AUDIO} back on snd_hda_intel" in p["rollback"]
    assert [sysfs_driver(tree, a) for a in (GPU, AUDIO)] == ["nouveau", "snd_hda_intel"]
    assert drivers(agent, GPU, AUDIO) == ["nouveau", "snd_hda_intel"]
    assert agent.get_json("/v1/passthrough/bindings")["count"] == 0

    (tree / "meta/pcimock-faults").write_text(f"write-fails unbind {AUDIO} EIO\n")
    p = bind(agent, GPU, status=500)
    assert p["detail"] == f"writing '{AUDIO}' to bus/pci/drivers/snd_hda_intel/unbind failed: Input/output error"
    assert [sysfs_driver(tree, a) for a in (GPU, AUDIO)] == ["nouveau", "snd_hda_intel"]
    assert agent.get_json(f"/v1/devices/{AUDIO}")["driver_override"] is None, "half-done override undone"
    (tree / "meta/pcimock-faults").write_text("")
    assert bind(agent, GPU)["outcome"] == "done", "works once the fault is gone"


def test_failed_rollback_keeps_the_record(agent, tree):
    """drivers_probe of the GPU keeps failing: the rollback cannot bring it
    back either, says so, and the binding stays recorded so that DELETE can
    finish once the fault is gone."""
    (tree / "meta/pcimock-faults").write_text(f"write-fails drivers_probe {GPU} EIO\n")
    p = bind(agent, AUDIO, status=500)
    assert p["detail"] == f"writing '{GPU}' to bus/pci/drivers_probe failed: Input/output error"
    assert f"{GPU} not restored" in p["rollback"]
    assert sysfs_driver(tree, GPU) is None and sysfs_driver(tree, AUDIO) == "snd_hda_intel"
    b = agent.get_json("/v1/passthrough/bindings")["bindings"]
    assert len(b) == 1 and not b[0]["in_effect"]
    (tree / "meta/pcimock-faults").write_text("")
    assert release(agent, GPU)["outcome"] == "done"
    assert [sysfs_driver(tree, a) for a in (GPU, AUDIO)] == ["nouveau", "snd_hda_intel"]
    assert agent.get_json("/v1/passthrough/bindings")["count"] == 0


def test_release_refused_while_a_vm_holds_the_group(agent, tree):
    bind(agent, GPU)
    proc = tree / "proc/4242"
    (proc / "fd").mkdir(parents=True)
    (proc / "comm").write_text("qemu-system-x86\n")
    (proc / "cmdline").write_bytes(b"qemu-system-x86_64\0-name\0guest=win10\0")
    os.symlink("/dev/vfio/9", proc / "fd/31")
    p = release(agent, GPU, status=409)
    assert p["code"] == "devices-in-use"
    assert "4242" in p["detail"] and "win10" in p["detail"]
    assert bind(agent, GPU)["outcome"] == "unchanged", "binding a bound, held group is fine"
    os.unlink(proc / "fd/31")
    assert release(agent, GPU)["outcome"] == "done"


def test_group_not_bound_by_hostdevd(tmp_path, start_agent):
    root = make_tree(tmp_path, "sriov")
    agent = start_agent(root, env=mock_env(root))
    vf = "0000:01:00.4"   # on vfio-pci from the start
    p = release(agent, vf, status=409)
    assert "not-bound-by-hostdevd" in {x["code"] for x in p["reasons"]}
    c = bind(agent, vf, persistent=True)
    assert c["outcome"] == "unchanged"
    assert c["binding"]["members"][0]["original_driver"] == "vfio-pci"


@pytest.mark.parametrize("body,pointer", [
    (b'{"driver": "nvme"}', "/driver"),
    (b'{}', "/driver"),
    (b'{"driver": "vfio-pci", "persistent": "yes"}', "/persistent"),
    (b'{"driver": "vfio-pci", "force": true}', "/force"),
    (b'["vfio-pci"]', ""),
])
def test_bad_bodies(agent, tree, body, pointer):
    r = agent.request(f"/v1/devices/{GPU}/driver", method="PUT", data=body, role="operator")
    assert r.status == 400 and r.json()["pointer"] == pointer, r
    assert mock_log(tree) == ""


def test_paths_roles_and_media_type(agent, tree):
    r = agent.request("/v1/devices/0000:01:00.8/driver", method="PUT", data=b'{"driver": "vfio-pci"}')
    assert r.status == 400 and r.json()["parameter"] == "address"
    r = agent.request("/v1/devices/0000:09:00.0/driver", method="PUT", data=b'{"driver": "vfio-pci"}')
    assert r.status == 404 and r.json()["code"] == "no-such-device"
    r = agent.request(f"/v1/devices/{GPU}/driver", method="PUT", data=b'{"driver": "vfio-pci"}',
                      content_type="text/plain")
    assert r.status == 415
    r = agent.request(f"/v1/devices/{GPU}/driver", method="PUT", data=b'{"driver": "vfio-pci"}', role="reader")
    assert r.status == 403
    r = agent.request(f"/v1/devices/{GPU}/driver", method="DELETE", role="reader")
    assert r.status == 403
    assert agent.request(f"/v1/devices/{GPU}/driver", role="reader").status == 200
    assert mock_log(tree) == ""

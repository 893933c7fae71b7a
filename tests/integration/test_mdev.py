"""Mediated devices against the kernel double: the GPU of the kernel-made
"intel-gpu-like" snapshot made a parent with GVT-g's types as Linux 6.1 lays
them out (mksysfs.add_mdev_parent), and tests/mock/pcimock.so applying
create_store()/remove_store() (the instance, its bus link, its own IOMMU
group and VFIO node, available_instances). Covers the types and instances
in the inventory, creating (random and given UUIDs, refusals that write
nothing), removing (refused while a VM holds the instance's group), mdevctl
definitions written in mdevctl's own form and read back from it, where they
differ from the kernel, "auto" definitions started at the agent's start, and
Debian's own mdevctl run on the same tree (in a mount namespace) reading the
types, the instances and hostdevd's definitions, and defining one that
hostdevd reads.
Where the double's answers are a guess (a parent driver's errno when no
instance is left), the double's header says so."""
import json
import os
import re
import shutil
import subprocess

import pytest

import mksysfs
from conftest import finish, unpack_snapshot
from test_binding import PCIMOCK, mock_env, mock_log

GPU, AUDIO = "0000:01:00.0", "0000:01:00.1"
UUID = "5f1e1d7c-6a43-4d0c-9f27-1e3f0b1f9a11"
pytestmark = pytest.mark.skipif(not PCIMOCK.exists(), reason=f"{PCIMOCK} not built (make check builds it)")


@pytest.fixture
def tree(tmp_path):
    root = unpack_snapshot("intel-gpu-like", tmp_path / "root")
    mksysfs.add_mdev_parent(root, GPU)
    return root


@pytest.fixture
def agent(tree, start_agent):
    return start_agent(tree, env=mock_env(tree))


def type_ids(tree):
    return sorted(os.listdir(tree / "sys/bus/pci/devices" / GPU / "mdev_supported_types"))


def create(agent, body, role="operator"):
    return agent.request(f"/v1/devices/{GPU}/mdevs", method="POST", data=json.dumps(body).encode(), role=role)


def delete(agent, uuid, role="operator"):
    return agent.request(f"/v1/mdevs/{uuid}", method="DELETE", role=role)


def available(tree, tid):
    return int((tree / "sys/bus/pci/devices" / GPU / "mdev_supported_types" / tid / "available_instances").read_text())


def definition(tree, uuid, parent=GPU):
    return tree / "etc/mdevctl.d" / parent / uuid


def test_types_in_the_inventory_as_the_kernel_has_them(agent, tree):
    ids = type_ids(tree)
    dev = agent.get_json(f"/v1/devices/{GPU}")
    assert [t["id"] for t in dev["mdev"]["types"]] == ids
    t = dev["mdev"]["types"][0]
    d = tree / "sys/bus/pci/devices" / GPU / "mdev_supported_types" / ids[0]
    assert t["name"] == (d / "name").read_text().strip()
    assert t["description"] == (d / "description").read_text().rstrip("\n"), "every line of it"
    assert t["device_api"] == "vfio-pci" and t["available_instances"] == available(tree, ids[0])
    assert dev["mdev"]["instances"] == []
    assert agent.get_json(f"/v1/devices/{AUDIO}")["mdev"] is None
    listed = {d["address"]: d["mdev"] for d in agent.get_json("/v1/devices")["devices"]}
    assert listed[GPU] == dev["mdev"] and sum(m is not None for m in listed.values()) == 1
    m = agent.get_json(f"/v1/devices/{GPU}/mdevs")
    assert m["parent"] == GPU and m["types"] == dev["mdev"]["types"]
    assert m["instances"] == [] and m["definitions"] == []
    r = agent.get(f"/v1/devices/{AUDIO}/mdevs")
    assert r.status == 409 and r.json()["code"] == "not-mdev-parent", r


def test_mdev_is_a_field_pollers_may_ask_for(agent, tree):
    """?fields= takes every Device member, mdev too (validated against the contract's DeviceFields)."""
    r = agent.get_json("/v1/devices?fields=address,mdev")
    by = {d["address"]: d for d in r["devices"]}
    assert all(set(d) == {"address", "mdev"} for d in r["devices"])
    assert by[GPU]["mdev"] == agent.get_json(f"/v1/devices/{GPU}")["mdev"]


def test_create_and_remove(agent, tree):
    tid = type_ids(tree)[0]
    before = available(tree, tid)
    etag = agent.get(f"/v1/devices/{GPU}").headers["etag"]
    r = finish(agent, create(agent, {"type": tid}))
    assert r.status == 200, r
    out = r.json()
    uuid = out["uuid"]
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", uuid), uuid
    assert out["writes"] == [f"mdev_supported_types/{tid}/create={uuid}"]
    assert mock_log(tree).endswith(f"mdev_create {tid} {uuid} -> ok\n")
    dev_dir = tree / "sys/bus/pci/devices" / GPU / uuid
    group = int(os.path.basename(os.readlink(dev_dir / "iommu_group")))
    assert out["instance"] == {"uuid": uuid, "parent": GPU, "type": tid, "iommu_group": group,
                               "driver": "vfio_mdev", "defined": False}
    assert out["defined"] is False and not definition(tree, uuid).exists()
    assert available(tree, tid) == before - 1
    dev = agent.get(f"/v1/devices/{GPU}")
    assert dev.headers["etag"] != etag, "the parent changed"
    inst = dev.json()["mdev"]["instances"]
    assert [(i["uuid"], i["type"], i["iommu_group"]) for i in inst] == [(uuid, tid, group)]
    assert [t["available_instances"] for t in dev.json()["mdev"]["types"] if t["id"] == tid] == [before - 1]
    assert agent.get_json("/v1/mdevs")["instances"] == [out["instance"]]
    op = agent.get_json("/v1/operations")["operations"][-1]
    assert op["kind"] == "mdev" and op["requested_by"] == "test-operator"

    r = finish(agent, delete(agent, uuid))
    assert r.status == 200, r
    assert r.json()["writes"] == [f"{uuid}/remove=1"] and r.json()["instance"] is None
    assert not dev_dir.exists() and available(tree, tid) == before
    assert agent.get_json(f"/v1/devices/{GPU}")["mdev"]["instances"] == []
    assert delete(agent, uuid).status == 404


def test_given_uuid_is_taken_as_the_kernel_names_it(agent, tree):
    tid = type_ids(tree)[1]
    r = finish(agent, create(agent, {"type": tid, "uuid": UUID.upper()}))
    assert r.status == 200 and r.json()["uuid"] == UUID, r
    assert (tree / "sys/bus/mdev/devices" / UUID).is_symlink()
    before = mock_log(tree)
    r = create(agent, {"type": type_ids(tree)[0], "uuid": UUID})
    assert r.status == 409 and r.json()["code"] == "mdev-refused", r
    assert r.json()["reasons"][0]["code"] == "uuid-in-use" and tid in r.json()["detail"]
    assert mock_log(tree) == before, "nothing written"


def test_no_instance_left_is_refused_before_writing(agent, tree):
    tid = type_ids(tree)[0]
    for _ in range(available(tree, tid)):
        assert finish(agent, create(agent, {"type": tid})).status == 200
    before = mock_log(tree)
    r = create(agent, {"type": tid})
    assert r.status == 409 and r.json()["reasons"][0]["code"] == "no-instances-available", r
    assert "available_instances is 0" in r.json()["detail"] and mock_log(tree) == before
    assert len(agent.get_json(f"/v1/devices/{GPU}")["mdev"]["instances"]) == 2


@pytest.mark.parametrize("body,pointer", [
    ({}, "/type"), ({"type": 4}, "/type"), ({"type": "nvidia-63"}, "/type"),
    ({"type": "T", "uuid": "not-a-uuid"}, "/uuid"), ({"type": "T", "uuid": UUID[:-1]}, "/uuid"),
    ({"type": "T", "persistent": "yes"}, "/persistent"), ({"type": "T", "extra": 1}, "/extra"),
])
def test_bad_bodies_name_the_field(agent, tree, body, pointer):
    if body.get("type") == "T":
        body["type"] = type_ids(tree)[0]
    r = create(agent, body)
    assert r.status == 400 and r.json()["pointer"] == pointer, r
    assert "mdev_create" not in mock_log(tree)


def test_roles_and_paths(agent, tree):
    tid = type_ids(tree)[0]
    assert create(agent, {"type": tid}, role="reader").status == 403
    assert delete(agent, UUID, role="reader").status == 403
    r = delete(agent, "zz")
    assert r.status == 400 and r.json()["parameter"] == "uuid", r
    assert agent.request("/v1/devices/0000:0e:00.0/mdevs", method="POST", data=b'{"type": "x"}',
                         role="operator").status == 404


def test_removal_refused_while_a_vm_holds_it(agent, tree):
    out = finish(agent, create(agent, {"type": type_ids(tree)[0]})).json()
    group = out["instance"]["iommu_group"]
    proc = tree / "proc/4242"
    (proc / "fd").mkdir(parents=True)
    (proc / "comm").write_text("qemu-system-x86\n")
    (proc / "cmdline").write_bytes(b"qemu-system-x86_64\0-name\0guest=vdi-7\0")
    os.symlink(f"/dev/vfio/{group}", proc / "fd/40")
    before = mock_log(tree)
    r = delete(agent, out["uuid"])
    assert r.status == 409 and r.json()["code"] == "devices-in-use", r
    assert "4242" in r.json()["detail"] and "vdi-7" in r.json()["detail"]
    assert mock_log(tree) == before and (tree / "sys/bus/mdev/devices" / out["uuid"]).exists()
    os.unlink(proc / "fd/40")
    assert finish(agent, delete(agent, out["uuid"])).status == 200


def test_persistent_is_an_mdevctl_definition(agent, tree):
    tid = type_ids(tree)[1]
    r = finish(agent, create(agent, {"type": tid, "uuid": UUID, "persistent": True}))
    assert r.status == 200 and r.json()["defined"] is True, r
    text = definition(tree, UUID).read_text()
    assert json.loads(text) == {"mdev_type": tid, "start": "auto", "attrs": []}
    assert text.startswith('{\n  "mdev_type": '), "mdevctl's layout"
    assert [p for p in os.listdir(definition(tree, UUID).parent) if p.startswith(".")] == [], "no temporary left"
    m = agent.get_json("/v1/mdevs")
    assert m["definitions"] == [{"uuid": UUID, "parent": GPU, "type": tid, "start": "auto", "attrs": 0,
                                 "active": True, "differs": None}]
    assert m["instances"][0]["defined"] is True
    assert finish(agent, delete(agent, UUID)).status == 200
    assert not definition(tree, UUID).exists(), "removed with the instance"


def test_definitions_made_by_mdevctl_are_read_and_differences_said(agent, tree):
    ids = type_ids(tree)
    other = "0f6ad7e2-7c1b-4d7e-8a55-2b3c4d5e6f70"
    gone = "11111111-2222-4333-8444-555555555555"
    running = finish(agent, create(agent, {"type": ids[0], "uuid": UUID})).json()
    d = tree / "etc/mdevctl.d" / GPU
    d.mkdir(parents=True)
    (d / UUID).write_text(json.dumps({"mdev_type": ids[1], "start": "manual", "attrs": []}))
    (d / other).write_text(json.dumps({"mdev_type": ids[0], "start": "auto", "attrs": [{"x": "1"}]}))
    (d / "README").write_text("not a definition\n")
    d2 = tree / "etc/mdevctl.d/0000:09:00.0"
    d2.mkdir()
    (d2 / gone).write_text("{broken")
    m = agent.get_json("/v1/mdevs")
    by = {x["uuid"]: x for x in m["definitions"]}
    assert sorted(by) == sorted([UUID, other, gone])
    assert by[UUID]["differs"] == f"defined as {ids[1]}, active as {ids[0]}" and by[UUID]["active"] is True
    assert by[other]["differs"] == "defined to start automatically, but not active" and by[other]["attrs"] == 1
    assert by[gone]["start"] is None and "not a JSON object" in by[gone]["differs"]
    assert [x["uuid"] for x in agent.get_json(f"/v1/devices/{GPU}/mdevs")["definitions"]] == sorted([UUID, other])
    assert running["instance"]["defined"] is False
    r = finish(agent, delete(agent, gone))
    assert r.status == 200 and not (d2 / gone).exists(), "a definition alone is removed too"


def test_auto_definitions_start_with_the_agent(tree, start_agent):
    ids = type_ids(tree)
    attrs = "0f6ad7e2-7c1b-4d7e-8a55-2b3c4d5e6f70"
    wrong = "11111111-2222-4333-8444-555555555555"
    manual = "22222222-3333-4444-8555-666666666666"
    d = tree / "etc/mdevctl.d" / GPU
    d.mkdir(parents=True)
    (d / UUID).write_text(json.dumps({"mdev_type": ids[0], "start": "auto", "attrs": []}))
    (d / attrs).write_text(json.dumps({"mdev_type": ids[0], "start": "auto", "attrs": [{"a": "b"}]}))
    (d / wrong).write_text(json.dumps({"mdev_type": "i915-GVTg_V5_1", "start": "auto"}))
    (d / manual).write_text(json.dumps({"mdev_type": ids[1], "start": "manual"}))
    agent = start_agent(tree, env=mock_env(tree))
    log = agent.log_text()
    assert f"Mediated device {UUID} on {GPU}: started" in log
    assert f"Mediated device {attrs} on {GPU}: left-to-mdevctl" in log
    assert f"Mediated device {wrong} on {GPU}: drifted: {GPU} does not offer this type" in log
    assert manual not in log
    inst = agent.get_json(f"/v1/devices/{GPU}")["mdev"]["instances"]
    assert [i["uuid"] for i in inst] == [UUID] and inst[0]["type"] == ids[0]
    agent.stop()
    agent.start()
    assert f"Mediated device {UUID} on {GPU}: active" in agent.log_text()
    assert mock_log(tree).count("mdev_create") == 1, "started once"


# ---- Debian's mdevctl on the same tree ----

MDEVCTL = shutil.which("mdevctl")


def mdevctl(tree, *args):
    """mdevctl run on the fixture tree: a private mount namespace where the
    tree's sys is /sys and its etc/mdevctl.d is /etc/mdevctl.d (on a tmpfs
    /etc, so the host's /etc is untouched). mdevctl has no root option."""
    script = ('mount --make-rprivate / && mount --bind "$R/sys" /sys && mkdir -p "$E" && '
              'mount -t tmpfs none "$E" && mkdir "$E/mdevctl.d" && mount --bind "$R/etc/mdevctl.d" "$E/mdevctl.d" && '
              'mount --rbind "$E" /etc && exec "$@"')
    env = dict(os.environ, R=str(tree), E=str(tree.parent / "etc-ns"))
    return subprocess.run(["unshare", "--mount", "sh", "-c", script, "sh", MDEVCTL, *args], env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.skipif(not MDEVCTL, reason="needs mdevctl (packaging/install-deps.sh --test)")
def test_mdevctl_and_hostdevd_read_each_others_definitions(agent, tree):
    for d in ("etc/mdevctl.d/scripts.d/callouts", "etc/mdevctl.d/scripts.d/notifiers"):
        (tree / d).mkdir(parents=True)  # what the mdevctl package installs
    ids = type_ids(tree)
    if mdevctl(tree, "types").returncode != 0:
        pytest.skip("cannot run mdevctl in a mount namespace here")
    types = mdevctl(tree, "types").stdout
    assert all(t in types for t in ids) and "Available instances: 2" in types, types

    assert finish(agent, create(agent, {"type": ids[1], "uuid": UUID, "persistent": True})).status == 200
    out = mdevctl(tree, "list", "--defined", "--dumpjson")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == [{GPU: [{UUID: {"mdev_type": ids[1], "start": "auto", "attrs": []}}]}]
    active = mdevctl(tree, "list")
    assert active.returncode == 0 and UUID in active.stdout and ids[1] in active.stdout, active

    other = "0f6ad7e2-7c1b-4d7e-8a55-2b3c4d5e6f70"
    out = mdevctl(tree, "define", "-u", other, "-p", GPU, "-t", ids[0])
    assert out.returncode == 0, out.stderr
    by = {x["uuid"]: x for x in agent.get_json("/v1/mdevs")["definitions"]}
    assert by[other] == {"uuid": other, "parent": GPU, "type": ids[0], "start": "manual", "attrs": 0,
                         "active": False, "differs": None}
    assert by[UUID]["active"] is True and by[UUID]["differs"] is None
    assert finish(agent, delete(agent, other)).status == 200
    out = mdevctl(tree, "list", "--defined", "--dumpjson")
    assert other not in out.stdout and UUID in out.stdout, out

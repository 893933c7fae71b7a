"""POST /v1/passthrough/plan against generated trees: the whole IOMMU group
(placeholders, bridges), the driver moves, blockers and warnings, host
pinning, determinism, and request errors naming the bad entry. Plans change
nothing, so the agent runs without the kernel double: a write would fail."""
import json
import os

import pytest

import mksysfs

GPU, AUDIO = "0000:01:00.0", "0000:01:00.1"
BRIDGE, NIC, SOUND = "0000:04:00.0", "0000:05:00.0", "0000:05:01.0"


@pytest.fixture(scope="module")
def trees(tmp_path_factory):
    base = tmp_path_factory.mktemp("plans")
    out = {}
    for name in ("passthrough", "iommu-off", "sriov"):
        mksysfs.generate(name, base / name)
        out[name] = base / name
    return out


@pytest.fixture
def agent(trees, start_agent):
    return start_agent(trees["passthrough"])


def plan(agent, body, role="reader", status=200):
    r = agent.request("/v1/passthrough/plan", method="POST", data=json.dumps(body).encode(), role=role)
    assert r.status == status, r
    return r.json()


def group(p, gid):
    return next(g for g in p["groups"] if g["iommu_group"] == gid)


def codes(reasons, severity=None):
    return {x["code"] for x in reasons if severity is None or x["severity"] == severity}


def test_gpu_brings_its_audio_as_placeholder(agent):
    p = plan(agent, {"devices": [GPU], "vm": "win10"})
    assert p["feasible"] and p["vm"] == "win10" and p["requested"] == [GPU]
    assert [g["iommu_group"] for g in p["groups"]] == [9]
    g = p["groups"][0]
    assert [(d["address"], d["role"], d["driver"]) for d in g["devices"]] == [
        (GPU, "requested", "nouveau"), (AUDIO, "placeholder", "snd_hda_intel")]
    assert g["actions"] == [{"device": GPU, "from": "nouveau", "to": "vfio-pci"},
                            {"device": AUDIO, "from": "snd_hda_intel", "to": "vfio-pci"}]
    assert codes(g["reasons"], "blocker") == set()
    host = agent.get_json("/v1/host")
    assert p["pinning"] == {"host_id": host["host_id"], "host_id_source": host["host_id_source"],
                            "live_migration": False, "numa_nodes": [1], "local_cpus": "4-7"}


def test_bridge_stays_and_does_not_move(agent):
    p = plan(agent, {"devices": [NIC]})
    g = p["groups"][0]
    assert [(d["address"], d["role"]) for d in g["devices"]] == [
        (BRIDGE, "bridge"), (NIC, "requested"), (SOUND, "placeholder")]
    assert [(a["device"], a["from"]) for a in g["actions"]] == [(NIC, "8139too"), (SOUND, None)]
    assert p["feasible"]


def test_same_input_same_answer(agent):
    a = agent.request("/v1/passthrough/plan", method="POST", role="reader",
                      data=json.dumps({"devices": [NIC, AUDIO, GPU]}).encode())
    b = agent.request("/v1/passthrough/plan", method="POST", role="reader",
                      data=json.dumps({"devices": [GPU.upper(), NIC, AUDIO]}).encode())
    c = agent.request("/v1/passthrough/plan", method="POST", role="reader",
                      data=json.dumps({"devices": [NIC, AUDIO, GPU]}).encode())
    assert a.status == b.status == c.status == 200
    assert a.body == b.body == c.body, "byte for byte, whatever the order or case"
    assert a.headers["etag"] == b.headers["etag"]
    p = a.json()
    assert p["requested"] == [GPU, AUDIO, NIC]
    assert [g["iommu_group"] for g in p["groups"]] == [9, 12]
    assert [d["role"] for d in group(p, 9)["devices"]] == ["requested", "requested"]


def test_plans_change_nothing(agent, trees):
    before = agent.get_json("/v1/devices")
    plan(agent, {"devices": [GPU, NIC]})
    assert agent.get_json("/v1/devices") == before
    assert not (trees["passthrough"] / "var/lib/hostdevd/vfio-bindings").exists()


def test_host_usage_and_platform_block(agent):
    p = plan(agent, {"devices": ["0000:02:00.0"]})
    assert not p["feasible"]
    assert "host-uses-device" in codes(p["groups"][0]["reasons"], "blocker")
    assert any("mounted on /" in x["message"] for x in p["groups"][0]["reasons"])
    p = plan(agent, {"devices": ["0000:00:1f.3"]})
    assert not p["feasible"] and "platform-device" in codes(p["groups"][0]["reasons"], "blocker")
    assert len(p["groups"][0]["devices"]) == 4


def test_group_held_by_a_running_vm(trees, start_agent, tmp_path):
    root = tmp_path / "held"
    mksysfs.generate("passthrough", root)
    proc = root / "proc/4242"
    (proc / "fd").mkdir(parents=True)
    (proc / "comm").write_text("qemu-system-x86\n")
    (proc / "cmdline").write_bytes(b"/usr/bin/qemu-system-x86_64\0-name\0guest=win10,debug-threads=on\0")
    os.symlink("/dev/vfio/9", proc / "fd/31")
    agent = start_agent(root)
    p = plan(agent, {"devices": [GPU], "vm": "other"})
    assert not p["feasible"]
    held = [x for x in p["groups"][0]["reasons"] if x["code"] == "group-in-use"]
    assert held and "4242" in held[0]["message"] and "win10" in held[0]["message"]
    p = plan(agent, {"devices": [GPU], "vm": "win10"})
    assert p["feasible"] and "held-by-this-vm" in codes(p["groups"][0]["reasons"], "warning")


@pytest.mark.parametrize("body,status,code,pointer", [
    ({}, 400, "invalid-body", "/devices"),
    ({"devices": []}, 400, "invalid-body", "/devices"),
    ({"devices": GPU}, 400, "invalid-body", "/devices"),
    ({"devices": [GPU, 7]}, 400, "invalid-body", "/devices/1"),
    ({"devices": [GPU, AUDIO, GPU]}, 400, "invalid-body", "/devices/2"),
    ({"devices": [GPU, "01:00.0"]}, 400, "invalid-body", "/devices/1"),
    ({"devices": [GPU, "0000:00:01.0"]}, 400, "invalid-body", "/devices/1"),
    ({"devices": [GPU, AUDIO, "0000:09:00.0"]}, 404, "no-such-device", "/devices/2"),
    ({"devices": [GPU], "vms": "x"}, 400, "invalid-body", "/vms"),
    ({"devices": [GPU], "vm": 5}, 400, "invalid-body", "/vm"),
    ({"devices": [GPU], "vm": "a\nb"}, 400, "invalid-body", "/vm"),
    ({"devices": ["0000:01:00.0"] * 257}, 400, "invalid-body", "/devices"),
])
def test_bad_requests_name_the_entry(agent, body, status, code, pointer):
    p = plan(agent, body, status=status)
    assert p["code"] == code and p["pointer"] == pointer, p


def test_malformed_json_and_media_type(agent):
    r = agent.request("/v1/passthrough/plan", method="POST", data=b'{"devices": [', role="reader")
    assert r.status == 400 and r.json()["pointer"] == ""
    r = agent.request("/v1/passthrough/plan", method="POST", data=b'{"devices": []}', role="reader",
                      content_type="text/plain")
    assert r.status == 415


def test_no_iommu(trees, start_agent):
    agent = start_agent(trees["iommu-off"])
    p = plan(agent, {"devices": [GPU]})
    assert not p["feasible"]
    assert "no-iommu" in codes(p["reasons"], "blocker")
    assert "vfio-pci-not-loaded" in codes(p["reasons"], "warning")
    assert p["groups"][0]["iommu_group"] is None
    assert "no-iommu-group" in codes(p["groups"][0]["reasons"], "blocker")


def test_virtual_functions(trees, start_agent):
    agent = start_agent(trees["sriov"])
    assert plan(agent, {"devices": ["0000:01:00.2"]})["feasible"]
    p = plan(agent, {"devices": ["0000:01:00.0", "0000:01:00.2"]})
    assert not p["feasible"]
    assert any("pf-in-plan" in codes(g["reasons"], "blocker") for g in p["groups"])
    p = plan(agent, {"devices": ["0000:01:00.4"]})
    assert p["groups"][0]["actions"] == [], "a VF already on vfio-pci needs no move"

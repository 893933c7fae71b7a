"""PUT /v1/devices/{address}/sriov against the generated "sriov" tree with
the kernel double preloaded (tests/mock/pcimock.so), which applies the
kernel's rules for sriov_numvfs (EBUSY between non-zero counts, ERANGE,
ENOENT without a driver) and keeps the count, but makes no VFs: the writes
are checked in the double's log and in the tree, and the real-kernel tier
checks VFs coming and going. Covers validation, refusals that write nothing,
the operation and its result, persistence with its record and the
re-application at start, and drift."""
import json
import os

import pytest

import mksysfs
from conftest import finish
from test_binding import PCIMOCK, mock_env, mock_log

PF0, PF1, VF2, NVME = "0000:01:00.0", "0000:01:00.1", "0000:01:00.4", "0000:02:00.0"
pytestmark = pytest.mark.skipif(not PCIMOCK.exists(), reason=f"{PCIMOCK} not built (make check builds it)")


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "sriov"
    mksysfs.generate("sriov", root)
    return root


@pytest.fixture
def agent(tree, start_agent):
    return start_agent(tree, env=mock_env(tree))


def put(agent, addr, body, role="operator"):
    return agent.request(f"/v1/devices/{addr}/sriov", method="PUT", data=json.dumps(body).encode(), role=role)


def numvfs(root, addr):
    return int((root / "sys/bus/pci/devices" / addr / "sriov_numvfs").read_text())


def test_get_shows_the_kernels_state(agent, tree):
    s = agent.get_json(f"/v1/devices/{PF0}/sriov")
    dev = agent.get_json(f"/v1/devices/{PF0}")
    assert s["address"] == PF0 and s["driver"] == dev["driver"] == "mlx5_core"
    assert s["total_vfs"] == 8 and s["numvfs"] == 3 == numvfs(tree, PF0)
    assert s["vfs"] == dev["sriov"]["vfs"] and len(s["vfs"]) == 3
    assert s["drivers_autoprobe"] is True
    assert s["persistent"] is None and s["drift"] is None
    r = agent.get(f"/v1/devices/{NVME}/sriov")
    assert r.status == 409 and r.json()["code"] == "not-sr-iov", r
    r = agent.get(f"/v1/devices/{VF2}/sriov")
    assert r.status == 409 and PF0 in r.json()["detail"], "a VF names its PF"
    assert agent.get("/v1/devices/0000:0e:00.0/sriov").status == 404


def test_counts_through_zero(agent, tree):
    r = finish(agent, put(agent, PF1, {"numvfs": 4}))
    assert r.status == 200, r
    out = r.json()
    assert out["outcome"] == "done" and out["numvfs_before"] == 0 and out["numvfs"] == 4
    assert out["writes"] == ["sriov_numvfs=4"] and numvfs(tree, PF1) == 4
    r = finish(agent, put(agent, PF1, {"numvfs": 2, "drivers_autoprobe": False}))
    assert r.status == 200, r
    assert r.json()["writes"] == ["sriov_drivers_autoprobe=0", "sriov_numvfs=0", "sriov_numvfs=2"]
    assert mock_log(tree).endswith(f"sriov_drivers_autoprobe {PF1} 0 -> ok\nsriov_numvfs {PF1} 0 -> ok\n"
                                   f"sriov_numvfs {PF1} 2 -> ok\n")
    assert r.json()["drivers_autoprobe"] is False
    before = mock_log(tree)
    r = finish(agent, put(agent, PF1, {"numvfs": 2}))
    assert r.status == 200 and r.json()["outcome"] == "unchanged" and r.json()["writes"] == []
    assert mock_log(tree) == before, "nothing written"
    op = agent.get_json("/v1/operations")["operations"][-1]
    assert op["kind"] == "sriov" and op["requested_by"] == "test-operator"


@pytest.mark.parametrize("body,pointer", [
    ({}, "/numvfs"), ({"numvfs": 9}, "/numvfs"), ({"numvfs": -1}, "/numvfs"), ({"numvfs": "2"}, "/numvfs"),
    ({"numvfs": 2, "persistent": "yes"}, "/persistent"), ({"numvfs": 2, "drivers_autoprobe": 1}, "/drivers_autoprobe"),
    ({"numvfs": 2, "extra": 1}, "/extra"),
])
def test_bad_bodies_name_the_field(agent, tree, body, pointer):
    before = mock_log(tree)
    r = put(agent, PF1, body)
    assert r.status == 400 and r.json()["code"] == "invalid-body" and r.json()["pointer"] == pointer, r
    assert mock_log(tree) == before


def test_roles(agent):
    assert put(agent, PF1, {"numvfs": 1}, role="reader").status == 403
    assert agent.get(f"/v1/devices/{PF1}/sriov", role="reader").status == 200


def test_refused_while_a_vf_is_held(agent, tree):
    vf = agent.get_json(f"/v1/devices/{VF2}")
    proc = tree / "proc/4242"
    (proc / "fd").mkdir(parents=True)
    (proc / "comm").write_text("qemu-system-x86\n")
    os.symlink(f"/dev/vfio/{vf['iommu_group']}", proc / "fd/17")
    before = mock_log(tree)
    r = put(agent, PF0, {"numvfs": 0})
    assert r.status == 409 and r.json()["code"] == "devices-in-use", r
    reasons = r.json()["reasons"]
    assert [(x["code"], x["device"]) for x in reasons] == [("group-in-use", VF2)]
    assert "qemu-system-x86" in reasons[0]["message"] and "4242" in reasons[0]["message"]
    assert mock_log(tree) == before and numvfs(tree, PF0) == 3


def test_refused_without_a_pf_driver(agent, tree):
    os.unlink(tree / "sys/bus/pci/devices" / PF1 / "driver")
    agent.request("/v1/inventory/rescan", method="POST", role="operator")
    r = put(agent, PF1, {"numvfs": 2})
    assert r.status == 409 and r.json()["code"] == "sriov-refused", r
    assert r.json()["reasons"][0]["code"] == "pf-no-driver"


def test_failed_write_is_the_operations(agent, tree):
    (tree / "meta/pcimock-faults").write_text(f"write-fails sriov_numvfs {PF1} EIO\n")
    r = finish(agent, put(agent, PF1, {"numvfs": 2}))
    assert r.status == 500 and r.json()["code"] == "sriov-failed", r
    assert "Input/output error" in r.json()["detail"] and r.json()["rollback"] is None
    assert numvfs(tree, PF1) == 0


def test_persistent_count_comes_back_at_start(agent, tree):
    r = finish(agent, put(agent, PF1, {"numvfs": 3, "drivers_autoprobe": False, "persistent": True}))
    assert r.status == 200 and r.json()["persistent"] == {"numvfs": 3, "drivers_autoprobe": False}, r
    record = (tree / "var/lib/hostdevd/sriov").read_text()
    assert f"{PF1} 3 0 15b3:" in record
    agent.stop()
    (tree / "sys/bus/pci/devices" / PF1 / "sriov_numvfs").write_text("0\n")  # a new boot
    agent.start()
    assert numvfs(tree, PF1) == 3, agent.log_text()[-2000:]
    assert f"VF count of {PF1} (3): applied" in agent.log_text()
    s = agent.get_json(f"/v1/devices/{PF1}/sriov")
    assert s["persistent"]["numvfs"] == 3
    r = finish(agent, put(agent, PF1, {"numvfs": 3}))
    assert r.status == 200 and r.json()["persistent"] is None, "persistent false forgets it"
    assert PF1 not in (tree / "var/lib/hostdevd/sriov").read_text()


def test_drift_is_reported_not_applied(agent, tree):
    (tree / "var/lib/hostdevd").mkdir(parents=True, exist_ok=True)
    (tree / "var/lib/hostdevd/sriov").write_text(f"{PF1} 5 - 8086:1521\n")
    agent.stop()
    agent.start()
    assert numvfs(tree, PF1) == 0
    assert f"VF count of {PF1} (5): drifted" in agent.log_text()
    s = agent.get_json(f"/v1/devices/{PF1}/sriov")
    assert "recorded for 8086:1521" in s["drift"]

"""Long changes run off the event loop as operations: while a kernel
command-line change waits in its regeneration tool (a stand-in update-grub
under the fixture root, run with --run-tools-in-root) or a driver change
waits in a sysfs write (the kernel double, tests/mock/pcimock.so, holding
the unbind), every GET is answered, the operation shows its progress and is
still running afterwards, and any other change gets 409
operation-in-progress naming it. Each stand-in waits on a gate file the test
opens, so the order is asserted, not a duration. A kill -9 while a job runs
leaves an operation the next start fails with the reason."""
import json
import os
import signal
import time

import pytest

from conftest import finish, wait_operation
from test_binding import AUDIO, GPU, PCIMOCK, make_tree, mock_env, sysfs_driver
from test_kernel_cmdline import GOLDEN, bootloader_files, maintenance, make_root

UPDATE_GRUB = """#!/bin/sh
# A stand-in for update-grub: says it started, waits for the test's gate.
root=$(cd "$(dirname "$0")/../.." && pwd)
echo "Generating grub configuration file ..."
: > "$root/tmp/update-grub.started"
n=0
while [ ! -e "$root/tmp/update-grub.release" ] && [ $n -lt 1200 ]; do
    sleep 0.1
    n=$((n + 1))
done
echo "done"
"""


def wait_for(path, what, timeout=60):
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{what} never happened"
        time.sleep(0.02)


def wait_step(agent, op, step, timeout=60):
    """The operation once its last step is step (the loop records steps as
    it gets to them)."""
    deadline = time.monotonic() + timeout
    while True:
        now = agent.get_json(op["self"])
        if now["progress"] and now["progress"][-1]["step"] == step:
            return now
        assert time.monotonic() < deadline, f"never reached {step!r}: {now}"
        time.sleep(0.02)


def install_update_grub(root):
    tool = root / "usr/sbin/update-grub"
    tool.parent.mkdir(parents=True, exist_ok=True)
    tool.write_text(UPDATE_GRUB)
    tool.chmod(0o755)
    (root / "tmp").mkdir(exist_ok=True)
    (root / "dev").mkdir(exist_ok=True)
    (root / "dev/null").write_text("")  # the tool's stdin
    return root / "tmp/update-grub.started", root / "tmp/update-grub.release"


def patch(agent, body, **kw):
    return agent.request("/v1/kernel-cmdline", method="PATCH", data=json.dumps(body).encode(), **kw)


def put_driver(agent, addr):
    return agent.request(f"/v1/devices/{addr}/driver", method="PUT", data=b'{"driver": "vfio-pci"}',
                         role="operator")


def assert_in_progress(r, op):
    assert r.status == 409, r
    p = r.json()
    assert p["code"] == "operation-in-progress", p
    assert p["operation"] == {"id": op["id"], "kind": op["kind"], "state": "running", "self": op["self"]}
    assert op["id"] in p["detail"]


def test_kernel_cmdline_change_runs_while_the_agent_answers(tmp_path, start_agent):
    root = make_root(tmp_path, "debian-plain")
    started, release = install_update_grub(root)
    before = bootloader_files(root)
    agent = start_agent(root, "--run-tools-in-root")
    maintenance(agent)

    r = patch(agent, {"append_if_missing": ["intel_iommu=on", "iommu=pt"]})
    assert r.status == 202, r
    op = r.json()
    assert op["kind"] == "kernel-cmdline" and op["state"] == "running" and op["requested_by"] == "test-admin"
    assert r.headers["location"] == op["self"]
    wait_for(started, "update-grub starting")

    # update-grub is running: the loop answers
    devices = agent.request("/v1/devices", role="reader")
    assert devices.status == 200 and devices.json()["count"] > 0
    assert agent.request("/v1/kernel-cmdline", role="reader").status == 200
    now = wait_step(agent, op, "running update-grub")
    assert now["state"] == "running" and now["result"] is None
    steps = [s["step"] for s in now["progress"]]
    assert steps[0].startswith("writing the bootloader files") and steps[-1] == "running update-grub", steps
    # other changes are refused, naming it; a dry run still answers
    assert_in_progress(patch(agent, {"append_if_missing": ["nosmt"]}), op)
    assert_in_progress(agent.request("/v1/reboot", method="POST", data=b"{}"), op)
    assert_in_progress(put_driver(agent, "0000:01:00.0"), op)
    dry = patch(agent, {"append_if_missing": ["nosmt"], "dry_run": True})
    assert dry.status == 200 and dry.json()["dry_run"] is True
    assert patch(agent, {"append": 3}).status == 400, "a bad body is still refused at once"
    # all of that was answered while the tool still ran
    assert not release.exists()
    assert agent.get_json(op["self"])["state"] == "running"
    stored = json.loads((root / "var/lib/hostdevd/operations" / f"{op['id']}.json").read_text())
    assert stored["state"] == "running" and stored["progress"][-1]["step"] == "running update-grub"

    release.write_text("")
    done = wait_operation(agent, op["id"])
    assert done["state"] == "succeeded", done
    res = done["result"]
    assert res["changed"] is True and res["dry_run"] is False and res["bootloader_kind"] == "grub-debian"
    assert res["regeneration"]["ran"] is True and res["regeneration"]["exit_status"] == 0
    assert "Generating grub configuration file" in res["regeneration"]["output"]
    assert res["owned"] == ["intel_iommu=on", "iommu=pt"]
    assert [s["step"] for s in done["progress"]][-1] == "reading the kernel command line back"
    after = bootloader_files(root)
    golden = GOLDEN / "debian-plain-append"
    for p in golden.rglob("*"):
        if p.is_file():
            assert after[str(p.relative_to(golden))] == p.read_bytes()
    assert after != before
    # done: changes are taken again
    again = finish(agent, patch(agent, {"append_if_missing": ["intel_iommu=on", "iommu=pt"]}))
    assert again.status == 200 and again.json()["changed"] is False


@pytest.mark.skipif(not PCIMOCK.exists(), reason=f"{PCIMOCK} not built (make check builds it)")
def test_binding_runs_while_the_agent_answers(tmp_path, start_agent):
    tree = make_tree(tmp_path)
    (tree / "meta/pcimock-faults").write_text(f"write-waits unbind {AUDIO}\n")
    agent = start_agent(tree, env=mock_env(tree))
    r = put_driver(agent, GPU)
    assert r.status == 202, r
    op = r.json()
    assert op["kind"] == "bind" and r.headers["location"] == op["self"]
    wait_for(tree / "meta/pcimock-waiting", "the unbind of the audio function blocking")

    # the unbind is blocked in the "kernel": the loop answers
    assert agent.request("/v1/devices", role="reader").status == 200
    assert agent.request(f"/v1/devices/{AUDIO}/driver", role="reader").status == 200
    now = wait_step(agent, op, f"binding to vfio-pci: IOMMU group 9 of {GPU}")
    assert now["state"] == "running" and now["result"] is None
    assert "IOMMU group 9" in now["progress"][0]["step"], now["progress"]
    assert_in_progress(agent.request(f"/v1/devices/{AUDIO}/driver", method="DELETE", role="operator"), op)
    assert_in_progress(put_driver(agent, "0000:05:00.0"), op)
    maintenance(agent)
    assert_in_progress(agent.request("/v1/reboot", method="POST", data=b"{}"), op)
    assert agent.get_json(op["self"])["state"] == "running"
    assert sysfs_driver(tree, AUDIO) == "snd_hda_intel", "still blocked"

    (tree / "meta/pcimock-release").write_text("")
    done = wait_operation(agent, op["id"])
    assert done["state"] == "succeeded", done
    assert done["result"]["outcome"] == "done" and done["result"]["iommu_group"] == 9
    steps = [s["step"] for s in done["progress"]]
    assert f"{AUDIO} moved from snd_hda_intel to vfio-pci" in steps and steps[-1] == "reading the group's devices again"
    assert [sysfs_driver(tree, a) for a in (GPU, AUDIO)] == ["vfio-pci", "vfio-pci"]
    assert agent.get_json(f"/v1/devices/{AUDIO}")["driver"] == "vfio-pci", "rescanned before it succeeded"


@pytest.mark.skipif(not PCIMOCK.exists(), reason=f"{PCIMOCK} not built (make check builds it)")
def test_kill_9_while_binding_fails_the_operation_at_the_next_start(tmp_path, start_agent):
    tree = make_tree(tmp_path)
    (tree / "meta/pcimock-faults").write_text(f"write-waits unbind {AUDIO}\n")
    agent = start_agent(tree, env=mock_env(tree))
    op = put_driver(agent, GPU).json()
    wait_for(tree / "meta/pcimock-waiting", "the unbind blocking")
    agent.proc.send_signal(signal.SIGKILL)
    agent.proc.wait()
    (tree / "meta/pcimock-faults").write_text("")
    os.unlink(tree / "meta/pcimock-waiting")

    agent.start()
    failed = agent.get_json(op["self"])
    assert failed["state"] == "failed" and failed["result"] is None, failed
    assert "stopped while the group was being bound" in failed["error"]
    assert "carried to its end at this start" in failed["error"]
    assert "stopped" in agent.log_text() and op["id"] in agent.log_text()
    # the start finished binding the group its record marked as pending
    assert [sysfs_driver(tree, a) for a in (GPU, AUDIO)] == ["vfio-pci", "vfio-pci"]
    assert f"vfio-pci binding of IOMMU group 9 ({GPU}): applied" in agent.log_text()
    # nothing blocks changes any more
    again = finish(agent, put_driver(agent, GPU))
    assert again.status == 200 and again.json()["outcome"] == "unchanged", again


def test_kill_9_while_regenerating_fails_the_operation_at_the_next_start(tmp_path, start_agent):
    root = make_root(tmp_path, "debian-plain")
    started, release = install_update_grub(root)
    agent = start_agent(root, "--run-tools-in-root")
    maintenance(agent)
    op = patch(agent, {"append_if_missing": ["nosmt"]}).json()
    wait_for(started, "update-grub starting")
    wait_step(agent, op, "running update-grub")
    agent.proc.send_signal(signal.SIGKILL)
    agent.proc.wait()
    release.write_text("")  # the orphaned stand-in ends

    agent.start()
    failed = agent.get_json(op["self"])
    assert failed["state"] == "failed", failed
    assert "kernel command line was being changed" in failed["error"] and "rolled back" in failed["error"]
    assert [s["step"] for s in failed["progress"]][-1] == "running update-grub"
    k = agent.get_json("/v1/kernel-cmdline")
    assert k["bootloader"]["kind"] == "grub-debian"
    assert finish(agent, patch(agent, {"append_if_missing": ["nosmt"]})).status == 200

"""Maintenance mode, reboots through logind on a real (private) D-Bus, and
the durability of the state directory.

The logind stand-in is python3-dbusmock's logind template on a private
dbus-daemon; DBUS_SYSTEM_BUS_ADDRESS points the agent (sd-bus) at it. The
template has Reboot(b) but not RebootWithFlags(t), so the default case also
proves the fallback; a test adds RebootWithFlags to prove the first choice.
A host reboot is played by restarting the agent with a new boot id in the
fixture tree.
"""
import json
import os
import random
import signal
import subprocess
import time
import uuid

import pytest

from conftest import DBUS_DAEMON, Logind, fault_env, hammer  # noqa: F401 (Logind, DBUS_DAEMON: test_kernel_cmdline imports them from here)
import mksysfs

PYTHON = "/usr/bin/python3"


def have_dbusmock():
    return subprocess.run([PYTHON, "-c", "import dbusmock, dbus"], capture_output=True).returncode == 0


needs_dbus = pytest.mark.skipif(not DBUS_DAEMON or not have_dbusmock(),
                                reason="needs dbus-daemon and python3-dbusmock (packaging/install-deps.sh --test)")


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "root"
    mksysfs.generate("intel-gpu-audio", r)
    return r


@pytest.fixture
def agent(root, start_agent):
    return start_agent(root)


def put_maintenance(agent, body, role="operator", **kw):
    return agent.request("/v1/maintenance", method="PUT", data=json.dumps(body).encode(), role=role, **kw)


def boot_id_file(root):
    return root / "proc" / "sys" / "kernel" / "random" / "boot_id"


def hold_vfio_group(root, group, pid=4242, comm="qemu-system-x86", vm="win10"):
    """A process of the fixture's procfs with /dev/vfio/<group> open, as QEMU has."""
    p = root / "proc" / str(pid)
    (p / "fd").mkdir(parents=True, exist_ok=True)
    (p / "comm").write_text(comm + "\n")
    (p / "cmdline").write_bytes(b"\0".join([b"/usr/bin/qemu-system-x86_64", b"-name",
                                            f"guest={vm},debug-threads=on".encode(), b"-m", b"4096"]) + b"\0")
    os.symlink("/dev/vfio/vfio", p / "fd" / "20")
    os.symlink(f"/dev/vfio/{group}", p / "fd" / "21")
    return p


# ---- maintenance mode ----

def test_active_by_default(agent):
    m = agent.get_json("/v1/maintenance")
    assert m == {"enabled": False, "reason": None, "since": None, "by": None}


def test_enter_and_leave_idempotently_and_durably(agent, root):
    r = put_maintenance(agent, {"enabled": True, "reason": "enable IOMMU"})
    assert r.status == 200, r
    m = r.json()
    assert m["enabled"] is True and m["changed"] is True
    assert m["reason"] == "enable IOMMU" and m["by"] == "test-operator" and m["since"]

    again = put_maintenance(agent, {"enabled": True, "reason": "something else"}, role="admin").json()
    assert again["changed"] is False
    assert {k: again[k] for k in ("enabled", "reason", "since", "by")} == \
           {k: m[k] for k in ("enabled", "reason", "since", "by")}, "an idempotent request changes nothing"

    # the state file is the agent's, private, and what a restart reads
    state = root / "var" / "lib" / "hostdevd"
    assert oct(state.stat().st_mode & 0o777) == "0o700"
    assert json.loads((state / "maintenance.json").read_text())["enabled"] is True
    assert agent.stop() == 0
    agent.start()
    assert agent.get_json("/v1/maintenance") == {k: m[k] for k in ("enabled", "reason", "since", "by")}

    left = put_maintenance(agent, {"enabled": False}).json()
    assert left["enabled"] is False and left["changed"] is True and left["reason"] is None
    assert put_maintenance(agent, {"enabled": False}).json()["changed"] is False


def test_running_vm_blocks_entering_unless_forced(agent, root):
    hold_vfio_group(root, 12)
    r = put_maintenance(agent, {"enabled": True, "reason": "x"})
    assert r.status == 409, r
    p = r.json()
    assert p["code"] == "devices-in-use"
    assert p["holders"] == [{"iommu_group": 12, "pid": 4242, "process": "qemu-system-x86", "vm": "win10"}]
    assert "group 12" in p["detail"] and "4242" in p["detail"] and "win10" in p["detail"]
    assert agent.get_json("/v1/maintenance")["enabled"] is False, "a refusal changes nothing"

    r = put_maintenance(agent, {"enabled": True, "reason": "x", "force": True})
    assert r.status == 200 and r.json()["enabled"] is True
    assert "by force" in agent.log_text()
    # leaving is never blocked by VMs
    assert put_maintenance(agent, {"enabled": False}).status == 200


@pytest.mark.parametrize("body,pointer", [
    ({}, "/enabled"),
    ({"enabled": "yes"}, "/enabled"),
    ({"enabled": 1}, "/enabled"),
    ({"enabled": True, "reason": 7}, "/reason"),
    ({"enabled": True, "reason": "a\nb"}, "/reason"),
    ({"enabled": True, "reason": "x" * 513}, "/reason"),
    ({"enabled": True, "force": "true"}, "/force"),
    ({"enabled": True, "colour": "red"}, "/colour"),
])
def test_bad_bodies_name_the_field_and_change_nothing(agent, body, pointer):
    r = put_maintenance(agent, body)
    assert r.status == 400, r
    assert r.json()["code"] == "invalid-body" and r.json()["pointer"] == pointer
    assert agent.get_json("/v1/maintenance")["enabled"] is False


@pytest.mark.parametrize("raw", [b"", b"{", b"[]", b'"enabled"', b'{"enabled": true} x', b"\xff"])
def test_malformed_json(agent, raw):
    r = agent.request("/v1/maintenance", method="PUT", data=raw, role="operator")
    assert r.status == 400, r
    assert r.json()["code"] == "invalid-body"


@pytest.mark.parametrize("fault", ["write:maintenance.json:ENOSPC", "fsync:maintenance.json:EIO",
                                   "rename:maintenance.json:EIO"])
def test_failed_state_write_changes_nothing(root, start_agent, fault):
    agent = start_agent(root)
    assert put_maintenance(agent, {"enabled": True, "reason": "before"}).status == 200
    before = (root / "var/lib/hostdevd/maintenance.json").read_bytes()
    assert agent.stop() == 0

    agent = start_agent(root, env=fault_env(fault))
    r = put_maintenance(agent, {"enabled": False})
    assert r.status == 500, r
    assert r.json()["code"] == "state-write-failed"
    assert "still in maintenance" in r.json()["detail"]
    assert agent.get_json("/v1/maintenance")["reason"] == "before"
    assert (root / "var/lib/hostdevd/maintenance.json").read_bytes() == before
    leftovers = [p.name for p in (root / "var/lib/hostdevd").iterdir() if ".tmp." in p.name]
    assert leftovers == [], "a failed write leaves no temporary file"


def test_state_survives_kill_9_at_any_moment(root, start_agent):
    """Kill -9 while states are written: every start finds the last state the
    agent acknowledged or the one it was writing, never a torn file."""
    agent = start_agent(root)
    state = root / "var/lib/hostdevd/maintenance.json"
    rng = random.Random(7)
    current = {"enabled": False, "reason": None}
    for cycle in range(10):
        # leaves on even n, enters on odd n (see writer_state)
        writer = hammer(agent, "PUT", "/v1/maintenance", "operator",
                        [json.dumps({"enabled": enabled, "reason": f"{cycle}-{{n}}", "force": True})
                         for enabled in (False, True)])
        time.sleep(rng.uniform(0.05, 0.4))
        agent.proc.send_signal(signal.SIGKILL)
        agent.proc.wait()
        acked = [int(n) for n in writer.communicate(timeout=30)[0].split()]
        assert acked == list(range(len(acked)))
        if acked or state.exists():  # killed before the first write: no file yet
            json.loads(state.read_text())  # parses: never torn
        agent.start()
        got = agent.get_json("/v1/maintenance")
        got = {"enabled": got["enabled"], "reason": got["reason"]}
        last = len(acked) - 1
        possible = [writer_state(cycle, last) if acked else current, writer_state(cycle, last + 1)]
        assert got in possible, (cycle, acked[-3:], got)
        current = got
    assert [p for p in state.parent.iterdir() if ".tmp." in p.name] == [], "stale temporaries are removed"


def writer_state(cycle, n):
    """The state after the writer's request n: it leaves on even n and enters
    on odd n, so every enter follows a leave and changes the state."""
    enabled = n % 2 == 1
    return {"enabled": enabled, "reason": f"{cycle}-{n}" if enabled else None}


# ---- reboot ----



@pytest.fixture
def logind(tmp_path):
    if not DBUS_DAEMON or not have_dbusmock():
        pytest.skip("needs dbus-daemon and python3-dbusmock (packaging/install-deps.sh --test)")
    l = Logind(tmp_path)
    yield l
    l.stop()


def wait_state(agent, op_id, states, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        op = agent.get_json(f"/v1/operations/{op_id}")
        if op["state"] in states:
            return op
        time.sleep(0.1)
    raise AssertionError(f"operation {op_id} stayed {op['state']}")


def reboot(agent, role="admin"):
    return agent.request("/v1/reboot", method="POST", data=b"{}", role=role)


def test_reboot_outside_maintenance_is_refused(root, start_agent, logind):
    agent = start_agent(root, env=logind.env)
    r = reboot(agent)
    assert r.status == 409 and r.json()["code"] == "not-in-maintenance"
    time.sleep(0.3)
    assert logind.reboot_calls() == [], "logind was not asked"
    assert agent.get_json("/v1/operations") == {"operations": []}


@needs_dbus
def test_reboot_through_logind_completes_after_the_host_comes_back(root, start_agent, logind):
    agent = start_agent(root, env=logind.env)
    boot_before = boot_id_file(root).read_text().strip()
    assert put_maintenance(agent, {"enabled": True, "reason": "kernel arguments"}).status == 200

    r = reboot(agent)
    assert r.status == 202, r
    op = r.json()
    assert r.headers["location"] == f"/v1/operations/{op['id']}" == op["self"]
    assert op["kind"] == "reboot" and op["requested_by"] == "test-admin"
    assert op["boot_id_before"] == boot_before and op["boot_id_after"] is None and op["result"] is None

    op = wait_state(agent, op["id"], ("running", "failed"))
    assert op["state"] == "running", op
    assert op["method"] == "logind"
    # the template lacks RebootWithFlags: the agent fell back to Reboot(false)
    assert logind.reboot_calls() == ["Reboot False"], logind.calls.read_text()

    # a second request while it is under way: the same operation, logind not asked again
    again = reboot(agent)
    assert again.status == 202 and again.json()["id"] == op["id"]
    time.sleep(0.3)
    assert len(logind.reboot_calls()) == 1

    # the host reboots: the agent stops, the kernel has a new boot id, the agent starts
    assert agent.stop() == 0
    new_boot = str(uuid.uuid4())
    boot_id_file(root).write_text(new_boot + "\n")
    agent.start()
    done = agent.get_json(f"/v1/operations/{op['id']}")
    assert done["state"] == "succeeded", done
    assert done["boot_id_before"] == boot_before and done["boot_id_after"] == new_boot
    assert done["result"]["iommu_active"] is True  # this topology's IOMMU is on
    assert done["result"]["took_effect"] is True
    assert agent.get_json("/v1/maintenance")["enabled"] is True, "maintenance survives the reboot"
    assert agent.get_json("/v1/operations")["operations"][0]["id"] == op["id"]

    # and a further restart in the same boot changes nothing
    assert agent.stop() == 0
    agent.start()
    assert agent.get_json(f"/v1/operations/{op['id']}") == done


@needs_dbus
def test_reboot_with_flags_is_preferred(root, start_agent, logind):
    logind.add_method("RebootWithFlags", "t")
    agent = start_agent(root, env=logind.env)
    put_maintenance(agent, {"enabled": True})
    op = wait_state(agent, reboot(agent).json()["id"], ("running", "failed"))
    assert op["state"] == "running", op
    assert logind.reboot_calls() == ["RebootWithFlags 0"], logind.calls.read_text()


@needs_dbus
def test_logind_refusal_fails_the_operation_and_the_agent_keeps_serving(root, start_agent, logind):
    logind.add_method("RebootWithFlags", "t",
                      "raise dbus.exceptions.DBusException('Interactive authentication required.', "
                      "name='org.freedesktop.DBus.Error.InteractiveAuthorizationRequired')")
    agent = start_agent(root, env=logind.env)
    put_maintenance(agent, {"enabled": True})
    op = wait_state(agent, reboot(agent).json()["id"], ("running", "failed"))
    assert op["state"] == "failed", op
    assert "InteractiveAuthorizationRequired" in op["error"]
    assert logind.reboot_calls() == ["RebootWithFlags 0"], "no fallback to Reboot() after a refusal"
    assert agent.get_json("/v1/maintenance")["enabled"] is True
    # a new request is a new operation
    assert reboot(agent).json()["id"] != op["id"]


def test_no_bus_fails_the_operation_and_never_reboots_directly(root, start_agent, tmp_path):
    agent = start_agent(root, env={"DBUS_SYSTEM_BUS_ADDRESS": f"unix:path={tmp_path}/no-such-bus"})
    put_maintenance(agent, {"enabled": True})
    op = wait_state(agent, reboot(agent).json()["id"], ("running", "failed"))
    assert op["state"] == "failed" and "cannot reach logind" in op["error"], op
    assert agent.get_json("/v1/host")  # still serving


def test_direct_reboot_is_refused_on_a_fixture_root(root, start_agent):
    agent = start_agent(root, "--reboot-method=direct")
    put_maintenance(agent, {"enabled": True})
    op = wait_state(agent, reboot(agent).json()["id"], ("running", "failed"))
    assert op["state"] == "failed" and "real host" in op["error"], op


def test_operation_never_asked_is_failed_at_next_start(root, start_agent):
    """An operation recorded but never asked for (the agent died in between)."""
    agent = start_agent(root)
    put_maintenance(agent, {"enabled": True})
    assert agent.stop() == 0
    ops = root / "var/lib/hostdevd/operations"
    op_id = "ab" * 16
    (ops / f"{op_id}.json").write_text(json.dumps({
        "id": op_id, "kind": "reboot", "state": "accepted", "requested_by": "test-admin",
        "created_usec": 1, "updated_usec": 1, "error": None, "method": "logind",
        "boot_id_before": boot_id_file(root).read_text().strip(), "boot_id_after": None,
        "expected_arguments": [], "iommu_expected": False, "iommu_active": -1}))
    (ops / ("cd" * 16 + ".json")).write_text("{ torn")
    agent.start()
    op = agent.get_json(f"/v1/operations/{op_id}")
    assert op["state"] == "failed" and "before it asked" in op["error"]
    assert (ops / ("cd" * 16 + ".json.corrupt")).exists(), "an unreadable file is moved aside"
    assert len(agent.get_json("/v1/operations")["operations"]) == 1


@pytest.mark.parametrize("op_id,status", [("0" * 32, 404), ("0" * 31, 400), ("G" * 32, 400), ("A" * 32, 400)])
def test_operation_ids(agent, op_id, status):
    r = agent.request(f"/v1/operations/{op_id}", role="reader")
    assert r.status == status, r


def test_reboot_without_a_boot_id_is_503_and_records_nothing(root, start_agent, tmp_path):
    agent = start_agent(root, env={"DBUS_SYSTEM_BUS_ADDRESS": f"unix:path={tmp_path}/no-such-bus"})
    put_maintenance(agent, {"enabled": True})
    boot_id_file(root).unlink()
    r = reboot(agent)
    assert r.status == 503, r
    body = r.json()
    assert body["code"] == "boot-id-unavailable" and body["type"] == "urn:hostdevd:problem:boot-id-unavailable"
    assert "proc/sys/kernel/random/boot_id" in body["detail"] and "not rebooting" in body["detail"]
    assert agent.get_json("/v1/operations") == {"operations": []}
    boot_id_file(root).write_text(str(uuid.uuid4()) + "\n")  # readable again: accepted
    assert reboot(agent).status == 202


@needs_dbus
def test_reboot_still_running_when_the_agent_restarts_in_the_same_boot_fails(root, start_agent, logind):
    """logind took the call, but the machine never went down (an inhibitor, a
    cancelled shutdown): the agent starting again in the same boot says so."""
    agent = start_agent(root, env=logind.env)
    put_maintenance(agent, {"enabled": True})
    op = wait_state(agent, reboot(agent).json()["id"], ("running", "failed"))
    assert op["state"] == "running", op
    assert agent.stop() == 0
    agent.start()  # same boot id
    failed = agent.get_json(f"/v1/operations/{op['id']}")
    assert failed["state"] == "failed", failed
    assert "restarted in the same boot" in failed["error"] and failed["boot_id_after"] is None
    again = reboot(agent)
    assert again.status == 202 and again.json()["id"] != op["id"]
    assert wait_state(agent, again.json()["id"], ("running", "failed"))["state"] == "running"
    assert len(logind.reboot_calls()) == 2, "the new operation asked logind again"


@needs_dbus
def test_reboot_that_does_not_happen_in_time_fails(root, start_agent, logind, tmp_path):
    conf = tmp_path / "hostdevd.conf"
    conf.write_text("reboot_timeout_sec = 1\n")
    agent = start_agent(root, "--config", str(conf), env=logind.env)
    put_maintenance(agent, {"enabled": True})
    op_id = reboot(agent).json()["id"]
    op = wait_state(agent, op_id, ("failed", "succeeded"), timeout=30)  # running first, then the timer
    assert op["state"] == "failed" and "did not happen within 1 seconds" in op["error"], op
    assert len(logind.reboot_calls()) == 1
    again = reboot(agent)
    assert again.status == 202 and again.json()["id"] != op_id
    # the failure is durable
    assert agent.stop() == 0
    agent.start()
    assert agent.get_json(f"/v1/operations/{op_id}")["state"] == "failed"


def test_reboot_timeout_is_validated(root, tmp_path):
    from conftest import BINARY
    conf = tmp_path / "bad.conf"
    conf.write_text("reboot_timeout_sec = 0\n")
    r = subprocess.run([str(BINARY), "--root", str(root), "--config", str(conf)],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode != 0 and f"{conf}:1" in r.stderr

"""Real-kernel tier: the reboot cycle through a real bootloader, driven by
the host over HTTP.

The intel-off machine (VT-d present, booted with intel_iommu=off) boots
through UEFI (OVMF -> systemd-boot -> kernel, run-machine --uefi) with a
state disk (--state-disk) and the agent's port forwarded to the host
(--forward).  guest/api-agent.sh runs the real hostdevd in it as a service:
listening on 0.0.0.0:8427 with plain HTTP, the tokens this test made, its
state directory on the state disk, the ESP on /efi where the systemd-boot
backend finds it, and direct reboots (the guest has no logind).

This test is the administrator: it waits for the agent, reads the verdict
(needs-kernel-arguments) and the arguments it names, enters maintenance mode,
changes the kernel command line with PATCH /v1/kernel-cmdline, and asks for
the reboot.  hostdevd reboots the machine; firmware and systemd-boot boot the
edited entry; the guest starts hostdevd again on the same state directory.
The test waits for a new boot id, records what the agent says now, and turns
maintenance off, which is the guest's signal to stop and power off.  Every
answer is recorded by one module fixture; the tests below judge them.  One
run, two boots, about a minute.

Environment as for test_vm_inventory.py (HOSTDEVD_BINARY is required).
"""

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from vmrecord import HERE, RUN_MACHINE, out_dir, parse_group_listing, tier_binary

MACHINE = "intel-off"
GUEST_SCRIPT = HERE / "guest" / "api-agent.sh"
GUEST_PORT = 8427
RUN_TIMEOUT = 300        # run-machine's bound on the whole run, both boots
FIRST_ANSWER = 150       # from QEMU's start to the agent's first answer
BACK_AFTER_REBOOT = 150  # from POST /v1/reboot to the agent's answer in boot 2
POWER_OFF = 90           # from maintenance off to run-machine's exit
OPERATION_DONE = 60      # from a change's 202 to its operation's end
MAINTENANCE_REASON = "hostdevd vm test: turning the IOMMU on"


@dataclass
class Answer:
    """One HTTP exchange with the agent in the guest."""
    method: str
    path: str
    status: int
    headers: dict
    text: str

    @property
    def json(self):
        try:
            return json.loads(self.text)
        except ValueError:
            return None

    def __str__(self):
        return f"{self.method} {self.path} -> {self.status} {self.text[:600]}"


class Unreachable(Exception):
    pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ask(port, token, method, path, body=None, timeout=20):
    """One request to the forwarded port; an Answer for every HTTP status,
    Unreachable when no HTTP answer came (guest not up, rebooting)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
    req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return Answer(method, path, resp.status, dict(resp.headers), resp.read().decode())
    except urllib.error.HTTPError as e:
        return Answer(method, path, e.code, dict(e.headers), e.read().decode(errors="replace"))
    except (OSError, urllib.error.URLError) as e:  # refused, reset, timed out
        raise Unreachable(str(e)) from e


def arguments(cmdline):
    """A command line as GET /v1/kernel-cmdline shows it ({"text",
    "arguments": [{"key", "value", "noise", ...}]}) -> "key=value" strings,
    without the bootloader's noise (initrd=, BOOT_IMAGE=)."""
    return [a["key"] if a.get("value") is None else f"{a['key']}={a['value']}"
            for a in (cmdline or {}).get("arguments", []) if not a.get("noise")]


@dataclass
class Cycle:
    """The run: run-machine in the background, the agent's answers by step."""
    out: Path
    port: int
    token: str
    proc: subprocess.Popen = None
    answers: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    stopped_at: str = None   # the step that could not go on, and why
    rc: int = None
    stderr: str = ""
    seconds: float = 0.0

    def running(self):
        return self.proc.poll() is None

    def step(self, name, method, path, body=None):
        answer = ask(self.port, self.token, method, path, body)
        self.answers[name] = answer
        return answer

    def change(self, name, method, path, body=None, seconds=OPERATION_DONE):
        """A change answered 202 is followed to its end: the operation's last
        state is recorded as step NAME-operation (the next change would be
        409 operation-in-progress while it runs)."""
        answer = self.step(name, method, path, body)
        location = answer.headers.get("Location", "")
        if answer.status != 202 or not location.startswith("/v1/operations/"):
            return answer
        deadline = time.monotonic() + seconds
        while True:
            op = self.step(f"{name}-operation", "GET", location)
            if op.status != 200 or (op.json or {}).get("state") in ("succeeded", "failed"):
                return answer
            if time.monotonic() > deadline:
                self.notes.append(f"{name}: the operation was not done within {seconds} s: {op}")
                return answer
            time.sleep(0.5)

    def wait_for_agent(self, what, seconds, boot_id_not=None):
        """Poll GET /v1/host until the agent answers 200 (with a boot id
        other than boot_id_not); the answer, or None (stopped_at says why)."""
        deadline = time.monotonic() + seconds
        last = "no answer"
        while time.monotonic() < deadline:
            if not self.running():
                self.stopped_at = f"{what}: the machine stopped (run-machine exited with {self.proc.poll()})"
                return None
            try:
                a = ask(self.port, self.token, "GET", "/v1/host", timeout=5)
                last = str(a)
                if a.status == 200 and (boot_id_not is None or (a.json or {}).get("boot_id") != boot_id_not):
                    return a
            except Unreachable as e:
                last = f"unreachable: {e}"
            time.sleep(1)
        self.stopped_at = f"{what}: no answer within {seconds} s (last: {last})"
        return None

    def answer(self, name):
        """The recorded answer of a step, or fail saying why it is missing."""
        if name not in self.answers:
            why = self.stopped_at or "the step was not taken"
            pytest.fail(f"no answer for step '{name}': {why}\n{self.diagnosis()}")
        return self.answers[name]

    def diagnosis(self):
        console = self.out / "console.log"
        tail = "\n".join(console.read_text(errors="replace").splitlines()[-15:]) if console.exists() else ""
        return f"run-machine: rc={self.rc} {self.stderr.strip()}\nconsole tail:\n{tail}"

    def persisted(self, boot, name):
        """A file the guest kept on the state disk in boot N."""
        path = self.out / "results" / "persist" / f"boot-{boot}" / name
        if not path.exists():
            pytest.fail(f"the guest left no {path.relative_to(self.out)}\n{self.diagnosis()}")
        return path.read_text()


def drive(c):
    """The administrator's side of the cycle; stops at the first step that
    makes going on pointless (stopped_at)."""
    first = c.wait_for_agent("waiting for the agent in boot 1", FIRST_ANSWER)
    if not first:
        return
    c.answers["host-1"] = first
    caps = c.step("capabilities-1", "GET", "/v1/capabilities")
    c.step("iommu-groups-1", "GET", "/v1/iommu-groups")
    c.step("kernel-cmdline-1", "GET", "/v1/kernel-cmdline")
    c.step("patch-outside-maintenance", "PATCH", "/v1/kernel-cmdline",
           {"append_if_missing": ["intel_iommu=on"], "dry_run": True})
    c.step("maintenance-on", "PUT", "/v1/maintenance", {"enabled": True, "reason": MAINTENANCE_REASON})

    # The change the agent itself asks for: what it names to add and to
    # remove, and the optional iommu=pt (the e1000e the test talks through
    # then keeps an identity mapping).
    args = (caps.json or {}).get("kernel_arguments") or {}
    change = {"append_if_missing": list(args.get("add") or []) + list(args.get("optional") or []),
              "delete_if_present": list(args.get("remove") or [])}
    c.notes.append(f"PATCH body from /v1/capabilities: {change}")
    c.change("patch", "PATCH", "/v1/kernel-cmdline", change)
    c.change("patch-again", "PATCH", "/v1/kernel-cmdline", change)
    c.step("kernel-cmdline-pending", "GET", "/v1/kernel-cmdline")

    reboot = c.step("reboot", "POST", "/v1/reboot", {})
    if reboot.status != 202:
        c.stopped_at = f"POST /v1/reboot was refused: {reboot}"
        return
    location = reboot.headers.get("Location", "")
    boot_id = (first.json or {}).get("boot_id")
    second = c.wait_for_agent("waiting for the agent after the reboot", BACK_AFTER_REBOOT, boot_id_not=boot_id)
    if not second:
        return
    c.answers["host-2"] = second
    c.step("kernel-cmdline-2", "GET", "/v1/kernel-cmdline")
    c.step("capabilities-2", "GET", "/v1/capabilities")
    c.step("iommu-groups-2", "GET", "/v1/iommu-groups")
    if location.startswith("/v1/operations/"):
        c.step("operation", "GET", location)
    c.step("maintenance-2", "GET", "/v1/maintenance")
    c.step("maintenance-off", "PUT", "/v1/maintenance", {"enabled": False})


def stop(c):
    """Let the guest power off by itself (maintenance off after on is its
    signal, see guest/api-agent.sh); kill the machine if it does not."""
    off = c.answers.get("maintenance-off")
    if c.running() and not (off and off.status == 200):
        for enabled in (True, False):   # boot 1 needs to see it on first
            try:
                ask(c.port, c.token, "PUT", "/v1/maintenance",
                    {"enabled": enabled, "reason": "hostdevd vm test: stopping"}, timeout=5)
            except Unreachable:
                break
    try:
        _, c.stderr = c.proc.communicate(timeout=POWER_OFF)
    except subprocess.TimeoutExpired:
        c.notes.append(f"the guest did not power off within {POWER_OFF} s: killed")
        os.killpg(c.proc.pid, signal.SIGTERM)
        _, c.stderr = c.proc.communicate(timeout=30)
    c.rc = c.proc.returncode


def make_tokens(binary, directory):
    """An admin token for the test, a reader token for the guest's poller:
    (admin token, tokens file, file holding the reader token)."""
    directory.mkdir(parents=True, exist_ok=True)
    tokens = directory / "tokens"
    tokens.unlink(missing_ok=True)

    def new(spec):
        p = subprocess.run([binary, f"--new-token={spec}", f"--tokens={tokens}"],
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, f"hostdevd --new-token={spec} failed: {p.stderr}"
        return p.stdout.strip()

    admin = new("admin:vm-test")
    guest_token = directory / "guest-token"
    guest_token.write_text(new("reader:vm-guest") + "\n")
    return admin, tokens, guest_token


@pytest.fixture(scope="module")
def cycle(tmp_path_factory):
    binary = tier_binary()
    if not binary:
        pytest.fail("HOSTDEVD_BINARY is not set: this test needs the real hostdevd")
    out = out_dir(f"{MACHINE}-api-reboot", tmp_path_factory)
    out.mkdir(parents=True, exist_ok=True)
    admin, tokens, guest_token = make_tokens(binary, out / "guest-files")
    port = free_port()
    cmd = [str(RUN_MACHINE), MACHINE, "--uefi", "--state-disk", "--forward", f"{port}:{GUEST_PORT}",
           "--script", str(GUEST_SCRIPT), "--guest-file", str(tokens), "--guest-file", str(guest_token),
           "--binary", binary, "--out", str(out), "--timeout", str(RUN_TIMEOUT)]
    c = Cycle(out, port, admin)
    start = time.monotonic()
    c.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        drive(c)
    except Unreachable as e:
        c.stopped_at = f"the agent stopped answering: {e}"
    finally:
        stop(c)
        c.seconds = time.monotonic() - start
    (out / "answers.json").write_text(json.dumps({
        "answers": {name: {"request": f"{a.method} {a.path}", "status": a.status, "headers": a.headers,
                           "body": a.json if a.json is not None else a.text}
                    for name, a in c.answers.items()},
        "notes": c.notes, "stopped_at": c.stopped_at, "run_machine": {"rc": c.rc, "stderr": c.stderr},
        "seconds": round(c.seconds, 1)}, indent=1))
    if c.rc == 77:
        pytest.skip(c.stderr.strip())
    return c


def kernel_cmdline_api(c, name="patch"):
    """xfail while the build has no PATCH /v1/kernel-cmdline; its answer
    otherwise."""
    a = c.answer(name)
    if a.status in (404, 405):
        pytest.xfail(f"PATCH /v1/kernel-cmdline is not in this build ({a.status}): "
                     "the boot entry cannot be changed through the API")
    return a


def kernel_cmdline_change(c, name):
    """A PATCH that changes (not a dry run): 202 and a kernel-cmdline
    operation, followed to its end; the result it succeeded with."""
    a = kernel_cmdline_api(c, name)
    assert a.status == 202, a
    op = c.answer(f"{name}-operation")
    assert a.headers.get("Location") == f"/v1/operations/{a.json['id']}", a
    assert op.status == 200 and op.json["kind"] == "kernel-cmdline", op
    assert op.json["state"] == "succeeded", op
    return op.json["result"]


# ---- the run ---------------------------------------------------------------

def test_the_guest_powered_off_after_two_boots(cycle):
    assert cycle.stopped_at is None, cycle.stopped_at + "\n" + cycle.diagnosis()
    assert cycle.rc == 0, cycle.diagnosis()
    run = dict(line.split("=", 1) for line in (cycle.out / "run.txt").read_text().split("\n") if "=" in line)
    # Boot 1 was ended by hostdevd's reboot(2), so only boot 2 sent results.
    assert run["boot_numbers"] == "2", run
    for boot in (1, 2):
        assert cycle.persisted(boot, "daemon.log")
    log = cycle.persisted(2, "script.log")
    assert "maintenance mode turned off" in log, log


# ---- boot 1: what the administrator sees, and does -------------------------

def test_first_boot_needs_kernel_arguments(cycle):
    caps = cycle.answer("capabilities-1")
    assert caps.status == 200, caps
    assert caps.json["verdict"] == "needs-kernel-arguments", caps
    assert caps.json["iommu"] == "intel-vt-d" and caps.json["iommu_active"] is False, caps
    assert "intel_iommu=on" in caps.json["kernel_arguments"]["add"], caps
    assert "intel_iommu=off" in caps.json["kernel_arguments"]["remove"], caps
    groups = cycle.answer("iommu-groups-1")
    assert groups.status == 200 and groups.json["groups"] == [], groups
    assert "intel_iommu=off" in cycle.persisted(1, "cmdline.txt").split()


def test_kernel_cmdline_is_refused_outside_maintenance(cycle):
    a = kernel_cmdline_api(cycle, "patch-outside-maintenance")
    assert a.status == 409, a


def test_maintenance_entered(cycle):
    a = cycle.answer("maintenance-on")
    assert a.status == 200, a
    assert a.json["enabled"] is True and a.json["reason"] == MAINTENANCE_REASON, a


def test_kernel_cmdline_patched(cycle):
    before = cycle.answer("kernel-cmdline-1")
    assert before.status == 200, before
    assert (before.json.get("bootloader") or {}).get("kind") == "systemd-boot", before
    result = kernel_cmdline_change(cycle, "patch")
    assert result.get("changed") is True, result
    again = kernel_cmdline_change(cycle, "patch-again")
    assert again.get("changed") is False, again
    pending = cycle.answer("kernel-cmdline-pending")
    assert pending.status == 200, pending
    assert pending.json.get("reboot_required") is True, pending
    assert "intel_iommu=on" in arguments(pending.json.get("configured")), pending


def test_reboot_accepted(cycle):
    a = cycle.answer("reboot")
    assert a.status == 202, a
    op = a.json
    assert a.headers.get("Location") == f"/v1/operations/{op['id']}", a
    assert op["kind"] == "reboot" and op["state"] in ("accepted", "running"), a
    assert op["boot_id_before"] == cycle.answer("host-1").json["boot_id"], a
    assert op["method"] == "direct", a


# ---- boot 2: through firmware and systemd-boot, the agent again ------------

def test_the_machine_rebooted(cycle):
    first, second = cycle.answer("host-1").json, cycle.answer("host-2").json
    assert second["boot_id"] != first["boot_id"]
    assert second["boot_id"] == cycle.persisted(2, "boot-id.txt").strip()
    assert [cycle.persisted(boot, "firmware.txt").strip() for boot in (1, 2)] == ["uefi", "uefi"]
    # systemd-boot booted the entry as the ESP held it then (and put its
    # initrd= in front, for the EFI stub).
    entry = cycle.persisted(2, "entry-at-start.conf")
    options = next(line for line in entry.splitlines() if line.startswith("options"))
    running = cycle.persisted(2, "cmdline.txt").split()
    assert options.split()[1:] == [a for a in running if not a.startswith("initrd=")]


def test_arguments_running_after_reboot(cycle):
    kernel_cmdline_api(cycle)
    running = cycle.persisted(2, "cmdline.txt").split()
    assert "intel_iommu=on" in running and "iommu=pt" in running
    assert "intel_iommu=off" not in running
    a = cycle.answer("kernel-cmdline-2")
    assert a.status == 200, a
    assert {"intel_iommu=on", "iommu=pt"} <= set(arguments(a.json.get("running"))), a
    assert not a.json.get("pending"), a
    assert a.json.get("reboot_required") is False, a
    # kernel-install's file for future kernels says the same.
    assert "intel_iommu=on" in cycle.persisted(2, "etc-kernel-cmdline-at-end.txt").split()


def test_capability_ready_after_reboot(cycle):
    kernel_cmdline_api(cycle)
    caps = cycle.answer("capabilities-2")
    assert caps.status == 200, caps
    assert caps.json["verdict"] == "ready", caps
    assert caps.json["iommu_active"] is True, caps


def test_groups_present_after_reboot(cycle):
    kernel_cmdline_api(cycle)
    a = cycle.answer("iommu-groups-2")
    assert a.status == 200, a
    kernel = parse_group_listing(cycle.persisted(2, "iommu-groups-ls.txt"))
    assert kernel, "the kernel made no IOMMU groups in boot 2"
    daemon = {g["id"]: {m["address"] for m in g["members"]} for g in a.json["groups"]}
    assert daemon == kernel


def test_reboot_operation_completed(cycle):
    op = cycle.answer("operation")
    assert op.status == 200, op
    o = op.json
    assert o["state"] == "succeeded", op
    assert o["boot_id_before"] == cycle.answer("host-1").json["boot_id"], op
    assert o["boot_id_after"] == cycle.answer("host-2").json["boot_id"] != o["boot_id_before"], op
    kernel_cmdline_api(cycle)
    result = o["result"]
    expected = {e["argument"]: e["running"] for e in result["expected_arguments"]}
    assert expected.get("intel_iommu=on") is True, op
    assert result["all_running"] is True and result["iommu_expected"] is True, op
    assert result["iommu_active"] is True and result["took_effect"] is True, op


def test_ownership_ledger_survived_the_reboot(cycle):
    """hostdevd still knows after the reboot which arguments it added (its
    ledger lives in the state directory), so it can take back its own and
    only its own later."""
    patch = kernel_cmdline_change(cycle, "patch")
    added = patch.get("owned")
    assert sorted(added) == ["intel_iommu=on", "iommu=pt"], patch
    after = cycle.answer("kernel-cmdline-2")
    state_dir = sorted(p.name for p in (cycle.out / "results" / "state-dir").iterdir())
    assert after.json.get("owned") == added, \
        (f"after the reboot hostdevd owns {after.json.get('owned')}, before it owned {added}; "
         f"its state directory (--state-dir) holds only {state_dir}")


def test_maintenance_survived_the_reboot(cycle):
    a = cycle.answer("maintenance-2")
    assert a.status == 200, a
    before = cycle.answer("maintenance-on").json
    assert a.json["enabled"] is True, a
    assert (a.json["reason"], a.json["since"], a.json["by"]) == (before["reason"], before["since"], before["by"])
    # The guest's own first look in boot 2 agrees.
    assert cycle.persisted(2, "maintenance-at-start.txt").strip() == "true"


def test_maintenance_left(cycle):
    a = cycle.answer("maintenance-off")
    assert a.status == 200, a
    assert a.json["enabled"] is False, a

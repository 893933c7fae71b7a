"""Crash consistency of the agent's writes, proved by killing it (SIGKILL) at
every write point and by failing each write in turn, for bootloader edits on
every editable backend and for vfio-pci group bindings on the kernel double.

The write points are counted by tests/mock/faultinject.so: a trace run
(HOSTDEVD_CRASH=...:0) lists the K calls an edit makes (write, fsync, rename,
unlink under the root, not the operation records), then the agent is killed
before each call 1..K and after each, and started again on the same root.
After every kill the next start must leave: each bootloader file
byte-identical to its old or its new contents, all of them old or all new,
no temporary file and no journal, a ledger of owned arguments that agrees
with the files and with GET /v1/kernel-cmdline, the interrupted operation
failed, and a following edit that works. Timed random kills under a stream
of edits come on top. Then every write in turn fails with ENOSPC and EIO:
the request fails with an honest problem and nothing changes.

The same kills at every write point of a group bind and release (GPU and
audio, persistent or not) on the kernel double: the next start must leave
the group wholly bound or wholly on its original drivers, as sysfs, GET
/v1/devices and the binding records say, and a release then restores them.

How many kills run: HOSTDEVD_CRASH_ITERATIONS (N) per backend and per
binding change. A bootloader edit's points are killed at in full when 2N/5
covers them, else 2N/5 of them spread evenly, and timed random kills fill
up to N; a binding change's, N of them (all when they are fewer). A sample
always has the moment after each write (the middle of an atomic write, or
the torn file of one that is not). 0 runs every point and no random kill. The default keeps the file to about three
minutes on the plain build (6 and ENOSPC alone on a sanitized one). The
long run of the README sets 220: every point, and over 1,000 kills across
the five backends. Failed writes always cover every write.
"""
import json
import os
import random
import re
import signal
import subprocess
import time

import pytest

from conftest import BINARY, FAULTINJECT, hammer
from test_binding import AUDIO, GPU, PCIMOCK, make_tree, sysfs_driver
from test_kernel_cmdline import bootloader_files, make_root, maintenance, temp_files

pytestmark = pytest.mark.skipif(not FAULTINJECT.exists(), reason=f"{FAULTINJECT} not built (make check builds it)")

SANITIZED = b"__asan_init" in BINARY.read_bytes() or b"__ubsan_handle" in BINARY.read_bytes()
DEFAULT_ITERATIONS = 6 if SANITIZED else 14
ITERATIONS = int(os.environ.get("HOSTDEVD_CRASH_ITERATIONS", DEFAULT_ITERATIONS))
# Every errno in a full run (and on the plain build); ENOSPC alone when sanitized and bounded.
ERRNOS = ["ENOSPC"] if SANITIZED and "HOSTDEVD_CRASH_ITERATIONS" not in os.environ else ["ENOSPC", "EIO"]

# The five editable backends, by the fixture that has each.
BACKENDS = {"rhel9-bls": "bls", "rhel8-grubenv": "bls-grubenv", "debian-plain": "grub-debian",
            "systemd-boot": "systemd-boot", "proxmox": "proxmox-boot-tool"}
ARGS = ["kvm_intel.nested=1", "pci=realloc"]  # in none of the fixtures
FORWARD = {"append_if_missing": ARGS}   # state "base" -> state "added"
REVERSE = {"delete_owned": ARGS}        # "added" -> "base"
EDITS = {"append": ("base", FORWARD, "added", REVERSE), "delete": ("added", REVERSE, "base", FORWARD)}
STATE = "var/lib/hostdevd"
JOURNAL = STATE + "/kernel-cmdline.journal"
LEDGER = STATE + "/kernel-cmdline.owned"
BINDINGS = STATE + "/vfio-bindings"
FILE_OPS = "write,fsync,rename,unlink"
SYSFS_OPS = "write,fsync,rename"  # the kernel double unlinks symlinks itself: not the agent's


def preload_env(*objects):
    asan = os.environ.get("ASAN_OPTIONS", "")
    return {"LD_PRELOAD": " ".join(str(o) for o in objects),
            "ASAN_OPTIONS": ":".join(filter(None, [asan, "verify_asan_link_order=0"]))}


def match(root):
    """faultinject's match: the root's files, not the operation records nor maintenance.json."""
    return f"{root}/,!/operations,!maintenance.json"


def crash_env(root, when, n, ops=FILE_OPS, extra=()):
    return {**preload_env(FAULTINJECT, *extra), "HOSTDEVD_CRASH": f"{when}:{ops}:{match(root)}:{n}"}


def fault_env(root, op, errno, n):
    """The nth matching op fails with errno, and no other."""
    return {**preload_env(FAULTINJECT), "HOSTDEVD_FAULT": f"{op}:{match(root)}:{errno}:1:{n - 1}"}


def trace(agent, env, change):
    """The calls that a start with env (N = 0) and change() make, as (op,
    path): what faultinject reports, read from the log's new part."""
    offset = agent.log.stat().st_size if agent.log.exists() else 0
    restart(agent, env)
    change()
    with open(agent.log, "rb") as f:
        f.seek(offset)
        text = f.read().decode(errors="replace")
    return re.findall(r"^faultinject: #\d+ (\S+) (.*)$", text, re.M)


def restart(agent, env):
    """Stops the agent if it runs and starts it again with env."""
    if agent.proc.poll() is None:
        assert agent.stop() == 0, agent.log_text()[-3000:]
    agent.env = env
    agent.start()


def start_request(agent, method, path, body):
    """Sends a change; the operation's id, or None when the agent died before answering."""
    try:
        r = agent.request(path, method=method, data=json.dumps(body).encode() if body is not None else None,
                          role="admin")
    except subprocess.CalledProcessError:
        return None
    assert r.status == 202, r
    return r.json()["id"]


def outcome(agent, op_id, timeout=60):
    """'killed' once the agent died of SIGKILL, else the operation's final state."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if agent.proc.poll() is not None:
            assert agent.proc.returncode == -signal.SIGKILL, (agent.proc.returncode, agent.log_text()[-3000:])
            agent.logf.close()
            return "killed", None
        if op_id is not None:
            try:
                op = agent.request(f"/v1/operations/{op_id}", role="reader").json()
            except subprocess.CalledProcessError:
                continue
            if op["state"] in ("succeeded", "failed"):
                return op["state"], op
        time.sleep(0.02)
    raise AssertionError(f"operation {op_id} did not end: {agent.log_text()[-3000:]}")


def ledger_lines(root):
    p = root / LEDGER
    if not p.exists():
        return set()
    return {line for line in p.read_text().splitlines() if line and not line.startswith("#")}


def leftovers(root):
    """Temporary files of any of the agent's atomic writes, and the journal."""
    found = temp_files(root) + [str(p) for p in (root / STATE).rglob("*.tmp.??????")]
    if (root / JOURNAL).exists():
        found.append(JOURNAL)
    return found


def patch(agent, body):
    """A PATCH followed to its end: (status, result or problem)."""
    op_id = start_request(agent, "PATCH", "/v1/kernel-cmdline", body)
    assert op_id, agent.log_text()[-3000:]
    state, op = outcome(agent, op_id)
    assert state in ("succeeded", "failed"), state
    return (200, op["result"]) if state == "succeeded" else (op["problem"]["status"], op["problem"])


class Setup:
    """A root with a backend's files, its two states ("base", "added") known
    byte for byte, and an agent in maintenance mode on it."""

    def __init__(self, tmp_path, start_agent, case):
        self.root = make_root(tmp_path, case)
        self.agent = start_agent(self.root)
        maintenance(self.agent)
        # "base" is what a round trip leaves: the GRUB backend keeps its drop-in, emptied.
        self.files = {}
        for state, body in (("base", None), ("added", FORWARD), ("base", REVERSE), ("added", FORWARD),
                            ("base", REVERSE)):
            if body:
                status, out = patch(self.agent, body)
                assert status == 200 and out["changed"], out
            now = bootloader_files(self.root)
            if body == REVERSE or state == "added":
                assert self.files.setdefault(state, now) == now, f"another round trip gives other bytes ({state})"
        paths = set(self.files["base"]) | set(self.files["added"])
        self.changing = sorted(p for p in paths if self.files["base"].get(p) != self.files["added"].get(p))
        assert self.changing
        self.state = "base"

    def go(self, state):
        """Brings the files to state with a working edit."""
        if self.state != state:
            status, out = patch(self.agent, FORWARD if state == "added" else REVERSE)
            assert status == 200 and out["changed"], out
            self.state = state
        self.check_state(state)

    def which(self):
        """The state the files are in: each changing file old or new, all alike."""
        now = bootloader_files(self.root)
        for p in set(now) | set(self.files["base"]):
            if p not in self.changing:
                assert now.get(p) == self.files["base"].get(p), f"{p} changed, and no edit touches it"
        states = set()
        for p in self.changing:
            states |= {s for s in ("base", "added") if now.get(p) == self.files[s].get(p)} or {f"torn {p}"}
        seen = {s for s in ("base", "added") if all(now.get(p) == self.files[s].get(p) for p in self.changing)}
        assert len(seen) == 1, f"the files are mixed or torn: {sorted(states)}"
        return seen.pop()

    def check_state(self, state=None):
        """The files in one state (state when given), nothing left behind, and
        the ledger, the API's configured line and its owned list agree."""
        got = self.which()
        assert state is None or got == state, (got, state)
        assert leftovers(self.root) == []
        k = self.agent.get_json("/v1/kernel-cmdline")
        configured = k["configured"]["text"].split()
        has = [a in configured for a in ARGS]
        assert has == [got == "added"] * len(ARGS), (got, k["configured"]["text"])
        assert sorted(k["owned"]) == (sorted(ARGS) if got == "added" else []), (got, k["owned"])
        assert ledger_lines(self.root) == (set(ARGS) if got == "added" else set()), (got, ledger_lines(self.root))
        self.state = got
        return got


def sample(calls, budget, salt):
    """The points to kill at, (when, n) for calls 1..len(calls): all of them,
    or, for a budget, the moment after each write (where a write that is not
    atomic shows) and budget more spread evenly over the others (salt shifts
    them)."""
    points = [(when, n) for n in range(1, len(calls) + 1) for when in ("before", "after")]
    if budget <= 0 or budget >= len(points):
        return points
    writes = [("after", n) for n, (op, _) in enumerate(calls, 1) if op == "write"]
    rest = [p for p in points if p not in writes]
    k = min(max(budget - len(writes), 0), len(rest))
    step = len(rest) / k if k else 0
    return writes + [rest[(int(i * step) + salt) % len(rest)] for i in range(k)]


def crash_points(s, edit, budget):
    """Kills the agent at the sampled write points of edit; returns the kill count."""
    start, body, end, _ = EDITS[edit]
    base_env = s.agent.env
    s.go(start)
    def change():
        status, out = patch(s.agent, body)
        assert status == 200 and out["changed"], out

    calls = trace(s.agent, crash_env(s.root, "before", 0), change)
    assert calls and all(str(s.root) in path for _, path in calls), calls
    s.state = end
    restart(s.agent, base_env)
    s.go(start)

    kills = 0
    for when, n in sample(calls, budget, salt=len(edit)):
        restart(s.agent, crash_env(s.root, when, n))
        op_id = start_request(s.agent, "PATCH", "/v1/kernel-cmdline", body)
        state, _ = outcome(s.agent, op_id)
        what = f"{edit}: killed {when} call {n} of {len(calls)} ({' '.join(calls[n - 1])})"
        assert state == "killed", f"{what}: the agent was not killed but {state}"
        kills += 1
        s.agent.env = base_env
        s.agent.start()  # cleans up what the kill left
        try:
            got = s.check_state()
        except AssertionError as e:
            raise AssertionError(f"{what}: {e}") from e
        if op_id:
            op = s.agent.get_json(f"/v1/operations/{op_id}")
            assert op["state"] == "failed" and "agent stopped" in op["error"], (what, op)
        # a following edit works, and the next point starts from the same state
        s.go(end if got == start else start)
        s.go(start)

    # past the last call, the edit completes
    restart(s.agent, crash_env(s.root, "before", len(calls) + 1))
    status, out = patch(s.agent, body)
    assert status == 200 and out["changed"], out
    s.state = end
    s.check_state(end)
    restart(s.agent, base_env)
    return kills


def random_kills(s, count, seed):
    """Timed random kills under a stream of edits back and forth."""
    rng = random.Random(seed)
    for cycle in range(count):
        writer = hammer(s.agent, "PATCH", "/v1/kernel-cmdline", "admin", [json.dumps(FORWARD), json.dumps(REVERSE)])
        time.sleep(rng.uniform(0.02, 0.4))
        s.agent.proc.send_signal(signal.SIGKILL)
        s.agent.proc.wait()
        s.agent.logf.close()
        writer.communicate(timeout=30)
        s.agent.start()
        try:
            got = s.check_state()
        except AssertionError as e:
            raise AssertionError(f"random kill {cycle}: {e}") from e
        s.go("added" if got == "base" else "base")
    return count


@pytest.mark.parametrize("case", sorted(BACKENDS))
def test_kill_9_at_every_write_point_of_an_edit(tmp_path, start_agent, case):
    s = Setup(tmp_path, start_agent, case)
    assert s.agent.get_json("/v1/kernel-cmdline")["bootloader"]["kind"] == BACKENDS[case]
    kills = 0
    for edit in ("append", "delete"):
        kills += crash_points(s, edit, ITERATIONS * 2 // 5)  # 0: every point
    if ITERATIONS > kills:
        kills += random_kills(s, ITERATIONS - kills, seed=sum(map(ord, case)))
    print(f"{case}: {kills} kills")


@pytest.mark.parametrize("errno", ERRNOS)
@pytest.mark.parametrize("case", sorted(BACKENDS))
def test_every_failed_write_of_an_edit_changes_nothing(tmp_path, start_agent, case, errno):
    s = Setup(tmp_path, start_agent, case)
    base_env = s.agent.env
    for edit in ("append", "delete"):
        start, body, end, _ = EDITS[edit]
        s.go(start)
        k = len(trace(s.agent, crash_env(s.root, "before", 0, ops="write"), lambda: s.go(end)))
        s.state = end
        restart(s.agent, base_env)
        s.go(start)
        before = bootloader_files(s.root)
        ledger = (s.root / LEDGER).read_bytes() if (s.root / LEDGER).exists() else None
        for n in range(1, k + 1):
            restart(s.agent, fault_env(s.root, "write", errno, n))
            status, problem = patch(s.agent, body)
            what = f"{edit}: write {n} of {k} failing with {errno}"
            assert status == 500, (what, problem)
            assert problem["code"] == "bootloader-write-failed", (what, problem)
            assert os.strerror(getattr(__import__("errno"), errno)) in problem["detail"], (what, problem)
            assert bootloader_files(s.root) == before, what
            assert ((s.root / LEDGER).read_bytes() if (s.root / LEDGER).exists() else None) == ledger, what
            assert leftovers(s.root) == [], what
            s.check_state(start)
        restart(s.agent, fault_env(s.root, "write", errno, k + 1))
        s.go(end)
        restart(s.agent, base_env)


# ---- bindings on the kernel double ----

ORIGINAL = {GPU: "nouveau", AUDIO: "snd_hda_intel"}


def binding_state(agent, tree):
    """'bound' or 'released', checked: sysfs, GET /v1/devices and the records agree."""
    sysfs = {a: sysfs_driver(tree, a) for a in ORIGINAL}
    api = {a: agent.get_json(f"/v1/devices/{a}")["driver"] for a in ORIGINAL}
    assert api == sysfs, (api, sysfs)
    listing = agent.get_json("/v1/passthrough/bindings")
    if sysfs == {a: "vfio-pci" for a in ORIGINAL}:
        assert listing["count"] == 1, listing
        b = listing["bindings"][0]
        assert b["in_effect"], b
        assert {m["address"]: m["original_driver"] for m in b["members"]} == ORIGINAL, b
        return "bound"
    assert sysfs == ORIGINAL, f"the group is neither bound nor released: {sysfs}"
    assert listing["count"] == 0, listing
    for a in ORIGINAL:
        assert agent.get_json(f"/v1/devices/{a}")["driver_override"] is None, a
    return "released"


def bind_change(agent, bound, persistent):
    if bound:
        return start_request(agent, "PUT", f"/v1/devices/{GPU}/driver",
                             {"driver": "vfio-pci", "persistent": persistent})
    return start_request(agent, "DELETE", f"/v1/devices/{AUDIO}/driver", None)


def bind_go(agent, tree, want, persistent):
    """Brings the group to want ("bound", "released") with a working request."""
    if binding_state(agent, tree) != want:
        state, op = outcome(agent, bind_change(agent, want == "bound", persistent))
        assert state == "succeeded" and op["result"]["outcome"] == "done", op
    assert binding_state(agent, tree) == want
    if want == "released":
        assert not (tree / "dev/vfio/9").exists()


@pytest.mark.skipif(not PCIMOCK.exists(), reason=f"{PCIMOCK} not built (make check builds it)")
@pytest.mark.parametrize("persistent", [False, True])
@pytest.mark.parametrize("change", ["bind", "release"])
def test_kill_9_at_every_write_point_of_a_group_binding(tmp_path, start_agent, change, persistent):
    tree = make_tree(tmp_path)
    mock = {"PCIMOCK_ROOT": str(tree)}
    base_env = {**preload_env(PCIMOCK), **mock}
    agent = start_agent(tree, env=base_env)
    start, end = ("released", "bound") if change == "bind" else ("bound", "released")

    def crash(when, n):
        return {**crash_env(tree, when, n, ops=SYSFS_OPS, extra=(PCIMOCK,)), **mock}

    bind_go(agent, tree, start, persistent)
    calls = trace(agent, crash("before", 0), lambda: bind_go(agent, tree, end, persistent))
    assert any("driver_override" in p for _, p in calls) and any(BINDINGS in p for _, p in calls), calls
    restart(agent, base_env)
    bind_go(agent, tree, start, persistent)

    points = sample(calls, ITERATIONS, salt=persistent)
    for when, n in points:
        what = f"{change}: killed {when} call {n} of {len(calls)} ({' '.join(calls[n - 1])})"
        op_id = None
        try:
            restart(agent, crash(when, n))
        except RuntimeError:  # the start's own writes (re-applying a persistent binding) were counted
            assert agent.proc.returncode == -signal.SIGKILL, (what, agent.log_text()[-3000:])
        else:
            op_id = bind_change(agent, end == "bound", persistent)
            state, _ = outcome(agent, op_id)
            assert state == "killed", f"{what}: {state}"
        agent.env = base_env
        agent.start()
        try:
            got = binding_state(agent, tree)
        except AssertionError as e:
            raise AssertionError(f"{what}: {e}") from e
        if op_id:
            op = agent.get_json(f"/v1/operations/{op_id}")
            assert op["state"] == "failed" and "agent stopped" in op["error"], (what, op)
        if got == "bound":  # a release afterwards restores the original drivers
            bind_go(agent, tree, "released", persistent)
        bind_go(agent, tree, start, persistent)
    restart(agent, crash("before", len(calls) + 1))
    state, op = outcome(agent, bind_change(agent, end == "bound", persistent))
    assert state == "succeeded", op
    assert binding_state(agent, tree) == end
    print(f"{change} (persistent {persistent}): {len(points)} kills of {2 * len(calls)} points")

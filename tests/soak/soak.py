#!/usr/bin/env python3
"""hostdevd soak: the daemon for a long time (default an hour) under a mixed
load, every answer checked, then its health. On a generated tree (the
'passthrough' topology, with the Debian bootloader fixture) with the kernel's
driver binding played by tests/mock/pcimock.so:

- readers: every GET route, in turn, each answer checked against
  api/openapi.json and its expected status; identity, gzip and zstd; with
  If-None-Match of the last ETag (200 or 304), HEAD now and then;
- a changer: maintenance on, a kernel-cmdline PATCH that appends
  kvm_intel.nested=1 and one that deletes it (operations followed to their
  end), maintenance off, the GPU's group bound to vfio-pci and released;
- event-stream clients that connect, read hello and what comes, and hang up;
- reloads (SIGHUP, while the load goes on) and restarts (SIGTERM, exit 0,
  started again on the same root and state).

At the end of every agent run (before its SIGTERM), with no client
connected, its VmRSS and descriptor count are compared with the ones taken
after its warm-up; at the end, the log must have no sanitizer report. It
prints requests done per kind, errors and the samples, and exits 1 on any
error. It stops by itself after --duration seconds (plus the last round).

Usage: soak.py [--binary PATH] [--builddir DIR] [--duration S] [--restart-every S]
               [--reload-every S] [--workdir DIR]
"""
import argparse
import http.client
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRCDIR = HERE.parent.parent
sys.path.insert(0, str(SRCDIR / "tests" / "fixtures"))
sys.path.insert(0, str(SRCDIR / "tests" / "integration"))

import mksysfs  # noqa: E402
import openapi_check  # noqa: E402

SPEC = openapi_check.load_spec(SRCDIR / "api" / "openapi.json")
GPU = "0000:01:00.0"
GROUP = 9
CMDLINE = "BOOT_IMAGE=/boot/vmlinuz-6.1.0-27-amd64 root=UUID=0b4e2f6c-7d1a-4c3e-9f52-6a8b1d2e3c4f ro quiet"
ARG = "kvm_intel.nested=1"
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:", "SUMMARY: UndefinedBehavior")
RSS_SLACK_KIB = 4096    # growth under this, or under RSS_SLACK_RATIO, is flat
RSS_SLACK_RATIO = 0.10
ROLES = ("reader", "operator", "admin")
EVENTS_RING = 128       # events kept for replay: full within the warm-up


def route_of(path):
    """The route a path is counted under: an operation's id is not a route."""
    path = path.split("?")[0]
    return "/v1/operations/{id}" if path.startswith("/v1/operations/") else path


def token(role):
    return f"soak-{role}-token"


def write_tokens(path):
    import hashlib
    path.write_text("".join(f"{r} {hashlib.sha256(token(r).encode()).hexdigest()} soak-{r}\n" for r in ROLES))


class Gate:
    """Clients hold it shared for each piece of work; a restart or a sample
    holds it alone, so that then no client is connected."""

    def __init__(self):
        self.cond = threading.Condition()
        self.users = 0
        self.closed = False

    def enter(self):
        with self.cond:
            while self.closed:
                self.cond.wait()
            self.users += 1

    def leave(self):
        with self.cond:
            self.users -= 1
            self.cond.notify_all()

    def close(self):
        with self.cond:
            self.closed = True
            while self.users:
                self.cond.wait()

    def open(self):
        with self.cond:
            self.closed = False
            self.cond.notify_all()


class Soak:
    def __init__(self, args, root, work):
        self.args, self.root, self.work = args, root, work
        self.port = None
        self.proc = None
        self.gate = Gate()
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.counts = {}
        self.errors = []
        self.runs = []   # per agent run: {"warm": (rss, {fd: target}), "end": ..., "rc": ...}
        self.tokens = work / "tokens"
        write_tokens(self.tokens)
        self.log = work / "hostdevd.log"
        self.config = work / "hostdevd.conf"
        self.config.write_text(f"events_ring_size = {EVENTS_RING}\n")
        self.etags = {}

    # ---- bookkeeping ----

    def count(self, kind):
        with self.lock:
            self.counts[kind] = self.counts.get(kind, 0) + 1

    def error(self, what):
        with self.lock:
            self.errors.append(what)
        print(f"ERROR: {what}", flush=True)

    # ---- the agent ----

    def start(self):
        pcimock = Path(self.args.builddir) / "tests" / "mock" / "pcimock.so"
        asan = os.environ.get("ASAN_OPTIONS", "")
        # A small quarantine: ASan's default (256 MiB of freed memory kept
        # back) would read as growth in a run of minutes. And a small event
        # ring (the config): full after the warm-up, its events are not read
        # as growth either.
        env = dict(os.environ, LD_PRELOAD=str(pcimock), PCIMOCK_ROOT=str(self.root),
                   ASAN_OPTIONS=":".join(filter(None, [asan, "verify_asan_link_order=0", "quarantine_size_mb=4"])))
        if self.port is None:
            import socket
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                self.port = s.getsockname()[1]
        logf = open(self.log, "ab")
        self.proc = subprocess.Popen([self.args.binary, "--root", str(self.root), "--listen", f"127.0.0.1:{self.port}",
                                      "--tokens", str(self.tokens), "--log-level", "info",
                                      "--config", str(self.config)],
                                     stdout=logf, stderr=subprocess.STDOUT, env=env)
        logf.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"hostdevd exited {self.proc.returncode} at start:\n{self.log_tail()}")
            try:
                status, _, _ = self.call("GET", "/v1/host", count=False)
                if status == 200:
                    return
            except OSError:
                time.sleep(0.1)
        raise SystemExit("hostdevd did not start serving")

    def log_tail(self, n=4000):
        return self.log.read_text(errors="replace")[-n:]

    def sample(self):
        """VmRSS in KiB and the open descriptors, each with what it is."""
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        rss = next(int(l.split()[1]) for l in status.splitlines() if l.startswith("VmRSS:"))
        fds = {}
        for fd in os.listdir(f"/proc/{self.proc.pid}/fd"):
            try:
                fds[int(fd)] = os.readlink(f"/proc/{self.proc.pid}/fd/{fd}")
            except OSError:
                pass  # closed while listed
        return rss, fds

    def settled_sample(self, fds_at_most=None):
        """A sample once the connections just closed are gone on the agent's side too."""
        deadline = time.monotonic() + 10
        rss, fds = self.sample()
        while fds_at_most is not None and len(fds) > fds_at_most and time.monotonic() < deadline:
            time.sleep(0.2)
            rss, fds = self.sample()
        return rss, fds

    def restart(self):
        self.gate.close()
        try:
            run = self.runs[-1]
            run["end"] = self.settled_sample(len(run["warm"][1]))
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                rc = "hung on SIGTERM"
            run["rc"] = rc
            self.count("restart")
            if rc != 0:
                self.error(f"hostdevd exited {rc} on SIGTERM:\n{self.log_tail()}")
            if not self.stop.is_set():
                self.start()
                self.runs.append({})
        finally:
            self.gate.open()

    def reload(self):
        n = self.log.read_text(errors="replace").count("Reload done")
        self.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 30
        while self.log.read_text(errors="replace").count("Reload done") == n:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.error("no 'Reload done' after SIGHUP")
                return
            time.sleep(0.1)
        self.count("reload")

    # ---- requests ----

    def call(self, method, path, role="reader", body=None, headers=None, conn=None, count=True):
        c = conn or http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        h = {"Authorization": f"Bearer {token(role)}", **(headers or {})}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        try:
            c.request(method, path, body=data, headers=h)
            r = c.getresponse()
            raw = r.read()
            hdrs = {k.lower(): v for k, v in r.getheaders()}
        finally:
            if conn is None:
                c.close()
        if count:
            self.count(f"{method} {route_of(path)}")
        return r.status, hdrs, raw

    def check(self, what, method, path, expect, **kw):
        """One request; its status must be in expect and its answer as the contract says."""
        try:
            status, hdrs, raw = self.call(method, path, **kw)
        except (OSError, http.client.HTTPException) as e:
            self.error(f"{what}: {method} {path}: {e!r}")
            return None, None, None
        if status not in expect:
            self.error(f"{what}: {method} {path}: {status}, expected {sorted(expect)}: {raw[:300]!r}")
            return status, hdrs, raw
        try:  # validate_response decodes gzip and zstd itself
            SPEC.validate_response(method, path.split("?")[0], status, hdrs, raw)
        except AssertionError as e:
            self.error(f"{what}: {method} {path}: {status} not as the contract says: {e}")
        return status, hdrs, raw

    def follow(self, what, status, body):
        """A 202 to its operation's end, which must be success."""
        if status != 202:
            return
        op = json.loads(body)
        deadline = time.monotonic() + 60
        while op["state"] not in ("succeeded", "failed"):
            if time.monotonic() > deadline:
                self.error(f"{what}: operation {op['id']} still {op['state']} after 60 s")
                return
            time.sleep(0.05)
            st, _, b = self.check(what, "GET", f"/v1/operations/{op['id']}", {200})
            if st != 200:
                return
            op = json.loads(b)
        if op["state"] != "succeeded":
            self.error(f"{what}: operation {op['id']} {op['state']}: {op.get('problem')}")

    # ---- the clients ----

    def routes(self):
        """Every GET route, with the statuses it may answer."""
        ops = [None]
        try:
            st, _, b = self.call("GET", "/v1/operations", count=False)
            items = json.loads(b).get("operations", []) if st == 200 else []
            ops = [o["id"] for o in items[:1]] or [None]
        except (OSError, ValueError, http.client.HTTPException):
            pass
        r = [("/", {200}), ("/v1/host", {200}), ("/v1/capabilities", {200}), ("/v1/devices", {200}),
             ("/v1/devices?assignable=true", {200}), (f"/v1/devices/{GPU}", {200}),
             (f"/v1/devices/{GPU}/driver", {200}), (f"/v1/devices/{GPU}/sriov", {self.sriov_status}),
             ("/v1/iommu-groups", {200}), (f"/v1/iommu-groups/{GROUP}", {200}), ("/v1/inventory", {200}),
             ("/v1/passthrough/bindings", {200}), ("/v1/maintenance", {200}), ("/v1/operations", {200}),
             ("/v1/kernel-cmdline", {200}), ("/v1/kernel-cmdline/presets", {200}), ("/v1/openapi.json", {200}),
             ("/v1/metrics", {200})]
        if ops[0]:
            r.append((f"/v1/operations/{ops[0]}", {200}))
        return r

    def reader(self, n):
        rnd = random.Random(n)
        while not self.stop.is_set():
            self.gate.enter()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60,
                                                  source_address=(f"127.0.0.{10 + n}", 0))
                for path, expect in self.routes():
                    enc = rnd.choice(("identity", "gzip", "zstd"))
                    headers = {"Accept-Encoding": enc}
                    method = "HEAD" if rnd.random() < 0.1 else "GET"
                    key = (path, enc)
                    if self.etags.get(key) and rnd.random() < 0.5:
                        headers["If-None-Match"] = self.etags[key]
                        expect = expect | {304} if 200 in expect else expect
                    st, hdrs, _ = self.check("read", method, path, expect, headers=headers, conn=conn)
                    if st == 200 and hdrs and "etag" in hdrs:
                        self.etags[key] = hdrs["etag"]
                    if st is None:  # the connection broke: a new one
                        conn.close()
                        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60,
                                                          source_address=(f"127.0.0.{10 + n}", 0))
                    time.sleep(self.args.pause)
                conn.close()
            finally:
                self.gate.leave()

    def changer(self):
        steps = [
            ("maintenance on", "PUT", "/v1/maintenance", "operator", {"enabled": True, "reason": "soak"}, {200}),
            ("cmdline append", "PATCH", "/v1/kernel-cmdline", "admin", {"append_if_missing": [ARG]}, {202}),
            ("cmdline delete", "PATCH", "/v1/kernel-cmdline", "admin", {"delete": [ARG]}, {202}),
            ("maintenance off", "PUT", "/v1/maintenance", "operator", {"enabled": False}, {200}),
            ("bind", "PUT", f"/v1/devices/{GPU}/driver", "operator", {"driver": "vfio-pci"}, {202}),
            ("release", "DELETE", f"/v1/devices/{GPU}/driver", "operator", None, {202}),
        ]
        while not self.stop.is_set():
            for what, method, path, role, body, expect in steps:
                if self.stop.is_set():
                    break
                self.gate.enter()
                try:
                    st, _, b = self.check(what, method, path, expect, role=role, body=body)
                    if st == 202:
                        self.follow(what, st, b)
                    self.count(what)
                finally:
                    self.gate.leave()
                self.stop.wait(self.args.pause * 20)

    def streamer(self, n):
        rnd = random.Random(100 + n)
        while not self.stop.is_set():
            self.gate.enter()
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30,
                                               source_address=(f"127.0.0.{50 + n}", 0))
                c.request("GET", "/v1/events", headers={"Authorization": f"Bearer {token('reader')}",
                                                        "Accept": "text/event-stream"})
                r = c.getresponse()
                if r.status != 200:
                    self.error(f"stream: GET /v1/events: {r.status} {r.read()[:300]!r}")
                else:
                    first = b""
                    while not first.endswith(b"\n\n"):
                        line = r.fp.readline()
                        if not line:
                            break
                        first += line
                    if b"event: hello" not in first:
                        self.error(f"stream: no hello first: {first[:300]!r}")
                    c.sock.settimeout(0.2)
                    until = time.monotonic() + rnd.uniform(0.5, 4)
                    while time.monotonic() < until:
                        try:
                            if not r.fp.read1(65536):
                                self.error("stream: ended by the agent")
                                break
                        except (TimeoutError, OSError):
                            pass
                    self.count("stream")
                c.close()
            except (OSError, http.client.HTTPException) as e:
                self.error(f"stream: {e!r}")
            finally:
                self.gate.leave()
            self.stop.wait(rnd.uniform(0.1, 1))

    # ---- the whole ----

    def run(self):
        st, _, _ = self.call("GET", f"/v1/devices/{GPU}/sriov", count=False)
        self.sriov_status = st
        self.runs.append({})
        threads = [threading.Thread(target=self.reader, args=(i,), daemon=True) for i in range(2)]
        threads += [threading.Thread(target=self.changer, daemon=True)]
        threads += [threading.Thread(target=self.streamer, args=(i,), daemon=True) for i in range(2)]
        for t in threads:
            t.start()
        t0 = time.monotonic()
        run_start = t0
        next_reload = t0 + self.args.reload_every
        while True:
            now = time.monotonic()
            if now - t0 >= self.args.duration:
                break
            if "warm" not in self.runs[-1] and now - run_start >= self.args.warmup:
                self.gate.close()
                try:
                    self.runs[-1]["warm"] = self.settled_sample(self.baseline_fds())
                finally:
                    self.gate.open()
            if now >= next_reload:
                self.reload()
                next_reload = now + self.args.reload_every
            if now - run_start >= self.args.restart_every and "warm" in self.runs[-1]:
                self.restart()
                run_start = time.monotonic()
            if self.proc.poll() is not None:
                self.error(f"hostdevd died ({self.proc.returncode}):\n{self.log_tail()}")
                break
            time.sleep(0.5)
        self.stop.set()
        for t in threads:
            t.join(120)
            if t.is_alive():
                self.error(f"a client thread ({t.name}) hung")
        if self.proc.poll() is None:
            if "warm" not in self.runs[-1]:
                self.runs.pop()  # too short to judge
                self.proc.send_signal(signal.SIGTERM)
                rc = self.proc.wait(60)
                if rc != 0:
                    self.error(f"hostdevd exited {rc} on SIGTERM")
            else:
                self.restart()
        return time.monotonic() - t0

    def baseline_fds(self):
        return len(self.runs[0]["warm"][1]) if self.runs and "warm" in self.runs[0] else None

    def report(self, took):
        print(f"soak: {took:.0f} s, {len(self.runs)} agent runs judged, {sum(self.counts.values())} actions")
        for kind in sorted(self.counts):
            print(f"  {kind:40s} {self.counts[kind]}")
        for i, run in enumerate(self.runs):
            if "warm" not in run or "end" not in run:
                continue
            (w_rss, w_fds), (e_rss, e_fds) = run["warm"], run["end"]
            growth = e_rss - w_rss
            flat = growth < max(RSS_SLACK_KIB, w_rss * RSS_SLACK_RATIO)
            print(f"  run {i + 1}: VmRSS {w_rss} KiB after warm-up, {e_rss} KiB at the end ({growth:+d} KiB, "
                  f"{'flat' if flat else 'GROWING'}); fds {len(w_fds)} -> {len(e_fds)}; exit {run.get('rc')}")
            if not flat:
                self.error(f"run {i + 1}: VmRSS grew from {w_rss} to {e_rss} KiB")
            gone = sorted(f"{fd} -> {w_fds[fd]}" for fd in w_fds if e_fds.get(fd) != w_fds[fd])
            came = sorted(f"{fd} -> {e_fds[fd]}" for fd in e_fds if w_fds.get(fd) != e_fds[fd])
            if gone or came:
                print(f"    descriptors closed since the warm-up: {', '.join(gone) or 'none'}; "
                      f"opened: {', '.join(came) or 'none'}")
            if len(e_fds) > len(w_fds):
                new = sorted(f"{fd} -> {e_fds[fd]}" for fd in e_fds if w_fds.get(fd) != e_fds[fd])
                self.error(f"run {i + 1}: {len(e_fds)} fds open at the end, {len(w_fds)} after warm-up; "
                           f"new: {', '.join(new)}")
        log = self.log.read_text(errors="replace")
        marks = [m for m in SANITIZER_MARKS if m in log]
        if marks:
            i = min(log.index(m) for m in marks)
            self.error(f"sanitizer report in the agent's log:\n{log[max(0, i - 200):i + 3000]}")
        print(f"  errors: {len(self.errors)}")
        for e in self.errors[:20]:
            print(f"    {e[:2000]}")
        return not self.errors


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", default=os.environ.get("HOSTDEVD", str(SRCDIR / "build" / "hostdevd")))
    ap.add_argument("--builddir", default=os.environ.get("HOSTDEVD_BUILDDIR"),
                    help="the build with tests/mock/pcimock.so (default: the binary's directory)")
    ap.add_argument("--duration", type=float, default=3600, help="seconds of load (default 3600)")
    ap.add_argument("--restart-every", type=float, default=None,
                    help="seconds between restarts (default a quarter of the duration, 60 to 900)")
    ap.add_argument("--reload-every", type=float, default=20, help="seconds between reloads (default 20)")
    ap.add_argument("--warmup", type=float, default=20, help="seconds of a run before its first sample")
    ap.add_argument("--pause", type=float, default=0.01, help="seconds between one client's requests")
    ap.add_argument("--workdir", help="keep the tree and the log here (default: a temporary directory)")
    args = ap.parse_args()
    args.binary = str(Path(args.binary).resolve())
    args.builddir = args.builddir or str(Path(args.binary).parent)
    if args.restart_every is None:
        args.restart_every = min(900, max(60, args.duration / 4))
    if not (Path(args.builddir) / "tests" / "mock" / "pcimock.so").exists():
        sys.exit(f"no tests/mock/pcimock.so under {args.builddir}: run 'make check TESTS=' there first")

    work = Path(args.workdir or tempfile.mkdtemp(prefix="hostdevd-soak-"))
    work.mkdir(parents=True, exist_ok=True)
    root = work / "root"
    if root.exists():
        shutil.rmtree(root)
    mksysfs.generate("passthrough", root)
    shutil.copytree(SRCDIR / "tests" / "data" / "bootloader" / "debian-plain", root, dirs_exist_ok=True, symlinks=True)
    (root / "proc" / "cmdline").write_text(CMDLINE + "\n")
    print(f"soak: {args.duration:.0f} s against {args.binary}, restarts every {args.restart_every:.0f} s, "
          f"reloads every {args.reload_every:.0f} s; tree and log under {work}", flush=True)

    soak = Soak(args, root, work)
    soak.start()
    try:
        took = soak.run()
    except Exception:
        soak.error(f"the soak itself failed:\n{traceback.format_exc()}")
        took = 0
    finally:
        if soak.proc and soak.proc.poll() is None:
            soak.proc.kill()
    ok = soak.report(took)
    if ok and not args.workdir:
        shutil.rmtree(work, ignore_errors=True)
    print("soak: ok" if ok else f"soak: FAILED (log: {soak.log})")
    sys.exit(0 if ok else 1)

if __name__ == "__main__":
    main()

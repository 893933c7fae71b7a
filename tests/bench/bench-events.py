#!/usr/bin/env python3
"""Benchmark of the live inventory: prints figures, never fails on speed.

On the 4,096-function tree ('large', tests/fixtures/mksysfs.py) the agent runs
with its uevent test hook (--uevent-socket). Each measurement changes the tree
as the kernel would (a driver link removed or put back), sends the kernel-format
uevent, and waits for the inventory-changed event on GET /v1/events:
  1. uevent -> new /v1/devices ETag, one device (median, p95);
  2. a burst of 255 unbinds on 255 functions sent back to back: time to the
     snapshot that holds all of them, and how many snapshots it took;
  3. CPU (utime+stime) per event over a run of events;
  4. VmRSS after every 1/10 of that run (it must stay flat).
The reference, in the same run: a full POST /v1/inventory/rescan of the tree.

    python3 tests/bench/bench-events.py --binary build/hostdevd [--events 10000] [--quick]
"""
import argparse
import hashlib
import http.client
import json
import os
import queue
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "fixtures"))
import mksysfs  # noqa: E402

TOKEN = "bench-reader-token"
OPERATOR = "bench-operator-token"  # POST /v1/inventory/rescan needs the operator role


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Stream:
    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.conn.request("GET", "/v1/events", headers={"Authorization": f"Bearer {TOKEN}"})
        self.resp = self.conn.getresponse()
        assert self.resp.status == 200
        self.q = queue.Queue()
        threading.Thread(target=self.read, daemon=True).start()

    def read(self):
        ev = {}
        for raw in iter(self.resp.readline, b""):
            line = raw.decode().rstrip("\n")
            if not line:
                if "event" in ev:
                    self.q.put((time.perf_counter(), ev["event"], json.loads(ev.get("data", "{}"))))
                ev = {}
            elif not line.startswith(":"):
                k, _, v = line.partition(":")
                ev[k] = v.lstrip(" ")

    def next(self, kind, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            t, k, d = self.q.get(timeout=max(0.01, deadline - time.monotonic()))
            if k == kind:
                return t, d


def get(port, path, method="GET"):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"Authorization": f"Bearer {TOKEN if method == 'GET' else OPERATOR}"}
    if method != "GET":
        headers["Content-Type"] = "application/json"
    c.request(method, path, body=b"{}" if method != "GET" else None, headers=headers)
    r = c.getresponse()
    body = r.read()
    c.close()
    return r, body


def proc_stat(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    cpu = (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
    rss = next(int(l.split()[1]) for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS:"))
    return cpu, rss / 1024


class Tree:
    def __init__(self, root, sock):
        self.root, self.sock = root, sock
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sysroot = os.path.realpath(root / "sys")
        bus = root / "sys/bus/pci/devices"
        self.bound = {}
        for a in sorted(os.listdir(bus)):
            d = os.path.realpath(bus / a)
            if os.path.islink(os.path.join(d, "driver")):
                self.bound[a] = (d, os.readlink(os.path.join(d, "driver")))

    def toggle(self, addr):
        d, target = self.bound[addr]
        link = os.path.join(d, "driver")
        if os.path.islink(link):
            os.unlink(link)
            action = "unbind"
        else:
            os.symlink(target, link)
            action = "bind"
        dp = d[len(self.sysroot):]
        self.s.sendto(f"{action}@{dp}\0ACTION={action}\0DEVPATH={dp}\0SUBSYSTEM=pci\0".encode(), str(self.sock))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default="build/hostdevd")
    ap.add_argument("--events", type=int, default=10000)
    ap.add_argument("--quick", action="store_true", help="500 events")
    o = ap.parse_args()
    topo = "large"
    if o.quick:
        o.events = min(o.events, 500)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        root = tmp / "root"
        t0 = time.perf_counter()
        mksysfs.generate(topo, root)
        print(f"tree: {topo} generated in {time.perf_counter() - t0:.1f} s")
        (tmp / "tokens").write_text(f"reader {hashlib.sha256(TOKEN.encode()).hexdigest()} bench\n"
                                    f"operator {hashlib.sha256(OPERATOR.encode()).hexdigest()} bench-operator\n")
        port, sock = free_port(), tmp / "ue.sock"
        agent = subprocess.Popen([o.binary, "--root", str(root), "--listen", f"127.0.0.1:{port}",
                                  "--tokens", str(tmp / "tokens"), "--state-dir", str(tmp / "state"),
                                  f"--uevent-socket={sock}", "--log-level=warning"])
        try:
            for _ in range(600):
                try:
                    if get(port, "/v1/inventory")[0].status == 200:
                        break
                except OSError:
                    time.sleep(0.1)
            run(o, port, agent.pid, Tree(root, sock))
        finally:
            agent.terminate()
            agent.wait(30)


def run(o, port, pid, tree):
    devices = list(tree.bound)
    r, _ = get(port, "/v1/devices")
    stream = Stream(port)
    stream.next("hello")

    t = time.perf_counter()
    r, body = get(port, "/v1/inventory/rescan", "POST")
    assert r.status == 200, (r.status, body)
    stream.next("inventory-changed")
    rescan_ms = (time.perf_counter() - t) * 1000

    lat = []
    for i in range(5 if o.quick else 21):
        t = time.perf_counter()
        tree.toggle(devices[0])
        when, data = stream.next("inventory-changed")
        lat.append((when - t) * 1000)
    etag = get(port, "/v1/devices")[0].getheader("ETag")
    assert etag == data["etags"]["/v1/devices"], (etag, data)
    med, p95 = statistics.median(lat), sorted(lat)[int(len(lat) * 0.95) - 1]

    burst = devices[1:256]
    snaps = 0
    t = time.perf_counter()
    for a in burst:
        tree.toggle(a)
    while True:
        when, data = stream.next("inventory-changed")
        snaps += 1
        inv = json.loads(get(port, "/v1/inventory")[1])
        if inv["watch"]["events"] >= len(lat) + len(burst):
            body = json.loads(get(port, "/v1/devices")[1])
            unbound = sum(1 for d in body["devices"] if d["address"] in set(burst) and d["driver"] is None)
            if unbound == len(burst):
                break
    burst_ms = (when - t) * 1000

    cpu0, rss0 = proc_stat(pid)
    rss = []
    step = max(1, o.events // 10)
    for i in range(o.events):
        tree.toggle(devices[256 + (i % 8)] if len(devices) > 264 else devices[0])
        if i % 20 == 19:  # paced: about one burst per snapshot
            stream.next("inventory-changed")
        if (i + 1) % step == 0:
            rss.append(proc_stat(pid)[1])
    cpu1, _ = proc_stat(pid)

    print(f"reference: POST /v1/inventory/rescan of {len(devices)}+ functions -> inventory-changed: {rescan_ms:.0f} ms")
    print(f"uevent -> new ETag, one device: median {med:.1f} ms, p95 {p95:.1f} ms "
          f"(ratio to a full rescan: {med / rescan_ms:.3f})")
    print(f"burst of {len(burst)} unbinds -> all in the inventory: {burst_ms:.0f} ms, {snaps} snapshot(s)")
    print(f"CPU per event: {(cpu1 - cpu0) / o.events * 1e6:.0f} µs over {o.events} events")
    print("RSS (MiB) after each tenth: " + " ".join(f"{x:.1f}" for x in rss))
    print(f"RSS growth from the first tenth to the end: {rss[-1] - rss[0]:+.1f} MiB")


if __name__ == "__main__":
    main()

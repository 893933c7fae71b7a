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
  4. VmRSS after every 1/10 of that run (it must stay flat);
  5. a burst of 255 VF adds: one NIC of the tree is a PF with SR-IOV off;
     the tree is swapped for the one with 255 VFs enabled (as
     `echo 255 > sriov_numvfs` leaves sysfs), the PF's change and the 255
     VFs' add uevents are sent back to back, and the time to the snapshot
     that holds all of them is taken, with the number of snapshots.
The reference, in the same run: a full POST /v1/inventory/rescan of the tree.

    python3 tests/bench/bench-events.py --binary build/hostdevd [--events 10000] [--quick]
"""
import argparse
import collections
import copy
import hashlib
import http.client
import json
import os
import shutil
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
import topologies  # noqa: E402

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
    topo, pf = sriov_large()
    if o.quick:
        o.events = min(o.events, 500)
    with tempfile.TemporaryDirectory(prefix="hostdevd-bench-events-", dir=mksysfs.scratch_dir()) as tmp:
        tmp = Path(tmp)
        root = tmp / "root"
        t0 = time.perf_counter()
        mksysfs.generate(topo, root)
        print(f"tree: large (with {pf['address']} a PF, SR-IOV off) generated in {time.perf_counter() - t0:.1f} s")
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
            vf_burst(port, root, sock, topo, pf, tmp / "scratch")
        finally:
            agent.terminate()
            agent.wait(30)


def sriov_large():
    """The 'large' topology with the first NIC function 0 of a bus made a PF
    of 255 VFs (routing IDs 1 to 255 of that bus), SR-IOV off: the other
    functions of its card, alone on the bus, make room for them."""
    topo = copy.deepcopy(topologies.builtin("large"))
    bus = lambda a: a.rsplit(":", 1)[0]  # noqa: E731
    per_bus = collections.defaultdict(list)
    for d in topo["devices"]:
        per_bus[bus(d["address"])].append(d)
    pf = next(d for d in topo["devices"]
              if d["address"].endswith(":00.0") and d["class"].startswith("02") and d.get("driver")
              and all(o["address"].startswith(d["address"][:-1]) for o in per_bus[bus(d["address"])]))
    topo["devices"] = [d for d in topo["devices"] if d is pf or bus(d["address"]) != bus(pf["address"])]
    pf["sriov"] = {"total_vfs": 255, "num_vfs": 0, "vf_device": pf["device"], "offset": 1, "stride": 1}
    return topo, pf


def send(sock, action, devpath):
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.sendto(f"{action}@{devpath}\0ACTION={action}\0DEVPATH={devpath}\0SUBSYSTEM=pci\0".encode(), str(sock))


def vf_burst(port, root, sock, topo, pf, scratch):
    topo = copy.deepcopy(topo)
    next(d for d in topo["devices"] if d["address"] == pf["address"])["sriov"]["num_vfs"] = 255
    meta = mksysfs.generate(topo, scratch)
    vfs = [d["address"] for d in meta["devices"] if d.get("physfn") == pf["address"]]
    assert len(vfs) == 255, len(vfs)
    stream = Stream(port)
    stream.next("hello")
    for area in ("sys", "proc", "meta"):  # what the kernel leaves once the VFs exist
        shutil.rmtree(root / area)
        os.rename(scratch / area, root / area)
    sysroot = os.path.realpath(root / "sys")
    devpath = lambda a: os.path.realpath(root / "sys/bus/pci/devices" / a)[len(sysroot):]  # noqa: E731
    paths = [devpath(a) for a in vfs]
    snaps = 0
    t = time.perf_counter()
    send(sock, "change", devpath(pf["address"]))
    for p in paths:
        send(sock, "add", p)
    while True:
        when, data = stream.next("inventory-changed")
        snaps += 1
        body = json.loads(get(port, f"/v1/devices?fields=address,physfn")[1])
        if sum(1 for d in body["devices"] if d["physfn"] == pf["address"]) == len(vfs):
            break
    print(f"burst of {len(vfs)} VF adds (with the PF's change) -> all in the inventory: "
          f"{(when - t) * 1000:.0f} ms, {snaps} snapshot(s)")


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

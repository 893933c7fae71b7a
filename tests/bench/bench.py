#!/usr/bin/env python3
"""hostdevd benchmark: prints figures, never fails on speed.

1. Cold scan of a 4,096-function sysfs tree: `hostdevd --once` (scan, names,
   host usage, groups, verdicts, JSON) against `lspci -vmm -nn -D -k` on the
   same tree, median of several runs each, as a ratio.
2. Requests per second of GET /v1/devices on that tree: the cached list
   against a filtered list rendered on every request (the reference run in the
   same script), with keep-alive clients on loopback; compared in bytes/s.
3. Peak memory (max RSS) of the scan against lspci's.

Usage: bench.py [--binary PATH] [--runs N] [--seconds S]
"""
import argparse
import http.client
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRCDIR = HERE.parent.parent
sys.path.insert(0, str(SRCDIR / "tests" / "fixtures"))


def timed(cmd, runs):
    """Median wall time of runs executions."""
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t)
        if p.returncode != 0:
            sys.exit(f"{cmd[0]} failed with {p.returncode}")
    return statistics.median(times)


def child_maxrss(cmd):
    """Max RSS of one run, in KiB (GNU time is not assumed)."""
    pid = os.fork()
    if pid == 0:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        os.execvp(cmd[0], cmd)
    _, status, usage = os.wait4(pid, 0)
    return usage.ru_maxrss


# Every request is authenticated: a reader token, its hash in a tokens file.
TOKEN = "bench-reader-token"
AUTH = {"Authorization": "Bearer " + TOKEN}


def write_tokens(path):
    import hashlib
    Path(path).write_text(f"reader {hashlib.sha256(TOKEN.encode()).hexdigest()} bench\n")
    return path


def load(port, path, seconds, clients):
    count = [0] * clients
    stop = time.monotonic() + seconds

    def worker(i):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.monotonic() < stop:
            c.request("GET", path, headers=AUTH)
            r = c.getresponse()
            r.read()
            if r.status != 200:
                raise SystemExit(f"{path}: {r.status}")
            count[i] += 1
        c.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(count) / seconds


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=os.environ.get("HOSTDEVD", str(SRCDIR / "build" / "hostdevd")))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--clients", type=int, default=2)
    args = ap.parse_args()

    import mksysfs
    shm = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None  # 175,000 small files
    tmp = Path(tempfile.mkdtemp(prefix="hostdevd-bench-", dir=shm))
    try:
        root = tmp / "large"
        t = time.perf_counter()
        mksysfs.generate("large", root)
        print(f"tree: 'large' generated in {time.perf_counter() - t:.2f} s under {root}")

        lspci = [shutil.which("lspci") or "lspci", "-A", "linux-sysfs", "-O",
                 f"sysfs.path={root}/sys/bus/pci", "-vmm", "-nn", "-D", "-k"]
        agent = [str(args.binary), "--root", str(root), "--once", "--log-level", "err"]
        n_lspci = subprocess.run(lspci, capture_output=True, text=True).stdout.count("\nSlot:") + 1
        n_agent = subprocess.run(agent, capture_output=True, text=True).stdout.count('"address"')
        print(f"functions: lspci sees {n_lspci}, hostdevd sees {n_agent}")

        subprocess.run(lspci, stdout=subprocess.DEVNULL)  # warm the page cache for both
        t_lspci = timed(lspci, args.runs)
        t_agent = timed(agent, args.runs)
        print(f"cold scan: hostdevd --once {t_agent * 1000:.1f} ms, lspci -vmm -nn -D -k {t_lspci * 1000:.1f} ms "
              f"(median of {args.runs}); ratio hostdevd/lspci = {t_agent / t_lspci:.2f}")
        m_agent, m_lspci = child_maxrss(agent), child_maxrss(lspci)
        print(f"peak memory: hostdevd {m_agent / 1024:.1f} MiB, lspci {m_lspci / 1024:.1f} MiB; "
              f"ratio = {m_agent / m_lspci:.2f}")

        import socket
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        tokens = write_tokens(Path(root).parent / "bench-tokens")
        proc = subprocess.Popen([str(args.binary), "--root", str(root), "--listen", f"127.0.0.1:{port}",
                                 "--log-level", "err", "--tokens", str(tokens)])
        try:
            for _ in range(200):
                try:
                    http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("GET", "/v1/host")
                    break
                except OSError:
                    time.sleep(0.05)
            def body_size(path):
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                c.request("GET", path, headers=AUTH)
                return len(c.getresponse().read())

            filtered = "/v1/devices?assignable=true"
            cached = load(port, "/v1/devices", args.seconds, args.clients)
            rendered = load(port, filtered, args.seconds, args.clients)
            full, part = body_size("/v1/devices"), body_size(filtered)
            print(f"GET /v1/devices ({n_agent} devices, {full / 1e6:.2f} MB): cached {cached:.1f} req/s; "
                  f"{filtered} ({part / 1e6:.2f} MB) rendered per request {rendered:.1f} req/s; "
                  f"throughput ratio cached/rendered = {(cached * full) / (rendered * part):.1f} "
                  f"({args.clients} keep-alive clients, {args.seconds:.0f} s each)")
        finally:
            proc.terminate()
            proc.wait(10)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

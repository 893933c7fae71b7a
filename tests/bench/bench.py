#!/usr/bin/env python3
"""hostdevd benchmark: prints figures side by side with their references,
never fails on speed. On one generated 4,096-function sysfs tree:

1. Cold scan, start to answer: `hostdevd --once` (scan, names, host usage,
   groups, verdicts, the JSON of GET /v1/devices) against
   `lspci -vmm -nn -D -k` on the same tree, median of several runs, as a ratio.
2. Memory: the peak (max RSS) of that scan against lspci's; the daemon's
   steady RSS after it has served every representation of every list, and
   its peak (VmHWM).
3. Serving GET /v1/devices with `wrk -t1 -c16` on loopback, the agent on one
   core and wrk on the other: identity, gzip and zstd, each against nginx
   serving the same bytes from a file (sendfile, the same Content-Encoding,
   the same bearer-token check) on the same core; then 304 answers.
4. Bytes on the wire per poll: identity, gzip, zstd, 304, and a sparse
   ?fields= poll.

It installs what it needs that the suite does not (nginx-light, wrk, GNU
time) with apt-get when they are missing.

Usage: bench.py [--binary PATH] [--runs N] [--seconds S] [--rounds R] [--quick]
"""
import argparse
import gzip
import hashlib
import http.client
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRCDIR = HERE.parent.parent
sys.path.insert(0, str(SRCDIR / "tests" / "fixtures"))

# Every request is authenticated: a reader token, its hash in a tokens file.
TOKEN = "bench-reader-token"
AUTH = {"Authorization": "Bearer " + TOKEN}
FIELDS = "address,driver,iommu_group,assignable"


def ensure_tools():
    missing = [p for p, exe in (("nginx-light", "nginx"), ("wrk", "wrk"), ("time", "/usr/bin/time"), ("zstd", "zstd"))
               if not shutil.which(exe)]
    if not missing:
        return
    print(f"installing {' '.join(missing)} (apt-get)", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    # Debian's policy-rc.d: the package's own nginx service is not started
    # (it would take port 80); the bench runs its own nginx.
    policy = Path("/usr/sbin/policy-rc.d")
    ours = not policy.exists()
    if ours:
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
    try:
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, stdout=subprocess.DEVNULL)
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], check=True, env=env,
                       stdout=subprocess.DEVNULL)
    finally:
        if ours:
            policy.unlink()


def timed(cmds, runs):
    """Median wall time of runs executions of each command, alternated so
    that a slow spell of the machine falls on both."""
    times = [[] for _ in cmds]
    for _ in range(runs):
        for i, cmd in enumerate(cmds):
            t = time.perf_counter()
            p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            times[i].append(time.perf_counter() - t)
            if p.returncode != 0:
                sys.exit(f"{cmd[0]} failed with {p.returncode}")
    return [statistics.median(t) for t in times]


def child_maxrss(cmd):
    """Max RSS of one run, in KiB, through GNU time. Not os.fork() and
    exec here: the kernel carries the forked copy's high-water mark (this
    Python process, tens of MiB after generating the tree) into the child's
    ru_maxrss across exec, and both figures would read as Python's."""
    done = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    return int(done.stderr.strip().splitlines()[-1])


def proc_status(pid, key):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])  # KiB
    return 0


def cpu_ticks(pid):
    """utime + stime of a process, in clock ticks."""
    f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port):
    for _ in range(400):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"nothing listens on {port}")


def get(port, path, headers):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request("GET", path, headers=headers)
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, dict((k.lower(), v) for k, v in r.getheaders()), body


def wire_size(port, path, headers):
    """Bytes of the whole reply as it crosses the socket: status line, headers, body."""
    req = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
    req += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    n = 0
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(req.encode())
        while True:
            b = s.recv(1 << 16)
            if not b:
                return n
            n += len(b)


def wrk(port, path, headers, seconds, cpu):
    cmd = ["taskset", "-c", str(cpu), "wrk", "-t1", "-c16", f"-d{seconds}s", "--latency"]
    for k, v in headers.items():
        cmd += ["-H", f"{k}: {v}"]
    out = subprocess.run(cmd + [f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if bad:
        sys.exit(f"wrk {path}: {bad.group(1)} error replies\n{out}")
    return rps


NGINX_CONF = """
user root;
worker_processes 1;
worker_cpu_affinity {mask};
daemon off;
master_process on;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;
events {{ worker_connections 1024; use epoll; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
    etag on;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {dir}/www;
        default_type application/json;
        if ($http_authorization != "Bearer {token}") {{ return 401; }}
        location = /identity {{ }}
        location = /gzip {{ add_header Content-Encoding gzip; add_header Vary Accept-Encoding; }}
        location = /zstd {{ add_header Content-Encoding zstd; add_header Vary Accept-Encoding; }}
    }}
}}
"""


def start_nginx(tmp, bodies, cpu):
    d = tmp / "nginx"
    (d / "www").mkdir(parents=True)
    for name, data in bodies.items():
        (d / "www" / name).write_bytes(data)
    port = free_port()
    conf = d / "nginx.conf"
    conf.write_text(NGINX_CONF.format(dir=d, port=port, token=TOKEN, mask="1" + "0" * cpu))
    p = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(d)], stderr=subprocess.DEVNULL)
    wait_port(port)
    return p, port


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=os.environ.get("HOSTDEVD", str(SRCDIR / "build" / "hostdevd")))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3, help="alternated wrk runs per figure")
    ap.add_argument("--quick", action="store_true", help="1 run, 1 s per load (for CI: figures, no claims)")
    args = ap.parse_args()
    if args.quick:
        args.runs, args.seconds, args.rounds = 1, 1, 1
    ensure_tools()
    ncpu = len(os.sched_getaffinity(0))
    agent_cpu, client_cpu = (0, 1) if ncpu > 1 else (0, 0)

    import mksysfs
    tmp = Path(tempfile.mkdtemp(prefix="hostdevd-bench-", dir=mksysfs.scratch_dir()))
    procs = []
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
        t_agent, t_lspci = timed([agent, lspci], args.runs)
        print(f"cold scan: hostdevd --once {t_agent * 1000:.1f} ms, lspci -vmm -nn -D -k {t_lspci * 1000:.1f} ms "
              f"(median of {args.runs}); ratio hostdevd/lspci = {t_agent / t_lspci:.2f}")
        m_agent, m_lspci = child_maxrss(agent), child_maxrss(lspci)
        print(f"peak memory of the scan: hostdevd --once {m_agent / 1024:.1f} MiB, lspci {m_lspci / 1024:.1f} MiB; "
              f"ratio = {m_agent / m_lspci:.2f}")

        port = free_port()
        tokens = tmp / "bench-tokens"
        tokens.write_text(f"reader {hashlib.sha256(TOKEN.encode()).hexdigest()} bench\n")
        proc = subprocess.Popen(["taskset", "-c", str(agent_cpu), str(args.binary), "--root", str(root),
                                 "--listen", f"127.0.0.1:{port}", "--log-level", "err", "--tokens", str(tokens)])
        procs.append(proc)
        wait_port(port)

        # Every representation once, so that all are made and counted in the steady RSS.
        bodies, etags = {}, {}
        for enc in ("identity", "gzip", "zstd"):
            st, h, body = get(port, "/v1/devices", dict(AUTH, **{"Accept-Encoding": enc}))
            assert st == 200 and h.get("content-encoding", "identity") == enc, (enc, st, h)
            bodies[enc], etags[enc] = body, h["etag"]
        assert gzip.decompress(bodies["gzip"]) == bodies["identity"]
        for path in ("/v1/iommu-groups", f"/v1/devices?fields={FIELDS}"):
            for enc in ("identity", "gzip", "zstd"):
                get(port, path, dict(AUTH, **{"Accept-Encoding": enc}))
        time.sleep(0.5)
        steady, hwm = proc_status(proc.pid, "VmRSS"), proc_status(proc.pid, "VmHWM")
        print(f"daemon memory, every list cached in every coding: steady RSS {steady / 1024:.1f} MiB, "
              f"peak {hwm / 1024:.1f} MiB (lspci's peak {m_lspci / 1024:.1f} MiB: ratio {hwm / m_lspci:.2f})")

        sizes = {enc: len(b) for enc, b in bodies.items()}
        wire = {enc: wire_size(port, "/v1/devices", dict(AUTH, **{"Accept-Encoding": enc}))
                for enc in ("identity", "gzip", "zstd")}
        wire["304"] = wire_size(port, "/v1/devices", dict(AUTH, **{"If-None-Match": etags["zstd"],
                                                                    "Accept-Encoding": "zstd"}))
        for enc in ("identity", "gzip", "zstd"):
            wire[f"fields {enc}"] = wire_size(port, f"/v1/devices?fields={FIELDS}",
                                              dict(AUTH, **{"Accept-Encoding": enc}))
        print(f"bytes per poll of GET /v1/devices (whole reply): identity {wire['identity']}, "
              f"gzip {wire['gzip']} ({wire['identity'] / wire['gzip']:.0f}x less), "
              f"zstd {wire['zstd']} ({wire['identity'] / wire['zstd']:.0f}x less), 304 {wire['304']}; "
              f"?fields={FIELDS}: identity {wire['fields identity']}, gzip {wire['fields gzip']}, "
              f"zstd {wire['fields zstd']}")

        nginx, nport = start_nginx(tmp, bodies, agent_cpu)
        procs.append(nginx)
        print(f"serving GET /v1/devices, wrk -t1 -c16 -d{args.seconds}s on cpu {client_cpu}, server on cpu "
              f"{agent_cpu}, bearer token on every request, medians of {args.rounds} alternated rounds:")
        nginx_pids = [nginx.pid] + [int(x) for x in subprocess.run(
            ["pgrep", "-P", str(nginx.pid)], capture_output=True, text=True).stdout.split()]

        def loaded(server_port, pids, path, headers):
            """(requests/s, server CPU µs per request) of one wrk run."""
            before = sum(cpu_ticks(p) for p in pids)
            rps = wrk(server_port, path, headers, args.seconds, client_cpu)
            ticks = sum(cpu_ticks(p) for p in pids) - before
            return rps, ticks / os.sysconf("SC_CLK_TCK") * 1e6 / (rps * args.seconds)

        def versus(agent_load, nginx_load):
            """Medians of alternated runs, so a slow spell falls on both."""
            a, n = [], []
            for _ in range(args.rounds):
                a.append(loaded(port, [proc.pid], *agent_load))
                n.append(loaded(nport, nginx_pids, *nginx_load))
            med = lambda runs, i: statistics.median(r[i] for r in runs)  # noqa: E731
            return med(a, 0), med(n, 0), med(a, 1), med(n, 1)

        def show(label, a, n, ca, cn, extra=""):
            print(f"  {label}: hostdevd {a:7.0f} req/s, nginx {n:7.0f} req/s, ratio {a / n:.2f}; server CPU per "
                  f"request {ca:5.1f} µs vs {cn:5.1f} µs, ratio {cn / ca:.2f}{extra}")

        for enc in ("identity", "gzip", "zstd"):
            show(f"{enc:8} ({sizes[enc]:>8} bytes)",
                 *versus(("/v1/devices", dict(AUTH, **{"Accept-Encoding": enc})), (f"/{enc}", AUTH)))
        nginx_etag = get(nport, "/identity", AUTH)[1]["etag"]
        show("304      (If-None-Match)  ",
             *versus(("/v1/devices", dict(AUTH, **{"If-None-Match": etags["identity"]})),
                     ("/identity", dict(AUTH, **{"If-None-Match": nginx_etag}))), " (goal >= 50000 req/s)")
        print("  (a server CPU ratio above 1: nginx spends more per request; where neither server uses a whole core,"
              " the client is the limit and req/s are equal within noise)")
        a = wrk(port, f"/v1/devices?fields={FIELDS}", dict(AUTH, **{"Accept-Encoding": "zstd"}), args.seconds,
                client_cpu)
        print(f"  ?fields={FIELDS}, zstd: hostdevd {a:.0f} req/s")
        print(f"daemon after the load: RSS {proc_status(proc.pid, 'VmRSS') / 1024:.1f} MiB, "
              f"peak {proc_status(proc.pid, 'VmHWM') / 1024:.1f} MiB")
    finally:
        for p in procs:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

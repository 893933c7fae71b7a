"""The agent under load and hostile clients: hundreds of idle connections
from one address, thousands of concurrent requests from several, slow
readers of the largest body, clients that hang up mid-reply, send their
requests a byte at a time, or vanish under an event stream. Each test
proves that other clients are served meanwhile, that nothing hangs, and
that the agent's file descriptors come back to where they were.

Loopback is 127.0.0.0/8: 127.0.0.1 plays the greedy client and 127.0.0.2
(and up) the others, each its own address for the per-IP limit. Bounds are
generous (seconds where milliseconds are usual): a slow or sanitized build
passes, a server that stops serving does not."""
import asyncio
import http.client
import json
import os
import select
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

import mksysfs
from conftest import SPEC, token_for

READER = token_for("reader")
PROMPT = 5.0  # seconds: an answer slower than this, on loopback, is a stalled loop


def fd_count(agent):
    return len(os.listdir(f"/proc/{agent.proc.pid}/fd"))


def wait_fds(agent, baseline, timeout=30):
    """Waits until the agent holds no more descriptors than baseline; returns the count."""
    deadline = time.monotonic() + timeout
    while (n := fd_count(agent)) > baseline and time.monotonic() < deadline:
        time.sleep(0.2)
    return n


def config(tmp_path, **keys):
    conf = tmp_path / "load.conf"
    conf.write_text("".join(f"{k} = {v}\n" for k, v in keys.items()))
    return conf


def request_bytes(path="/v1/host", token=READER, extra=""):
    return (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n{extra}\r\n").encode()


def connect(agent, source="127.0.0.1", rcvbuf=None):
    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.bind((source, 0))
    s.connect(("127.0.0.1", agent.port))
    return s


def closed_by_peer(s):
    """Whether the server closed s (EOF or reset) without sending anything."""
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True
    except (BlockingIOError, socket.timeout):
        return False


def readable(socks, timeout=0):
    p = select.poll()
    for s in socks:
        p.register(s, select.POLLIN | select.POLLHUP | select.POLLERR)
    ready = {fd for fd, _ in p.poll(timeout * 1000)}
    return [s for s in socks if s.fileno() in ready]


def server_ends(agent):
    """The client ports of the connections whose end the agent still has
    open (not yet closed by it: ESTABLISHED or CLOSE_WAIT in /proc/net/tcp).
    What it sent before closing still reaches the client from the kernel's
    buffers, so the client alone cannot tell. One read of the table for
    all: read once per socket, on a busy machine, it took longer than the
    idle timeouts the tests measure."""
    local = f":{agent.port:04X}"
    ports = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        f = line.split()
        if f[1].endswith(local) and f[3] in ("01", "08"):
            ports.add(int(f[2].rsplit(":", 1)[1], 16))
    return ports


def server_holds(agent, client, ends=None):
    """Whether the agent still has its end of client's connection open
    (ends: a server_ends() taken just before, for many clients at once)."""
    return client.getsockname()[1] in (ends if ends is not None else server_ends(agent))


class Prober(threading.Thread):
    """Another client (its own address): GET /v1/host every interval on a
    fresh connection, each answer checked, timed, and kept."""

    def __init__(self, agent, source="127.0.0.2", interval=0.2, path="/v1/host"):
        super().__init__(daemon=True)
        self.agent, self.source, self.interval, self.path = agent, source, interval, path
        self.latencies, self.failures = [], []
        self.stop_flag = threading.Event()
        self.start()

    def run(self):
        while not self.stop_flag.is_set():
            t = time.monotonic()
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.agent.port, timeout=30,
                                               source_address=(self.source, 0))
                c.request("GET", self.path, headers={"Authorization": f"Bearer {READER}"})
                r = c.getresponse()
                body = r.read()
                c.close()
                if r.status != 200:
                    self.failures.append((r.status, body[:200]))
                else:
                    json.loads(body)
            except (OSError, http.client.HTTPException, ValueError) as e:
                self.failures.append(repr(e))
            self.latencies.append(time.monotonic() - t)
            self.stop_flag.wait(self.interval)

    def finish(self):
        self.stop_flag.set()
        self.join(60)
        assert not self.is_alive(), "the other client's request hung"
        assert self.latencies, "the other client made no request"
        assert not self.failures, f"the other client was not served: {self.failures[:5]}"
        worst = max(self.latencies)
        assert worst < PROMPT, f"the other client waited {worst:.2f} s for an answer"
        return len(self.latencies), worst


def test_idle_connections_of_one_address_leave_others_served(root, tmp_path, start_agent):
    """500 idle connections from 127.0.0.1: per_ip_connection_limit (64)
    are kept, the rest closed at once; the kept ones are closed after
    connection_timeout; 127.0.0.2 is answered promptly throughout."""
    agent = start_agent(root, "--config", str(config(tmp_path, per_ip_connection_limit=64, connection_timeout=3)))
    time.sleep(0.5)  # the readiness probe's connection is gone
    baseline = fd_count(agent)
    probe = Prober(agent)
    socks = []
    for _ in range(500):
        socks.append(connect(agent))
    t_open = time.monotonic()
    refused = readable(socks)
    while len(refused) < 500 - 64 and time.monotonic() - t_open < 10:
        time.sleep(0.2)
        refused = readable(socks)
    time.sleep(0.5)  # and no more than those
    refused = readable(socks)
    assert all(closed_by_peer(s) for s in refused), "an idle connection got bytes"
    kept = [s for s in socks if s not in refused]
    assert len(kept) == 64, f"{len(kept)} of 500 idle connections from one address kept, the limit is 64"
    # While the address holds its 64, it gets no 65th; others still do.
    extra = connect(agent)
    assert readable([extra], timeout=5) and closed_by_peer(extra), "a 65th connection from 127.0.0.1 was kept"
    extra.close()
    # The idle ones go after connection_timeout (3 s), well before 3 + 15.
    left = list(kept)
    while left and time.monotonic() - t_open < 18:
        left = [s for s in left if s not in readable(left, timeout=1)]
    assert not left, f"{len(left)} idle connections still open {time.monotonic() - t_open:.0f} s after opening"
    assert all(closed_by_peer(s) for s in kept)
    for s in socks:
        s.close()
    n, worst = probe.finish()
    print(f"idle: 500 opened, {len(refused)} refused, 64 kept then closed idle; other client {n} answers, "
          f"worst {worst * 1000:.0f} ms")
    assert wait_fds(agent, baseline) <= baseline, f"{fd_count(agent)} fds open, {baseline} before"
    assert agent.get("/v1/host").status == 200


def run_concurrent(agent, jobs, sources, timeout=120):
    """jobs: (path, how) pairs, all started at once over asyncio, job i from
    sources[i % len]; how is 'read' (the whole answer) or 'abort' (reset
    after the first bytes). Returns per-job outcomes: (status, headers, body),
    'refused', 'closed' (before any answer), 'aborted' or 'hung'."""

    async def one(i, path, how):
        src = sources[i % len(sources)]
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", agent.port, local_addr=(src, 0)), timeout)
        except (ConnectionRefusedError, ConnectionResetError):
            return "refused"
        except asyncio.TimeoutError:
            return "hung"
        try:
            writer.write(request_bytes(path, extra="Connection: close\r\n"))
            await writer.drain()
            if how == "abort":
                await asyncio.wait_for(reader.read(100), timeout)
                writer.transport.get_extra_info("socket").setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                writer.transport.abort()
                return "aborted"
            raw = await asyncio.wait_for(reader.read(), timeout)
        except (ConnectionResetError, BrokenPipeError):
            return "closed"
        except asyncio.TimeoutError:
            return "hung"
        finally:
            writer.close()
        if not raw:
            return "closed"
        head, _, body = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
        return int(lines[0].split()[1]), headers, body

    async def main():
        return await asyncio.gather(*(one(i, p, h) for i, (p, h) in enumerate(jobs)))

    return asyncio.run(main())


def test_two_thousand_concurrent_requests(root, start_agent):
    """2,000 requests at once from eight addresses (a tenth of them reset
    after the first bytes of the answer): each is answered correctly or
    refused cleanly, none hangs, and afterwards the agent serves as before
    with the descriptors it had."""
    agent = start_agent(root)
    time.sleep(0.5)
    paths = ["/v1/host", "/v1/devices", "/v1/iommu-groups", "/v1/capabilities", "/v1/inventory"]
    expected = {p: agent.get(p, role="reader").body for p in paths}
    baseline = fd_count(agent)
    jobs = [(paths[i % len(paths)], "abort" if i % 10 == 9 else "read") for i in range(2000)]
    t = time.monotonic()
    outcomes = run_concurrent(agent, jobs, [f"127.0.0.{n}" for n in range(1, 9)])
    took = time.monotonic() - t
    tally = {}
    for (path, how), out in zip(jobs, outcomes):
        kind = out if isinstance(out, str) else out[0]
        tally[kind] = tally.get(kind, 0) + 1
        assert out != "hung", f"a request for {path} hung"
        if isinstance(out, str):
            assert out in ("refused", "closed", "aborted"), out
            continue
        status, headers, body = out
        if status == 503:
            assert headers["content-type"] == "application/problem+json", headers
            assert json.loads(body)["status"] == 503
            continue
        assert status == 200, (path, status, body[:300])
        SPEC.validate_response("GET", path, status, headers, body)
        assert body == expected[path], f"{path} answered another body under load"
    print(f"concurrent: 2000 requests in {took:.1f} s: {tally}")
    assert tally.get(200, 0) >= 1000, f"fewer than half the requests were served: {tally}"
    assert agent.proc.poll() is None, "the agent died under load"
    assert wait_fds(agent, baseline) <= baseline, f"{fd_count(agent)} fds open, {baseline} before the load"
    for p in paths:
        r = agent.get(p, role="reader")
        assert r.status == 200 and r.body == expected[p]


@pytest.fixture(scope="module")
def large_root():
    """The 4,096-function tree (GET /v1/devices: ~2.8 MB), on tmpfs when there is one."""
    shm = Path("/dev/shm")
    parent = Path(tempfile.mkdtemp(prefix="hostdevd-load-", dir=shm if os.access(shm, os.W_OK) else None))
    mksysfs.generate("large", parent / "large")
    yield parent / "large"
    shutil.rmtree(parent, ignore_errors=True)


def test_slow_readers_of_the_largest_body(large_root, tmp_path, start_agent):
    """Connections that ask for the 2.8 MB device list eight times over
    (pipelined, identity encoding) with a 4 KiB receive buffer, two reading
    nothing and two reading 4 KiB a second, hold neither the loop nor their
    connection: other clients get the same list meanwhile, and each slow
    connection ends, by the idle timeout, long before it has read its
    answers. No descriptor is left behind."""
    agent = start_agent(large_root, "--config", str(config(tmp_path, connection_timeout=3)))
    time.sleep(0.5)
    whole = agent.get("/v1/devices", role="reader", headers=["Accept-Encoding: identity"]).body
    assert len(whole) > 2_000_000
    baseline = fd_count(agent)
    req = request_bytes("/v1/devices", extra="Accept-Encoding: identity\r\n") * 8
    slow = [(connect(agent, rcvbuf=4096), rate) for rate in (0, 0, 4096, 4096)]
    for s, _ in slow:
        s.sendall(req)
        s.setblocking(False)
    probe = Prober(agent, interval=0.2)
    lists = Prober(agent, source="127.0.0.3", interval=1.0, path="/v1/devices")
    got = [0] * len(slow)
    cut = [None] * len(slow)
    t = time.monotonic()
    while None in cut and time.monotonic() - t < 90:
        time.sleep(1)
        for i, (s, rate) in enumerate(slow):
            try:
                got[i] += len(s.recv(rate)) if rate else 0
            except (BlockingIOError, ConnectionResetError):
                pass
            if cut[i] is None and not server_holds(agent, s):
                cut[i] = time.monotonic() - t
    n, worst = probe.finish()
    n_lists, worst_list = lists.finish()
    print(f"slow readers: read {got} bytes of {8 * len(whole)} each; the agent let go of them after "
          f"{[round(c or -1) for c in cut]} s; other client {n} answers (worst {worst * 1000:.0f} ms), "
          f"{n_lists} whole lists (worst {worst_list * 1000:.0f} ms)")
    assert None not in cut, f"the agent still holds slow readers after 90 s: {cut}"
    for g in got:
        assert g < 2 * len(whole), f"a slow reader read {g} bytes before it was cut off"
    for s, _ in slow:
        s.close()
    assert wait_fds(agent, baseline) <= baseline, f"{fd_count(agent)} fds open, {baseline} before"


def test_slow_request_senders_are_cut_off(root, tmp_path, start_agent):
    """Clients that are never idle yet never finish a request: 100 from one
    address sending their headers a byte every 0.5 s (slowloris), 8 from
    another sending a body that way. libmicrohttpd's idle timeout
    (connection_timeout) never fires on them; request_timeout does, for
    each, while 127.0.0.2 is answered throughout, and a kept-alive client
    that asks every second for longer than request_timeout is not cut."""
    agent = start_agent(root, "--config", str(config(tmp_path, connection_timeout=2, request_timeout=4)))
    time.sleep(0.5)
    baseline = fd_count(agent)
    probe = Prober(agent)
    head = request_bytes("/v1/host")
    upload = (b"POST /v1/inventory/rescan HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
              + token_for("operator").encode() + b"\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n")
    body = b"{" + b" " * 198 + b"}"
    senders = [(connect(agent), head) for _ in range(100)]
    uploaders = [connect(agent, "127.0.0.4") for _ in range(8)]
    for s in uploaders:
        s.sendall(upload)
    senders += [(s, body) for s in uploaders]
    t_open = time.monotonic()
    held = []
    while len(held) < 64 + 8 and time.monotonic() - t_open < 3:
        time.sleep(0.2)
        ends = server_ends(agent)
        held = [s for s, _ in senders if server_holds(agent, s, ends)]
    assert len(held) == 64 + 8, f"{len(held)} slow senders held, expected 64 (the per-IP limit) + 8"
    keep = http.client.HTTPConnection("127.0.0.1", agent.port, timeout=30, source_address=("127.0.0.5", 0))
    kept_answers = 0
    kept_since = time.monotonic()
    cut = {}
    sent = 0
    while (len(cut) < len(held) or time.monotonic() - t_open < 10) and time.monotonic() - t_open < 30:
        for s, data in senders:
            if s in cut or sent >= len(data):
                continue
            try:
                s.send(data[sent:sent + 1])
            except OSError:
                pass
        sent += 1
        ends = server_ends(agent)
        for s in held:
            if s not in cut and not server_holds(agent, s, ends):
                cut[s] = time.monotonic() - t_open
        keep.request("GET", "/v1/host", headers={"Authorization": f"Bearer {READER}"})
        r = keep.getresponse()
        r.read()
        assert r.status == 200, r.status
        kept_answers += 1
        kept_for = time.monotonic() - kept_since
        time.sleep(0.5)
    keep.close()
    n, worst = probe.finish()
    times = sorted(cut.values())
    print(f"slow senders: {len(held)} held, {len(cut)} cut after {times[0] if times else -1:.1f} to "
          f"{times[-1] if times else -1:.1f} s; a kept-alive client got {kept_answers} answers on one connection "
          f"over {kept_for:.1f} s; "
          f"other client {n} answers (worst {worst * 1000:.0f} ms)")
    assert len(cut) == len(held), f"{len(held) - len(cut)} slow senders still held after 30 s"
    assert times[-1] < 4 + 10, f"a slow sender was cut only after {times[-1]:.1f} s (request_timeout = 4)"
    assert kept_for > 4 + 2, f"the kept-alive client was served for {kept_for:.1f} s only"
    for s, _ in senders:
        s.close()
    assert wait_fds(agent, baseline) <= baseline, f"{fd_count(agent)} fds open, {baseline} before"
    assert "request_timeout" in agent.log_text()


# Run under `unshare -n` (a network namespace of its own, its loopback up):
# an agent, a healthy event stream from 127.0.0.10 and one from 127.0.0.9
# whose client then vanishes (a blackhole route: nothing reaches it, no RST
# comes back). Prints, as JSON, when the agent let go of the vanished one
# and how many heartbeats the healthy one got meanwhile.
VANISHED_PEER = r"""
import json, socket, subprocess, sys, threading, time
binary, root, tokens, conf, token = sys.argv[1:6]
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
agent = subprocess.Popen([binary, "--root", root, "--listen", f"127.0.0.1:{port}", "--tokens", tokens,
                          "--config", conf, "--log-level", "debug"], stdout=sys.stderr, stderr=sys.stderr)
for _ in range(400):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        break
    except OSError:
        time.sleep(0.05)
def stream(source):
    s = socket.socket()
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    s.sendall(f"GET /v1/events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n"
              f"Authorization: Bearer {token}\r\n\r\n".encode())
    got = b""
    while b"event: hello" not in got:
        got += s.recv(4096)
    return s
def held(client):
    me = f":{client.getsockname()[1]:04X}"
    for line in open("/proc/net/tcp").read().splitlines()[1:]:
        f = line.split()
        if f[1].endswith(f":{port:04X}") and f[2].endswith(me):
            return f[3] in ("01", "08")
    return False
healthy, gone = stream("127.0.0.10"), stream("127.0.0.9")
beats = [0]
def read():
    while (b := healthy.recv(4096)):
        beats[0] += b.count(b": heartbeat")
threading.Thread(target=read, daemon=True).start()
subprocess.run(["ip", "route", "add", "blackhole", "127.0.0.9/32", "table", "local"], check=True)
t = time.monotonic()
while held(gone) and time.monotonic() - t < 60:
    time.sleep(0.2)
cut = time.monotonic() - t if not held(gone) else None
before = beats[0]
time.sleep(2.5)
print(json.dumps({"cut": cut, "beats": before, "beats_after": beats[0] - before, "alive": agent.poll() is None}))
agent.terminate()
agent.wait(30)
"""


def can_unshare_net():
    return shutil.which("unshare") and shutil.which("ip") and subprocess.run(
        ["unshare", "-n", "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(not can_unshare_net(), reason="needs unshare -n and ip (a network namespace of its own)")
def test_event_stream_of_a_vanished_client_ends(root, tmp_path):
    """An event stream has no idle timeout (heartbeats keep it busy), so a
    client that vanished without a reset (its host gone, a NAT entry
    dropped) held its stream until TCP gave up retransmitting, about 15
    minutes; events_max_streams of them shut everyone out. Its heartbeats
    go unacknowledged: after connection_timeout of that the agent ends it,
    while a healthy stream goes on."""
    from conftest import BINARY, write_tokens
    tokens = write_tokens(tmp_path / "tokens")
    conf = config(tmp_path, connection_timeout=3, events_heartbeat_sec=1)
    done = subprocess.run(["unshare", "-n", "/usr/bin/python3", "-c", VANISHED_PEER, str(BINARY), str(root),
                           str(tokens), str(conf), READER], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"vanished stream client: let go of after {out['cut']} s; the healthy stream got {out['beats']} "
          f"heartbeats meanwhile and {out['beats_after']} after")
    assert out["alive"], done.stderr[-3000:]
    assert out["cut"] is not None, "the vanished client's stream was still held after 60 s"
    assert out["cut"] < 3 + 1 + 15, f"the vanished client's stream was let go of only after {out['cut']:.1f} s"
    assert out["beats_after"] >= 1, "the healthy stream stopped"

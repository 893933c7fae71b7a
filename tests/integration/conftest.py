"""Integration test harness: starts the real hostdevd binary against a root
tree and talks to it over HTTP with curl. Every response any test receives is
validated against api/openapi.json (tests/integration/openapi_check.py), so a
field the code adds, drops or mistypes fails the suite wherever it shows up.
"""
import hashlib
import http.client
import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SRCDIR = Path(os.environ.get("HOSTDEVD_SRCDIR", HERE.parent.parent))
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(SRCDIR / "tests" / "fixtures"))

import openapi_check  # noqa: E402

BINARY = Path(os.environ.get("HOSTDEVD", SRCDIR / "build" / "hostdevd"))
SPEC = openapi_check.load_spec(SRCDIR / "api" / "openapi.json")
SNAPSHOTS = SRCDIR / "tests" / "data" / "sysfs"
BUILDDIR = Path(os.environ.get("HOSTDEVD_BUILDDIR", BINARY.parent))
FAULTINJECT = BUILDDIR / "tests" / "mock" / "faultinject.so"


def fault_env(spec):
    """Environment making the agent's matching file operations fail:
    spec is '<op>:<path substring>:<errno name>[:<count>]' (tests/mock/faultinject.c)."""
    asan = os.environ.get("ASAN_OPTIONS", "")
    return {"LD_PRELOAD": str(FAULTINJECT), "HOSTDEVD_FAULT": spec,
            "ASAN_OPTIONS": ":".join(filter(None, [asan, "verify_asan_link_order=0"]))}
CURL = shutil.which("curl") or "curl"
CURL_TIMED_OUT = 28  # curl's exit code when --max-time ran out


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # lower-case names
        self.body = body

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<Response {self.status} {self.body[:200]!r}>"


def parse_curl_output(raw):
    """curl -i output: status line, headers, blank line, body (last response only)."""
    head, _, body = raw.partition(b"\r\n\r\n")
    while head.startswith(b"HTTP/") and body.startswith(b"HTTP/"):  # 100 Continue
        head, _, body = body.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body


def is_stream(method, path):
    """Whether the contract answers method path with an endless text/event-stream."""
    op = SPEC.document["paths"][path].get(method.lower(), {})
    return "text/event-stream" in op.get("responses", {}).get("200", {}).get("content", {})


def token_for(role):
    """The secret token of a role (the agent's tokens file holds its hash)."""
    return hashlib.sha256(f"test-{role}-token".encode()).hexdigest()


def write_tokens(path, roles=("reader", "operator", "admin")):
    """A tokens file: '<role> <sha256(token)> <name>' per role; returns path."""
    lines = ["# made by the test harness"]
    for role in roles:
        lines.append(f"{role} {hashlib.sha256(token_for(role).encode()).hexdigest()} test-{role}")
    Path(path).write_text("\n".join(lines) + "\n")
    return path


class Agent:
    """A running hostdevd on a free loopback port. Requests carry the admin
    token unless a test asks for another role (role=None: no credentials)."""

    def __init__(self, root, extra_args=(), env=None, tokens=True, port=None, tls=None):
        self.root = Path(root)
        self.port = port or free_port()
        # tls: {"cacert": the server's CA, "cert"/"key": the client certificate
        # requests present unless they say otherwise}; the agent's own TLS
        # settings come from its configuration (extra_args).
        self.tls = tls
        self.base = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.log = self.root.parent / f"hostdevd-{self.port}.log"
        args = [str(BINARY), "--root", str(self.root), "--listen", f"127.0.0.1:{self.port}",
                "--log-level", "debug"]
        if tokens and not any(str(a).startswith("--tokens") for a in extra_args):
            self.tokens_file = write_tokens(self.root.parent / f"tokens-{self.port}")
            args += ["--tokens", str(self.tokens_file)]
        args += list(extra_args)
        self.args = args
        self.env = env
        self.logf = None
        self.start()

    def start(self):
        """Starts (or starts again, after stop or kill) on the same port and files."""
        if self.logf:
            self.logf.close()
        self.logf = open(self.log, "ab")
        self.proc = subprocess.Popen(self.args, stdout=self.logf, stderr=subprocess.STDOUT,
                                     env={**os.environ, **(self.env or {})})
        self.wait_ready()

    def wait_ready(self, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"hostdevd exited {self.proc.returncode}: {self.log.read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("hostdevd did not start listening")

    def request(self, path, method="GET", headers=(), data=None, validate=True, raw_path=False,
                role="admin", token=None, content_type="application/json", cert=True, stream=False):
        """cert (TLS agents): True for the agent's default client certificate,
        None for none, or a (certificate, key) pair. stream: the answer may be
        an endless text/event-stream; its first second is the body."""
        limit = "1" if stream else "30"
        args = [CURL, "-s", "-S", "-i", "--max-time", limit, "-X", method]
        if method == "HEAD":
            args = [CURL, "-s", "-S", "-i", "--max-time", limit, "-I"]
        if raw_path:
            args.append("--path-as-is")
        headers = list(headers)
        if token is None and role is not None:
            token = token_for(role)
        if token is not None and not any(h.lower().startswith("authorization:") for h in headers):
            headers.append(f"Authorization: Bearer {token}")
        mutating = method in ("POST", "PUT", "PATCH") or (method == "DELETE" and data)
        if mutating and content_type and not any(h.lower().startswith("content-type:") for h in headers):
            headers.append(f"Content-Type: {content_type}")
        for h in headers:
            args += ["-H", h]
        if data is not None:
            args += ["--data-binary", "@-"]
        if self.tls:
            args += ["--cacert", str(self.tls["cacert"])]
            if cert is True:
                cert = (self.tls["cert"], self.tls["key"])
            if cert:
                args += ["--cert", str(cert[0]), "--key", str(cert[1])]
        args.append(self.base + path)
        done = subprocess.run(args, input=data if isinstance(data, bytes) else (data or "").encode(),
                              capture_output=True)
        if done.returncode != 0 and not (stream and done.returncode == CURL_TIMED_OUT and done.stdout):
            raise subprocess.CalledProcessError(done.returncode, args, done.stdout, done.stderr)
        out = done.stdout
        resp = Response(*parse_curl_output(out))
        if validate:
            SPEC.validate_response(method, path.split("?")[0], resp.status, resp.headers, resp.body)
        return resp

    def get(self, path, **kw):
        return self.request(path, **kw)

    def get_json(self, path):
        r = self.get(path)
        assert r.status == 200, r
        return r.json()

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise
        self.logf.close()
        return self.proc.returncode

    def log_text(self):
        return self.log.read_text(errors="replace")


# Sends requests to the agent as fast as it can until one fails (the agent was
# killed), printing the number of each one that was answered. The bodies are
# used in turn, "{n}" replaced by the request's number.
HAMMER = r"""
import sys, json, urllib.error, urllib.request
base, path, method, token = sys.argv[1:5]
bodies = json.loads(sys.argv[5])
for n in range(100000):
    body = bodies[n % len(bodies)].replace("{n}", str(n)).encode()
    req = urllib.request.Request(base + path, data=body, method=method,
        headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            r.read()
    except urllib.error.HTTPError as e:  # answered, with an error (a 409 while an operation runs)
        e.read()
    except Exception:
        break
    print(n, flush=True)
"""


def hammer(agent, method, path, role, bodies):
    """Starts HAMMER against agent; communicate() gives the answered numbers."""
    return subprocess.Popen([sys.executable, "-c", HAMMER, agent.base, path, method, token_for(role),
                             json.dumps(bodies)], stdout=subprocess.PIPE, text=True)


def wait_operation(agent, op_id, states=("succeeded", "failed"), timeout=60, role="reader"):
    """Polls GET /v1/operations/{id} until the operation is in one of states."""
    deadline = time.monotonic() + timeout
    while True:
        r = agent.request(f"/v1/operations/{op_id}", role=role)
        assert r.status == 200, r
        op = r.json()
        if op["state"] in states:
            return op
        if time.monotonic() > deadline:
            raise AssertionError(f"operation {op_id} stayed {op['state']}: {op}")
        time.sleep(0.05)


class Finished:
    """An operation's outcome seen as the synchronous reply it replaced:
    status 200 and the result, or the problem's status and the problem."""

    def __init__(self, accepted, op):
        self.accepted = accepted
        self.op = op
        self.status = 200 if op["state"] == "succeeded" else (op["problem"] or {}).get("status", 500)
        self.headers = accepted.headers

    def json(self):
        return self.op["result"] if self.op["state"] == "succeeded" else self.op["problem"]

    def __repr__(self):
        return f"<Finished {self.status} {json.dumps(self.op)[:400]}>"


def finish(agent, r):
    """A 202 followed to its end (checked: Location, the operation's kind
    and requester); any other reply is returned as it is."""
    if r.status != 202:
        return r
    op = r.json()
    assert r.headers["location"] == op["self"] == f"/v1/operations/{op['id']}", r
    assert op["state"] in ("accepted", "running") and op["result"] is None, op
    return Finished(r, wait_operation(agent, op["id"]))


class EventStream:
    """GET /v1/events read in a thread: (type, id, data) tuples in a queue,
    each event's data checked against the schema the contract's x-events
    names for its type (a mismatch ends the reader and is raised by until());
    heartbeat comments counted. status and problem hold a refusal."""

    def __init__(self, agent, role="reader", last_event_id=None, expect=200):
        """expect: the status the request must get, or None for any."""
        self.conn = http.client.HTTPConnection("127.0.0.1", agent.port, timeout=30)
        headers = {"Accept": "text/event-stream"}
        if role:
            headers["Authorization"] = f"Bearer {token_for(role)}"
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        self.conn.request("GET", "/v1/events", headers=headers)
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.events = queue.Queue()
        self.comments = 0
        self.error = None
        self.ended = threading.Event()
        if self.status != 200:
            body = self.resp.read()
            SPEC.validate_response("GET", "/v1/events", self.status, dict(self.resp.getheaders()), body)
            self.problem = json.loads(body)
            assert expect is None or self.status == expect, (self.status, self.problem)
            return
        assert expect is None or self.status == expect, self.status
        SPEC.validate_response("GET", "/v1/events", self.status, dict(self.resp.getheaders()), b"")
        assert self.resp.getheader("Content-Type").startswith("text/event-stream")
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        fields = {}
        try:
            for raw in iter(self.resp.readline, b""):
                line = raw.decode().rstrip("\n")
                if not line:
                    if "event" in fields:
                        data = json.loads(fields.get("data", "{}"))
                        SPEC.validate_event(fields["event"], data)
                        self.events.put((fields["event"], fields.get("id"), data))
                    fields = {}
                elif line.startswith(":"):
                    self.comments += 1
                else:
                    k, _, v = line.partition(":")
                    fields[k] = v[1:] if v.startswith(" ") else v
        except AssertionError as e:
            self.error = e
        except (OSError, ValueError, http.client.HTTPException):
            pass
        finally:
            self.ended.set()

    def until(self, type_, predicate=lambda d: True, timeout=10.0):
        """The events up to and including the first of type_ whose data passes predicate."""
        seen, deadline = [], time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if self.error:
                raise self.error
            assert left > 0, f"no {type_} event; saw {[e[0] for e in seen]}"
            try:
                e = self.events.get(timeout=min(left, 0.2))
            except queue.Empty:
                continue
            seen.append(e)
            if e[0] == type_ and predicate(e[2]):
                return seen

    def drain(self, quiet=0.3):
        """The events that arrive until none has for quiet seconds."""
        seen = []
        while True:
            try:
                seen.append(self.events.get(timeout=quiet))
            except queue.Empty:
                if self.error:
                    raise self.error
                return seen

    def close(self):
        """Hang up. The reader thread holds the response's buffer while it
        waits for a line, so the socket is shut down first: the read ends
        at once instead of at the next heartbeat."""
        if self.conn.sock is not None:
            try:
                self.conn.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if getattr(self, "reader", None) is not None:
            self.reader.join(timeout=10)
            assert not self.reader.is_alive(), "the stream's reader did not end on hang-up"
        self.conn.close()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unpack_snapshot(name, dest):
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(SNAPSHOTS / f"{name}.tar.gz") as t:
        t.extractall(dest)
    return dest


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """The kernel-made intel-gpu-like snapshot, unpacked once per module
    (a module that needs another tree defines its own root)."""
    return unpack_snapshot("intel-gpu-like", tmp_path_factory.mktemp("snap") / "root")


@pytest.fixture
def agent(root, start_agent):
    """An agent on root (a module may define its own)."""
    return start_agent(root)


@pytest.fixture
def start_agent(tmp_path):
    """Factory: start_agent(root, *args) -> Agent; stopped at teardown, and the
    daemon must exit 0 on SIGTERM (under ASan that includes no leaks)."""
    agents = []

    def start(root, *args, env=None, **kw):
        a = Agent(root, args, env, **kw)
        agents.append(a)
        return a

    yield start
    for a in agents:
        if a.proc.poll() is None:
            rc = a.stop()
            assert rc == 0, f"hostdevd exited {rc} on SIGTERM:\n{a.log_text()[-4000:]}"


def normalize_lspci_k(text):
    """meta/lspci-nn-D-k.txt -> {address: driver or None}."""
    devices, current = {}, None
    for line in text.splitlines():
        m = re.match(r"^([0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]) ", line)
        if m:
            current = m.group(1)
            devices[current] = None
        elif current and line.strip().startswith("Kernel driver in use:"):
            devices[current] = line.split(":", 1)[1].strip()
    return devices


# ---- logind on a private system bus ----------------------------------------

DBUS_DAEMON = shutil.which("dbus-daemon")
DBUS_PYTHON = "/usr/bin/python3"  # Debian's, which has python3-dbus and python3-dbusmock

LOGIND_BUS_CONF = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:tmpdir=/tmp</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
"""


class Logind:
    """python3-dbusmock's logind on a private bus."""

    def __init__(self, tmp_path):
        self.conf = tmp_path / "bus.conf"
        # The socket goes to /tmp: a path under a deep test directory (make
        # distcheck's) would pass the 108 bytes a unix socket name may have.
        self.conf.write_text(LOGIND_BUS_CONF)
        self.bus = subprocess.Popen([DBUS_DAEMON, f"--config-file={self.conf}", "--nofork",
                                     "--print-address=1"], stdout=subprocess.PIPE, text=True)
        self.address = self.bus.stdout.readline().strip()
        assert self.address, "the private dbus-daemon did not start"
        self.calls = tmp_path / "logind-calls.log"
        env = {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": self.address}
        self.mock = subprocess.Popen([DBUS_PYTHON, "-m", "dbusmock", "--system", "--template", "logind",
                                      "-l", str(self.calls)], env=env, stdout=subprocess.DEVNULL)
        self.env = env
        deadline = time.monotonic() + 20
        while not self.has_name() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert self.has_name(), "dbusmock's logind did not come up"

    def dbus(self, code):
        return subprocess.run([DBUS_PYTHON, "-c", "import dbus\nbus = dbus.bus.BusConnection(%r)\n" % self.address + code],
                              capture_output=True, text=True, env=self.env, check=True).stdout

    def has_name(self):
        try:
            return "True" in self.dbus("print(bus.name_has_owner('org.freedesktop.login1'))")
        except subprocess.CalledProcessError:
            return False

    def add_method(self, name, in_sig, code=""):
        self.dbus("o = bus.get_object('org.freedesktop.login1', '/org/freedesktop/login1')\n"
                  f"o.AddMethod('org.freedesktop.login1.Manager', {name!r}, {in_sig!r}, '', {code!r}, "
                  "dbus_interface='org.freedesktop.DBus.Mock')")

    def reboot_calls(self):
        if not self.calls.exists():
            return []
        calls = [line.split(" ", 1)[1] for line in self.calls.read_text().splitlines()]
        return [c for c in calls if c.startswith(("Reboot ", "RebootWithFlags ")) and " raised: " not in c]

    def stop(self):
        for p in (self.mock, self.bus):
            p.terminate()
            p.wait(10)

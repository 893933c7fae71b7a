"""Harness of the hostdevd.passthrough collection's tests: the Debian
packages they need (installed with apt-get when missing), hosts made of a
fixture root and a real agent (tests/integration/conftest.py's Agent, so
every answer a test reads directly is checked against api/openapi.json),
a logind stand-in, hosts that "reboot" when the agent asks logind to, and
ansible-playbook runs against an inventory of the agents, read back through
the json callback.

Environment: HOSTDEVD (the daemon; default $HOSTDEVD_BUILDDIR/hostdevd),
HOSTDEVD_SRCDIR, HOSTDEVD_BUILDDIR (pcimock.so for the binding tests).
"""
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SRCDIR = Path(os.environ.get("HOSTDEVD_SRCDIR", HERE.parent.parent)).resolve()
BUILDDIR = Path(os.environ.get("HOSTDEVD_BUILDDIR", SRCDIR / "build"))
BINARY = Path(os.environ.get("HOSTDEVD", BUILDDIR / "hostdevd"))
os.environ["HOSTDEVD"] = str(BINARY)  # what the integration harness starts
COLLECTIONS = SRCDIR / "packaging" / "ansible"
COLLECTION = COLLECTIONS / "ansible_collections" / "hostdevd" / "passthrough"
PLAYBOOK = COLLECTION / "playbooks" / "enable-iommu.yml"
PCIMOCK = BUILDDIR / "tests" / "mock" / "pcimock.so"
BOOTLOADER = SRCDIR / "tests" / "data" / "bootloader"
PYTHON = "/usr/bin/python3"

# The Debian packages the collection's tests use: a file each installs, and the package.
PACKAGES = {
    "/usr/bin/ansible-playbook": "ansible-core",
    "/usr/bin/ansible-test": "ansible-core",
    "/usr/bin/curl": "curl",
    "/usr/bin/certtool": "gnutls-bin",
    "/usr/lib/python3/dist-packages/yaml": "python3-yaml",
    "/usr/bin/dbus-daemon": "dbus-daemon",
    "/usr/lib/python3/dist-packages/dbusmock": "python3-dbusmock",
    "/usr/lib/python3/dist-packages/voluptuous": "python3-voluptuous",
    "/usr/bin/yamllint": "yamllint",
    "/usr/bin/pylint": "pylint",
    "/usr/bin/pycodestyle": "pycodestyle",
    "/usr/lib/python3/dist-packages/pytest_mock": "python3-pytest-mock",
    "/usr/lib/python3/dist-packages/xdist": "python3-pytest-xdist",
    "/usr/lib/python3/dist-packages/pytest_forked": "python3-pytest-forked",
}


def ensure_packages():
    """Installs what is missing (apt-get update first), waiting for an apt
    lock another process holds; fails, never skips, when it cannot."""
    missing = sorted({pkg for path, pkg in PACKAGES.items() if not os.path.exists(path)})
    if not missing:
        return
    if os.geteuid() != 0:
        pytest.fail(f"missing Debian packages {' '.join(missing)} (apt-get install them, or run as root)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "-q", "update"],
                ["apt-get", "-q", "-y", "install", "--no-install-recommends"] + missing):
        for attempt in range(60):
            done = subprocess.run(cmd, env=env, capture_output=True, text=True)
            if done.returncode == 0:
                break
            if "lock" not in done.stderr.lower():
                pytest.fail(f"{' '.join(cmd)} failed: {done.stderr[-2000:]}")
            time.sleep(5)  # another apt-get holds the lock
        else:
            pytest.fail(f"{' '.join(cmd)}: the apt lock stayed held")


ensure_packages()  # before the imports below, so that the tests stand alone on a clean machine
import yaml  # noqa: E402


def _integration_harness():
    """tests/integration/conftest.py as a plain module (Agent, tokens, snapshots)."""
    spec = importlib.util.spec_from_file_location("hostdevd_integration_harness",
                                                  SRCDIR / "tests" / "integration" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


integration = _integration_harness()
Agent, token_for, unpack_snapshot = integration.Agent, integration.token_for, integration.unpack_snapshot
sys.path.insert(0, str(SRCDIR / "tests" / "fixtures"))
import mksysfs  # noqa: E402

ADMIN = token_for("admin")  # the token playbooks use; the agent names it test-admin


# ---- hosts -----------------------------------------------------------------

def boot_id_file(root):
    return Path(root) / "proc" / "sys" / "kernel" / "random" / "boot_id"


def debian_host(root, snapshot="iommu-off", grub_cmdline_linux="intel_iommu=off"):
    """A Debian host as the kernel-made snapshot shows it (a q35 machine
    with VT-d, booted with intel_iommu=off), GRUB configured with
    GRUB_CMDLINE_LINUX, /proc/cmdline what GRUB gave the kernel, a boot id."""
    root = Path(root)
    unpack_snapshot(snapshot, root)
    shutil.copytree(BOOTLOADER / "debian-plain", root, dirs_exist_ok=True, symlinks=True)
    grub = root / "etc" / "default" / "grub"
    grub.write_text(grub.read_text().replace('GRUB_CMDLINE_LINUX=""', f'GRUB_CMDLINE_LINUX="{grub_cmdline_linux}"'))
    (root / "proc" / "cmdline").write_text(
        f"BOOT_IMAGE=/boot/vmlinuz-6.1.0-56-amd64 root=UUID=3f1f3f2c-6f0e-4d0c-9a43-1c1f2b8f7e01 ro "
        f"{grub_cmdline_linux} quiet\n")
    boot_id_file(root).parent.mkdir(parents=True, exist_ok=True)
    boot_id_file(root).write_text(str(uuid.uuid4()) + "\n")
    return root


def bootloader_files(root):
    """Every file of the bootloader setup (etc/, boot/, efi/ but hostdevd's own) with its bytes."""
    out = {}
    for top in ("boot", "etc", "efi"):
        base = Path(root) / top
        if base.exists():
            for p in sorted(base.rglob("*")):
                if p.is_file() and "hostdevd" not in p.parts:
                    out[str(p.relative_to(root))] = p.read_bytes()
    return out


class Logind(integration.Logind):
    """python3-dbusmock's logind on a private system bus, the one
    tests/integration runs: agents started with env get their reboots
    through it."""

    def refuse_reboots(self):
        """RebootWithFlags (the agent's first choice) raises as polkit would."""
        self.add_method("RebootWithFlags", "t",
                        "raise dbus.exceptions.DBusException('Interactive authentication required.', "
                        "name='org.freedesktop.DBus.Error.InteractiveAuthorizationRequired')")


class Host:
    """A fixture root with its agent, playing a machine: when the agent's
    reboot operation is running (logind took the call) the machine goes
    down (the agent stops), stays down for downtime seconds and boots again:
    a new boot id, /proc/cmdline as the bootloader now configures it (the
    agent's pending arguments applied to the running line) and, when the
    new line has intel_iommu=on and the kernel honours it (iommu_works), the
    sysfs of the same machine with the IOMMU on (the intel-gpu-like
    snapshot). comes_back=False: it never boots again."""

    def __init__(self, name, root, env=None, iommu_works=True, comes_back=True, downtime=1.5, args=(), tls=None):
        self.name = name
        self.root = Path(root)
        self.agent = Agent(self.root, list(args), env, tls=tls)
        self.iommu_works = iommu_works
        self.comes_back = comes_back
        self.downtime = downtime
        self.reboots = []  # (boot id before, boot id after, /proc/cmdline after)
        self.errors = []
        self._handled = set()
        self._stop = threading.Event()
        self._watcher = None

    @property
    def url(self):
        return self.agent.base

    def get(self, path):
        return self.agent.get_json(path)

    def watch(self):
        """Starts playing the machine's reboots (in a thread)."""
        self._watcher = threading.Thread(target=self._watch, daemon=True)
        self._watcher.start()
        return self

    def _watch(self):
        while not self._stop.is_set():
            try:
                if self.agent.proc.poll() is None:
                    for op in self.get("/v1/operations")["operations"]:
                        if op["kind"] == "reboot" and op["state"] == "running" and op["id"] not in self._handled:
                            self._handled.add(op["id"])
                            self._reboot()
            except Exception as e:  # noqa: BLE001 - reported by stop()
                if self.agent.proc.poll() is None:
                    self.errors.append(repr(e))
            self._stop.wait(0.2)

    def _reboot(self):
        kc = self.get("/v1/kernel-cmdline")
        before = boot_id_file(self.root).read_text().strip()
        rc = self.agent.stop()
        assert rc == 0, f"{self.name}: hostdevd exited {rc} on SIGTERM"
        if not self.comes_back:
            self.reboots.append((before, None, None))
            return
        words = (self.root / "proc" / "cmdline").read_text().split()
        for p in kc["pending"] or []:
            if p["action"] == "remove" and p["argument"] in words:
                words.remove(p["argument"])
            elif p["action"] == "add":
                words.append(p["argument"])
        (self.root / "proc" / "cmdline").write_text(" ".join(words) + "\n")
        if self.iommu_works and "intel_iommu=on" in words:
            iommu_on = self.root.parent / "iommu-on"
            if not iommu_on.exists():
                unpack_snapshot("intel-gpu-like", iommu_on)
            shutil.rmtree(self.root / "sys")
            shutil.copytree(iommu_on / "sys", self.root / "sys", symlinks=True)
        after = str(uuid.uuid4())
        boot_id_file(self.root).write_text(after + "\n")
        time.sleep(self.downtime)
        self.agent.start()
        self.reboots.append((before, after, " ".join(words)))

    def stop(self):
        self._stop.set()
        if self._watcher:
            self._watcher.join(10)
        if self.agent.proc.poll() is None:
            rc = self.agent.stop()
            assert rc == 0, f"{self.name}: hostdevd exited {rc} on SIGTERM:\n{self.agent.log_text()[-3000:]}"
        assert not self.errors, f"{self.name}: the machine's watcher failed: {self.errors}"


@pytest.fixture
def hosts(tmp_path):
    """Factory: hosts(name, root_maker, **Host options) -> Host, stopped at teardown."""
    made = []

    def make(name, maker=debian_host, **kw):
        root = maker(tmp_path / name / "root")
        h = Host(name, root, **kw)
        made.append(h)
        return h

    yield make
    for h in made:
        h.stop()


@pytest.fixture
def logind(tmp_path):
    ensure_packages()
    lg = Logind(tmp_path)
    yield lg
    lg.stop()


# ---- ansible-playbook --------------------------------------------------------

class Run:
    """One ansible-playbook run: returncode, stdout (the default callback's
    output), stderr, and the report of tests/ansible/callback_plugins:
    results(task name) -> {host: result}, stats -> {host: {ok, changed,
    failures, ...}}."""

    def __init__(self, done, report):
        self.returncode = done.returncode
        self.stdout = done.stdout
        self.stderr = done.stderr
        self.report = report

    def results(self, task):
        found = {}
        for play in self.report["plays"]:
            for t in play["tasks"]:
                if t["task"]["name"] == task:
                    for host, result in t["hosts"].items():
                        found.setdefault(host, result)
        return found

    def result(self, task, host):
        r = self.results(task)
        assert host in r, f"task {task!r} did not run on {host}:\n{self.summary()}"
        return r[host]

    @property
    def stats(self):
        return self.report["stats"]

    def summary(self):
        lines = [f"rc={self.returncode}"]
        for play in self.report["plays"]:
            for t in play["tasks"]:
                for host, r in t["hosts"].items():
                    state = "failed" if r.get("failed") else "skipped" if r.get("skipped") else \
                        "changed" if r.get("changed") else "ok"
                    lines.append(f"  {t['task']['name']} [{host}]: {state} {r.get('msg', '')}"[:400])
        return "\n".join(lines + [self.stdout[-4000:], self.stderr[-2000:]])


class Ansible:
    """ansible-playbook against the hosts, with the collection found under
    packaging/ansible and nothing from the user's configuration."""

    def __init__(self, tmp):
        ensure_packages()
        self.tmp = Path(tmp)
        (self.tmp / "ansible.cfg").write_text("[defaults]\n")
        self.env = {**os.environ,
                    "ANSIBLE_CONFIG": str(self.tmp / "ansible.cfg"),
                    "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS),
                    "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
                    "ANSIBLE_HOME": str(self.tmp / "ansible-home"),
                    "ANSIBLE_LOCAL_TEMP": str(self.tmp / "ansible-tmp"),
                    "ANSIBLE_RETRY_FILES_ENABLED": "false",
                    "ANSIBLE_CALLBACK_PLUGINS": str(HERE / "callback_plugins"),
                    "ANSIBLE_CALLBACKS_ENABLED": "hostdevd_record",
                    "ANSIBLE_NOCOLOR": "1",
                    "ANSIBLE_FORCE_COLOR": "0",
                    "ANSIBLE_PYTHON_INTERPRETER": PYTHON,
                    "ANSIBLE_LOCALHOST_WARNING": "false",
                    "PYTHONDONTWRITEBYTECODE": "1",
                    "PATH": "/usr/bin:/bin:/usr/sbin:/sbin"}
        self.env.pop("HOSTDEVD_URL", None)
        self.env.pop("HOSTDEVD_TOKEN", None)
        self.runs = 0

    def inventory(self, hosts, **host_vars):
        """Each host by name, reached over plain HTTP on loopback, run locally."""
        inv = {"all": {"hosts": {h.name: {"hostdevd_url": h.url, "ansible_connection": "local",
                                          "ansible_python_interpreter": PYTHON, **host_vars.get(h.name, {})}
                                 for h in hosts},
                       "vars": {"hostdevd_token": ADMIN}}}
        path = self.tmp / f"inventory-{self.runs}.yml"
        path.write_text(yaml.safe_dump(inv))
        return path

    def playbook(self, playbook, hosts, *args, host_vars=None, timeout=300):
        """Runs a playbook file (or a list of plays, written to one); the
        default output is in stdout, the results in the report."""
        self.runs += 1
        if not isinstance(playbook, (str, Path)):
            path = self.tmp / f"playbook-{self.runs}.yml"
            path.write_text(yaml.safe_dump(playbook, sort_keys=False))
            playbook = path
        inventory = self.inventory(hosts, **(host_vars or {}))
        record = self.tmp / f"record-{self.runs}.json"
        env = {**self.env, "HOSTDEVD_ANSIBLE_RECORD": str(record)}
        done = subprocess.run(["/usr/bin/ansible-playbook", "-i", str(inventory), str(playbook), *args],
                              cwd=self.tmp, env=env, capture_output=True, text=True, timeout=timeout)
        assert record.exists(), f"ansible-playbook made no report (rc {done.returncode}):\n" \
                                f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return Run(done, json.loads(record.read_text()))

    def tasks(self, hosts, tasks, *args, **kw):
        """One play over hosts: the tasks, delegated to the controller, with
        the common options set once through the action group."""
        play = {"name": "hostdevd", "hosts": "all", "gather_facts": False,
                "module_defaults": {"group/hostdevd.passthrough.all": {
                    "url": "{{ hostdevd_url }}", "token": "{{ hostdevd_token }}"}},
                "tasks": [dict(t, delegate_to="localhost") for t in tasks]}
        return self.playbook([play], hosts, *args, **kw)


@pytest.fixture
def ansible(tmp_path):
    return Ansible(tmp_path)

"""Shared pieces of the real-kernel tier's tests: booting a machine through
run-machine, and reading what a boot left behind.

A boot's results directory (DIR/boots/N, see run-machine) holds kernel/, the
kernel's own record made by guest/inventory.sh (lspci, sysfs links, IOMMU
groups, VFIO status, SR-IOV), and daemon/, hostdevd's answers.  Record reads
both; the parse_* functions turn the kernel's files into Python values.
"""

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
RUN_MACHINE = HERE / "run-machine"

# Devices every machine has (tests/vm/machines): address -> vendor:device.
COMMON_DEVICES = {
    "0000:01:00.0": "1234:1111",  # VGA ("GPU"), function 0
    "0000:01:00.1": "8086:293e",  # its HD audio function
    "0000:02:00.0": "8086:10d3",  # e1000e
    "0000:03:00.0": "1b36:0010",  # NVMe
    "0000:04:00.0": "1b36:000e",  # PCIe-to-PCI bridge
    "0000:05:01.0": "1b36:0002",  # serial, behind the bridge
    "0000:05:02.0": "8086:25ab",  # watchdog, behind the bridge
    "0000:06:00.0": "1b36:0010",  # NVMe SR-IOV PF
    "0000:06:00.1": "1b36:0010",  # its VF 0
    "0000:06:00.2": "1b36:0010",  # its VF 1
}
SRIOV_PF = "0000:06:00.0"
SRIOV_VFS = ["0000:06:00.1", "0000:06:00.2"]
# What guest/inventory.sh binds to vfio-pci before recording anything.
GPU_FN0, GPU_AUDIO = "0000:01:00.0", "0000:01:00.1"
VFIO_BOUND = [GPU_FN0, SRIOV_VFS[0]]
ENDPOINTS = ["host", "capabilities", "devices", "iommu-groups"]


# ---- the kernel's record ---------------------------------------------------

@dataclass
class KernelDevice:
    """One PCI device as sysfs showed it in the guest."""
    address: str
    vendor_id: str          # "8086"
    device_id: str          # "10d3"
    klass: str              # "020000"
    driver: str | None
    group: int | None
    physfn: str | None
    override: str | None    # driver_override
    bridge: bool            # has a secondary bus
    total_vfs: int | None   # None: no SR-IOV capability
    enabled_vfs: int | None
    vfs: list = field(default_factory=list)


def _dash(value):
    return None if value == "-" else value


def _int_or_none(value):
    return None if value == "-" else int(value)


def parse_sysfs_devices(text):
    """Parse kernel/sysfs-devices.txt (see guest/inventory.sh)."""
    devices = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        address, *pairs = line.split("\t")
        f = dict(pair.split("=", 1) for pair in pairs)
        devices[address] = KernelDevice(
            address=address,
            vendor_id=f["vendor"].removeprefix("0x"),
            device_id=f["device"].removeprefix("0x"),
            klass=f["class"].removeprefix("0x"),
            driver=_dash(f["driver"]),
            group=_int_or_none(f["group"]),
            physfn=_dash(f["physfn"]),
            override=_dash(f["override"]),
            bridge=f["bridge"] == "yes",
            total_vfs=_int_or_none(f["totalvfs"]),
            enabled_vfs=_int_or_none(f["numvfs"]),
            vfs=f["virtfns"].split(",") if f["virtfns"] != "-" else [],
        )
    return devices


def parse_lspci_vmm(text):
    """Parse `lspci -vmm -nn -D -k`: address -> dict of the fields we use."""
    def bracket(value):
        return re.search(r"\[([0-9a-f]{4})\]$", value).group(1)

    devices = {}
    for para in text.strip().split("\n\n"):
        f = dict(line.split(":\t", 1) for line in para.splitlines() if ":\t" in line)
        devices[f["Slot"]] = {
            "vendor_id": bracket(f["Vendor"]),
            "device_id": bracket(f["Device"]),
            "class": bracket(f["Class"]) + f.get("ProgIf", "00"),
            "driver": f.get("Driver"),
            "group": int(f["IOMMUGroup"]) if "IOMMUGroup" in f else None,
        }
    return devices


def parse_vfio_status(text):
    """Parse kernel/vfio-status.txt: group -> the kernel's VIABLE flag, for
    every group with a /dev/vfio/N node (see guest/vfio-group-status.c)."""
    status = {}
    for line in text.splitlines():
        m = re.fullmatch(r"(\d+) viable=(yes|no)", line.strip())
        assert m, f"vfio-group-status said {line!r}"
        status[int(m.group(1))] = m.group(2) == "yes"
    return status


def parse_group_listing(text):
    """Parse `ls -l /sys/kernel/iommu_groups/*/devices`: group -> addresses."""
    groups, current = {}, None
    for line in text.splitlines():
        m = re.match(r"/sys/kernel/iommu_groups/(\d+)/devices:", line)
        if m:
            current = int(m.group(1))
            groups[current] = set()
        elif current is not None and " -> " in line:
            groups[current].add(line.split(" -> ")[0].split()[-1])
    return groups


def parse_wget_headers(text):
    """wget -S's dump (daemon/EP.headers): (status, {header: value})."""
    lines = [line.strip() for line in text.splitlines() if line.startswith("  ")]
    status = int(lines[0].split()[1])
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return status, headers


def kernel_groups(kernel):
    """group -> its members (KernelDevice), from the iommu_group links."""
    groups = {}
    for k in kernel.values():
        if k.group is not None:
            groups.setdefault(k.group, []).append(k)
    return groups


def drivers_allow_vfio(members):
    """The rule behind the kernel's VIABLE flag (kernel >= 5.19: no member
    is bound to a driver that uses the DMA API; unbound, vfio-pci, pci-stub,
    and pcieport on a bridge are all fine)."""
    return all(k.driver in (None, "vfio-pci", "pci-stub")
               or (k.bridge and k.driver == "pcieport") for k in members)


def one_per_line(differences):
    """An assertion message: the differences found, one per line."""
    return "\n".join(differences)


# ---- one boot's results ----------------------------------------------------

@dataclass
class Record:
    """What one boot of MACHINE left in RESULTS (DIR/boots/N)."""
    machine: str
    results: Path

    def kernel_file(self, name):
        return (self.results / "kernel" / name).read_text()

    def kernel_devices(self):
        """address -> KernelDevice."""
        return parse_sysfs_devices(self.kernel_file("sysfs-devices.txt"))

    def cmdline(self):
        return self.kernel_file("cmdline.txt").split()

    def vfio_status(self):
        return parse_vfio_status(self.kernel_file("vfio-status.txt"))

    def daemon_status(self):
        path = self.results / "daemon" / "status.txt"
        return path.read_text().strip() if path.exists() else "(no status)"

    def daemon_json(self, endpoint):
        """hostdevd's answer to GET /v1/ENDPOINT, or fail saying why not."""
        path = self.results / "daemon" / f"{endpoint}.json"
        status = self.daemon_status().replace("\n", "; ")
        if "binary=absent" in status:
            pytest.fail("no hostdevd binary was shipped into the guest "
                        "(set HOSTDEVD_BINARY)")
        if not path.exists() or path.stat().st_size == 0:
            log = self.results / "daemon" / "daemon.log"
            tail = log.read_text()[-500:] if log.exists() else ""
            pytest.fail(f"hostdevd gave no answer to GET /v1/{endpoint} "
                        f"[{status}] {tail}")
        try:
            return json.loads(path.read_text())
        except ValueError as e:
            pytest.fail(f"GET /v1/{endpoint} is not JSON: {e}")

    def daemon_devices(self):
        """/v1/devices as address -> device object."""
        answer = self.daemon_json("devices")
        items = answer.get("devices") if isinstance(answer, dict) else answer
        assert isinstance(items, list), f"/v1/devices holds no device list: {answer!r:.200}"
        return {d.get("address"): d for d in items}

    def daemon_groups(self):
        """/v1/iommu-groups as id -> group object."""
        answer = self.daemon_json("iommu-groups")
        assert isinstance(answer, dict) and isinstance(answer.get("groups"), list), \
            f"/v1/iommu-groups has no 'groups' list: {answer!r:.200}"
        return {g.get("id"): g for g in answer["groups"]}

    def daemon_verdict(self):
        answer = self.daemon_json("capabilities")
        assert isinstance(answer, dict), answer
        return answer.get("verdict")


# ---- the binding phase (guest/inventory.sh part c) -------------------------

@dataclass
class BindingRecord:
    """What the binding phase left in RESULTS/binding: hostdevd's answers
    (NAME.http, NAME.json) and the kernel's view after each step
    (STEP-drivers.txt, STEP-lspci.txt, bound-vfio-status.txt)."""
    results: Path

    def status(self):
        path = self.results / "status.txt"
        return path.read_text() if path.exists() else "(no binding phase)"

    def answer(self, name):
        """(HTTP status, JSON body) of one request, or fail saying why not."""
        raw = self.results / f"{name}.http"
        if not raw.exists() or not raw.read_text(errors="replace").startswith("HTTP/"):
            pytest.fail(f"hostdevd gave no answer to '{name}' [{self.status().strip()}]")
        status = int(raw.read_text(errors="replace").split()[1])
        try:
            body = json.loads((self.results / f"{name}.json").read_text())
        except ValueError:
            body = None
        if status == 202:
            return self.operation_answer(name, body)
        return status, body

    def operation_answer(self, name, accepted):
        """A change answered 202: the operation the guest followed to its end
        (NAME-operation.json) gives what a synchronous answer would have:
        200 and the result once it succeeded, else its problem's status and
        the problem."""
        assert accepted and accepted["kind"] in ("bind", "release"), accepted
        assert accepted["state"] in ("accepted", "running") and accepted["result"] is None, accepted
        location = [line.split(":", 1)[1].strip()
                    for line in (self.results / f"{name}.http").read_text(errors="replace").splitlines()
                    if line.lower().startswith("location:")]
        assert location == [f"/v1/operations/{accepted['id']}"], location
        try:
            op = json.loads((self.results / f"{name}-operation.json").read_text())
        except (OSError, ValueError) as e:
            pytest.fail(f"'{name}': the guest did not see the operation end ({e}) [{self.status().strip()}]")
        assert op["id"] == accepted["id"] and op["kind"] == accepted["kind"], op
        if op["state"] == "succeeded":
            return 200, op["result"]
        assert op["state"] == "failed", op
        problem = op["problem"] or {}
        return problem.get("status", 500), problem

    def drivers(self, step):
        """The GPU group's members -> driver (None: none), as sysfs said."""
        out = {}
        for line in (self.results / f"{step}-drivers.txt").read_text().splitlines():
            address, driver = line.split(" ", 1)
            out[address] = _dash(driver)
        return out

    def lspci(self, step):
        return (self.results / f"{step}-lspci.txt").read_text()


@dataclass
class LiveRecord:
    """What the live phase left in RESULTS/live (see guest/inventory.sh, (d)):
    the kernel's view after each change made behind hostdevd's back
    (STEP-kernel.txt), hostdevd's answer once it showed it (STEP.json, with
    "STEP=seen after N polls" or "STEP=timeout" in status.txt), and the
    event stream read through all of it (events.txt)."""
    results: Path

    def status(self):
        path = self.results / "status.txt"
        return path.read_text() if path.exists() else "(no live phase)"

    def steps(self):
        """STEP -> "seen" or "timeout", and the other KEY=VALUE lines."""
        out = {}
        for line in self.status().splitlines():
            key, _, value = line.partition("=")
            out[key] = "seen" if value.startswith("seen after") else value
        return out

    def answer(self, step):
        """hostdevd's last answer of STEP, or fail saying why there is none."""
        try:
            return json.loads((self.results / f"{step}.json").read_text())
        except (OSError, ValueError) as e:
            pytest.fail(f"no answer for '{step}' ({e}) [{self.status().strip()}]")

    def kernel(self, step):
        return (self.results / f"{step}-kernel.txt").read_text()

    def drivers(self, step):
        """ADDR -> driver (None: none) as sysfs said after STEP."""
        return {a: _dash(d) for a, d in (line.split(" ", 1) for line in self.kernel(step).splitlines())}

    def events(self):
        """The stream as (type, id, data) per event; comments left out."""
        out, fields = [], {}
        for line in (self.results / "events.txt").read_text().split("\n"):
            if not line:
                if "event" in fields:
                    out.append((fields["event"], fields.get("id"), json.loads(fields.get("data", "{}"))))
                fields = {}
            elif not line.startswith(":"):
                key, _, value = line.partition(":")
                fields[key] = value[1:] if value.startswith(" ") else value
        return out


# ---- booting ---------------------------------------------------------------

def tier_binary():
    """The hostdevd to ship into guests (None if HOSTDEVD_BINARY is unset);
    skips the calling test, with the reason, when the tier cannot run here."""
    if shutil.which("qemu-system-x86_64") is None:
        pytest.skip("qemu-system-x86_64 is not installed (run tests/vm/setup.sh)")
    cache = Path(os.environ.get("HOSTDEVD_VM_CACHE", HERE / "cache"))
    if not list((cache / "kernel" / "root" / "boot").glob("vmlinuz-*")):
        reason = cache / "skip-reason"
        pytest.skip(reason.read_text().strip() if reason.exists()
                    else f"no kernel in {cache} (run tests/vm/setup.sh)")
    return os.environ.get("HOSTDEVD_BINARY") or None


def out_dir(name, tmp_path_factory):
    """Where a run's results go: $HOSTDEVD_VM_OUT/NAME, kept for inspection,
    or a pytest temporary directory."""
    base = os.environ.get("HOSTDEVD_VM_OUT")
    return Path(base) / name if base else tmp_path_factory.mktemp(f"vm-{name}")


def run_machine(machine, script, out, binary, uefi=False, timeout=80):
    """Boot MACHINE with the guest SCRIPT; skip on 77, fail on any other
    non-zero status with run-machine's explanation.  Returns OUT."""
    cmd = [str(RUN_MACHINE), machine, "--script", str(script),
           "--out", str(out), "--timeout", str(timeout)]
    if binary:
        cmd += ["--binary", binary]
    if uefi:
        cmd.append("--uefi")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 60)
    if proc.returncode == 77:
        pytest.skip(proc.stderr.strip())
    if proc.returncode != 0:
        pytest.fail(f"run-machine {machine} exited with {proc.returncode}:\n{proc.stderr}")
    return out


# ---- comparing -------------------------------------------------------------

def device_differences(record, kernel, fields, project=lambda key, value: value):
    """Differences between hostdevd's /v1/devices and the kernel's record
    for FIELDS, {json key: function of KernelDevice -> expected value};
    PROJECT(key, value) may reduce hostdevd's value to what the kernel record
    can judge.  Missing devices count as differences."""
    daemon = record.daemon_devices()
    bad = []
    for addr, k in sorted(kernel.items()):
        if addr not in daemon:
            bad.append(f"{addr}: missing from /v1/devices")
            continue
        for key, expect in fields.items():
            got = project(key, daemon[addr].get(key, "(absent)"))
            if got != expect(k):
                bad.append(f"{addr} {key}: hostdevd {got!r}, kernel {expect(k)!r}")
    return bad


def group_members(record):
    """/v1/iommu-groups as id -> set of member addresses."""
    return {gid: {m.get("address") for m in g.get("members", [])}
            for gid, g in record.daemon_groups().items()}


def kernel_group_members(kernel):
    """The kernel's groups as id -> set of member addresses."""
    return {gid: {k.address for k in members} for gid, members in kernel_groups(kernel).items()}

"""The kernel command line through the API: GET /v1/kernel-cmdline on every
bootloader setup, PATCH in and out of maintenance mode (golden files,
idempotence, dry runs, ownership, conflicts, bad entries, the rescue entry,
ostree, regeneration, injected write failures, kill -9 while writing),
presets, and the reboot operation recording the pending arguments.

Roots combine a generated sysfs tree (tests/fixtures/mksysfs.py) with a
bootloader fixture from tests/data/bootloader/<case> and a proc/cmdline
that matches it.
"""
import json
import random
import re
import shutil
import signal
import time
import uuid

import pytest

from conftest import SRCDIR, fault_env, finish, hammer
import mksysfs

BOOTLOADER = SRCDIR / "tests" / "data" / "bootloader"
GOLDEN = BOOTLOADER / "golden"

# What the kernel got when each setup booted (from the fixtures' notes).
CMDLINES = {
    "rhel9-bls": None,  # the fixture's own proc/cmdline
    "rhel8-grubenv": None,
    "debian": "BOOT_IMAGE=/boot/vmlinuz-6.1.0-27-amd64 root=UUID=0b4e2f6c-7d1a-4c3e-9f52-6a8b1d2e3c4f ro "
              "console=tty0 console=ttyS0,115200n8 panic=30 intel_iommu=on \"dyndbg=module vfio_pci +p\" "
              "iommu=off iommu=pt nomodeset",
    "debian-plain": "BOOT_IMAGE=/boot/vmlinuz-6.1.0-27-amd64 root=UUID=0b4e2f6c-7d1a-4c3e-9f52-6a8b1d2e3c4f ro quiet",
    "ubuntu-cloud": "BOOT_IMAGE=/boot/vmlinuz-6.8.0-48-generic root=UUID=0b4e2f6c-7d1a-4c3e-9f52-6a8b1d2e3c4f ro "
                    "intel_iommu=on iommu=pt vfio-pci.ids=10de:1eb8,10de:10f8 console=tty1 console=ttyS0 "
                    "nvme_core.io_timeout=4294967295",
    "proxmox": "initrd=\\EFI\\proxmox\\6.8.12-4-pve\\initrd.img-6.8.12-4-pve root=ZFS=rpool/ROOT/pve-1 boot=zfs "
               "intel_iommu=on iommu=pt",
    "systemd-boot": "initrd=\\3f1c6a0d8e2b4c7fa9d05e6b1c2d3e4f\\6.11.5-300.fc41.x86_64\\initrd "
                    "root=UUID=5c0e7d42-9a1b-4f3e-8d6c-2b7a9e4f1c03 rw rootflags=subvol=root intel_iommu=on "
                    "iommu=pt systemd.machine_id=3f1c6a0d8e2b4c7fa9d05e6b1c2d3e4f",
    "ostree": None,
}
KINDS = {"rhel9-bls": "bls", "rhel8-grubenv": "bls-grubenv", "debian": "grub-debian", "debian-plain": "grub-debian",
         "ubuntu-cloud": "grub-debian", "proxmox": "proxmox-boot-tool", "systemd-boot": "systemd-boot",
         "ostree": "ostree"}
RHEL9_ENTRIES = "boot/loader/entries/3f1c6a0d8e2b4c7fa9d05e6b1c2d3e4f-"
RESCUE = RHEL9_ENTRIES + "0-rescue.conf"


def make_root(tmp_path, case, topology="intel-gpu-audio", cmdline=None):
    root = tmp_path / "root"
    mksysfs.generate(topology, root)
    shutil.copytree(BOOTLOADER / case, root, dirs_exist_ok=True, symlinks=True)
    line = cmdline or CMDLINES.get(case)
    if line:
        (root / "proc" / "cmdline").write_text(line + "\n")
    return root


def bootloader_files(root):
    """Every file of the setup (not sysfs, procfs or hostdevd's own state), with its bytes."""
    out = {}
    for top in ("boot", "etc", "efi"):
        base = root / top
        if base.exists():
            for p in sorted(base.rglob("*")):
                if p.is_file() and "hostdevd" not in p.parts:
                    out[str(p.relative_to(root))] = p.read_bytes()
    for esp in root.glob("esp-*"):
        for p in sorted(esp.rglob("*")):
            if p.is_file():
                out[str(p.relative_to(root))] = p.read_bytes()
    return out


def temp_files(root):
    return [str(p) for p in root.rglob("*.hostdevd-tmp.*")]


def patch(agent, body, **kw):
    """PATCH, followed to its end when it became an operation (not a dry run):
    the operation's result then stands for the 200 it replaced."""
    r = agent.request("/v1/kernel-cmdline", method="PATCH", data=json.dumps(body).encode(), **kw)
    if r.status == 202:
        assert not body.get("dry_run"), "a dry run answers at once"
        assert r.json()["kind"] == "kernel-cmdline"
    elif r.status == 200:
        assert body.get("dry_run"), f"a change answers 202, not {r}"
    return finish(agent, r)


def maintenance(agent, enabled=True):
    r = agent.request("/v1/maintenance", method="PUT", data=json.dumps({"enabled": enabled}).encode(),
                      role="operator")
    assert r.status == 200, r


def kernel_tokens(line):
    """(key, value) pairs of a simple line (double quotes, no escapes), enough for the fixtures' notes."""
    pairs = []
    for tok in re.findall(r'(?:[^\s"]|"[^"]*")+', line):
        tok = tok.replace('"', "")
        key, eq, value = tok.partition("=")
        pairs.append((key, value if eq else None))
    return pairs


def pairs(cmdline):
    return [(a["key"], a["value"]) for a in cmdline["arguments"] if not a["noise"]]


# ---- GET ----

@pytest.mark.parametrize("case", sorted(KINDS))
def test_get_on_every_setup(tmp_path, start_agent, case):
    root = make_root(tmp_path, case)
    agent = start_agent(root)
    k = agent.get_json("/v1/kernel-cmdline")
    assert k["bootloader"]["kind"] == KINDS[case], k["bootloader"]
    assert k["bootloader_error"] is None
    assert k["bootloader"]["editable"] is (case != "ostree")
    assert k["running"]["arguments"], "proc/cmdline is parsed"
    assert k["owned"] == []
    assert k["reboot_required"] is (len(k["pending"]) > 0)
    # noise is flagged, and never pending
    for a in k["running"]["arguments"]:
        assert a["noise"] is (a["key"] == "BOOT_IMAGE" or (a["key"] == "initrd" and a is k["running"]["arguments"][0]))
    assert not any(p["key"] in ("BOOT_IMAGE", "initrd") for p in k["pending"])
    if case in ("debian", "ubuntu-cloud"):
        # configured is what the fixture's notes computed with bash
        notes = (root / "expected-effective.txt").read_text()
        linux = re.search(r"GRUB_CMDLINE_LINUX=\[(.*)\]", notes).group(1)
        default = re.search(r"GRUB_CMDLINE_LINUX_DEFAULT=\[(.*?)\]", notes).group(1)
        assert pairs(k["configured"]) == kernel_tokens(linux + " " + default)
        # what grub-mkconfig adds itself (root=, ro) is not pending removal
        assert k["pending"] == [] and k["reboot_required"] is False
    if case == "systemd-boot":
        notes = (root / "expected.txt").read_text()
        joined = re.search(r"file order.*?:\n\s+(root=[^\n]*)", notes, re.S).group(1)
        assert pairs(k["configured"]) == kernel_tokens(joined)
        assert k["future"]["source"] == "/etc/kernel/cmdline"
        assert k["pending"] == []
    if case in ("proxmox", "rhel8-grubenv"):
        assert k["pending"] == [] and k["reboot_required"] is False
    if case == "ostree":
        assert "rpm-ostree" in k["bootloader"]["reason"]


def test_no_bootloader(tmp_path, start_agent):
    root = tmp_path / "root"
    mksysfs.generate("intel-gpu-audio", root)
    agent = start_agent(root)
    k = agent.get_json("/v1/kernel-cmdline")
    assert k["bootloader"] is None and k["bootloader_error"]
    assert k["configured"] is None and k["pending"] is None and k["reboot_required"] is None
    assert k["running"]["text"].startswith("BOOT_IMAGE=")
    maintenance(agent)
    r = patch(agent, {"append_if_missing": ["iommu=pt"]})
    assert r.status == 409 and r.json()["code"] == "no-bootloader", r


def test_rhel9_drift_pending_and_rescue(tmp_path, start_agent):
    root = make_root(tmp_path, "rhel9-bls")
    agent = start_agent(root)
    k = agent.request("/v1/kernel-cmdline", role="reader").json()
    assert k["configured"]["source"].endswith("5.14.0-503.11.1.el9_5.x86_64.conf")
    assert [(p["action"], p["argument"]) for p in k["pending"]] == [
        ("add", "intel_iommu=on"), ("add", "iommu=pt"), ("add", "vfio-pci.ids=10de:1eb8,10de:10f8")]
    assert k["reboot_required"] is True
    warnings = " ".join(k["warnings"])
    assert "427.42.1" in warnings and "/etc/kernel/cmdline" in warnings, k["warnings"]
    rescue = [e for e in k["entries"] if e["rescue"]]
    assert len(rescue) == 1 and rescue[0]["default"] is False
    assert [e["default"] for e in k["entries"]].count(True) == 1


# ---- PATCH: maintenance, golden files, idempotence ----

def test_patch_refused_outside_maintenance_and_nothing_written(tmp_path, start_agent):
    root = make_root(tmp_path, "rhel9-bls")
    before = bootloader_files(root)
    agent = start_agent(root)
    r = patch(agent, {"append_if_missing": ["intel_iommu=on", "iommu=pt"]})
    assert r.status == 409 and r.json()["code"] == "not-in-maintenance", r
    assert bootloader_files(root) == before
    # the reader and the operator may not even try
    assert patch(agent, {"append_if_missing": ["iommu=pt"]}, role="operator").status == 403


GOLDEN_CASES = {
    # golden directory: (fixture, body); the edits of tests/unit/test-bootloader.c
    "rhel9-append": ("rhel9-bls", {"append_if_missing": ["intel_iommu=on", "iommu=pt",
                                                         "vfio-pci.ids=10de:1eb8,10de:10f8", "nosmt"]}),
    # (append_if_missing of the absent iommu=pt: PATCH appends before append_if_missing)
    "rhel8-edit": ("rhel8-grubenv", {"append_if_missing": ["intel_iommu=on", "iommu=pt"],
                                     "delete_if_present": ["rhgb"]}),
    "debian-edit": ("debian", {"delete": ["iommu=off", "nomodeset"], "append": ["vfio-pci.ids=10de:1eb8"]}),
    "debian-plain-append": ("debian-plain", {"append_if_missing": ["intel_iommu=on", "iommu=pt"]}),
    "ubuntu-append": ("ubuntu-cloud", {"append_if_missing": ["iommu=pt"], "append": ["vfio_pci.disable_vga=1"]}),
    "sdboot-edit": ("systemd-boot", {"append": ["vfio-pci.ids=10de:1eb8"], "delete": ["iommu=pt"]}),
    "proxmox-edit": ("proxmox", {"append": ["vfio-pci.ids=10de:1eb8"], "replace": ["intel_iommu=on=on,sm_on"]}),
}


@pytest.mark.parametrize("golden", sorted(GOLDEN_CASES))
def test_patch_writes_the_golden_files(tmp_path, start_agent, golden):
    case, body = GOLDEN_CASES[golden]
    if not (GOLDEN / golden).exists():
        pytest.skip(f"no golden files for {golden}")
    root = make_root(tmp_path, case)
    before = bootloader_files(root)
    agent = start_agent(root)
    maintenance(agent)

    dry = patch(agent, {**body, "dry_run": True})
    assert dry.status == 200, dry
    assert dry.json()["dry_run"] is True and dry.json()["changed"] is True and dry.json()["diff"]
    assert dry.json()["regeneration"] is None
    assert bootloader_files(root) == before, "a dry run changes nothing"

    r = patch(agent, body)
    assert r.status == 200, r
    out = r.json()
    assert out["changed"] is True and out["dry_run"] is False
    assert out["diff"] == dry.json()["diff"], "the dry run showed exactly what was written"
    assert out["bootloader_kind"] == KINDS[case]
    after = bootloader_files(root)
    want = {str(p.relative_to(GOLDEN / golden)): p.read_bytes() for p in (GOLDEN / golden).rglob("*") if p.is_file()}
    for path, data in want.items():
        assert after.get(path) == data, f"{path} differs from its golden file"
    for path, data in before.items():
        if path not in want:
            assert after[path] == data, f"{path} changed but has no golden file"
    assert sorted(p.lstrip("/") for p in out["files"]) == sorted(p for p in want if before.get(p) != want[p])
    assert temp_files(root) == []

    # the same request again: idempotent where the edits are (append of a pair that is there is not)
    again = patch(agent, body)
    if {"append", "delete", "replace"} & set(body):
        assert again.status == 409 and again.json()["code"] == "edit-not-applicable", again
        assert again.json()["pointer"].split("/")[1] in body
    else:
        assert again.status == 200 and again.json()["changed"] is False, again
        assert again.json()["regeneration"] is None
    assert bootloader_files(root) == after


def test_append_if_missing_twice_and_pending(tmp_path, start_agent):
    root = make_root(tmp_path, "debian-plain")
    agent = start_agent(root)
    maintenance(agent)
    body = {"append_if_missing": ["intel_iommu=on", "iommu=pt"]}
    first = patch(agent, body).json()
    assert first["changed"] is True
    assert first["owned"] == ["intel_iommu=on", "iommu=pt"]
    assert first["regeneration"]["ran"] is False and "update-grub" in first["regeneration"]["command"]
    assert first["regeneration"]["reason"]
    assert [(p["action"], p["argument"]) for p in first["pending"]] == [("add", "intel_iommu=on"), ("add", "iommu=pt")]
    assert first["reboot_required"] is True
    files = bootloader_files(root)
    second = patch(agent, body).json()
    assert second["changed"] is False and second["files"] == [] and second["diff"] == ""
    assert bootloader_files(root) == files
    k = agent.get_json("/v1/kernel-cmdline")
    assert k["owned"] == ["intel_iommu=on", "iommu=pt"] and k["reboot_required"] is True


def test_dry_run_is_allowed_outside_maintenance(tmp_path, start_agent):
    root = make_root(tmp_path, "rhel9-bls")
    before = bootloader_files(root)
    agent = start_agent(root)
    r = patch(agent, {"append_if_missing": ["kvm_intel.nested=1"], "dry_run": True})
    assert r.status == 200, r
    out = r.json()
    assert out["dry_run"] is True and out["changed"] is True
    assert "+options" in out["diff"] and "kvm_intel.nested=1" in out["after"]
    assert "kvm_intel.nested=1" not in out["before"]
    assert out["owned"] == ["kvm_intel.nested=1"], "what would be owned"
    assert bootloader_files(root) == before
    assert not (root / "var/lib/hostdevd/kernel-cmdline.owned").exists()


# ---- ownership, conflicts, bad entries ----

def test_delete_owned_keeps_what_the_administrator_put_there(tmp_path, start_agent):
    root = make_root(tmp_path, "rhel9-bls")  # the default entry has intel_iommu=on iommu=pt already
    agent = start_agent(root)
    maintenance(agent)
    default = root / (RHEL9_ENTRIES + "5.14.0-503.11.1.el9_5.x86_64.conf")
    r = patch(agent, {"presets": ["iommu", "nested-virtualization"]})
    assert r.status == 200, r
    assert r.json()["owned"] == ["kvm_intel.nested=1"], "the administrator's intel_iommu=on iommu=pt stay theirs"
    assert "kvm_intel.nested=1" in default.read_text()

    r = patch(agent, {"remove_presets": ["iommu", "nested-virtualization"]})
    assert r.status == 200, r
    out = r.json()
    assert out["changed"] is True and out["owned"] == []
    text = default.read_text()
    assert "kvm_intel.nested=1" not in text and "intel_iommu=on iommu=pt" in text
    assert any("intel_iommu=on" in n and "kept" in n for n in out["notes"]), out["notes"]

    # an explicit delete removes it anyway
    r = patch(agent, {"delete": ["intel_iommu=on"]})
    assert r.status == 200 and "intel_iommu=on" not in default.read_text()


def test_conflicts_are_refused_and_listed(tmp_path, start_agent):
    root = make_root(tmp_path, "proxmox", cmdline="root=ZFS=rpool/ROOT/pve-1 boot=zfs iommu=off")
    (root / "etc/kernel/cmdline").write_text("root=ZFS=rpool/ROOT/pve-1 boot=zfs iommu=off\n")
    before = bootloader_files(root)
    agent = start_agent(root)
    maintenance(agent)
    for body in ({"append": ["iommu=pt"]}, {"append_if_missing": ["iommu=pt"]}, {"presets": ["iommu"]},
                 {"append": ["iommu=pt"], "dry_run": True}):
        r = patch(agent, body)
        assert r.status == 409, (body, r)
        p = r.json()
        assert p["code"] == "kernel-argument-conflict"
        assert any("iommu=off" in c and "iommu=pt" in c for c in p["conflicts"]), p
        assert bootloader_files(root) == before
    r = patch(agent, {"append": ["iommu=pt"], "allow_conflicts": True})
    assert r.status == 200 and r.json()["changed"] is True, r
    assert r.json()["notes"]
    assert (root / "etc/kernel/cmdline").read_text() == "root=ZFS=rpool/ROOT/pve-1 boot=zfs iommu=off iommu=pt\n"
    assert "proxmox-boot-tool refresh" in r.json()["regeneration"]["command"]
    assert r.json()["regeneration"]["ran"] is False


@pytest.mark.parametrize("body,pointer", [
    ({}, ""),
    ({"dry_run": True}, ""),
    ({"append": "iommu=pt"}, "/append"),
    ({"append": ["iommu=pt", 5]}, "/append/1"),
    ({"append": ["iommu=pt", ""]}, "/append/1"),
    ({"append": ["a", "b", "c", "two words"]}, "/append/3"),
    ({"append_if_missing": ["BOOT_IMAGE=/vmlinuz"]}, "/append_if_missing/0"),
    ({"append_if_missing": ['a"b=c']}, "/append_if_missing/0"),
    ({"delete": ["$tuned_params"]}, "/delete/0"),
    ({"replace": ["noequals"]}, "/replace/0"),
    ({"presets": ["iommu", "warp-drive"]}, "/presets/1"),
    ({"presets": ["vfio-pci-ids"]}, "/presets/0"),
    ({"remove_presets": ["nope"]}, "/remove_presets/0"),
    ({"vfio_pci_ids": ["10de:1eb8", "10de"]}, "/vfio_pci_ids/1"),
    ({"vfio_pci_ids": []}, "/vfio_pci_ids"),
    ({"append": ["x"] * 65}, "/append"),
    ({"append": ["x"], "dry_run": "yes"}, "/dry_run"),
    ({"append": ["x"], "allow_conflicts": 1}, "/allow_conflicts"),
    ({"append": ["x"], "colour": "red"}, "/colour"),
])
def test_bad_bodies_name_the_entry(tmp_path, start_agent, body, pointer):
    root = make_root(tmp_path, "debian-plain")
    before = bootloader_files(root)
    agent = start_agent(root)
    r = patch(agent, body)  # outside maintenance: the body is checked first
    assert r.status == 400, r
    assert r.json()["code"] == "invalid-body" and r.json()["pointer"] == pointer, r.json()
    assert bootloader_files(root) == before


@pytest.mark.parametrize("body,pointer", [
    ({"delete": ["nosuch"]}, "/delete/0"),
    ({"append_if_missing": ["a=1"], "append": ["b=2", "console=tty0"]}, "/append/1"),
    ({"replace": ["panic=5=6"]}, "/replace/0"),
    ({"delete_if_present": ["quiet"], "delete": ["console"]}, "/delete/0"),  # two values: ambiguous
])
def test_edits_that_do_not_apply_name_the_entry(tmp_path, start_agent, body, pointer):
    root = make_root(tmp_path, "debian")
    before = bootloader_files(root)
    agent = start_agent(root)
    maintenance(agent)
    r = patch(agent, body)
    assert r.status == 409, r
    assert r.json()["code"] == "edit-not-applicable" and r.json()["pointer"] == pointer, r.json()
    assert bootloader_files(root) == before


def test_rescue_entry_is_never_touched(tmp_path, start_agent):
    root = make_root(tmp_path, "rhel9-bls")
    rescue = (root / RESCUE).read_bytes()
    agent = start_agent(root)
    maintenance(agent)
    assert patch(agent, {"append_if_missing": ["nosmt"], "delete": ["console=tty0"]}).status == 200
    assert (root / RESCUE).read_bytes() == rescue
    entries = agent.get_json("/v1/kernel-cmdline")["entries"]
    assert all("nosmt" in e["options"] for e in entries if not e["rescue"])


def test_ostree_is_not_editable(tmp_path, start_agent):
    root = make_root(tmp_path, "ostree")
    before = bootloader_files(root)
    agent = start_agent(root)
    maintenance(agent)
    for body in ({"append_if_missing": ["iommu=pt"]}, {"append_if_missing": ["iommu=pt"], "dry_run": True}):
        r = patch(agent, body)
        assert r.status == 409 and r.json()["code"] == "bootloader-not-editable", r
        assert "rpm-ostree" in r.json()["detail"]
    assert bootloader_files(root) == before


@pytest.mark.parametrize("fault", ["rename:loader/entries:EIO", "rename:etc/kernel/cmdline:EIO",
                                   "fsync:loader/entries:EIO", "write:etc/kernel/.cmdline.hostdevd-tmp:ENOSPC"])
def test_failed_write_rolls_back_every_file(tmp_path, start_agent, fault):
    root = make_root(tmp_path, "rhel9-bls")
    before = bootloader_files(root)
    agent = start_agent(root, env=fault_env(fault))
    maintenance(agent)
    r = patch(agent, {"append_if_missing": ["kvm_intel.nested=1"]})
    assert r.status == 500, r
    assert r.json()["code"] == "bootloader-write-failed"
    assert "rolled back" in r.json()["detail"]
    assert bootloader_files(root) == before
    assert temp_files(root) == []
    assert agent.get_json("/v1/kernel-cmdline")["owned"] == []


# ---- presets ----

def test_presets_follow_the_host(tmp_path, start_agent):
    intel = start_agent(make_root(tmp_path / "intel", "rhel9-bls"))
    p = intel.request("/v1/kernel-cmdline/presets", role="reader").json()
    by = {x["name"]: x for x in p["presets"]}
    assert p["iommu"] == "intel-vt-d" and p["iommu_source"] == "DMAR"
    assert by["iommu"]["arguments"] == ["intel_iommu=on", "iommu=pt"]
    assert by["iommu"]["configured"] is True and by["iommu"]["running"] is False
    assert by["nested-virtualization"]["arguments"] == ["kvm_intel.nested=1"]
    assert by["unsafe-interrupts"]["arguments"] == ["vfio_iommu_type1.allow_unsafe_interrupts=1"]
    assert by["pci-realloc"]["arguments"] == ["pci=realloc"]
    assert by["blacklist-nouveau"]["arguments"] == ["modprobe.blacklist=nouveau", "rd.driver.blacklist=nouveau"]
    assert by["smt-off"]["arguments"] == ["nosmt"]
    assert by["vfio-pci-ids"]["takes_ids"] is True and by["vfio-pci-ids"]["arguments"] == []

    amd = start_agent(make_root(tmp_path / "amd", "systemd-boot", topology="amd-ivrs"))
    p = amd.get_json("/v1/kernel-cmdline/presets")
    by = {x["name"]: x for x in p["presets"]}
    assert p["iommu"] == "amd-vi" and p["iommu_source"] == "IVRS"
    assert by["iommu"]["arguments"] == ["iommu=pt"], "amd_iommu=on is not a value current kernels take"
    assert by["nested-virtualization"]["arguments"] == ["kvm_amd.nested=1"]


def test_preset_that_does_not_apply(tmp_path, start_agent):
    root = make_root(tmp_path, "debian-plain", topology="no-iommu")
    before = bootloader_files(root)
    agent = start_agent(root)
    by = {x["name"]: x for x in agent.get_json("/v1/kernel-cmdline/presets")["presets"]}
    assert by["iommu"]["applicable"] is False and "no IOMMU" in by["iommu"]["reason"]
    assert by["iommu"]["arguments"] == []
    maintenance(agent)
    r = patch(agent, {"presets": ["smt-off", "iommu"]})
    assert r.status == 409, r
    assert r.json()["code"] == "preset-not-applicable" and r.json()["pointer"] == "/presets/1"
    assert bootloader_files(root) == before


def test_vfio_pci_ids_replace_and_warnings(tmp_path, start_agent):
    root = make_root(tmp_path, "rhel9-bls")
    agent = start_agent(root)
    p = agent.get_json("/v1/kernel-cmdline/presets?vfio_pci_ids=10DE:1EB8,8086:3e92,ffff:ffff")
    ids = {x["name"]: x for x in p["presets"]}["vfio-pci-ids"]
    assert ids["arguments"] == ["vfio-pci.ids=10de:1eb8,8086:3e92,ffff:ffff"]
    w = " ".join(ids["warnings"])
    assert "0000:00:02.0" in w and "used by the host" in w, ids["warnings"]  # the boot VGA iGPU
    assert "ffff:ffff" in w
    r = agent.request("/v1/kernel-cmdline/presets?vfio_pci_ids=10de", role="reader")
    assert r.status == 400 and r.json()["parameter"] == "vfio_pci_ids"

    maintenance(agent)
    before = bootloader_files(root)
    r = patch(agent, {"vfio_pci_ids": ["10de:1eb8", "8086:3e92"]})  # 8086:3e92: the boot display
    assert r.status == 409 and r.json()["code"] == "edit-not-applicable", r
    assert r.json()["pointer"] == "/vfio_pci_ids", r.json()
    assert "0000:00:02.0" in r.json()["detail"] and "boot" in r.json()["detail"], r.json()
    assert bootloader_files(root) == before
    r = patch(agent, {"vfio_pci_ids": ["10de:1eb8", "ffff:ffff"]})
    assert r.status == 200, r
    assert any("ffff:ffff" in x for x in r.json()["warnings"]), r.json()["warnings"]
    default = (root / (RHEL9_ENTRIES + "5.14.0-503.11.1.el9_5.x86_64.conf")).read_text()
    assert "vfio-pci.ids=10de:1eb8,ffff:ffff" in default and "10de:10f8" not in default, "replaced in place"
    assert default.count("vfio-pci.ids=") == 1
    again = patch(agent, {"vfio_pci_ids": ["10de:1eb8", "ffff:ffff"]})
    assert again.status == 200 and again.json()["changed"] is False


@pytest.mark.parametrize("body,pointer", [
    ({"append": ["vfio-pci.ids=8086:3e92"]}, "/append/0"),
    ({"append_if_missing": ["quiet", "vfio_pci.ids=8086:3E92"]}, "/append_if_missing/1"),
    ({"replace": ["vfio-pci.ids=10de:1eb8,8086:3e92"]}, "/replace/0"),
    # the kernel's own entry format: any vendor and device, of the display class
    ({"replace": ["vfio-pci.ids=ffffffff:ffffffff:ffffffff:ffffffff:030000:ff0000"]}, "/replace/0"),
])
def test_vfio_pci_ids_that_take_a_device_the_host_uses_are_refused(tmp_path, start_agent, body, pointer):
    """However vfio-pci.ids is written, hostdevd never configures one that
    would take a device the host uses (here the boot display) at boot."""
    root = make_root(tmp_path, "rhel9-bls")
    if "replace" not in body:  # an append would conflict with the vfio-pci.ids already there
        for entry in (root / RHEL9_ENTRIES).parent.glob("*.conf"):
            entry.write_text(entry.read_text().replace(" vfio-pci.ids=10de:1eb8,10de:10f8", ""))
    before = bootloader_files(root)
    agent = start_agent(root)
    maintenance(agent)
    for dry_run in (True, False):
        r = patch(agent, {**body, "dry_run": dry_run})
        assert r.status == 409 and r.json()["code"] == "edit-not-applicable", (body, r)
        assert r.json()["pointer"] == pointer, r.json()
        assert "0000:00:02.0" in r.json()["detail"], r.json()
        assert bootloader_files(root) == before


def test_vfio_pci_ids_entries_are_matched_as_the_kernel_matches_them(tmp_path, start_agent):
    root = make_root(tmp_path, "rhel9-bls")
    agent = start_agent(root)
    maintenance(agent)
    igpu = agent.get_json("/v1/devices/0000:00:02.0")
    sub = igpu.get("subsystem_vendor_id"), igpu.get("subsystem_device_id")
    fine = ["vfio-pci.ids=8086",                      # one field: the kernel ignores the entry
            "vfio-pci.ids=8086:3e92:ffff:0001",       # another subsystem vendor
            "vfio-pci.ids=ffffffff:ffffffff:ffffffff:ffffffff:040300:ffff00"]  # audio devices only
    for arg in fine:
        r = patch(agent, {"replace": [arg], "dry_run": True})
        assert r.status == 200, (arg, sub, r)
    # every Ethernet controller: the management NIC too
    r = patch(agent, {"replace": ["vfio-pci.ids=ffffffff:ffffffff:ffffffff:ffffffff:020000:ffff00"], "dry_run": True})
    assert r.status == 409 and "0000:03:00.0" in r.json()["detail"] and "default route" in r.json()["detail"], r.json()["detail"]


def test_a_vfio_pci_ids_already_configured_by_hand_does_not_block_other_edits(tmp_path, start_agent):
    root = make_root(tmp_path, "rhel9-bls")
    entry = root / (RHEL9_ENTRIES + "5.14.0-503.11.1.el9_5.x86_64.conf")
    entry.write_text(entry.read_text().replace("vfio-pci.ids=10de:1eb8,10de:10f8", "vfio-pci.ids=8086:3e92"))
    agent = start_agent(root)
    maintenance(agent)
    r = patch(agent, {"append_if_missing": ["kvm_intel.nested=1"], "dry_run": True})
    assert r.status == 200, r
    warnings = " ".join(agent.get_json("/v1/kernel-cmdline")["warnings"])
    assert "vfio-pci.ids=8086:3e92 would give vfio-pci at boot a device the host uses: 0000:00:02.0" in warnings, \
        warnings


# ---- the reboot operation records the pending arguments ----

def test_reboot_records_pending_arguments(tmp_path, start_agent):
    root = make_root(tmp_path, "rhel9-bls")
    agent = start_agent(root, env={"DBUS_SYSTEM_BUS_ADDRESS": f"unix:path={tmp_path}/no-such-bus"})
    maintenance(agent)
    assert patch(agent, {"append_if_missing": ["kvm_intel.nested=1"]}).status == 200
    r = agent.request("/v1/reboot", method="POST", data=b"{}")
    assert r.status == 202, r
    stored = json.loads((root / "var/lib/hostdevd/operations" / f"{r.json()['id']}.json").read_text())
    assert [e["argument"] for e in stored["expected_arguments"]] == [
        "intel_iommu=on", "iommu=pt", "vfio-pci.ids=10de:1eb8,10de:10f8", "kvm_intel.nested=1"]
    assert stored["iommu_expected"] is True


def test_reboot_completes_with_the_arguments_running(tmp_path, start_agent):
    from test_maintenance import DBUS_DAEMON, Logind, have_dbusmock, wait_state
    if not DBUS_DAEMON or not have_dbusmock():
        pytest.skip("needs dbus-daemon and python3-dbusmock")
    logind = Logind(tmp_path)
    try:
        root = make_root(tmp_path, "debian-plain")
        agent = start_agent(root, env=logind.env)
        maintenance(agent)
        assert patch(agent, {"presets": ["iommu"]}).status == 200
        op = wait_state(agent, agent.request("/v1/reboot", method="POST", data=b"{}").json()["id"],
                        ("running", "failed"))
        assert op["state"] == "running", op
        assert agent.stop() == 0
        # the host comes back with a new boot id and the arguments on its command line
        (root / "proc/sys/kernel/random/boot_id").write_text(str(uuid.uuid4()) + "\n")
        cmdline = (root / "proc/cmdline").read_text().strip()
        (root / "proc/cmdline").write_text(cmdline + " intel_iommu=on iommu=pt\n")
        agent.start()
        done = agent.get_json(f"/v1/operations/{op['id']}")
        assert done["state"] == "succeeded", done
        assert done["result"]["expected_arguments"] == [{"argument": "intel_iommu=on", "running": True},
                                                        {"argument": "iommu=pt", "running": True}]
        assert done["result"]["took_effect"] is True
        assert agent.get_json("/v1/kernel-cmdline")["reboot_required"] is False
    finally:
        logind.stop()


# ---- kill -9 while writing ----

def test_kill_9_while_writing_leaves_old_or_new(tmp_path, start_agent):
    root = make_root(tmp_path, "rhel9-bls")
    agent = start_agent(root)
    maintenance(agent)
    old = bootloader_files(root)
    assert patch(agent, {"append_if_missing": ["kvm_intel.nested=1", "nosmt"]}).status == 200
    new = bootloader_files(root)
    assert patch(agent, {"delete_owned": ["kvm_intel.nested=1", "nosmt"]}).json()["changed"] is True
    assert bootloader_files(root) == old, "the round trip gives the original bytes back"
    changing = sorted(p for p in old if old[p] != new[p])
    assert len(changing) >= 3

    rng = random.Random(11)
    for cycle in range(12):
        writer = hammer(agent, "PATCH", "/v1/kernel-cmdline", "admin",
                        [json.dumps({key: ["kvm_intel.nested=1", "nosmt"]})
                         for key in ("append_if_missing", "delete_owned")])
        time.sleep(rng.uniform(0.05, 0.5))
        agent.proc.send_signal(signal.SIGKILL)
        agent.proc.wait()
        writer.communicate(timeout=30)
        agent.start()  # cleans up: stale temporaries, an interrupted edit rolled back
        now = bootloader_files(root)
        states = {"old" if now[p] == old[p] else "new" if now[p] == new[p] else "torn" for p in changing}
        assert states in ({"old"}, {"new"}), (cycle, {p: now[p][:0] for p in changing}, states)
        assert all(now[p] == old[p] for p in old if p not in changing)
        assert temp_files(root) == [], cycle
        k = agent.get_json("/v1/kernel-cmdline")
        assert k["bootloader"]["kind"] == "bls" and k["configured"]["text"]
        has = "kvm_intel.nested=1" in k["configured"]["text"]
        assert has is (states == {"new"})


# ---- Characters a backend cannot store literally ----

COMMON_REFUSED = ["a\nb", "a\tb", "a\x01b", "a\x7fb", 'a"b', 'a="b"c', 'k"=v"']
GRUB_REFUSED = "$\\';&|<>{}"
REFUSED = {"bls": GRUB_REFUSED, "bls-grubenv": GRUB_REFUSED, "grub-debian": GRUB_REFUSED + "`",
           "systemd-boot": "", "proxmox-boot-tool": "\\"}
EDITABLE = sorted(c for c in KINDS if KINDS[c] != "ostree")


@pytest.mark.parametrize("case", EDITABLE)
def test_characters_a_backend_cannot_store_are_refused(tmp_path, start_agent, case):
    root = make_root(tmp_path, case)
    before = bootloader_files(root)
    agent = start_agent(root)
    maintenance(agent)
    bad = COMMON_REFUSED + [f"x={c}(reboot)" for c in REFUSED[KINDS[case]]]
    for arg in bad:
        for body, pointer in (({"append": [arg]}, "/append/0"),
                              ({"append": ["ok=1"], "append_if_missing": ["ok2", arg]}, "/append_if_missing/1"),
                              ({"replace": [f"panic={arg}"]}, "/replace/0")):
            r = patch(agent, body)
            assert r.status == 400, (arg, r)
            assert r.json()["code"] == "invalid-body" and r.json()["pointer"] == pointer, (arg, r.json())
            assert bootloader_files(root) == before, arg
    # What the backend stores literally passes (a dry run: nothing written either).
    fine = [f"x{i}=a{c}b" for i, c in enumerate("$\\';&|<>{}`") if c not in REFUSED[KINDS[case]]] + ['k="a b"', '"j=a b"']
    r = patch(agent, {"append": fine, "dry_run": True})
    assert r.status == 200, r
    assert bootloader_files(root) == before


@pytest.mark.parametrize("case", EDITABLE)
def test_an_argument_that_starts_with_a_hash_is_refused(tmp_path, start_agent, case):
    """GRUB's script reads a word that starts with '#' as a comment, and so
    does /etc/kernel/cmdline at the start of a line: no backend takes one.
    A '#' further in is stored literally everywhere."""
    root = make_root(tmp_path, case)
    before = bootloader_files(root)
    agent = start_agent(root)
    maintenance(agent)
    for body, pointer in (({"append": ["#x"]}, "/append/0"),
                          ({"append_if_missing": ["ok", "#iommu=pt"]}, "/append_if_missing/1"),
                          ({"replace": ["#panic=5"]}, "/replace/0")):
        r = patch(agent, body)
        assert r.status == 400, (body, r)
        assert r.json()["code"] == "invalid-body" and r.json()["pointer"] == pointer, r.json()
        assert "'#'" in r.json()["detail"], r.json()
    assert bootloader_files(root) == before
    r = patch(agent, {"append": ["x=#y", "a#b"], "dry_run": True})
    assert r.status == 200, r


def test_a_delete_that_would_make_a_kernel_cmdline_line_a_comment_is_refused(tmp_path, start_agent):
    """/etc/kernel/cmdline: 'quiet #x' holds two arguments; without 'quiet'
    the line would start with '#' and be dropped by kernel-install."""
    root = make_root(tmp_path, "systemd-boot")
    f = root / "etc/kernel/cmdline"
    f.write_text(f.read_text() + "quiet #x\n")
    before = bootloader_files(root)
    agent = start_agent(root)
    maintenance(agent)
    r = patch(agent, {"delete": ["quiet"], "dry_run": True})
    assert r.status == 409 and r.json()["code"] == "edit-not-applicable", r
    assert r.json()["pointer"] == "/delete/0", r.json()
    detail = r.json()["detail"]
    assert "/etc/kernel/cmdline" in detail and "'#x'" in detail and "comment" in detail, r.json()
    assert bootloader_files(root) == before


@pytest.mark.parametrize("case", ["systemd-boot", "rhel9-bls", "debian"])
def test_a_bootloader_file_with_a_nul_byte_is_not_edited(tmp_path, start_agent, case):
    """Not text: a host's precondition (409, the file named), not an internal error."""
    root = make_root(tmp_path, case)
    f = {"systemd-boot": "etc/kernel/cmdline", "rhel9-bls": RHEL9_ENTRIES + "5.14.0-503.11.1.el9_5.x86_64.conf",
         "debian": "etc/default/grub"}[case]
    (root / f).write_bytes((root / f).read_bytes() + b"# \0\n")
    before = bootloader_files(root)
    agent = start_agent(root)
    maintenance(agent)
    r = patch(agent, {"append": ["kvm.ignore_msrs=1"], "dry_run": True})
    assert r.status == 409 and r.json()["code"] == "bootloader-not-editable", r
    assert "NUL" in r.json()["detail"] and f in r.json()["detail"], r.json()
    assert bootloader_files(root) == before


def test_the_example_from_the_issue(tmp_path, start_agent):
    root = make_root(tmp_path, "rhel9-bls")
    before = bootloader_files(root)
    agent = start_agent(root)
    maintenance(agent)
    r = patch(agent, {"append": ["x=$(reboot)"]})
    assert r.status == 400 and r.json()["pointer"] == "/append/0", r
    assert "'$'" in r.json()["detail"] and "bls" in r.json()["detail"], r.json()
    assert bootloader_files(root) == before

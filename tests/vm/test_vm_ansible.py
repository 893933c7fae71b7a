"""Real-kernel tier: the hostdevd.passthrough collection's rolling playbook
(playbooks/enable-iommu.yml) turning the IOMMU on in a real guest.

The same machine and guest as test_vm_api_reboot.py (intel-off: VT-d
present, booted with intel_iommu=off, through UEFI firmware and
systemd-boot, the agent run by guest/api-agent.sh with its port forwarded),
but the administrator is ansible-playbook (Debian's ansible-core, the
collection from packaging/ansible) instead of raw HTTP: host_info, maintenance
mode on, the kernel arguments (the agent's iommu preset, minus the
intel_iommu=off the capabilities name), the reboot and the wait for the new
boot, the check that the IOMMU is active, maintenance mode off, which is the
guest's signal to power off. One run, two boots, about a minute and a half.

Environment as for test_vm_api_reboot.py: HOSTDEVD_BINARY (or HOSTDEVD), and
HOSTDEVD_VM_OUT to keep the results (the playbook's output is
ansible-playbook.txt there).
"""

import json
import os
import subprocess
import sys
import time

import pytest

from test_vm_api_reboot import (FIRST_ANSWER, GUEST_PORT, GUEST_SCRIPT, MACHINE, RUN_TIMEOUT, Answer, Cycle,
                                Unreachable, arguments, free_port, make_tokens, stop)
from vmrecord import HERE, RUN_MACHINE, out_dir, parse_group_listing, tier_binary

sys.path.insert(0, str(HERE.parent / "ansible"))
BACK_AFTER_REBOOT = 150  # the playbook's reboot_timeout
PLAYBOOK_TIMEOUT = 420   # ansible-playbook's whole run
REBOOT_TASK = "Reboot when arguments are pending, and wait for the new boot"
KERNEL_TASK = "The IOMMU kernel arguments for the next boot"
VERIFY_TASK = "The IOMMU is active"


class Guest:
    """What the inventory needs of a host: its name and agent URL."""

    def __init__(self, port):
        self.name = "vm"
        self.url = f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def roll(tmp_path_factory):
    binary = tier_binary() or os.environ.get("HOSTDEVD")
    if not binary:
        pytest.fail("HOSTDEVD_BINARY is not set: this test needs the real hostdevd")
    from ansible_harness import PLAYBOOK, Ansible  # installs ansible-core if missing
    out = out_dir(f"{MACHINE}-ansible", tmp_path_factory)
    out.mkdir(parents=True, exist_ok=True)
    admin, tokens, guest_token = make_tokens(binary, out / "guest-files")
    port = free_port()
    cmd = [str(RUN_MACHINE), MACHINE, "--uefi", "--state-disk", "--forward", f"{port}:{GUEST_PORT}",
           "--script", str(GUEST_SCRIPT), "--guest-file", str(tokens), "--guest-file", str(guest_token),
           "--binary", binary, "--out", str(out), "--timeout", str(RUN_TIMEOUT)]
    c = Cycle(out, port, admin)
    c.run = None
    ansible = Ansible(tmp_path_factory.mktemp("ansible"))
    start = time.monotonic()
    c.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        first = c.wait_for_agent("waiting for the agent in boot 1", FIRST_ANSWER)
        if first:
            c.answers["host-1"] = first
            c.run = ansible.playbook(PLAYBOOK, [Guest(port)], "-e", f"hostdevd_reboot_timeout={BACK_AFTER_REBOOT}",
                                     host_vars={"vm": {"hostdevd_token": admin}}, timeout=PLAYBOOK_TIMEOUT)
            (out / "ansible-playbook.txt").write_text(c.run.stdout + c.run.stderr)
            off = c.run.results("Maintenance mode off").get("vm", {})
            if off.get("changed") and not off.get("failed"):  # the guest's signal was given: stop() waits
                c.answers["maintenance-off"] = Answer("PUT", "/v1/maintenance", 200, {},
                                                      json.dumps(off.get("maintenance")))
    except Unreachable as e:
        c.stopped_at = f"the agent stopped answering: {e}"
    finally:
        stop(c)
        c.seconds = time.monotonic() - start
    (out / "ansible-report.json").write_text(json.dumps(c.run.report if c.run else None, indent=1))
    if c.rc == 77:
        pytest.skip(c.stderr.strip())
    return c


def result(c, task):
    if c.run is None:
        pytest.fail(f"the playbook did not run: {c.stopped_at}\n{c.diagnosis()}")
    r = c.run.results(task).get("vm")
    assert r is not None, f"task {task!r} did not run:\n{c.run.summary()}"
    return r


def test_the_playbook_succeeded_and_the_guest_powered_off(roll):
    assert roll.run is not None, f"{roll.stopped_at}\n{roll.diagnosis()}"
    assert roll.run.returncode == 0, roll.run.summary()
    stats = roll.run.stats["vm"]
    assert stats["failures"] == 0 and stats["unreachable"] == 0, stats
    # maintenance on, kernel arguments, reboot, maintenance off
    assert stats["changed"] == 4, roll.run.summary()
    assert roll.rc == 0, roll.diagnosis()
    log = roll.persisted(2, "script.log")
    assert "maintenance mode turned off" in log, log


def test_first_boot_needed_kernel_arguments(roll):
    before = result(roll, "Read the capabilities, kernel command line and maintenance mode")
    caps = before["capabilities"]
    assert caps["verdict"] == "needs-kernel-arguments" and caps["iommu_active"] is False, caps
    assert "intel_iommu=off" in caps["kernel_arguments"]["remove"], caps
    assert before["kernel_cmdline"]["bootloader"]["kind"] == "systemd-boot", before["kernel_cmdline"]
    assert "intel_iommu=off" in roll.persisted(1, "cmdline.txt").split()


def test_the_kernel_arguments_were_configured(roll):
    r = result(roll, KERNEL_TASK)
    assert r["changed"] is True and r["operation"]["state"] == "succeeded", r
    assert "intel_iommu=off" in r["before"].split(), r
    after = r["after"].split()
    assert "intel_iommu=on" in after and "iommu=pt" in after and "intel_iommu=off" not in after, r
    assert r["reboot_required"] is True and sorted(r["change"]["owned"]) == ["intel_iommu=on", "iommu=pt"], r
    assert "intel_iommu=on" in roll.persisted(2, "etc-kernel-cmdline-at-end.txt").split()


def test_the_machine_rebooted_through_the_agent(roll):
    r = result(roll, REBOOT_TASK)
    assert r["changed"] is True and r["rebooted"] is True, r
    first = roll.answer("host-1").json
    assert r["boot_id_before"] == first["boot_id"], r
    assert r["boot_id_after"] == roll.persisted(2, "boot-id.txt").strip() != r["boot_id_before"], r
    op = r["operation"]
    assert op["kind"] == "reboot" and op["state"] == "succeeded" and op["method"] == "direct", op
    assert r["result"]["took_effect"] is True and r["result"]["iommu_active"] is True, r
    assert [roll.persisted(boot, "firmware.txt").strip() for boot in (1, 2)] == ["uefi", "uefi"]
    running = roll.persisted(2, "cmdline.txt").split()
    assert "intel_iommu=on" in running and "iommu=pt" in running and "intel_iommu=off" not in running


def test_the_iommu_is_active_after_the_reboot(roll):
    v = result(roll, VERIFY_TASK)
    assert not v.get("failed"), v
    after = result(roll, "Read the capabilities in the new boot")
    assert after["capabilities"]["verdict"] == "ready" and after["capabilities"]["iommu_active"] is True, after
    assert {"intel_iommu=on", "iommu=pt"} <= set(arguments(after["kernel_cmdline"]["running"]))
    assert after["kernel_cmdline"]["reboot_required"] is False
    kernel = parse_group_listing(roll.persisted(2, "iommu-groups-ls.txt"))
    assert kernel and after["capabilities"]["iommu_groups"] == len(kernel)


def test_maintenance_mode_was_left(roll):
    r = result(roll, "Maintenance mode off")
    assert r["changed"] is True and r["maintenance"]["enabled"] is False, r
    on = result(roll, "Maintenance mode on")
    assert on["changed"] is True and on["maintenance"]["reason"] == "enable the IOMMU", on
    assert roll.persisted(2, "maintenance-at-start.txt").strip() == "true", "maintenance survived the reboot"

"""The hostdevd.passthrough collection against real agents: ansible-playbook
(Debian's ansible-core, the collection from packaging/ansible) runs its
modules against hostdevd agents on loopback, each on a fixture root (the
kernel-made q35 snapshots of tests/data/sysfs with a Debian GRUB setup, or
generated trees with the kernel double pcimock.so for binding), and every
claim is checked on the agent (direct HTTP, validated against the contract)
and on the fixture root (bootloader files, sysfs driver links, boot id).

Reboots: the agent asks python3-dbusmock's logind; the test's Host then
plays the machine: the agent stops, the root gets a new boot id, the
command line the bootloader now configures, and the IOMMU-on sysfs of the
same machine when intel_iommu=on runs; the agent starts again and
reconciles its reboot operation, as on a real host.

    HOSTDEVD=build/hostdevd HOSTDEVD_SRCDIR=$PWD HOSTDEVD_BUILDDIR=build \\
        /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/ansible
"""
import json
import os
import re

import pytest

from ansible_harness import (PCIMOCK, PLAYBOOK, Host, ansible, bootloader_files, boot_id_file,  # noqa: F401
                             debian_host, hosts, logind, mksysfs)

MAINTENANCE_REASON = "enable the IOMMU"  # the rolling playbook's default
ALL = ["capabilities", "devices", "iommu_groups", "kernel_cmdline", "maintenance", "host"]
PATHS = {"capabilities": "/v1/capabilities", "devices": "/v1/devices", "iommu_groups": "/v1/iommu-groups",
         "kernel_cmdline": "/v1/kernel-cmdline", "maintenance": "/v1/maintenance", "host": "/v1/host"}


def ok(run):
    assert run.returncode == 0, run.summary()
    return run


def task(module, name=None, register=None, **args):
    t = {"name": name or module, f"hostdevd.passthrough.{module}": args}
    if register:
        t["register"] = register
    return t


def maintenance(host, enabled, reason="test"):
    r = host.agent.request("/v1/maintenance", method="PUT", data=json.dumps(
        {"enabled": enabled, "reason": reason}).encode(), role="operator")
    assert r.status == 200, r


def operations(host, kind=None):
    return [o for o in host.get("/v1/operations")["operations"] if kind is None or o["kind"] == kind]


# ---- host_info -------------------------------------------------------------

def snapshot_host(name, grub=None):
    def make(root):
        return debian_host(root, snapshot=name, **({"grub_cmdline_linux": grub} if grub else {}))
    return make


def test_host_info_returns_what_the_api_returns(hosts, ansible):
    fleet = [hosts("off", snapshot_host("iommu-off")),
             hosts("on", snapshot_host("intel-gpu-like", "intel_iommu=on iommu=pt")),
             hosts("none", snapshot_host("no-iommu", "quiet"))]
    run = ok(ansible.tasks(fleet, [task("host_info", "all"), task("host_info", "some", gather=["host", "maintenance"])]))
    check = ok(ansible.tasks(fleet, [task("host_info", "all")], "--check"))
    for h in fleet:
        for result in (run.result("all", h.name), check.result("all", h.name)):
            assert result["changed"] is False and not result.get("failed"), result
            for key in ALL:
                assert result[key] == h.get(PATHS[key]), f"{h.name}: {key} differs from GET {PATHS[key]}"
        some = run.result("some", h.name)
        assert sorted(k for k in ALL if k in some) == ["host", "maintenance"], some
    verdicts = {h.name: run.result("all", h.name)["capabilities"]["verdict"] for h in fleet}
    assert verdicts == {"off": "needs-kernel-arguments", "on": "ready", "none": "disabled-in-firmware"}
    assert run.stats["off"]["changed"] == 0 and run.stats["off"]["ok"] == 2


def test_wrong_token_fails_naming_401(hosts, ansible):
    h = hosts("hv")
    run = ansible.playbook([{"hosts": "all", "gather_facts": False, "tasks": [
        dict(task("host_info", url="{{ hostdevd_url }}", token="not-a-token"), delegate_to="localhost")]}], [h])
    assert run.returncode == 2, run.summary()
    r = run.result("host_info", "hv")
    assert r["failed"] and r["status"] == 401 and r["problem"]["code"] == "unauthorized", r
    assert r["msg"].startswith("GET /v1/capabilities: 401 Authentication required"), r["msg"]
    assert "not-a-token" not in run.stdout, "the token is not logged"


def test_unreachable_agent_fails_saying_so(hosts, ansible):
    h = hosts("hv")
    assert h.agent.stop() == 0
    run = ansible.tasks([h], [task("maintenance", state="present")])
    r = run.result("maintenance", "hv")
    assert r["failed"] and "cannot reach the hostdevd agent at " + h.url in r["msg"], r


def test_https_with_client_certificates(tmp_path, hosts, ansible):
    """Mutual TLS: the agent's CA (ca_path) and a client certificate whose
    subject has the admin role (client_cert, client_key), no token."""
    from tlscerts import make_pki, subject
    pki = make_pki(tmp_path / "pki")
    conf = tmp_path / "hostdevd.conf"
    conf.write_text(f"tls_certificate = {pki['server'][0]}\ntls_key = {pki['server'][1]}\n"
                    f"tls_client_ca = {pki['ca'][0]}\ntls_client_role = admin {subject('admin')}\n")
    h = hosts("hv", args=["--config", str(conf)],
              tls={"cacert": pki["ca"][0], "cert": pki["admin"][0], "key": pki["admin"][1]})
    assert h.url.startswith("https://127.0.0.1:")
    cert = {"client_cert": str(pki["admin"][0]), "client_key": str(pki["admin"][1])}
    tasks = [dict(task("host_info", "info", url=h.url, ca_path=str(pki["ca"][0]), gather=["host"], **cert)),
             dict(task("maintenance", "enter", url=h.url, ca_path=str(pki["ca"][0]), reason="tls", **cert)),
             dict(task("host_info", "unverified", url=h.url, validate_certs=False, gather=["host"], **cert)),
             dict(task("host_info", "no CA", url=h.url, gather=["host"], **cert), ignore_errors=True),
             dict(task("host_info", "no certificate", url=h.url, ca_path=str(pki["ca"][0])), ignore_errors=True)]
    play = {"hosts": "all", "gather_facts": False, "tasks": [dict(t, delegate_to="localhost") for t in tasks]}
    run = ansible.playbook([play], [h])
    assert run.result("info", "hv")["host"] == h.get("/v1/host"), run.summary()
    assert run.result("enter", "hv")["changed"] is True
    assert h.get("/v1/maintenance")["by"] == subject("admin"), "the certificate's subject made the change"
    assert run.result("unverified", "hv")["host"]["boot_id"] == h.get("/v1/host")["boot_id"]
    r = run.result("no CA", "hv")
    assert r["failed"] and "certificate of the hostdevd agent at " + h.url + " is not trusted" in r["msg"], r
    assert "CERTIFICATE_VERIFY_FAILED" in r["msg"], r
    r = run.result("no certificate", "hv")
    assert r["failed"] and r["status"] == 401 and "no client certificate" in r["msg"], r


# ---- maintenance -----------------------------------------------------------

def test_maintenance_check_mode_idempotence_and_diff(hosts, ansible):
    h = hosts("hv")
    enter = [task("maintenance", "enter", register="m", state="present", reason="kernel arguments")]

    run = ok(ansible.tasks([h], enter, "--check"))
    assert run.result("enter", "hv")["changed"] is True
    assert h.get("/v1/maintenance")["enabled"] is False, "check mode changes nothing"

    run = ok(ansible.tasks([h], enter))
    r = run.result("enter", "hv")
    api = h.get("/v1/maintenance")
    assert r["changed"] is True and api["enabled"] is True and api["reason"] == "kernel arguments"
    assert api["by"] == "test-admin" and r["maintenance"] == api

    again = [task("maintenance", "enter", state="present", reason="another reason")]
    assert ok(ansible.tasks([h], again, "--check")).result("enter", "hv")["changed"] is False
    r = ok(ansible.tasks([h], again)).result("enter", "hv")
    assert r["changed"] is False, "already in maintenance mode"
    assert h.get("/v1/maintenance") == api, "the reason, time and requester stay"

    leave = [task("maintenance", "leave", state="absent")]
    run = ok(ansible.tasks([h], leave, "--diff"))
    assert re.search(r'^-\s+"enabled": true,$', run.stdout, re.M), run.stdout
    assert re.search(r'^\+\s+"enabled": false,$', run.stdout, re.M), run.stdout
    assert re.search(r'^-\s+"reason": "kernel arguments"$', run.stdout, re.M), run.stdout
    assert re.search(r"^hv\s+: ok=1\s+changed=1 ", run.stdout, re.M), run.stdout
    assert h.get("/v1/maintenance")["enabled"] is False

    run = ok(ansible.tasks([h], leave, "--diff"))
    assert re.search(r"^hv\s+: ok=1\s+changed=0 ", run.stdout, re.M), run.stdout
    assert "--- before" not in run.stdout, "no diff when nothing changes"


def test_maintenance_refused_while_a_vm_holds_a_group(hosts, ansible):
    h = hosts("hv", snapshot_host("intel-gpu-like", "intel_iommu=on iommu=pt"))
    proc = h.root / "proc" / "4242"
    (proc / "fd").mkdir(parents=True)
    (proc / "comm").write_text("qemu-system-x86\n")
    (proc / "cmdline").write_bytes(b"/usr/bin/qemu-system-x86_64\0-name\0guest=win10\0")
    os.symlink("/dev/vfio/8", proc / "fd" / "21")
    run = ansible.tasks([h], [task("maintenance", state="present", reason="x")])
    r = run.result("maintenance", "hv")
    assert r["failed"] and r["status"] == 409 and r["problem"]["code"] == "devices-in-use", r
    assert "holders: group 8 held by qemu-system-x86 (pid 4242, vm win10)" in r["msg"], r["msg"]
    assert h.get("/v1/maintenance")["enabled"] is False
    r = ok(ansible.tasks([h], [task("maintenance", state="present", reason="x", force=True)])).result("maintenance", "hv")
    assert r["changed"] and h.get("/v1/maintenance")["enabled"] is True


# ---- kernel_cmdline --------------------------------------------------------

def test_kernel_cmdline_refused_outside_maintenance_with_the_problem(hosts, ansible):
    h = hosts("hv")
    files = bootloader_files(h.root)
    run = ansible.tasks([h], [task("kernel_cmdline", presets=["iommu"], absent=["intel_iommu=off"])])
    assert run.returncode == 2, run.summary()
    r = run.result("kernel_cmdline", "hv")
    direct = h.agent.request("/v1/kernel-cmdline", method="PATCH",
                             data=b'{"presets": ["iommu"], "delete_if_present": ["intel_iommu=off"]}')
    assert direct.status == 409
    assert r["failed"] and r["status"] == 409 and r["problem"] == direct.json(), r
    assert r["msg"] == ("PATCH /v1/kernel-cmdline: 409 The host is not in maintenance mode (not-in-maintenance): "
                        + direct.json()["detail"])
    assert bootloader_files(h.root) == files and operations(h) == []


def test_kernel_cmdline_check_mode_uses_the_dry_run(hosts, ansible):
    h = hosts("hv")
    maintenance(h, True)
    files = bootloader_files(h.root)
    run = ok(ansible.tasks([h], [task("kernel_cmdline", presets=["iommu"], absent=["intel_iommu=off"])],
                           "--check", "--diff"))
    r = run.result("kernel_cmdline", "hv")
    assert r["changed"] is True and r["change"]["dry_run"] is True
    assert (r["before"], r["after"]) == ("intel_iommu=off quiet", "intel_iommu=on iommu=pt quiet")
    assert r["files"] == ["/etc/default/grub.d/zz-hostdevd.cfg"] and "operation" not in r
    assert bootloader_files(h.root) == files, "check mode writes nothing"
    assert operations(h) == [] and h.get("/v1/kernel-cmdline")["configured"]["text"] == "intel_iommu=off quiet"


def test_kernel_cmdline_present_and_absent_edit_the_bootloader(hosts, ansible):
    h = hosts("hv")
    maintenance(h, True)
    grub_d = h.root / "etc/default/grub.d/zz-hostdevd.cfg"
    edit = [task("kernel_cmdline", "edit", presets=["iommu"], absent=["intel_iommu=off"])]

    run = ok(ansible.tasks([h], edit, "--diff"))
    out = run.stdout
    assert "--- before: configured kernel command line" in out and "-intel_iommu=off quiet" in out, out
    assert "+intel_iommu=on iommu=pt quiet" in out, out
    assert "+++ b/etc/default/grub.d/zz-hostdevd.cfg" in out, "the agent's file diff is shown"
    assert re.search(r"^hv\s+: ok=1\s+changed=1 ", out, re.M), out
    assert re.search(r'^GRUB_CMDLINE_LINUX="intel_iommu=on iommu=pt"$', grub_d.read_text(), re.M), grub_d.read_text()
    kc = h.get("/v1/kernel-cmdline")
    assert kc["configured"]["text"] == "intel_iommu=on iommu=pt quiet" and kc["reboot_required"] is True
    ops = operations(h, "kernel-cmdline")
    assert len(ops) == 1 and ops[0]["state"] == "succeeded"

    # the same again changes nothing, even once the host is active again
    maintenance(h, False)
    r = ok(ansible.tasks([h], edit)).result("edit", "hv")
    assert r["changed"] is False and r["reboot_required"] is True, r
    assert len(operations(h, "kernel-cmdline")) == 1, "no change was asked for"

    maintenance(h, True)
    run = ok(ansible.tasks([h], [task("kernel_cmdline", "drop", register="k", absent=["iommu=pt"],
                                      present=["kvm_amd.nested=1"])]))
    r = run.result("drop", "hv")
    assert r["changed"] is True and r["operation"]["state"] == "succeeded", r
    assert r["after"] == "intel_iommu=on kvm_amd.nested=1 quiet" == h.get("/v1/kernel-cmdline")["configured"]["text"]
    text = grub_d.read_text()
    assert "iommu=pt" not in text and "kvm_amd.nested=1" in text and "intel_iommu=on" in text, text


def test_kernel_cmdline_conflict_is_a_failure_listing_it(hosts, ansible):
    h = hosts("hv")
    maintenance(h, True)
    run = ansible.tasks([h], [task("kernel_cmdline", present=["intel_iommu=on"])])
    r = run.result("kernel_cmdline", "hv")
    assert r["failed"] and r["problem"]["code"] == "kernel-argument-conflict", r
    assert "; conflicts: " in r["msg"] and "intel_iommu" in r["msg"], r["msg"]


# ---- device_driver ---------------------------------------------------------

GPU, AUDIO, DISK = "0000:01:00.0", "0000:01:00.1", "0000:02:00.0"


def sysfs_driver(root, addr):
    link = root / "sys/bus/pci/devices" / addr / "driver"
    return os.path.basename(os.readlink(link)) if os.path.islink(link) else None


def passthrough_tree(root):
    mksysfs.generate("passthrough", root)
    return root


def test_device_driver_binds_the_group_and_gives_it_back(tmp_path, ansible):
    if not PCIMOCK.exists():
        pytest.fail(f"{PCIMOCK} is not built (make check builds it; set HOSTDEVD_BUILDDIR)")
    root = passthrough_tree(tmp_path / "hv" / "root")
    h = Host("hv", root, env={"LD_PRELOAD": str(PCIMOCK), "PCIMOCK_ROOT": str(root)})
    try:
        bind = [task("device_driver", "bind", address=GPU, driver="vfio-pci")]
        r = ok(ansible.tasks([h], bind, "--check")).result("bind", "hv")
        assert r["changed"] is True and "operation" not in r
        assert [(d["address"], d["after"]) for d in r["devices"]] == [(GPU, "vfio-pci"), (AUDIO, "vfio-pci")], r
        assert [sysfs_driver(root, a) for a in (GPU, AUDIO)] == ["nouveau", "snd_hda_intel"], "check mode binds nothing"

        run = ok(ansible.tasks([h], bind, "--diff"))
        assert re.search(r'^-\s+"driver": "nouveau",$', run.stdout, re.M), run.stdout
        assert re.search(r'^\+\s+"driver": "vfio-pci",$', run.stdout, re.M), run.stdout
        assert [sysfs_driver(root, a) for a in (GPU, AUDIO)] == ["vfio-pci", "vfio-pci"], "the whole group is bound"
        state = h.get(f"/v1/devices/{AUDIO}/driver")
        assert state["binding"]["requested"] == GPU and state["binding"]["persistent"] is False

        r = ok(ansible.tasks([h], bind)).result("bind", "hv")
        assert r["changed"] is False and r["binding"]["in_effect"] is True, "idempotent"
        assert len(operations(h, "bind")) == 1

        r = ok(ansible.tasks([h], [task("device_driver", "bind", address=AUDIO, persistent=True)])).result("bind", "hv")
        assert r["changed"] is True and r["binding"]["persistent"] is True, r
        assert r["operation"]["result"]["outcome"] == "unchanged", "only the record changed"

        release = [task("device_driver", "release", address=AUDIO, driver="host")]
        r = ok(ansible.tasks([h], release)).result("release", "hv")
        assert r["changed"] is True and r["binding"] is None and r["operation"]["kind"] == "release", r
        assert [(d["address"], d["before"], d["after"]) for d in r["devices"]] == [
            (GPU, "vfio-pci", "nouveau"), (AUDIO, "vfio-pci", "snd_hda_intel")], r
        assert [sysfs_driver(root, a) for a in (GPU, AUDIO)] == ["nouveau", "snd_hda_intel"]
        assert ok(ansible.tasks([h], release)).result("release", "hv")["changed"] is False

        run = ansible.tasks([h], [task("device_driver", "disk", address=DISK)])
        r = run.result("disk", "hv")
        assert r["failed"] and r["problem"]["code"] == "binding-refused", r
        assert "host-uses-device" in {x["code"] for x in r["problem"]["reasons"]} and "; reasons: " in r["msg"], r
        assert sysfs_driver(root, DISK) == "nvme"
    finally:
        h.stop()


# ---- reboot ----------------------------------------------------------------

def test_reboot_only_when_pending_and_check_mode(hosts, ansible, logind):
    h = hosts("hv", env=logind.env).watch()
    boot = boot_id_file(h.root).read_text()
    r = ok(ansible.tasks([h], [task("reboot")])).result("reboot", "hv")
    assert r["changed"] is False and r["rebooted"] is False and r["reboot_pending"] is False, r
    assert operations(h, "reboot") == [] and logind.reboot_calls() == []

    maintenance(h, True)
    ok(ansible.tasks([h], [task("kernel_cmdline", presets=["iommu"], absent=["intel_iommu=off"])]))
    maintenance(h, False)
    r = ok(ansible.tasks([h], [task("reboot")], "--check")).result("reboot", "hv")
    assert r["changed"] is True and r["rebooted"] is False and r["reboot_pending"] is True, r
    assert any("not in maintenance mode" in w for w in r["warnings"]), r
    run = ansible.tasks([h], [task("reboot")])
    r = run.result("reboot", "hv")
    assert r["failed"] and r["problem"]["code"] == "not-in-maintenance" and "409" in r["msg"], r
    assert operations(h, "reboot") == [] and logind.reboot_calls() == [] and boot_id_file(h.root).read_text() == boot


def test_reboot_waits_for_the_new_boot(hosts, ansible, logind):
    h = hosts("hv", env=logind.env, downtime=3).watch()
    maintenance(h, True)
    ok(ansible.tasks([h], [task("kernel_cmdline", presets=["iommu"], absent=["intel_iommu=off"])]))
    before = h.get("/v1/host")["boot_id"]
    run = ok(ansible.tasks([h], [task("reboot", reboot_timeout=60, poll_interval=1)]))
    r = run.result("reboot", "hv")
    assert len(h.reboots) == 1, "the machine went down once"
    old, new, cmdline = h.reboots[0]
    assert r["changed"] is True and r["rebooted"] is True
    assert r["boot_id_before"] == before == old and r["boot_id_after"] == new == h.get("/v1/host")["boot_id"]
    assert r["elapsed"] >= 3, "the module waited while the agent was down"
    op = h.get(f"/v1/operations/{r['operation']['id']}")
    assert op["state"] == "succeeded" and r["operation"] == op
    assert r["result"]["took_effect"] is True and r["result"]["iommu_active"] is True, r["result"]
    assert logind.reboot_calls() in (["RebootWithFlags 0"], ["Reboot False"]), logind.reboot_calls()
    assert "intel_iommu=on" in cmdline.split() and "intel_iommu=off" not in cmdline.split()
    assert h.get("/v1/capabilities")["verdict"] == "ready"
    r = ok(ansible.tasks([h], [task("reboot")])).result("reboot", "hv")
    assert r["changed"] is False, "nothing pending any more: no second reboot"
    assert len(h.reboots) == 1


def test_reboot_refused_by_logind_fails_with_the_operations_error(hosts, ansible, logind):
    logind.refuse_reboots()
    h = hosts("hv", env=logind.env).watch()
    maintenance(h, True)
    run = ansible.tasks([h], [task("reboot", force=True, reboot_timeout=60, poll_interval=1)])
    r = run.result("reboot", "hv")
    op = operations(h, "reboot")[0]
    assert op["state"] == "failed"
    assert r["failed"] and r["msg"] == f"reboot operation {op['id']} failed: {op['error']}", r
    assert "InteractiveAuthorizationRequired" in r["msg"] and h.reboots == []


def test_reboot_that_never_comes_back_times_out(hosts, ansible, logind):
    h = hosts("hv", env=logind.env, comes_back=False).watch()
    maintenance(h, True)
    run = ansible.tasks([h], [task("reboot", force=True, reboot_timeout=4, poll_interval=1)])
    r = run.result("reboot", "hv")
    assert r["failed"] and "did not come back from the reboot within 4 s" in r["msg"], r
    assert "cannot reach the hostdevd agent" in r["msg"], "the last error is named"
    assert len(h.reboots) == 1


# ---- the rolling playbook --------------------------------------------------

def untouched(h, files, boot):
    assert h.get("/v1/maintenance") == {"enabled": False, "reason": None, "since": None, "by": None}, h.name
    assert bootloader_files(h.root) == files, f"{h.name}: the bootloader files changed"
    assert operations(h) == [] and boot_id_file(h.root).read_text() == boot, h.name


def test_rolling_playbook_stops_at_the_first_failure(hosts, ansible, logind):
    """hv1 rolls through; hv2's kernel does not turn the IOMMU on (iommu_works
    False), so the check after its reboot fails: the roll stops there, hv2
    stays in maintenance mode, and hv3 is never touched."""
    fleet = [hosts("hv1", env=logind.env).watch(), hosts("hv2", env=logind.env, iommu_works=False).watch(),
             hosts("hv3", env=logind.env).watch()]
    files = {h.name: bootloader_files(h.root) for h in fleet}
    boots = {h.name: boot_id_file(h.root).read_text() for h in fleet}

    check = ok(ansible.playbook(PLAYBOOK, fleet, "--check"))
    for h in fleet:
        assert check.result("Reboot when arguments are pending, and wait for the new boot", h.name)["changed"]
        assert check.result("The IOMMU kernel arguments for the next boot", h.name)["after"] == \
            "intel_iommu=on iommu=pt quiet"
        untouched(h, files[h.name], boots[h.name])

    run = ansible.playbook(PLAYBOOK, fleet)
    print(run.stdout)  # the roll as an operator sees it, shown when the test fails
    assert run.returncode == 2, run.summary()
    hv1, hv2, hv3 = fleet
    # hv1: the whole cycle
    assert len(hv1.reboots) == 1 and hv1.get("/v1/capabilities")["verdict"] == "ready"
    assert hv1.get("/v1/maintenance")["enabled"] is False
    assert run.result("The IOMMU is active", "hv1").get("failed") is not True
    rb = run.result("Reboot when arguments are pending, and wait for the new boot", "hv1")
    assert rb["rebooted"] and rb["result"]["took_effect"], rb
    assert run.stats["hv1"]["failures"] == 0 and run.stats["hv1"]["changed"] == 4, run.stats
    # hv2: rebooted, the IOMMU still off: failed, left in maintenance mode
    assert len(hv2.reboots) == 1
    failed = run.result("The IOMMU is active", "hv2")
    assert failed["failed"] and "the IOMMU is not active" in failed["msg"], failed
    m = hv2.get("/v1/maintenance")
    assert m["enabled"] is True and m["reason"] == MAINTENANCE_REASON
    assert run.stats["hv2"]["failures"] == 1
    # hv3: never reached
    assert "hv3" not in run.stats or run.stats["hv3"]["ok"] == 0, run.stats
    untouched(hv3, files["hv3"], boots["hv3"])

    # hv1 again: nothing to do, nothing changes
    again = ok(ansible.playbook(PLAYBOOK, fleet, "--limit", "hv1"))
    assert again.stats["hv1"]["changed"] == 0, again.summary()
    assert len(hv1.reboots) == 1

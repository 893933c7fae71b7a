"""GET /v1/metrics and the metrics listener: the exposition is what Prometheus's
own checker accepts (promtool check metrics, from Debian's prometheus package),
has exactly the families the contract lists (x-metric-families) with their
types and labels, and its values are those the API itself reports: device and
group counts from GET /v1/devices and /v1/iommu-groups, maintenance after a PUT,
the pending kernel arguments after a PATCH, the requests this test made, the
uevents it sent."""
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import SPEC, SRCDIR, finish, free_port
import mksysfs

BOOTLOADER = SRCDIR / "tests" / "data" / "bootloader"
FAMILIES = SPEC.document["paths"]["/v1/metrics"]["get"]["x-metric-families"]
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text):
    """{family: {"type", "help", "samples": [(name, {labels}, value)]}}, in the
    exposition's own grammar; fails on a line that is not in it."""
    families, current = {}, None
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name, _, help_ = line[7:].partition(" ")
            current = families.setdefault(name, {"samples": []})
            current["help"] = help_
        elif line.startswith("# TYPE "):
            name, _, type_ = line[7:].partition(" ")
            assert name in families, f"TYPE before HELP for {name}"
            families[name]["type"] = type_
        else:
            m = SAMPLE.match(line)
            assert m, f"not a sample line: {line!r}"
            name, labels, value = m.groups()
            labels = dict(LABEL.findall(labels or ""))
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            owner = name if name in families else base
            assert owner in families, f"{name} has no HELP/TYPE"
            families[owner]["samples"].append((name, labels, float(value)))
    return families


def value(families, name, **labels):
    """The first sample called name whose labels include the given ones; None when none."""
    for fam in families.values():
        for n, l, v in fam["samples"]:
            if n == name and all(l.get(k) == str(x) for k, x in labels.items()):
                return v
    return None


def scrape(agent, role="reader"):
    r = agent.get("/v1/metrics", role=role)
    assert r.status == 200, r
    assert r.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    return r.body.decode(), parse(r.body.decode())


def promtool():
    tool = shutil.which("promtool")
    assert tool, "promtool is missing: packaging/install-deps.sh --test installs Debian's prometheus package"
    return tool


def test_promtool_accepts_the_exposition(agent):
    agent.get("/v1/devices")
    agent.get("/v1/devices", role=None)  # a 401 is counted too
    text, _ = scrape(agent)
    done = subprocess.run([promtool(), "check", "metrics"], input=text.encode(), capture_output=True)
    assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()
    # promtool's linter also prints what it dislikes (names, units, HELP) with status 0
    assert done.stdout.decode().strip() == "" and done.stderr.decode().strip() == "", done


def test_families_are_those_of_the_contract(agent):
    agent.get("/v1/host")
    text, fams = scrape(agent)
    required = {n for n, doc in FAMILIES.items() if not doc.get("optional")}
    assert required <= set(fams) <= set(FAMILIES), (set(fams) ^ set(FAMILIES))
    for name, doc in FAMILIES.items():
        if name not in fams:
            continue
        assert fams[name]["type"] == doc["type"], name
        for sample, labels, _ in fams[name]["samples"]:
            want = set(doc["labels"]) | ({"le"} if sample.endswith("_bucket") else set())
            assert set(labels) == want, f"{sample} has labels {sorted(labels)}, the contract {sorted(want)}"


def test_inventory_values_are_the_apis(agent):
    devices = agent.get_json("/v1/devices")["devices"]
    groups = agent.get_json("/v1/iommu-groups")["groups"]
    _, fams = scrape(agent)
    assert value(fams, "hostdevd_pci_functions") == len(devices)
    assert value(fams, "hostdevd_pci_functions_assignable") == sum(d["assignable"] for d in devices)
    assert value(fams, "hostdevd_pci_functions_host_used") == sum(bool(d["host_usage"]) for d in devices)
    assert value(fams, "hostdevd_pci_functions_vfio_pci") == sum(d["driver"] == "vfio-pci" for d in devices)
    assert value(fams, "hostdevd_iommu_groups") == len(groups)
    assert value(fams, "hostdevd_iommu_groups_assignable") == sum(g["assignable"] for g in groups)
    assert value(fams, "hostdevd_iommu_active") == 1
    assert value(fams, "hostdevd_pci_functions_host_used") >= 1, "the snapshot's root disk controller"
    assert value(fams, "hostdevd_scan_duration_seconds_count") == 1
    assert value(fams, "hostdevd_inventory_snapshots_total") == 1


def test_vfio_bound_snapshot_counts_vfio(root, tmp_path, start_agent):
    from conftest import unpack_snapshot
    bound = start_agent(unpack_snapshot("intel-gpu-like-vfio-bound", tmp_path / "bound"))
    devices = bound.get_json("/v1/devices")["devices"]
    _, fams = scrape(bound)
    n = sum(d["driver"] == "vfio-pci" for d in devices)
    assert n >= 1 and value(fams, "hostdevd_pci_functions_vfio_pci") == n


def test_requests_are_counted_by_route_and_status(agent):
    _, before = scrape(agent)
    for _ in range(3):
        agent.get("/v1/devices/0000:00:02.0")
    agent.get("/v1/devices/0000:00:02.0", role=None)
    agent.get("/v1/devices/0000:ee:1f.7")
    agent.get("/v1/no/such/thing")
    agent.request("/v1/host", method="DELETE")
    _, after = scrape(agent)

    def delta(route, method, code):
        def v(f):
            return value(f, "hostdevd_http_requests_total", route=route, method=method, code=code) or 0
        return v(after) - v(before)

    assert delta("/v1/devices/{address}", "GET", 200) == 3
    assert delta("/v1/devices/{address}", "GET", 401) == 1, "refused before routing, counted under its route"
    assert delta("/v1/devices/{address}", "GET", 404) == 1
    assert delta("unmatched", "GET", 404) == 1
    assert delta("unmatched", "DELETE", 405) == 1
    # the scrape before this one is counted, the one being answered is not yet
    assert delta("/v1/metrics", "GET", 200) == 1
    hist = "hostdevd_http_request_duration_seconds"
    count = value(after, hist + "_count", route="/v1/devices/{address}", method="GET")
    assert count == sum(value(after, "hostdevd_http_requests_total", route="/v1/devices/{address}", method="GET",
                              code=c) or 0 for c in (200, 401, 404))
    buckets = [v for n, l, v in after[hist]["samples"]
               if n == hist + "_bucket" and l["route"] == "/v1/devices/{address}"]
    assert buckets == sorted(buckets) and buckets[-1] == count, "cumulative, +Inf is the count"


def test_reader_may_scrape_and_nobody_else(agent):
    assert agent.get("/v1/metrics", role=None).status == 401
    assert agent.get("/v1/metrics", role="reader").status == 200
    r = agent.get("/v1/metrics", headers=["Accept: application/json"])
    assert r.status == 406, r
    assert agent.get("/v1/metrics", headers=["Accept: text/plain"]).status == 200


def test_compressed_scrape(agent):
    r = agent.get("/v1/metrics", headers=["Accept-Encoding: gzip"])
    assert r.status == 200 and r.headers["content-encoding"] == "gzip"
    import gzip
    assert b"hostdevd_pci_functions " in gzip.decompress(r.body)


def patch(agent, body):
    return agent.request("/v1/kernel-cmdline", method="PATCH", data=json.dumps(body).encode())


def test_maintenance_pending_reboot_and_operations(tmp_path, start_agent):
    root = tmp_path / "root"
    mksysfs.generate("intel-gpu-audio", root)
    shutil.copytree(BOOTLOADER / "debian-plain", root, dirs_exist_ok=True, symlinks=True)
    (root / "proc" / "cmdline").write_text(
        "BOOT_IMAGE=/boot/vmlinuz-6.1.0-27-amd64 root=UUID=0b4e2f6c-7d1a-4c3e-9f52-6a8b1d2e3c4f ro quiet\n")
    agent = start_agent(root)
    _, fams = scrape(agent)
    assert set(fams) == set(FAMILIES), "with a bootloader, every family"
    assert value(fams, "hostdevd_maintenance") == 0
    assert value(fams, "hostdevd_reboot_pending") == 0
    assert value(fams, "hostdevd_kernel_cmdline_pending_arguments") == 0

    r = agent.request("/v1/maintenance", method="PUT", data=b'{"enabled": true}', role="operator")
    assert r.status == 200, r
    r = finish(agent, patch(agent, {"append_if_missing": ["intel_iommu=on", "iommu=pt"]}))
    assert r.status == 200, r
    pending = agent.get_json("/v1/kernel-cmdline")["pending"]
    _, fams = scrape(agent)
    assert value(fams, "hostdevd_maintenance") == 1
    assert value(fams, "hostdevd_reboot_pending") == 1
    assert value(fams, "hostdevd_kernel_cmdline_pending_arguments") == len(pending) == 2

    ops = agent.get_json("/v1/operations")["operations"]
    for kind in ("bind", "release", "kernel-cmdline", "reboot"):
        for state in ("accepted", "running", "succeeded", "failed"):
            want = sum(o["kind"] == kind and o["state"] == state for o in ops)
            assert value(fams, "hostdevd_operations", kind=kind, state=state) == want, (kind, state)


def send_uevent(sock_path, action, devpath):
    fields = [f"{action}@{devpath}", f"ACTION={action}", f"DEVPATH={devpath}", "SUBSYSTEM=pci", "SEQNUM=1"]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.sendto(b"\0".join(f.encode() for f in fields) + b"\0", str(sock_path))


def test_uevents_and_refreshes_are_counted(tmp_path, start_agent):
    root = tmp_path / "root"
    mksysfs.generate("intel-gpu-audio", root)
    short = tempfile.mkdtemp(prefix="hostdevd-", dir="/tmp")  # AF_UNIX paths are short
    try:
        sock = os.path.join(short, "uevent.sock")
        agent = start_agent(root, f"--uevent-socket={sock}")
        _, before = scrape(agent)
        addr = agent.get_json("/v1/devices")["devices"][0]["address"]
        real = os.path.realpath(root / "sys/bus/pci/devices" / addr)
        send_uevent(sock, "change", real[len(os.path.realpath(root / "sys")):])
        send_uevent(sock, "add", "/devices/virtual/net/lo")  # another subsystem: ignored
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            _, after = scrape(agent)
            if value(after, "hostdevd_refresh_duration_seconds_count") >= 1 and \
                    value(after, "hostdevd_uevents_ignored_total") >= 1:
                break
            time.sleep(0.05)
        assert value(after, "hostdevd_uevents_total") - value(before, "hostdevd_uevents_total") == 1
        assert value(after, "hostdevd_uevents_ignored_total") - value(before, "hostdevd_uevents_ignored_total") == 1
        assert value(after, "hostdevd_refresh_duration_seconds_count") == 1
    finally:
        shutil.rmtree(short, ignore_errors=True)


def metrics_agent(start_agent, root, tmp_path, listen):
    conf = tmp_path / "metrics.conf"
    conf.write_text(f"metrics_listen = {listen}\n")
    return start_agent(root, "--config", str(conf))


def raw_get(port, path, method="GET"):
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request(method, path)
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, dict((k.lower(), v) for k, v in r.getheaders()), body


def test_metrics_listener_serves_metrics_alone_without_credentials(root, tmp_path, start_agent):
    port = free_port()
    agent = metrics_agent(start_agent, root, tmp_path, f"127.0.0.1:{port}")
    status, headers, body = raw_get(port, "/metrics")
    assert status == 200 and headers["content-type"].startswith("text/plain; version=0.0.4")
    fams = parse(body.decode())
    assert value(fams, "hostdevd_pci_functions") == len(agent.get_json("/v1/devices")["devices"])
    # the API's event streams are what the listener counts, not its own
    assert value(fams, "hostdevd_event_streams") == 0
    assert raw_get(port, "/v1/host")[0] == 404, "the API is not on the metrics listener"
    assert raw_get(port, "/v1/metrics")[0] == 404
    status, headers, _ = raw_get(port, "/metrics", method="POST")
    assert status == 405 and headers["allow"] == "GET, HEAD"
    # and the API still asks for credentials
    assert agent.get("/v1/metrics", role=None).status == 401
    assert f"Metrics without credentials on 127.0.0.1:{port}" in agent.log_text()


def test_metrics_listener_beyond_loopback_is_refused(root, tmp_path):
    from conftest import BINARY, write_tokens
    conf = tmp_path / "metrics.conf"
    conf.write_text("metrics_listen = 0.0.0.0:0\n")
    done = subprocess.run([str(BINARY), "--root", str(root), "--listen", f"127.0.0.1:{free_port()}",
                           "--tokens", str(write_tokens(tmp_path / "tokens")), "--config", str(conf)],
                          capture_output=True, timeout=30)
    assert done.returncode != 0
    assert b"Refusing plain HTTP on 0.0.0.0:0" in done.stderr, done.stderr


def test_no_metrics_listener_by_default(agent):
    assert "Metrics without credentials" not in agent.log_text()

"""HTTP behaviour of the agent: routing, methods, problem details, caching
validators, limits, input validation, keep-alive, readiness and shutdown."""
import os
import signal
import socket
import subprocess
import time

import pytest

from conftest import CURL, token_for


def problem(resp, status, code):
    assert resp.status == status, resp
    assert resp.headers["content-type"] == "application/problem+json"
    body = resp.json()
    assert body["status"] == status and body["code"] == code
    assert body["type"] == f"urn:hostdevd:problem:{code}"
    return body


def test_root_links_to_the_resources(agent):
    links = agent.get_json("/")["links"]
    for path in links.values():
        assert agent.get(path).status == 200, path


def test_if_none_match_never_skips_a_rescan(agent):
    etag = agent.get("/v1/inventory").headers["etag"]
    gen = agent.get_json("/v1/inventory")["generation"]
    r = agent.request("/v1/inventory/rescan", method="POST", headers=["If-None-Match: *"])
    assert r.status == 200 and r.json()["generation"] == gen + 1
    assert agent.get("/v1/inventory", headers=[f"If-None-Match: {etag}"]).status == 200  # it changed


def test_unknown_path_is_404(agent):
    problem(agent.get("/v1/nothing-here"), 404, "not-found")
    problem(agent.get("/v1/devices/"), 404, "not-found")  # trailing slash: no such path


def test_wrong_method_is_405_with_allow(agent):
    r = agent.request("/v1/devices", method="DELETE")
    problem(r, 405, "method-not-allowed")
    assert r.headers["allow"] == "GET, HEAD"
    r = agent.request("/v1/inventory/rescan", method="GET")
    problem(r, 405, "method-not-allowed")
    assert r.headers["allow"] == "POST"


def test_head_is_get_without_body(agent):
    g = agent.get("/v1/devices")
    h = agent.request("/v1/devices", method="HEAD")
    assert h.status == 200 and h.body == b""
    assert h.headers["etag"] == g.headers["etag"]
    assert int(h.headers["content-length"]) == len(g.body)


def test_etag_and_if_none_match(agent):
    r = agent.get("/v1/devices")
    etag = r.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"')
    again = agent.get("/v1/devices", headers=[f"If-None-Match: {etag}"])
    assert again.status == 304 and again.body == b""
    assert agent.get("/v1/devices", headers=['If-None-Match: "0000000000000000"']).status == 200
    assert agent.get("/v1/devices", headers=[f'If-None-Match: "x", W/{etag}']).status == 304
    # A filtered list is another representation with another tag.
    assert agent.get("/v1/devices?driver=nvme").headers["etag"] != etag


def test_rescan_keeps_etag_when_nothing_changed_and_bumps_generation(agent, root):
    before = agent.get("/v1/devices").headers["etag"]
    gen = agent.get_json("/v1/inventory")["generation"]
    r = agent.request("/v1/inventory/rescan", method="POST")
    assert r.status == 200 and r.json()["generation"] == gen + 1
    assert agent.get("/v1/devices").headers["etag"] == before


def test_rescan_sees_a_driver_change(agent, root):
    """The inventory is served from memory: a change shows after a rescan only."""
    link = root / "sys/devices/pci0000:00/0000:00:03.0/0000:02:00.0/driver"
    target = os.readlink(link)
    etag = agent.get("/v1/devices").headers["etag"]
    try:
        link.unlink()
        assert agent.get_json("/v1/devices/0000:02:00.0")["driver"] == "e1000e"
        assert agent.request("/v1/inventory/rescan", method="POST").status == 200
        assert agent.get_json("/v1/devices/0000:02:00.0")["driver"] is None
        assert agent.get("/v1/devices").headers["etag"] != etag
    finally:
        os.symlink(target, link)


def test_rescan_body_rules(agent):
    problem(agent.request("/v1/inventory/rescan", method="POST", data=b'{"x":1}',
                          headers=["Content-Type: application/json"]), 400, "invalid-body")
    problem(agent.request("/v1/inventory/rescan", method="POST", data=b"{}",
                          headers=["Content-Type: text/plain"]), 415, "unsupported-media-type")
    assert agent.request("/v1/inventory/rescan", method="POST", data=b"{}",
                         headers=["Content-Type: application/json"]).status == 200


@pytest.mark.parametrize("bad", [
    "zzzz", "0000:01:00", "0000:01:00.8", "0000:01:20.0", "000:01:00.0", "00000:01:00.0",
    "0000:1:00.0", "0000:01:00.0%20", "0000:01:00.00", "%2e%2e", "..", "0000%3A01%3A00.0x",
])
def test_bad_address_is_400_naming_it(agent, bad):
    body = problem(agent.get(f"/v1/devices/{bad}", raw_path=True), 400, "invalid-parameter")
    assert body["parameter"] == "address"


def test_encoded_slash_never_reaches_a_path(agent):
    # %2f decodes to '/', which makes more path segments: no route at all.
    problem(agent.get("/v1/devices/..%2f..%2fproc%2fcmdline", raw_path=True), 404, "not-found")


def test_unknown_device_is_404(agent):
    body = problem(agent.get("/v1/devices/0000:7f:1f.7"), 404, "no-such-device")
    assert body["parameter"] == "address"


def test_address_is_canonicalised(agent):
    assert agent.get_json("/v1/devices/0000:00:1F.2")["address"] == "0000:00:1f.2"


@pytest.mark.parametrize("query,param", [
    ("class=zz", "class"), ("class=030", "class"), ("vendor=80861", "vendor"),
    ("driver=a/b", "driver"), ("iommu_group=-1", "iommu_group"), ("iommu_group=x", "iommu_group"),
    ("assignable=yes", "assignable"), ("colour=red", "colour"), ("class", "class"), ("class=", "class"),
    ("class=03&class=01", "class"), ("iommu_group=%2B7", "iommu_group"), ("iommu_group=007", "iommu_group"),
])
def test_bad_filters_are_400_naming_the_parameter(agent, query, param):
    r = agent.get(f"/v1/devices?{query}")
    assert r.status == 400 and r.json()["parameter"] == param


def test_filters(agent):
    all_devices = agent.get_json("/v1/devices")["devices"]

    def addrs(q):
        body = agent.get_json(f"/v1/devices?{q}")
        assert body["count"] == len(body["devices"])
        return [d["address"] for d in body["devices"]]

    assert addrs("class=0604") == [d["address"] for d in all_devices if d["class"].startswith("0604")]
    assert addrs("class=01") == ["0000:00:1f.2", "0000:03:00.0", "0000:06:00.0", "0000:06:00.1", "0000:06:00.2"]
    assert addrs("vendor=1b36") == [d["address"] for d in all_devices if d["vendor_id"] == "1b36"]
    assert addrs("driver=nvme") == ["0000:03:00.0", "0000:06:00.0"]
    assert addrs("driver=none") == [d["address"] for d in all_devices if d["driver"] is None]
    assert addrs("iommu_group=10") == ["0000:04:00.0", "0000:05:01.0", "0000:05:02.0"]
    assert addrs("assignable=true") == [d["address"] for d in all_devices if d["assignable"]]
    assert addrs("assignable=true&class=0108&driver=nvme") == ["0000:03:00.0", "0000:06:00.0"]


def test_group_id_validation(agent):
    assert problem(agent.get("/v1/iommu-groups/x"), 400, "invalid-parameter")["parameter"] == "id"
    problem(agent.get("/v1/iommu-groups/007"), 400, "invalid-parameter")
    problem(agent.get("/v1/iommu-groups/999"), 404, "no-such-iommu-group")
    assert agent.get_json("/v1/iommu-groups/7")["id"] == 7


def test_not_acceptable(agent):
    problem(agent.get("/v1/host", headers=["Accept: text/html"]), 406, "not-acceptable")
    assert agent.get("/v1/host", headers=["Accept: text/html, application/json;q=0.5"]).status == 200


def test_body_too_large_is_413(agent):
    r = agent.request("/v1/inventory/rescan", method="POST", data=b"x" * (64 * 1024 + 1),
                      headers=["Content-Type: application/json"])
    problem(r, 413, "body-too-large")
    # The connection survives for the next request.
    assert agent.get("/v1/host").status == 200


def test_uri_too_long_is_414(agent):
    r = agent.get("/v1/devices/" + "a" * 2100, validate=False)
    assert r.status in (414, 431) or r.status == 414


def test_keep_alive_reuses_the_connection(agent):
    out = subprocess.run([CURL, "-s", "-v", "-o", "/dev/null", "-o", "/dev/null",
                          agent.base + "/v1/host", agent.base + "/v1/devices"],
                         capture_output=True, text=True, check=True).stderr
    assert "Re-using existing connection" in out or "Reusing existing connection" in out


def test_openapi_is_served_and_is_the_contract(agent):
    import json
    from conftest import SPEC, SRCDIR
    served = agent.get_json("/v1/openapi.json")
    assert served == json.loads((SRCDIR / "api" / "openapi.json").read_text())
    SPEC.check_document()


def test_host_fields_null_when_files_missing(agent):
    host = agent.get_json("/v1/host")
    # The snapshot has no hostname, machine-id, DMI or boot id files.
    assert host["hostname"] is None and host["machine_id"] is None and host["host_id"] is None
    assert host["kernel_release"] == "6.1.0-56-amd64"  # from /proc/version
    assert "intel_iommu=on" in host["cmdline"]


def test_host_id_prefers_dmi_uuid(tmp_path, start_agent, root):
    import shutil
    r = tmp_path / "root"
    shutil.copytree(root, r, symlinks=True)
    (r / "etc").mkdir()
    (r / "etc/machine-id").write_text("3f1c6a0d8e2b4c7fa9d05e6b1c2d3e4f\n")
    agent = start_agent(r)
    host = agent.get_json("/v1/host")
    assert host["host_id"] == "3f1c6a0d8e2b4c7fa9d05e6b1c2d3e4f" and host["host_id_source"] == "machine-id"
    agent.stop()
    (r / "sys/class/dmi/id").mkdir(parents=True)
    (r / "sys/class/dmi/id/product_uuid").write_text("4c4c4544-0042-3510-8058-b4c04f4e3232\n")
    agent = start_agent(r)
    host = agent.get_json("/v1/host")
    assert host["host_id"] == "4c4c4544-0042-3510-8058-b4c04f4e3232"
    assert host["host_id_source"] == "dmi-product-uuid"


def test_sd_notify_ready_after_listening(root, start_agent):
    import tempfile
    short = tempfile.mkdtemp(prefix="hd-", dir="/tmp")  # AF_UNIX paths are short
    path = os.path.join(short, "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(20)
    agent = start_agent(root, env={"NOTIFY_SOCKET": path})
    msg = sock.recv(4096).decode()
    assert "READY=1" in msg
    assert agent.get("/v1/host").status == 200  # listening when READY was sent
    assert agent.stop() == 0
    assert "STOPPING=1" in sock.recv(4096).decode()
    sock.close()
    os.unlink(path)
    os.rmdir(short)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_clean_shutdown(root, start_agent, sig):
    agent = start_agent(root)
    assert agent.get("/v1/devices").status == 200
    t = time.monotonic()
    assert agent.stop(sig) == 0
    assert time.monotonic() - t < 10
    assert "Shutting down" in agent.log_text()


def test_missing_root_fails_clearly(tmp_path):
    from conftest import BINARY
    r = subprocess.run([str(BINARY), "--root", str(tmp_path / "nope"), "--listen", "127.0.0.1:0"],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode != 0 and "root" in r.stderr


def test_empty_root_serves_an_empty_inventory(tmp_path, start_agent):
    (tmp_path / "empty").mkdir()
    agent = start_agent(tmp_path / "empty")
    assert agent.get_json("/v1/devices") == {"count": 0, "devices": []}
    assert agent.get_json("/v1/capabilities")["verdict"] in ("disabled-in-firmware", "no-cpu-support")
    host = agent.get_json("/v1/host")
    assert host["kernel_release"] is None and host["cpu"]["vendor"] is None


def test_config_file_and_unknown_key(root, tmp_path, start_agent):
    from conftest import BINARY
    conf = tmp_path / "bad.conf"
    conf.write_text("# comment\nlisten = 127.0.0.1:1\nno_such_key = 1\n")
    r = subprocess.run([str(BINARY), "--root", str(root), "--config", str(conf)],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode != 0 and f"{conf}:3" in r.stderr


def test_connection_limits_and_idle_timeout(root, tmp_path, start_agent):
    """The limits libmicrohttpd does not set by default are set: a client
    address gets at most per_ip_connection_limit connections at once, and an
    idle connection is closed after connection_timeout seconds."""
    conf = tmp_path / "limits.conf"
    conf.write_text("per_ip_connection_limit = 2\nconnection_timeout = 1\n")
    agent = start_agent(root, "--config", str(conf))
    time.sleep(0.5)  # the readiness probe's connection is gone by now
    conns = []
    for _ in range(3):
        conns.append(socket.create_connection(("127.0.0.1", agent.port)))
        time.sleep(0.2)
    served = 0
    for c in conns:
        c.settimeout(5)
        try:
            c.sendall(b"GET /v1/host HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                      + token_for("reader").encode() + b"\r\n\r\n")
            served += c.recv(12).startswith(b"HTTP/1.1 200")
        except (ConnectionResetError, BrokenPipeError):
            pass
    assert served == 2, f"{served} of 3 connections from one address were served, the limit is 2"
    # Kept alive after their request, then idle: the server closes them.
    t = time.monotonic()
    for c in conns:
        c.settimeout(10)
        try:
            while c.recv(65536):
                pass
        except (ConnectionResetError, socket.timeout):
            pass
        c.close()
    assert time.monotonic() - t < 8, "idle connections were not closed"
    assert agent.get("/v1/host").status == 200


def test_every_json_get_answers_304_to_its_etag(agent):
    """Every 200 of a JSON resource has an ETag, and If-None-Match with it
    answers 304 (reply_rendered() serves them all): the contract says so
    for each, or a poller's 304 fails its client's validation."""
    from conftest import SPEC
    op = agent.request("/v1/maintenance", method="PUT", data=b'{"enabled": false}', role="operator")
    assert op.status == 200
    paths = ["/v1/devices/0000:00:02.0/driver", "/v1/passthrough/bindings", "/v1/maintenance", "/v1/operations",
             "/v1/kernel-cmdline", "/v1/kernel-cmdline/presets"]
    for path in sorted(SPEC.document["paths"]):
        if "{" not in path and "get" in SPEC.document["paths"][path] and path not in paths \
                and path not in ("/v1/events", "/v1/metrics"):  # a stream; counters that move with each request
            paths.append(path)
    for path in paths:
        r = agent.get(path)
        assert r.status == 200 and r.headers["etag"], (path, r)
        again = agent.get(path, headers=[f"If-None-Match: {r.headers['etag']}"])
        assert again.status == 304 and again.body == b"", (path, again)

"""Representations of a resource: compact and indented JSON, sparse
fieldsets (?fields=), and content codings (gzip, zstd) with their own ETags,
Vary and 304s, checked with real HTTP clients: Python's http.client (every
header and byte as sent) and curl --compressed."""
import gzip
import http.client
import json
import subprocess

import pytest

from conftest import CURL, SPEC, token_for


def fetch(agent, path, method="GET", **headers):
    """One request on its own connection: (status, lower-case headers, raw body)."""
    c = http.client.HTTPConnection("127.0.0.1", agent.port, timeout=30)
    h = {"Authorization": f"Bearer {token_for('reader')}"}
    h.update({k.replace("_", "-"): v for k, v in headers.items()})
    c.putrequest(method, path, skip_accept_encoding=True)  # http.client adds "identity" otherwise
    for k, v in h.items():
        c.putheader(k, v)
    c.endheaders()
    r = c.getresponse()
    body = r.read()
    hdrs = {k.lower(): v for k, v in r.getheaders()}
    c.close()
    SPEC.validate_response(method, path.split("?")[0], r.status, hdrs, body)
    return r.status, hdrs, body


def unzstd(data):
    return subprocess.run(["zstd", "-d", "-q", "-c"], input=data, capture_output=True, check=True).stdout


def test_compact_by_default_pretty_on_request(agent):
    _, h, compact = fetch(agent, "/v1/devices")
    _, hp, pretty = fetch(agent, "/v1/devices?pretty=true")
    # Exactly the compact form: no whitespace between tokens, one newline at the end.
    assert compact == json.dumps(json.loads(compact), separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
    assert pretty.startswith(b'{\n  "count": ') and b'\n    {\n      "address": ' in pretty
    assert json.loads(compact) == json.loads(pretty)
    assert hp["etag"] != h["etag"], "an indented body is another representation"
    assert fetch(agent, "/v1/devices?pretty=false")[1]["etag"] == h["etag"]
    # Indented problems too, and every route takes it.
    s, _, body = fetch(agent, "/v1/devices/zz?pretty=true")
    assert s == 400 and body.startswith(b'{\n  "type": ')
    for path in ("/v1/host", "/v1/capabilities", "/v1/iommu-groups", "/v1/inventory", "/v1/maintenance",
                 "/v1/kernel-cmdline", "/v1/openapi.json", "/"):
        s, _, body = fetch(agent, path + "?pretty=true")
        assert s == 200 and body.startswith(b"{\n  \""), path
        assert json.loads(body) == json.loads(fetch(agent, path)[2]), path


@pytest.mark.parametrize("query", ["pretty=yes", "pretty=", "pretty=1", "pretty=true&pretty=true"])
def test_bad_pretty_is_400_naming_it(agent, query):
    s, h, body = fetch(agent, "/v1/devices?" + query)
    assert s == 400 and h["content-type"] == "application/problem+json"
    assert json.loads(body)["parameter"] == "pretty"


def test_fields_gives_exactly_those_members(agent):
    full = json.loads(fetch(agent, "/v1/devices")[2])["devices"]
    s, h, body = fetch(agent, "/v1/devices?fields=iommu_group,address,driver")
    assert s == 200
    sparse = json.loads(body)["devices"]
    assert len(sparse) == len(full) > 0
    for d, f in zip(sparse, full):
        assert list(d) == ["address", "driver", "iommu_group"]  # the schema's order, not the query's
        assert d == {k: f[k] for k in d}
    # With a filter, and on one device.
    gpu = next(d for d in full if d["class"].startswith("03"))
    s, _, body = fetch(agent, f"/v1/devices?class=03&fields=address,assignable,reasons")
    assert json.loads(body)["devices"][0] == {k: gpu[k] for k in ("address", "assignable", "reasons")}
    s, _, body = fetch(agent, f"/v1/devices/{gpu['address']}?fields=vendor_id,sriov")
    assert s == 200 and json.loads(body) == {"vendor_id": gpu["vendor_id"], "sriov": gpu["sriov"]}


def test_fields_variant_is_cached_with_its_own_etag(agent):
    _, h1, b1 = fetch(agent, "/v1/devices?fields=address,driver")
    _, h2, b2 = fetch(agent, "/v1/devices?fields=address,driver")
    assert h1["etag"] == h2["etag"] and b1 == b2
    assert h1["etag"] != fetch(agent, "/v1/devices")[1]["etag"]
    assert fetch(agent, "/v1/devices?fields=address,driver", If_None_Match=h1["etag"])[0] == 304


@pytest.mark.parametrize("fields,named", [("address,bogus", "'bogus'"), ("address,address", "'address'"),
                                          ("address,,driver", "empty"), ("Address", "'Address'"),
                                          (",", "empty")])
def test_bad_fields_are_400_naming_the_field(agent, fields, named):
    s, _, body = fetch(agent, "/v1/devices?fields=" + fields)
    p = json.loads(body)
    assert s == 400 and p["code"] == "invalid-parameter" and p["parameter"] == "fields"
    assert named in p["detail"]
    assert fetch(agent, "/v1/devices/0000:00:00.0?fields=" + fields)[0] == 400


def test_fields_only_where_documented(agent):
    s, _, body = fetch(agent, "/v1/iommu-groups?fields=id")
    assert s == 400 and json.loads(body)["code"] == "unknown-parameter"


def test_identity_without_accept_encoding(agent):
    s, h, body = fetch(agent, "/v1/devices")
    assert s == 200 and "content-encoding" not in h
    assert h["vary"] == "Accept-Encoding"
    assert int(h["content-length"]) == len(body) > 1024
    json.loads(body)
    s, h, _ = fetch(agent, "/v1/devices", Accept_Encoding="")
    assert "content-encoding" not in h


@pytest.mark.parametrize("coding,decode", [("gzip", gzip.decompress), ("zstd", unzstd)])
def test_each_coding_decodes_to_the_identity_body_with_its_own_etag(agent, coding, decode):
    _, hi, identity = fetch(agent, "/v1/devices")
    s, h, body = fetch(agent, "/v1/devices", Accept_Encoding=coding)
    assert s == 200 and h["content-encoding"] == coding and h["vary"] == "Accept-Encoding"
    assert decode(body) == identity and len(body) < len(identity) / 5
    assert h["etag"] == hi["etag"][:-1] + f'-{coding}"'
    # Compressed once: the same bytes again.
    assert fetch(agent, "/v1/devices", Accept_Encoding=coding)[2] == body
    # 304 for the representation the request would get, and only for it.
    s, h304, b304 = fetch(agent, "/v1/devices", Accept_Encoding=coding, If_None_Match=h["etag"])
    assert s == 304 and b304 == b"" and h304["etag"] == h["etag"] and h304["vary"] == "Accept-Encoding"
    assert fetch(agent, "/v1/devices", Accept_Encoding=coding, If_None_Match=hi["etag"])[0] == 200
    assert fetch(agent, "/v1/devices", If_None_Match=h["etag"])[0] == 200
    # HEAD: the headers of the compressed reply, no body.
    s, hh, bh = fetch(agent, "/v1/devices", method="HEAD", Accept_Encoding=coding)
    assert s == 200 and bh == b"" and hh["etag"] == h["etag"] and int(hh["content-length"]) == len(body)


@pytest.mark.parametrize("accept,coding", [
    ("gzip", "gzip"), ("zstd", "zstd"), ("gzip, zstd", "zstd"), ("zstd;q=0.5, gzip", "gzip"),
    ("gzip;q=0, zstd;q=0", None), ("GZIP", "gzip"), ("*", "zstd"), ("*;q=0", None), ("zstd;q=0, *", "gzip"),
    ("identity;q=1, gzip;q=0.5", None), ("br", None), ("deflate, gzip;q=1.0, *;q=0.5", "gzip"),
    ("identity;q=0", None),  # nothing else acceptable: identity all the same
    ("gzip;q=-1, zstd;q=abc", None), ("gzip;q=7, zstd;q=0.9", "gzip"),
])
def test_accept_encoding_negotiation(agent, accept, coding):
    _, h, _ = fetch(agent, "/v1/iommu-groups", Accept_Encoding=accept)
    assert h.get("content-encoding") == coding


def test_small_bodies_go_uncompressed_but_vary(agent):
    s, h, body = fetch(agent, "/v1/maintenance", Accept_Encoding="gzip, zstd")
    assert s == 200 and len(body) < 1024 and "content-encoding" not in h and h["vary"] == "Accept-Encoding"


def test_every_coding_follows_a_change(agent, root):
    tags = {c: fetch(agent, "/v1/devices", Accept_Encoding=c)[1]["etag"] for c in ("identity", "gzip", "zstd")}
    gpu_driver = root / "sys/bus/pci/devices/0000:01:00.0/driver"
    target = gpu_driver.readlink() if gpu_driver.is_symlink() else None
    if target is None:
        pytest.skip("the GPU of this snapshot has no driver link to take away")
    gpu_driver.unlink()
    try:
        assert agent.request("/v1/inventory/rescan", method="POST", role="operator").status == 200
        for c, old in tags.items():
            s, h, body = fetch(agent, "/v1/devices", Accept_Encoding=c, If_None_Match=old)
            assert s == 200 and h["etag"] != old, c
            assert h.get("content-encoding", "identity") == c
    finally:
        gpu_driver.symlink_to(target)


def test_curl_compressed(agent):
    """curl --compressed offers every coding it was built with (Debian's: gzip, br, zstd)."""
    args = [CURL, "-s", "-S", "--compressed", "-D", "-", "-o", "-",
            "-H", f"Authorization: Bearer {token_for('reader')}", f"{agent.base}/v1/devices"]
    out = subprocess.run(args, capture_output=True, check=True).stdout
    head, _, body = out.partition(b"\r\n\r\n")
    assert b"content-encoding: zstd" in head.lower() or b"content-encoding: gzip" in head.lower()
    identity = fetch(agent, "/v1/devices")[2]
    assert body == identity  # curl decoded it
    etag = next(l.split(b":", 1)[1].strip() for l in head.split(b"\r\n") if l.lower().startswith(b"etag:"))
    args[-1:-1] = ["-H", f"If-None-Match: {etag.decode()}"]
    out = subprocess.run(args, capture_output=True, check=True).stdout
    assert out.startswith(b"HTTP/1.1 304")


def test_openapi_document_compresses_too(agent):
    _, hi, identity = fetch(agent, "/v1/openapi.json")
    s, h, body = fetch(agent, "/v1/openapi.json", Accept_Encoding="gzip")
    assert s == 200 and h["content-encoding"] == "gzip" and gzip.decompress(body) == identity

"""Hostile request bodies: a JSON object naming a key twice (at any depth)
is refused on every mutating route of the contract, with the JSON pointer
of the duplicate, before the route looks at what the body means."""
import json

import pytest

from conftest import SPEC, SRCDIR

CONTRACT = json.loads((SRCDIR / "api" / "openapi.json").read_text())


def resolve(schema):
    while schema and "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        schema = CONTRACT["components"]["schemas"][name]
    return schema or {}


def mutating_routes():
    """(method, path, a key of its body or None) for every mutating operation."""
    out = []
    for path, ops in CONTRACT["paths"].items():
        for method, op in ops.items():
            if method not in ("put", "post", "patch", "delete"):
                continue
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            props = sorted(resolve(body.get("schema")).get("properties", {}))
            out.append((method.upper(), path, props[0] if props else None))
    return out


ROUTES = mutating_routes()


def concrete(agent, path):
    if "{address}" in path:
        address = agent.get_json("/v1/devices")["devices"][0]["address"]
        path = path.replace("{address}", address)
    path = path.replace("{uuid}", "5f1e1d7c-6a43-4d0c-9f27-1e3f0b1f9a11")
    assert "{" not in path, f"no sample value for a parameter of {path}"
    return path


def refused_naming(resp, pointer):
    assert resp.status == 400, resp
    body = resp.json()
    assert body["code"] == "invalid-body"
    assert body["pointer"] == pointer, body
    assert "twice" in body["detail"], body
    return body


def test_the_contract_has_mutating_routes():
    assert {("PUT", "/v1/maintenance"), ("PATCH", "/v1/kernel-cmdline"), ("POST", "/v1/reboot")} <= \
        {(m, p) for m, p, _ in ROUTES}


@pytest.mark.parametrize("method,path,key", ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
def test_duplicate_key_refused_on_every_route(agent, method, path, key):
    key = key or "x"
    url = concrete(agent, path)
    refused_naming(agent.request(url, method=method, data=f'{{"{key}": null, "{key}": null}}'.encode()),
                   f"/{key}")
    nested = f'{{"{key}": {{"a/b": 1, "z": [{{"~k": 1, "\\u007ek": 2}}]}}}}'.encode()
    refused_naming(agent.request(url, method=method, data=nested), f"/{key}/z/0/~0k")


def test_maintenance_duplicate_changes_nothing(agent):
    before = agent.get_json("/v1/maintenance")
    body = refused_naming(agent.request("/v1/maintenance", method="PUT",
                                        data=b'{"enabled": true, "enabled": false}'), "/enabled")
    assert "/enabled" in body["detail"]
    assert agent.get_json("/v1/maintenance") == before


@pytest.mark.parametrize("text", [
    b'{"enabled": true /* comment */}',
    b'{"enabled": true,}',
    b'{"enabled": true} x',
    b'{"enabled": true}\x00',
    b'null',
])
def test_not_strict_json_refused(agent, text):
    resp = agent.request("/v1/maintenance", method="PUT", data=text)
    assert resp.status == 400 and resp.json()["code"] == "invalid-body", resp


def test_same_key_in_sibling_objects_is_fine(agent):
    resp = agent.request("/v1/passthrough/plan", method="POST",
                         data=b'{"devices": [{"address": "zz"}, {"address": "yy"}]}')
    assert resp.status == 400 and "twice" not in resp.json()["detail"], resp

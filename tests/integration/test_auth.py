"""Who may do what: bearer tokens, roles, and the checks around them.

The authorization matrix is derived from the route table's contract: every
operation of api/openapi.json carries x-role, the least role allowed, and
every route x method x {no credentials, bad token, reader, operator, admin}
must give exactly 401, 401, and 403 or 'let through' as that role says.
"""
import hashlib
import os
import re
import subprocess

import pytest

from conftest import BINARY, SPEC, Agent, free_port, is_stream, token_for, unpack_snapshot, write_tokens

ROLES = ("reader", "operator", "admin")
RANK = {r: i for i, r in enumerate(ROLES)}
OP_ID = "0" * 32

# Concrete values for path templates, and bodies that are harmless: they
# must not change the host, whatever the role (the matrix is about who is let
# through, the operations' own tests are elsewhere).
PATH_VALUES = {"address": "0000:00:02.0", "id": OP_ID}
BODIES = {
    ("PUT", "/v1/maintenance"): b'{"enabled": false}',
    ("POST", "/v1/reboot"): b"{}",
    ("POST", "/v1/inventory/rescan"): b"{}",
}


def concrete(path):
    if path.startswith("/v1/iommu-groups/{id}"):
        return path.replace("{id}", "1")
    return re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES.get(m.group(1), "x"), path)


def operations():
    for path, item in SPEC.document["paths"].items():
        for method, op in item.items():
            if method in ("get", "put", "post", "delete", "patch"):
                yield method.upper(), path, op["x-role"]


OPERATIONS = sorted(operations())


@pytest.fixture(scope="module")
def agent(tmp_path_factory):
    root = unpack_snapshot("intel-gpu-like", tmp_path_factory.mktemp("auth") / "root")
    a = Agent(root)
    yield a
    assert a.stop() == 0, a.log_text()[-3000:]


def test_every_operation_declares_a_role():
    assert OPERATIONS, "no operations in api/openapi.json"
    for method, path, role in OPERATIONS:
        assert role in ROLES, (method, path, role)
        if method != "GET" and path != "/v1/passthrough/plan":
            assert RANK[role] >= RANK["operator"], f"{method} {path} must not be open to readers"


@pytest.mark.parametrize("method,path,role", OPERATIONS, ids=[f"{m} {p}" for m, p, _ in OPERATIONS])
def test_authorization_matrix(agent, method, path, role):
    url = concrete(path)
    body = BODIES.get((method, path), b"{}" if method != "GET" else None)

    r = agent.request(url, method=method, data=body, role=None)
    assert r.status == 401, f"no credentials: {r}"
    assert r.json()["code"] == "unauthorized"
    assert r.headers["www-authenticate"] == 'Bearer realm="hostdevd"'

    r = agent.request(url, method=method, data=body, role=None, token="not-a-token")
    assert r.status == 401, f"bad token: {r}"

    for caller in ROLES:
        r = agent.request(url, method=method, data=body, role=caller, stream=is_stream(method, path))
        if RANK[caller] < RANK[role]:
            assert r.status == 403, f"{caller} on {method} {url}: {r}"
            p = r.json()
            assert p["code"] == "forbidden" and role in p["detail"] and f"test-{caller}" in p["detail"]
        else:
            assert r.status not in (401, 403), f"{caller} on {method} {url}: {r}"


def test_unknown_paths_and_methods_need_credentials_first(agent):
    """Authentication comes before routing: without credentials nobody learns
    which paths exist."""
    assert agent.request("/v1/nothing-here", role=None).status == 401
    assert agent.request("/v1/nothing-here", role="reader").status == 404
    assert agent.request("/v1/devices", method="DELETE", role=None).status == 401
    assert agent.request("/v1/devices", method="DELETE", role="reader").status == 405


@pytest.mark.parametrize("header", [
    "Authorization: Basic dXNlcjpwYXNz",
    "Authorization: Bearer",
    "Authorization: Bearer ",
    "Authorization: Token " + token_for("admin"),
    "Authorization: Bearer " + token_for("admin") + "x",
    "Authorization: Bearer " + token_for("admin")[:-1],
    "Authorization: Bearer " + hashlib.sha256(token_for("admin").encode()).hexdigest(),  # the hash itself
])
def test_bad_credentials_are_401(agent, header):
    r = agent.request("/v1/host", headers=[header], role=None)
    assert r.status == 401, r
    assert r.json()["code"] == "unauthorized"


def test_scheme_is_case_insensitive(agent):
    r = agent.request("/v1/host", headers=["Authorization: bearer " + token_for("reader")], role=None)
    assert r.status == 200


def test_mutations_need_json_content_type(agent):
    for ct in (None, "text/plain", "application/x-www-form-urlencoded", "application/jsonx"):
        r = agent.request("/v1/maintenance", method="PUT", data=b'{"enabled": false}', content_type=ct)
        assert r.status == 415, (ct, r)
        assert r.json()["code"] == "unsupported-media-type"
    r = agent.request("/v1/maintenance", method="PUT", data=b'{"enabled": false}',
                      content_type="application/json; charset=utf-8")
    assert r.status == 200


def test_mutations_are_audited_with_who_and_outcome(agent):
    agent.request("/v1/maintenance", method="PUT", data=b'{"enabled": false}', role="operator")
    agent.request("/v1/maintenance", method="PUT", data=b'{"enabled": false}', role="reader")
    log = agent.log_text()
    assert re.search(r"audit: test-operator \(operator\) PUT /v1/maintenance \{\"enabled\": false\}: 200 done", log)
    assert re.search(r"audit: test-reader \(reader\) PUT /v1/maintenance .*: 403 refused", log)
    assert not re.search(r"audit: .* GET ", log), "reads are not audited"
    assert token_for("operator") not in log and token_for("reader") not in log, "secrets in the log"


def test_tokens_file_holds_no_secret_and_new_token_works(tmp_path, start_agent):
    root = unpack_snapshot("intel-gpu-like", tmp_path / "root")
    tokens = tmp_path / "tokens"
    out = subprocess.run([str(BINARY), "--root", str(root), "--tokens", str(tokens),
                          "--new-token=operator:ansible"], capture_output=True, text=True, check=True)
    secret = out.stdout.strip()
    assert re.fullmatch(r"[0-9a-f]{64}", secret), out
    text = tokens.read_text()
    assert secret not in text
    assert f"operator {hashlib.sha256(secret.encode()).hexdigest()} ansible\n" == text
    assert oct(tokens.stat().st_mode & 0o777) == "0o600"

    agent = start_agent(root, "--tokens", str(tokens))
    assert agent.request("/v1/host", token=secret).status == 200
    r = agent.request("/v1/maintenance", method="PUT", data=b'{"enabled": false}', token=secret)
    assert r.status == 200 and r.json()["changed"] is False
    assert agent.request("/v1/reboot", method="POST", data=b"{}", token=secret).status == 403


@pytest.mark.parametrize("spec", ["admin", "nobody:x", "admin:", "reader:a#b"])
def test_new_token_rejects_bad_specs(tmp_path, spec):
    tokens = tmp_path / "tokens"
    r = subprocess.run([str(BINARY), "--root", str(tmp_path), "--tokens", str(tokens), f"--new-token={spec}"],
                       capture_output=True, text=True)
    if spec == "admin":
        assert r.returncode == 0  # a name is optional
    else:
        assert r.returncode != 0 and not tokens.exists(), r


@pytest.mark.parametrize("line", [
    "admin 1234",
    "root " + "a" * 64,
    "admin " + "g" * 64,
    "admin",
    "admin " + "a" * 63,
])
def test_malformed_tokens_file_stops_the_agent_with_the_line(tmp_path, line):
    root = unpack_snapshot("intel-gpu-like", tmp_path / "root")
    tokens = write_tokens(tmp_path / "tokens")
    with open(tokens, "a") as f:
        f.write(line + "\n")
    r = subprocess.run([str(BINARY), "--root", str(root), "--tokens", str(tokens), "--listen", "127.0.0.1:0"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert f"{tokens}:5:" in r.stderr, r.stderr


def start_with_tokens(tmp_path, tokens):
    root = unpack_snapshot("intel-gpu-like", tmp_path / "root")
    return subprocess.run([str(BINARY), "--root", str(root), "--tokens", str(tokens), "--listen", "127.0.0.1:0"],
                          capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("mode", [0o620, 0o602, 0o666])
def test_tokens_file_others_may_write_stops_the_agent(tmp_path, mode):
    """Whoever can write the tokens file can make themselves admin."""
    tokens = write_tokens(tmp_path / "tokens")
    tokens.chmod(mode)
    r = start_with_tokens(tmp_path, tokens)
    assert r.returncode != 0
    assert (f"{tokens} is writable by its group or others (mode {mode:04o}): refused" in r.stderr
            and f"chmod 0600 {tokens}" in r.stderr), r.stderr


def test_tokens_file_of_another_user_stops_the_agent(tmp_path):
    tokens = write_tokens(tmp_path / "tokens")
    tokens.chmod(0o600)
    os.chown(tokens, 65534, 65534)
    r = start_with_tokens(tmp_path, tokens)
    assert r.returncode != 0
    assert f"{tokens} belongs to uid 65534, not root: refused" in r.stderr, r.stderr


def test_tokens_file_with_a_nul_byte_stops_the_agent(tmp_path):
    """What follows a NUL byte would otherwise be silently ignored."""
    tokens = write_tokens(tmp_path / "tokens")
    tokens.write_bytes(tokens.read_bytes().replace(b"\nreader ", b"\n\0reader "))
    r = start_with_tokens(tmp_path, tokens)
    assert r.returncode != 0 and f"{tokens} holds a NUL byte" in r.stderr, r.stderr


def start_with_config(tmp_path, text, mode=0o644, owner=None):
    root = unpack_snapshot("intel-gpu-like", tmp_path / "root")
    conf = tmp_path / "hostdevd.conf"
    conf.write_bytes(text)
    conf.chmod(mode)
    if owner is not None:
        os.chown(conf, owner, owner)
    r = subprocess.run([str(BINARY), "--root", str(root), "--config", str(conf), "--listen", "127.0.0.1:0"],
                       capture_output=True, text=True, timeout=30)
    return conf, r


@pytest.mark.parametrize("mode", [0o664, 0o646, 0o666])
def test_configuration_others_may_write_stops_the_agent(tmp_path, mode):
    """The configuration names the tokens file and the TLS key: whoever may
    change it may point them at files of their own."""
    conf, r = start_with_config(tmp_path, b"tokens = /tmp/theirs\n", mode)
    assert r.returncode != 0
    assert (f"{conf} is writable by its group or others (mode {mode:04o}): refused. Fix: chmod 0644 {conf}"
            in r.stderr), r.stderr
    assert "/tmp/theirs" not in r.stderr, "refused before it is read"


def test_configuration_of_another_user_stops_the_agent(tmp_path):
    conf, r = start_with_config(tmp_path, b"log_level = info\n", 0o644, owner=65534)
    assert r.returncode != 0
    assert f"{conf} belongs to uid 65534, not root: refused. Fix: chown root: {conf}" in r.stderr, r.stderr


def test_configuration_with_a_nul_byte_stops_the_agent(tmp_path):
    """The key after the NUL would otherwise be silently dropped."""
    conf, r = start_with_config(tmp_path, b"log_level = info\n\0connection_limit = 5\n")
    assert r.returncode != 0 and f"{conf} holds a NUL byte: not a configuration file." in r.stderr, r.stderr


def test_configuration_that_is_not_a_file_stops_the_agent(tmp_path):
    root = unpack_snapshot("intel-gpu-like", tmp_path / "root")
    r = subprocess.run([str(BINARY), "--root", str(root), "--config", str(tmp_path), "--listen", "127.0.0.1:0"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and f"{tmp_path} is not a regular file." in r.stderr, r.stderr


def test_readable_tokens_file_is_fine(tmp_path, start_agent):
    """It holds hashes, not secrets: 0644 is accepted."""
    root = unpack_snapshot("intel-gpu-like", tmp_path / "root")
    tokens = write_tokens(tmp_path / "tokens")
    tokens.chmod(0o644)
    agent = start_agent(root, "--tokens", str(tokens))
    assert agent.request("/v1/host", role="reader").status == 200


def test_no_tokens_file_refuses_everything(tmp_path, start_agent):
    root = unpack_snapshot("intel-gpu-like", tmp_path / "root")
    agent = start_agent(root, "--tokens", str(tmp_path / "missing"))
    assert "every request will be refused" in agent.log_text()
    for role in ROLES:
        assert agent.request("/v1/host", role=role).status == 401


def test_plain_http_beyond_loopback_needs_explicit_consent(tmp_path):
    root = unpack_snapshot("intel-gpu-like", tmp_path / "root")
    tokens = write_tokens(tmp_path / "tokens")
    r = subprocess.run([str(BINARY), "--root", str(root), "--tokens", str(tokens), "--listen", "0.0.0.0:0"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "Refusing plain HTTP" in r.stderr, r.stderr


def test_allow_plain_http_warns(tmp_path):
    root = unpack_snapshot("intel-gpu-like", tmp_path / "root")
    port = free_port()
    agent = Agent(root, ["--listen", f"0.0.0.0:{port}", "--allow-plain-http"], port=port)
    try:
        assert "Serving plain HTTP on 0.0.0.0" in agent.log_text()
        assert agent.request("/v1/host", role="reader").status == 200
    finally:
        assert agent.stop() == 0

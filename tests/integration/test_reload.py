"""Running like every other host daemon: SIGHUP (the unit's ExecReload=) reads
the configuration and the tokens file again while the agent keeps serving; a
token made with --new-token works after it without a restart, a removed one
stops working, a broken file is refused and the old configuration stays; keys
that need a restart are reported, not applied; systemd hears RELOADING=1 and
READY=1 on its notification socket. And the build's sysconfdir is where the
daemon looks for its configuration and tokens by default."""
import os
import re
import signal
import socket
import subprocess
import tempfile
import time

from conftest import BINARY, BUILDDIR, Agent, token_for


def hup(agent, expect):
    """SIGHUP, then waits until the log has the line that ends the reload."""
    n = agent.log_text().count(expect)
    agent.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while agent.log_text().count(expect) == n:
        assert agent.proc.poll() is None, f"hostdevd exited {agent.proc.returncode} on SIGHUP"
        assert time.monotonic() < deadline, f"no {expect!r} after SIGHUP:\n{agent.log_text()[-2000:]}"
        time.sleep(0.02)
    return agent.log_text()


def new_token(agent, spec):
    done = subprocess.run([str(BINARY), "--tokens", str(agent.tokens_file), f"--new-token={spec}"],
                          capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_sighup_keeps_the_agent_and_loads_a_new_token(agent):
    token = new_token(agent, "operator:added-later")
    assert agent.get("/v1/host", token=token).status == 401, "not before the reload"
    log = hup(agent, "Reload done")
    assert "Reload: token 'added-later' (operator) added." in log
    assert agent.get("/v1/host", token=token).status == 200
    r = agent.request("/v1/maintenance", method="PUT", data=b'{"enabled": false}', token=token)
    assert r.status == 200, "with its role: operator"
    assert agent.get("/v1/host").status == 200, "the tokens there before still work"


def test_removed_token_and_changed_role(agent):
    lines = agent.tokens_file.read_text().splitlines()
    kept = [l for l in lines if not l.startswith("reader ")]
    kept = [l.replace("operator ", "reader ", 1) if l.startswith("operator ") else l for l in kept]
    agent.tokens_file.write_text("\n".join(kept) + "\n")
    log = hup(agent, "Reload done")
    assert "Reload: token 'test-reader' (reader) removed." in log
    assert "Reload: token 'test-operator' is now reader (was operator)." in log
    assert agent.get("/v1/host", role="reader").status == 401
    assert agent.get("/v1/host", role="operator").status == 200
    r = agent.request("/v1/maintenance", method="PUT", data=b'{"enabled": true}', role="operator")
    assert r.status == 403, "now a reader"


def test_broken_tokens_file_is_refused_and_the_old_one_kept(agent):
    good = agent.tokens_file.read_text()
    agent.tokens_file.write_text(good + "operator not-a-hash\n")
    log = hup(agent, "Reload refused")
    assert re.search(r"tokens-\d+:\d+: expected '<role> <sha256 hex> \[<name>\]'", log), log[-1500:]
    for role in ("reader", "operator", "admin"):
        assert agent.get("/v1/host", role=role).status == 200, role
    m = agent.get("/v1/metrics").body.decode()
    assert 'hostdevd_config_reloads_total{result="refused"} 1' in m
    assert "hostdevd_config_last_reload_successful 0" in m
    agent.tokens_file.write_text(good)
    hup(agent, "Reload done")
    m = agent.get("/v1/metrics").body.decode()
    assert 'hostdevd_config_reloads_total{result="applied"} 1' in m
    assert "hostdevd_config_last_reload_successful 1" in m


def test_tokens_file_made_writable_is_refused_on_reload(agent):
    agent.tokens_file.chmod(0o666)
    try:
        log = hup(agent, "Reload refused")
        assert f"{agent.tokens_file} is writable by its group or others (mode 0666): refused" in log, log[-1500:]
        for role in ("reader", "operator", "admin"):
            assert agent.get("/v1/host", role=role).status == 200, role
    finally:
        agent.tokens_file.chmod(0o600)
    hup(agent, "Reload done")


def test_configuration_reload_applies_what_it_can(root, tmp_path, start_agent):
    conf = tmp_path / "hostdevd.conf"
    conf.write_text("log_level = info\nconnection_limit = 50\nreboot_timeout_sec = 600\n")
    agent = start_agent(root, "--config", str(conf))
    conf.write_text("log_level = warning\nconnection_limit = 60\nreboot_timeout_sec = 900\n")
    log = hup(agent, "Reload done")
    assert "Reload: reboot_timeout_sec is now '900' (was '600')." in log
    assert ("Reload: connection_limit is '60' in the configuration, but a change of it takes effect only when "
            "the agent restarts: '50' stays in force.") in log
    # log_level comes from the command line (--log-level debug), which wins over the file
    assert "log_level" not in log.split("Reload: reading")[-1]

    conf.write_text("log_level = warning\nno_such_key = 1\n")
    log = hup(agent, "Reload refused")
    assert "unknown key or invalid value" in log.split("Reload: reading")[-1]
    assert agent.get("/v1/host").status == 200


def test_configuration_made_writable_is_refused_on_reload(root, tmp_path, start_agent):
    """The file names the tokens file: whoever may change it may point it at their own."""
    conf = tmp_path / "hostdevd.conf"
    conf.write_text("reboot_timeout_sec = 600\n")
    conf.chmod(0o644)
    agent = start_agent(root, "--config", str(conf))
    conf.write_text("reboot_timeout_sec = 900\n")
    conf.chmod(0o646)
    log = hup(agent, "Reload refused").split("Reload: reading")[-1]
    assert f"{conf} is writable by its group or others (mode 0646): refused. Fix: chmod 0644 {conf}" in log, log
    assert "reboot_timeout_sec" not in log, "nothing of the refused file applied"
    conf.chmod(0o644)
    log = hup(agent, "Reload done").split("Reload: reading")[-1]
    assert "Reload: reboot_timeout_sec is now '900' (was '600')." in log, log


def test_log_level_from_the_file_changes_on_reload(root, tmp_path):
    conf = tmp_path / "hostdevd.conf"
    conf.write_text("log_level = info\n")
    agent = Agent(root, ["--config", str(conf)])
    agent.stop()  # the harness starts agents with --log-level debug: start this one without it
    i = agent.args.index("--log-level")
    del agent.args[i:i + 2]
    agent.start()
    try:
        agent.get("/v1/host")
        assert "GET /v1/host: 200" not in agent.log_text(), "info hides the per-request debug line"
        conf.write_text("log_level = debug\n")
        log = hup(agent, "Reload done")
        assert "Reload: log_level is now 'debug' (was 'info')." in log
        agent.get("/v1/host")
        assert "GET /v1/host: 200" in agent.log_text()
    finally:
        assert agent.stop() == 0


def test_systemd_hears_reloading_then_ready(root, tmp_path):
    short = tempfile.mkdtemp(prefix="hostdevd-", dir="/tmp")
    path = os.path.join(short, "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(10)
    try:
        agent = Agent(root, [], env={"NOTIFY_SOCKET": path})
        try:
            msgs = []
            while not any("READY=1" in m for m in msgs):
                msgs.append(sock.recv(4096).decode())
            agent.proc.send_signal(signal.SIGHUP)
            reload_msgs = [sock.recv(4096).decode(), sock.recv(4096).decode()]
            assert reload_msgs[0].startswith("RELOADING=1"), reload_msgs
            assert reload_msgs[1].startswith("READY=1"), reload_msgs
        finally:
            assert agent.stop() == 0
    finally:
        sock.close()
        os.unlink(path)
        os.rmdir(short)


def configured_sysconfdir():
    """The build's sysconfdir, from its Makefile (configure's --sysconfdir)."""
    m = re.search(r"^sysconfdir = (.*)$", (BUILDDIR / "Makefile").read_text(), re.M)
    assert m, "no sysconfdir in the build's Makefile"
    value = m.group(1).strip()
    if "${prefix}" in value or "$(prefix)" in value:
        prefix = re.search(r"^prefix = (.*)$", (BUILDDIR / "Makefile").read_text(), re.M).group(1).strip()
        value = value.replace("${prefix}", prefix).replace("$(prefix)", prefix)
    return value


def test_default_configuration_is_in_the_builds_sysconfdir(root, tmp_path):
    confdir = configured_sysconfdir() + "/hostdevd"
    help_text = subprocess.run([str(BINARY), "--help"], capture_output=True, text=True).stdout
    assert f"default ROOT{confdir}/hostdevd.conf" in help_text
    assert f"default ROOT{confdir}/tokens" in help_text

    # --new-token without --tokens writes the default tokens file, 0600
    tree = tmp_path / "tree"
    tree.mkdir()
    done = subprocess.run([str(BINARY), "--root", str(tree), "--new-token=reader:default"],
                          capture_output=True, text=True, check=True)
    tokens = tree / confdir.lstrip("/") / "tokens"
    assert tokens.exists(), done.stderr
    assert oct(tokens.stat().st_mode & 0o777) == "0o600"
    assert "reader " in tokens.read_text() and done.stdout.strip() not in tokens.read_text()

    # the default configuration file is read: a key in it shows in the log
    conf = tree / confdir.lstrip("/") / "hostdevd.conf"
    conf.write_text("metrics_listen = 127.0.0.1:0\n")
    import shutil
    shutil.copytree(root, tree, dirs_exist_ok=True, symlinks=True)
    agent = Agent(tree, [], tokens=False)
    try:
        assert "Metrics without credentials on 127.0.0.1:0" in agent.log_text()
        assert agent.get("/v1/host", token=done.stdout.strip()).status == 200
    finally:
        assert agent.stop() == 0


def test_streams_of_a_revoked_token_end(agent):
    from conftest import EventStream
    revoked = EventStream(agent, role="reader")
    kept = EventStream(agent, role="operator")
    try:
        revoked.until("hello")
        kept.until("hello")
        agent.tokens_file.write_text("\n".join(l for l in agent.tokens_file.read_text().splitlines()
                                               if not l.startswith("reader ")) + "\n")
        log = hup(agent, "Reload done")
        assert "Reload: ended 1 event streams whose token or certificate no longer has a role." in log
        assert revoked.ended.wait(10), "the revoked reader's stream goes on"
        assert not kept.ended.wait(0.5), "the operator's stream ended too"
        assert agent.get("/v1/metrics").body.decode().count("hostdevd_event_streams 1") == 1
    finally:
        revoked.close()
        kept.close()


def test_client_certificate_roles_follow_a_reload(tmp_path, root):
    from test_tls import make_pki, tls_agent, write_config, ROLE_LINES
    pki = make_pki(tmp_path / "pki")
    conf = write_config(tmp_path / "tls.conf", pki, roles=ROLE_LINES[1:])  # no reader line
    agent = tls_agent(root, pki, conf, "--tokens", str(tmp_path / "no-tokens"), cert="reader")
    try:
        r = agent.get("/v1/host", role=None)
        assert r.status == 403 and "has no role" in r.json()["detail"], r
        write_config(conf, pki)
        hup(agent, "Reload done")
        assert "Reload: tls_client_role is now '3 lines' (was '2 lines')." in agent.log_text()
        assert agent.get("/v1/host", role=None).status == 200
        assert agent.get("/v1/host", role=None, cert=(pki["operator"][0], pki["operator"][1])).status == 200
    finally:
        assert agent.stop() == 0

"""GET /v1/events against the real daemon: hello, live events of every kind a
change makes (maintenance, operations, kernel command line, a binding's
devices and group), replay after Last-Event-ID and resync when the ring no
longer holds it, heartbeats, a stuck consumer dropped without slowing the
others, and the caps on streams. Every event's data is checked against the
schema the contract's x-events names for its type (conftest.EventStream)."""
import json
import os
import re
import socket
import time

import pytest

import mksysfs
from conftest import EventStream, finish, token_for
from test_binding import AUDIO, GPU, PCIMOCK, make_tree, mock_env
from test_kernel_cmdline import maintenance, make_root

ID = re.compile(r"^([0-9a-f]{16})-([0-9]+)$")


def seq(event_id):
    return int(ID.match(event_id).group(2))


def toggle_maintenance(agent, enabled):
    r = agent.request("/v1/maintenance", method="PUT", role="operator",
                      data=json.dumps({"enabled": enabled, "reason": f"events test {enabled}"}).encode())
    assert r.status == 200, r
    return r.json()


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "root"
    mksysfs.generate("passthrough", root)
    return root


def config(tmp_path, **keys):
    conf = tmp_path / "hostdevd.conf"
    conf.write_text("".join(f"{k} = {v}\n" for k, v in keys.items()))
    return f"--config={conf}"


def test_hello_then_maintenance_events_live(tree, start_agent):
    agent = start_agent(tree)
    s = EventStream(agent)
    [(kind, hello_id, hello)] = s.until("hello")
    assert hello["generation"] == agent.get_json("/v1/inventory")["generation"]
    assert hello["last_event_id"] is None and hello_id is None, "no event yet: nothing to resume from"

    on = toggle_maintenance(agent, True)
    [*_, (kind, event_id, data)] = s.until("maintenance-changed")
    m = ID.match(event_id)
    assert m and m.group(1) == hello["instance"], event_id
    assert data["enabled"] is True and data["reason"] == on["reason"] and data["by"] == "test-operator"
    toggle_maintenance(agent, False)
    [*_, (_, next_id, data)] = s.until("maintenance-changed")
    assert data["enabled"] is False and seq(next_id) == seq(event_id) + 1

    # the same PUT again changes nothing, and says nothing
    toggle_maintenance(agent, False)
    assert [e[0] for e in s.drain()] == []
    s.close()


def test_a_new_stream_starts_from_the_newest_id(tree, start_agent):
    agent = start_agent(tree)
    toggle_maintenance(agent, True)
    newest = agent.request("/v1/maintenance", role="reader")  # no event: a GET
    assert newest.status == 200
    s = EventStream(agent)
    [(_, hello_id, hello)] = s.until("hello")
    assert hello_id == hello["last_event_id"] and seq(hello_id) >= 1, "live from hello on: resumable at once"
    s.close()


def test_reconnect_replays_exactly_what_was_missed(tree, start_agent):
    agent = start_agent(tree)
    s = EventStream(agent)
    s.until("hello")
    toggle_maintenance(agent, True)
    [*_, (_, seen, _)] = s.until("maintenance-changed")
    s.close()

    toggle_maintenance(agent, False)  # missed
    toggle_maintenance(agent, True)   # missed
    again = EventStream(agent, last_event_id=seen)
    [(kind, hello_id, _)] = again.until("hello")
    assert hello_id is None, "a replaying stream's hello carries no id: the replay does"
    replay = again.drain()
    assert [(k, seq(i), d["enabled"]) for k, i, d in replay] == [
        ("maintenance-changed", seq(seen) + 1, False), ("maintenance-changed", seq(seen) + 2, True)]
    toggle_maintenance(agent, False)  # and live after it
    [*_, (_, live_id, data)] = again.until("maintenance-changed")
    assert seq(live_id) == seq(seen) + 3 and data["enabled"] is False
    again.close()


def test_resync_when_the_ring_no_longer_holds_the_id(tree, tmp_path, start_agent):
    agent = start_agent(tree, config(tmp_path, events_ring_size=2))
    s = EventStream(agent)
    s.until("hello")
    toggle_maintenance(agent, True)
    [*_, (_, first, _)] = s.until("maintenance-changed")
    s.close()
    for enabled in (False, True, False):  # three more: the ring of 2 lost the one after first
        toggle_maintenance(agent, enabled)

    again = EventStream(agent, last_event_id=first)
    events = again.until("resync")
    assert [e[0] for e in events] == ["hello", "resync"], events
    _, resync_id, data = events[-1]
    assert data["reason"], data
    assert seq(resync_id) == seq(first) + 3, "resync carries the newest id: resume from there"
    assert again.drain() == [], "nothing is replayed after a resync"
    again.close()

    # an id of another run of the agent: resync too
    other = "0123456789abcdef-1" if not first.startswith("0123456789abcdef") else "fedcba9876543210-1"
    assert [e[0] for e in EventStream(agent, last_event_id=other).until("resync")] == ["hello", "resync"]


def test_the_id_of_the_newest_event_replays_nothing(tree, start_agent):
    agent = start_agent(tree)
    toggle_maintenance(agent, True)
    s = EventStream(agent)
    [(_, newest, _)] = s.until("hello")
    s.close()
    again = EventStream(agent, last_event_id=newest)
    again.until("hello")
    assert again.drain() == []
    again.close()


@pytest.mark.parametrize("value", ["garbage", "0123456789abcdef", "0123456789ABCDEF-1", "0123456789abcdef-x"])
def test_a_malformed_last_event_id_is_400_naming_the_header(tree, start_agent, value):
    agent = start_agent(tree)
    s = EventStream(agent, last_event_id=value, expect=400)
    assert s.problem["code"] == "invalid-parameter" and s.problem["parameter"] == "Last-Event-ID", s.problem


def test_an_empty_last_event_id_is_as_if_none(tree, start_agent):
    agent = start_agent(tree)
    s = EventStream(agent, last_event_id="")
    assert s.until("hello")[0][0] == "hello"
    s.close()


def test_the_stream_needs_a_token(tree, start_agent):
    agent = start_agent(tree)
    s = EventStream(agent, role=None, expect=401)
    assert s.problem["code"] == "unauthorized"


def test_heartbeats_keep_an_idle_stream_alive(tree, tmp_path, start_agent):
    agent = start_agent(tree, config(tmp_path, events_heartbeat_sec=1))
    s = EventStream(agent)
    s.until("hello")
    deadline = time.monotonic() + 10
    while s.comments < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert s.comments >= 2, "no heartbeat comments on an idle stream"
    assert not s.ended.is_set()
    s.close()


def stuck_client(port):
    """A GET /v1/events that is never read, with a small receive buffer."""
    c = socket.socket()
    c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    c.connect(("127.0.0.1", port))
    c.sendall(f"GET /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token_for('reader')}\r\n"
              "Accept: text/event-stream\r\n\r\n".encode())
    return c


def test_a_stuck_consumer_is_dropped_and_the_others_get_everything(tree, tmp_path, start_agent):
    agent = start_agent(tree, config(tmp_path, events_queue_bytes=1024))
    stuck = stuck_client(agent.port)
    good = EventStream(agent)
    good.until("hello")
    changes = 120
    for i in range(changes):
        toggle_maintenance(agent, i % 2 == 0)
    seen = []
    deadline = time.monotonic() + 20
    while len(seen) < changes and time.monotonic() < deadline:
        seen += [e for e in good.drain(quiet=0.5) if e[0] == "maintenance-changed"]
    assert len(seen) == changes, f"the reading stream got {len(seen)} of {changes} events"
    assert [seq(e[1]) for e in seen] == list(range(seq(seen[0][1]), seq(seen[0][1]) + changes))

    # the stuck one was ended: what it can still read stops with the end of the connection
    stuck.settimeout(10)
    total = 0
    while True:
        try:
            b = stuck.recv(65536)
        except ConnectionResetError:
            break
        if not b:
            break
        total += len(b)
    stuck.close()
    assert total < changes * 200, f"the stuck stream was not cut off ({total} bytes)"
    assert "bytes behind" in agent.log_text()
    # and the agent answers as before
    assert agent.request("/v1/maintenance", role="reader").status == 200
    good.close()


def from_address(agent, source):
    """A stream opened from another loopback address."""
    c = socket.create_connection(("127.0.0.1", agent.port), source_address=(source, 0))
    c.sendall(f"GET /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token_for('reader')}\r\n\r\n"
              .encode())
    c.settimeout(10)
    head = b""
    while b"\r\n\r\n" not in head:
        b = c.recv(4096)
        if not b:
            break
        head += b
    return c, int(head.split()[1])


def admitted_within(agent, seconds, what, between=lambda: None):
    """A new stream, once the agent admits one (it has read hello), within seconds."""
    deadline = time.monotonic() + seconds
    while True:
        between()
        s = EventStream(agent, expect=None)
        if s.status == 200:
            s.until("hello")
            return s
        assert time.monotonic() < deadline, f"{what} ({s.status})"
        time.sleep(0.05)


def test_streams_are_capped_per_client_and_in_all(tree, tmp_path, start_agent):
    agent = start_agent(tree, config(tmp_path, events_per_client=2, events_max_streams=3))
    a, b = EventStream(agent), EventStream(agent)
    a.until("hello"), b.until("hello")
    third = EventStream(agent, expect=429)
    assert third.problem["code"] == "too-many-streams", third.problem

    other, status = from_address(agent, "127.0.0.2")
    assert status == 200, "another client address still gets a stream"
    last, status = from_address(agent, "127.0.0.3")
    assert status == 503, "past events_max_streams in all"
    last.close()
    p = EventStream(agent, expect=429)  # still the per-client answer for 127.0.0.1
    assert p.problem["code"] == "too-many-streams"

    a.close()
    # a change writes to every stream, so the closed one is noticed even
    # without the agent's watch on a waiting stream's socket
    s = admitted_within(agent, 10, "a closed stream was never given back",
                        between=lambda: toggle_maintenance(agent, time.monotonic() % 2 < 1))
    s.close(), b.close(), other.close()


def test_a_client_that_hangs_up_gives_its_stream_back_at_once(tree, tmp_path, start_agent):
    """Nothing is written to a waiting stream for a heartbeat's time (an hour
    here), yet its client's hang-up frees the stream and its descriptor:
    the agent watches a waiting stream's socket itself."""
    agent = start_agent(tree, config(tmp_path, events_per_client=2, events_heartbeat_sec=3600))
    fds_before = len(os.listdir(f"/proc/{agent.proc.pid}/fd"))
    for round_ in range(3):  # the same slots, again and again
        a, b = EventStream(agent), EventStream(agent)
        a.until("hello"), b.until("hello")
        assert EventStream(agent, expect=429).problem["code"] == "too-many-streams"
        a.close(), b.close()
        admitted_within(agent, 5, f"round {round_}: a hung-up stream held its slot").close()
    deadline = time.monotonic() + 5
    while len(os.listdir(f"/proc/{agent.proc.pid}/fd")) > fds_before:
        assert time.monotonic() < deadline, \
            f"descriptors still open: {sorted(os.readlink(f'/proc/{agent.proc.pid}/fd/{fd}') for fd in os.listdir(f'/proc/{agent.proc.pid}/fd'))}"
        time.sleep(0.05)
    r = agent.request("/v1/host")
    assert r.status == 200, "the agent serves on after the hang-ups"


def test_kernel_cmdline_change_is_announced(tmp_path, start_agent):
    root = make_root(tmp_path, "debian-plain")
    agent = start_agent(root)
    maintenance(agent)
    s = EventStream(agent)
    s.until("hello")
    r = agent.request("/v1/kernel-cmdline", method="PATCH",
                      data=json.dumps({"append_if_missing": ["intel_iommu=on"]}).encode())
    done = finish(agent, r)
    assert done.status == 200 and done.json()["changed"] is True, done
    events = s.until("kernel-cmdline-changed")
    ops = [d for k, _, d in events if k == "operation-changed"]
    assert ops and ops[0]["id"] == done.op["id"] and ops[0]["state"] in ("accepted", "running")
    _, _, change = events[-1]
    assert change["operation"] == done.op["id"]
    assert "intel_iommu=on" in change["after"].split() and change["after"] == done.json()["after"]
    assert change["reboot_required"] is True and change["owned"] == ["intel_iommu=on"]
    assert change["pending"] == done.json()["pending"]
    last = s.until("operation-changed", lambda d: d["state"] == "succeeded")[-1][2]
    assert last["result"]["changed"] is True

    # the same change again: an operation, but no kernel-cmdline-changed
    again = finish(agent, agent.request("/v1/kernel-cmdline", method="PATCH",
                                        data=json.dumps({"append_if_missing": ["intel_iommu=on"]}).encode()))
    assert again.status == 200 and again.json()["changed"] is False
    kinds = [k for k, _, d in s.until("operation-changed", lambda d: d["state"] == "succeeded")]
    assert "kernel-cmdline-changed" not in kinds + [e[0] for e in s.drain()]
    s.close()


@pytest.mark.skipif(not PCIMOCK.exists(), reason=f"{PCIMOCK} not built (make check builds it)")
def test_a_binding_names_its_devices_and_group(tmp_path, start_agent):
    tree = make_tree(tmp_path)
    agent = start_agent(tree, env=mock_env(tree))
    before = agent.get_json("/v1/inventory")["generation"]
    s = EventStream(agent)
    s.until("hello")
    r = agent.request(f"/v1/devices/{GPU}/driver", method="PUT", role="operator",
                      data=b'{"driver": "vfio-pci"}')
    done = finish(agent, r)
    assert done.status == 200 and done.json()["outcome"] == "done", done
    events = s.until("inventory-changed", lambda d: d["cause"] == "operation")
    changed = {d["address"]: d["fields"] for k, _, d in events if k == "device-changed"}
    assert set(changed) == {GPU, AUDIO}, events
    assert all("driver" in f for f in changed.values()), changed
    groups = [d for k, _, d in events if k == "iommu-group-changed"]
    assert [g["id"] for g in groups] == [9] and groups[0]["change"] == "changed", groups
    assert "viable" in groups[0]["fields"], groups
    inv = events[-1][2]
    assert inv["generation"] > before and inv["devices_changed"] == 2
    assert inv["etags"]["/v1/devices"] == agent.request("/v1/devices", role="reader").headers["etag"]
    assert inv["etags"]["/v1/iommu-groups"] == agent.request("/v1/iommu-groups", role="reader").headers["etag"]
    assert agent.get_json(f"/v1/devices/{GPU}")["driver"] == "vfio-pci"
    states = [d["state"] for k, _, d in s.until("operation-changed", lambda d: d["state"] == "succeeded")
              if k == "operation-changed"]
    assert states[-1] == "succeeded"
    s.close()

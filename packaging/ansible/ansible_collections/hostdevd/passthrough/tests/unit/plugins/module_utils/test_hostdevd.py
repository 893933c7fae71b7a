# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of module_utils/hostdevd.py against a stand-in agent on
loopback (http.server in a thread): the request it sends (method, path,
token, JSON body), problem+json replies turned into errors naming status,
title and detail, unreachable agents, and operations followed to their end.
Run by ansible-test units, or by pytest with packaging/ansible on sys.path."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import socket
import threading

import pytest

from ansible.module_utils.six.moves.BaseHTTPServer import BaseHTTPRequestHandler, HTTPServer
from ansible_collections.hostdevd.passthrough.plugins.module_utils import hostdevd

NOT_IN_MAINTENANCE = {
    "type": "urn:hostdevd:problem:not-in-maintenance", "title": "The host is not in maintenance mode",
    "status": 409, "detail": "changing the kernel command line needs maintenance mode",
    "instance": "/v1/kernel-cmdline", "code": "not-in-maintenance"}


class Agent(object):
    """Answers each request with the next reply queued for its path:
    (status, content type, body bytes); records what it was sent."""

    def __init__(self):
        self.replies = {}
        self.seen = []
        agent = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _any(self):
                length = int(self.headers.get('Content-Length') or 0)
                body = self.rfile.read(length) if length else b''
                agent.seen.append(dict(method=self.command, path=self.path, headers=dict(self.headers.items()),
                                       body=json.loads(body) if body else None))
                queue = agent.replies.get((self.command, self.path)) or [(404, 'text/plain', b'no reply queued')]
                status, ctype, data = queue.pop(0) if len(queue) > 1 else queue[0]
                self.send_response(status)
                self.send_header('Content-Type', ctype)
                self.send_header('Content-Length', str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_PATCH = do_POST = do_DELETE = _any

        self.server = HTTPServer(('127.0.0.1', 0), Handler)
        self.url = 'http://127.0.0.1:%d' % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs=dict(poll_interval=0.05))
        self.thread.daemon = True
        self.thread.start()

    def reply(self, method, path, status, body, ctype='application/json'):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.replies.setdefault((method, path), []).append((status, ctype, data))

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class FakeModule(object):
    def __init__(self, **params):
        self.params = dict(url=None, token=None, ca_path=None, client_cert=None, client_key=None,
                           validate_certs=True, timeout=5)
        self.params.update(params)


@pytest.fixture
def agent():
    a = Agent()
    yield a
    a.stop()


def client(agent, **params):
    return hostdevd.HostdevdClient(FakeModule(url=agent.url + '/', **params))


def test_get_sends_the_token_and_parses_json(agent):
    agent.reply('GET', '/v1/maintenance', 200, {"enabled": False})
    assert client(agent, token='s3cret').get('/v1/maintenance') == {"enabled": False}
    sent = agent.seen[0]
    assert sent['headers']['Authorization'] == 'Bearer s3cret'
    assert sent['headers']['Accept'] == 'application/json'
    assert sent['path'] == '/v1/maintenance', 'the trailing slash of url is not doubled'


def test_no_token_no_authorization_header(agent):
    agent.reply('GET', '/v1/host', 200, {})
    client(agent).get('/v1/host')
    assert 'Authorization' not in agent.seen[0]['headers']


def test_body_is_json(agent):
    agent.reply('PUT', '/v1/maintenance', 200, {"changed": True})
    status, body = client(agent, token='t').request('PUT', '/v1/maintenance', {"enabled": True, "reason": "r"})
    assert (status, body) == (200, {"changed": True})
    assert agent.seen[0]['body'] == {"enabled": True, "reason": "r"}
    assert agent.seen[0]['headers']['Content-Type'] == 'application/json'


def test_problem_names_status_title_and_detail(agent):
    agent.reply('PATCH', '/v1/kernel-cmdline', 409, NOT_IN_MAINTENANCE, 'application/problem+json')
    with pytest.raises(hostdevd.HostdevdError) as e:
        client(agent).request('PATCH', '/v1/kernel-cmdline', {"append": ["x"]})
    err = e.value
    assert err.status == 409 and err.problem == NOT_IN_MAINTENANCE and not err.unreachable
    assert err.msg == ('PATCH /v1/kernel-cmdline: 409 The host is not in maintenance mode (not-in-maintenance): '
                       'changing the kernel command line needs maintenance mode')
    args = err.fail_args()
    assert args['status'] == 409 and args['problem']['code'] == 'not-in-maintenance'


def test_problem_lists_are_named():
    msg = hostdevd.problem_message('PUT /v1/maintenance', 409, {
        "title": "Devices are in use", "status": 409, "code": "devices-in-use", "detail": "VMs hold groups",
        "holders": [{"iommu_group": 12, "pid": 4242, "process": "qemu-system-x86", "vm": "win10"}]})
    assert msg.endswith('; holders: group 12 held by qemu-system-x86 (pid 4242, vm win10)'), msg
    msg = hostdevd.problem_message('PATCH /v1/kernel-cmdline', 409, {
        "title": "Conflict", "code": "kernel-argument-conflict", "detail": "d",
        "conflicts": ["iommu=pt conflicts with iommu=off", "second"]})
    assert 'conflicts: iommu=pt conflicts with iommu=off; second' in msg
    msg = hostdevd.problem_message('x', 409, {"title": "T", "code": "binding-refused", "detail": "d",
                                              "reasons": [{"code": "bridge", "message": "04:00.0 is a bridge"}]})
    assert 'reasons: 04:00.0 is a bridge' in msg
    msg = hostdevd.problem_message('x', 400, {"title": "Invalid request body", "code": "invalid-body",
                                              "detail": "d", "pointer": "/append/3"})
    assert msg.endswith('(body entry /append/3)')


def test_error_without_problem_keeps_the_text(agent):
    agent.reply('GET', '/v1/host', 502, b'bad gateway from the proxy', 'text/plain')
    with pytest.raises(hostdevd.HostdevdError) as e:
        client(agent).get('/v1/host')
    assert e.value.status == 502 and e.value.problem is None
    assert e.value.msg.startswith('GET /v1/host: 502 ') and 'bad gateway from the proxy' in e.value.msg


def test_a_2xx_body_that_is_not_json_is_an_error(agent):
    agent.reply('GET', '/v1/host', 200, b'<html>', 'text/html')
    with pytest.raises(hostdevd.HostdevdError) as e:
        client(agent).get('/v1/host')
    assert 'not JSON' in e.value.msg and not e.value.unreachable


def test_unreachable_agent():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    c = hostdevd.HostdevdClient(FakeModule(url='http://127.0.0.1:%d' % port))
    with pytest.raises(hostdevd.HostdevdError) as e:
        c.get('/v1/host')
    assert e.value.unreachable and e.value.status is None
    assert 'cannot reach the hostdevd agent at http://127.0.0.1:%d' % port in e.value.msg


def operation(state, **kw):
    op = dict(id='ab' * 16, self='/v1/operations/' + 'ab' * 16, kind='kernel-cmdline', state=state,
              error=None, problem=None, result=None)
    op.update(kw)
    return op


def test_change_follows_the_operation_to_its_end(agent):
    path = '/v1/operations/' + 'ab' * 16
    agent.reply('PATCH', '/v1/kernel-cmdline', 202, operation('accepted'))
    agent.reply('GET', path, 200, operation('running'))
    agent.reply('GET', path, 200, operation('succeeded', result={"changed": True}))
    op = client(agent).change('PATCH', '/v1/kernel-cmdline', {"append_if_missing": ["nosmt"]}, wait_timeout=10)
    assert op['state'] == 'succeeded' and op['result'] == {"changed": True}
    assert [s['method'] + ' ' + s['path'] for s in agent.seen] == ['PATCH /v1/kernel-cmdline', 'GET ' + path,
                                                                   'GET ' + path]


def test_dry_run_200_is_returned_as_it_is(agent):
    agent.reply('PATCH', '/v1/kernel-cmdline', 200, {"changed": False, "dry_run": True})
    reply = client(agent).change('PATCH', '/v1/kernel-cmdline', {"dry_run": True})
    assert reply == {"changed": False, "dry_run": True}


def test_failed_operation_raises_its_problem(agent):
    problem = {"type": "urn:hostdevd:problem:binding-failed", "status": 500, "code": "binding-failed",
               "title": "The driver change failed and was rolled back", "detail": "vfio-pci did not bind",
               "instance": "/v1/devices/0000:01:00.0/driver", "reasons": [], "rollback": "restored"}
    agent.reply('PUT', '/v1/devices/0000:01:00.0/driver', 202, operation('accepted', kind='bind'))
    failed = operation('failed', kind='bind', problem=problem, error='vfio-pci did not bind')
    agent.reply('GET', '/v1/operations/' + 'ab' * 16, 200, failed)
    with pytest.raises(hostdevd.HostdevdError) as e:
        client(agent).change('PUT', '/v1/devices/0000:01:00.0/driver', {"driver": "vfio-pci"})
    assert e.value.status == 500 and e.value.operation['state'] == 'failed'
    assert e.value.msg == ('bind operation %s: 500 The driver change failed and was rolled back (binding-failed): '
                           'vfio-pci did not bind' % ('ab' * 16))


def test_failed_operation_without_problem_gives_its_error():
    with pytest.raises(hostdevd.HostdevdError) as e:
        hostdevd.HostdevdClient.raise_if_failed(operation('failed', kind='reboot', error='logind refused'))
    assert e.value.msg == 'reboot operation %s failed: logind refused' % ('ab' * 16)
    hostdevd.HostdevdClient.raise_if_failed(operation('succeeded'))  # no error


def test_operation_that_does_not_end_in_time(agent):
    agent.reply('GET', '/v1/operations/' + 'ab' * 16, 200, operation('running'))
    with pytest.raises(hostdevd.HostdevdError) as e:
        client(agent).wait_operation(operation('running'), timeout=0.3, interval=0.05)
    assert 'still running after 0.3 s' in e.value.msg


def test_url_needs_a_scheme():
    with pytest.raises(hostdevd.HostdevdError) as e:
        hostdevd.HostdevdClient(FakeModule(url='hv01:8427'))
    assert "not 'hv01:8427'" in e.value.msg


def test_quote_path():
    assert hostdevd.quote_path('0000:01:00.0') == '0000:01:00.0'
    assert hostdevd.quote_path('../x y') == '..%2Fx%20y'


def test_argument_spec_hides_the_token():
    spec = hostdevd.hostdevd_argument_spec()
    assert spec['token']['no_log'] is True
    assert spec['url']['required'] is True
    assert set(spec) == {'url', 'token', 'ca_path', 'client_cert', 'client_key', 'validate_certs', 'timeout'}

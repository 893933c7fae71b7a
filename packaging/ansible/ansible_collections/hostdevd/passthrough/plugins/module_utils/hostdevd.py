# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one HTTP client of the hostdevd.passthrough modules: requests to a
hostdevd agent's REST API (ansible.module_utils.urls.open_url, bearer token,
TLS options), problem+json replies (RFC 9457) turned into HostdevdError with
the problem's status, title and detail, and the polling of the operations
that changes run as (GET /v1/operations/{id}). Modules run on the controller
and talk to each host's agent over HTTP(S)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import socket
import ssl
import time

from ansible.module_utils.basic import env_fallback
from ansible.module_utils.common.text.converters import to_native, to_text
from ansible.module_utils.six.moves.http_client import HTTPException
from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError
from ansible.module_utils.six.moves.urllib.parse import quote
from ansible.module_utils.urls import ConnectionError as UrlsConnectionError
from ansible.module_utils.urls import open_url

USER_AGENT = 'ansible-hostdevd.passthrough'
OPERATION_DONE = ('succeeded', 'failed')
# Fields of a problem that say more than its detail, each as one line.
PROBLEM_LISTS = ('conflicts', 'reasons', 'holders')


def hostdevd_argument_spec():
    """The options every module takes (doc fragment hostdevd.passthrough.common)."""
    return dict(
        url=dict(type='str', required=True, fallback=(env_fallback, ['HOSTDEVD_URL'])),
        token=dict(type='str', no_log=True, fallback=(env_fallback, ['HOSTDEVD_TOKEN'])),
        ca_path=dict(type='path'),
        client_cert=dict(type='path'),
        client_key=dict(type='path', no_log=False),
        validate_certs=dict(type='bool', default=True),
        timeout=dict(type='int', default=30),
    )


class HostdevdError(Exception):
    """A request that did not give what the module needs: a problem reply
    (status and problem set), an unreachable agent (unreachable True), or an
    operation that failed or did not end in time."""

    def __init__(self, msg, status=None, problem=None, unreachable=False, operation=None):
        super(HostdevdError, self).__init__(msg)
        self.msg = msg
        self.status = status
        self.problem = problem
        self.unreachable = unreachable
        self.operation = operation

    def fail_args(self):
        """Keyword arguments for module.fail_json()."""
        args = dict(msg=self.msg)
        if self.status is not None:
            args['status'] = self.status
        if self.problem is not None:
            args['problem'] = self.problem
        if self.operation is not None:
            args['operation'] = self.operation
        return args


def _list_item(name, item):
    if not isinstance(item, dict):
        return to_text(item)
    if name == 'holders':
        vm = ', vm %s' % item['vm'] if item.get('vm') else ''
        return 'group %s held by %s (pid %s%s)' % (item.get('iommu_group'), item.get('process'), item.get('pid'), vm)
    return to_text(item.get('message') or item.get('code') or json.dumps(item, sort_keys=True))


def problem_message(where, status, problem):
    """One sentence naming where, the status, the problem's title and
    detail, and its lists (conflicts, reasons, holders) when it has them:
    'PATCH /v1/kernel-cmdline: 409 The host is not in maintenance mode
    (not-in-maintenance): changing the kernel command line needs ...'."""
    title = problem.get('title') or 'error'
    code = problem.get('code')
    msg = '%s: %s %s' % (where, problem.get('status', status), title)
    if code:
        msg += ' (%s)' % code
    if problem.get('detail'):
        msg += ': %s' % problem['detail']
    for name in PROBLEM_LISTS:
        items = problem.get(name)
        if isinstance(items, list) and items:
            msg += '; %s: %s' % (name, '; '.join(_list_item(name, i) for i in items))
    pointer = problem.get('pointer')
    if pointer is not None and problem.get('code') in ('invalid-body', 'edit-not-applicable', 'preset-not-applicable'):
        msg += ' (body entry %s)' % (pointer or '/')
    return msg


def _decode(raw):
    if not raw:
        return None
    try:
        return json.loads(to_text(raw, errors='surrogate_or_strict'))
    except ValueError:
        return None


class HostdevdClient(object):
    """Requests to one agent: url (https://host:8427), the module's common
    options for credentials and TLS."""

    def __init__(self, module):
        self.module = module
        params = module.params
        self.base = params['url'].rstrip('/')
        if not self.base.startswith(('https://', 'http://')):
            raise HostdevdError("url must be the agent's base URL, https://HOST:8427 (or http:// on loopback), "
                                "not %r" % params['url'])
        self.token = params.get('token')
        self.tls = dict(validate_certs=params.get('validate_certs', True), ca_path=params.get('ca_path'),
                        client_cert=params.get('client_cert'), client_key=params.get('client_key'))
        self.timeout = params.get('timeout') or 30

    def request(self, method, path, body=None, timeout=None):
        """(status, parsed JSON body or None) of a 2xx reply. Raises
        HostdevdError for any other status (with the problem when the
        agent sent one) and when no HTTP reply came (unreachable)."""
        where = '%s %s' % (method, path)
        headers = {'Accept': 'application/json'}
        if self.token:
            headers['Authorization'] = 'Bearer %s' % self.token
        data = None
        if body is not None:
            data = json.dumps(body)
            headers['Content-Type'] = 'application/json'
        try:
            resp = open_url(self.base + path, data=data, headers=headers, method=method,
                            timeout=timeout or self.timeout, http_agent=USER_AGENT, follow_redirects='none',
                            use_netrc=False, **self.tls)
            status = resp.getcode()
            raw = resp.read()
        except HTTPError as e:
            self._raise_http_error(where, e)
        except (URLError, UrlsConnectionError, HTTPException, socket.error, socket.timeout) as e:
            reason = getattr(e, 'reason', e)
            if isinstance(reason, ssl.CertificateError) or 'CERTIFICATE_VERIFY_FAILED' in to_native(reason):
                # not something waiting helps with: check ca_path and the agent's certificate
                raise HostdevdError('%s: the certificate of the hostdevd agent at %s is not trusted: %s'
                                    % (where, self.base, to_native(reason)))
            raise HostdevdError('%s: cannot reach the hostdevd agent at %s: %s'
                                % (where, self.base, to_native(reason)), unreachable=True)
        parsed = _decode(raw)
        if raw and parsed is None:
            raise HostdevdError('%s: %s answered %s with a body that is not JSON: %r'
                                % (where, self.base, status, raw[:200]), status=status)
        return status, parsed

    @staticmethod
    def _raise_http_error(where, e):
        try:
            raw = e.read()
        except Exception:  # the body of an error reply may be gone already
            raw = b''
        problem = _decode(raw)
        if isinstance(problem, dict) and (problem.get('title') or problem.get('detail')):
            raise HostdevdError(problem_message(where, e.code, problem), status=e.code, problem=problem)
        text = to_text(raw, errors='surrogate_or_replace').strip()[:300]
        raise HostdevdError('%s: %s %s%s' % (where, e.code, to_native(e.reason or ''),
                                             ': %s' % text if text else ''), status=e.code)

    def get(self, path, timeout=None):
        return self.request('GET', path, timeout=timeout)[1]

    def change(self, method, path, body=None, wait_timeout=120):
        """A change the agent runs as an operation (202): followed to its end.
        The succeeded operation is returned; a failed one raises with its
        problem. A 200 (dry runs) gives its body as it is."""
        status, reply = self.request(method, path, body)
        if status != 202:
            return reply
        op = self.wait_operation(reply, wait_timeout)
        self.raise_if_failed(op)
        return op

    def wait_operation(self, op, timeout, interval=0.25):
        """Polls op['self'] until the operation is succeeded or failed;
        raises HostdevdError when it is still under way after timeout s."""
        deadline = time.time() + timeout
        while op.get('state') not in OPERATION_DONE:
            if time.time() > deadline:
                raise HostdevdError('operation %s (%s) is still %s after %s s'
                                    % (op.get('id'), op.get('kind'), op.get('state'), timeout), operation=op)
            time.sleep(interval)
            op = self.get(op['self'])
        return op

    @staticmethod
    def raise_if_failed(op):
        if op.get('state') != 'failed':
            return
        where = '%s operation %s' % (op.get('kind'), op.get('id'))
        problem = op.get('problem')
        if isinstance(problem, dict):
            msg = problem_message(where, problem.get('status'), problem)
            raise HostdevdError(msg, status=problem.get('status'), problem=problem, operation=op)
        raise HostdevdError('%s failed: %s' % (where, op.get('error') or 'no reason given'), operation=op)


def quote_path(segment):
    """One path segment (a PCI address), percent-encoded but for ':'."""
    return quote(to_native(segment), safe=':')


def run_module(module, main):
    """Runs main(client) and turns a HostdevdError into module.fail_json."""
    try:
        main(HostdevdClient(module))
    except HostdevdError as e:
        module.fail_json(**e.fail_args())

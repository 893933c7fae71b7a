# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options every hostdevd.passthrough module takes (how to reach and
authenticate to the agent), documented once; their argument spec is
hostdevd_argument_spec() in module_utils/hostdevd.py."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):

    DOCUMENTATION = r'''
options:
  url:
    description:
      - The agent's base URL, C(https://HOST:8427) (C(http://) only for an agent on loopback or started
        with C(--allow-plain-http)).
      - If not set, the environment variable C(HOSTDEVD_URL) of the controller is used.
    type: str
    required: true
  token:
    description:
      - A bearer token of the agent (C(hostdevd --new-token=ROLE)). C(host_info) needs the C(reader) role,
        C(maintenance) and C(device_driver) C(operator), C(kernel_cmdline) and C(reboot) C(admin).
      - Not needed when the agent authenticates the client certificate (I(client_cert)) instead.
      - If not set, the environment variable C(HOSTDEVD_TOKEN) of the controller is used.
    type: str
  ca_path:
    description:
      - A PEM file of the CA that signed the agent's certificate.
    type: path
  client_cert:
    description:
      - A PEM client certificate for an agent that requires mutual TLS (C(tls_client_ca)).
    type: path
  client_key:
    description:
      - The private key of I(client_cert), when that file does not hold it.
    type: path
  validate_certs:
    description:
      - Whether to check the agent's certificate. Only set C(false) on a network you control.
    type: bool
    default: true
  timeout:
    description:
      - Seconds each HTTP request may take.
    type: int
    default: 30
notes:
  - The module runs on the controller and talks to the agent over HTTP(S) at I(url); it does not use the
    managed host's connection. Run it delegated to the controller (C(delegate_to) set to C(localhost)), or
    with the C(local) connection for inventory hosts that exist only as agents.
  - Set the common options once for every module of the collection with
    C(module_defaults) and the action group C(group/hostdevd.passthrough.all).
'''

    ATTRIBUTES = r'''
attributes:
  check_mode:
    description: Can run in check mode and then predicts C(changed) from the agent's answers (and its dry runs)
      without changing the host.
    support: full
  diff_mode:
    description: Returns what changed (or would change) as a diff when run with C(--diff).
    support: full
  platform:
    description: Runs on the controller; the agent's host is any Linux host running hostdevd.
    support: full
    platforms: posix
  action_group:
    description: Part of the action group C(hostdevd.passthrough.all), for setting the common options once with
      C(module_defaults).
    support: full
    membership:
      - hostdevd.passthrough.all
'''

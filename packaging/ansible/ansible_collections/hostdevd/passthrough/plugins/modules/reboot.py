#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""hostdevd.passthrough.reboot: reboots a host through its agent
(POST /v1/reboot) when a reboot is pending, and waits until the agent
answers again from a new boot and the reboot operation succeeded."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: reboot
short_description: Reboot a host through its hostdevd agent and wait for the new boot
version_added: 0.1.0
description:
  - Reboots the host when a reboot is pending, that is when the kernel arguments configured for the next
    boot differ from the running ones (C(reboot_required) of C(GET /v1/kernel-cmdline)), or always with
    I(force=true). With nothing pending and no I(force) it does nothing and returns C(changed=false), so a
    playbook run again does not reboot its hosts again.
  - Sends C(POST /v1/reboot); the agent records a C(reboot) operation with the current boot id and the
    pending arguments and asks systemd-logind to reboot. The module then polls the operation (and
    C(GET /v1/host)) until the agent answers from a B(new boot id) and the operation C(succeeded), for at
    most I(reboot_timeout) seconds; while the host is down the agent does not answer, which is expected.
  - Fails with the operation's error when the operation fails (logind refused or could not be reached, the
    reboot was inhibited or did not happen in the agent's C(reboot_timeout_sec)), and when the new boot
    did not come within I(reboot_timeout).
  - Needs maintenance mode (M(hostdevd.passthrough.maintenance)); outside it the agent refuses with 409
    C(not-in-maintenance) and the module fails with the agent's explanation.
  - In check mode the module reads the same state and reports C(changed=true) exactly when it would reboot
    (a reboot pending, or I(force)); it warns when the host is not in maintenance mode, where the reboot
    would be refused.
  - Returns the operation's C(result); C(took_effect=false) (an argument that was pending is not running,
    or the IOMMU was expected and is not active) is a warning, since the reboot itself happened.
  - Needs a token with the C(admin) role.
options:
  force:
    description:
      - Reboot even when no kernel argument is pending.
    type: bool
    default: false
  reboot_timeout:
    description:
      - Seconds from the request to the agent's answer from the new boot, with the operation succeeded.
      - I(timeout) is the time each single HTTP request may take.
    type: int
    default: 900
  poll_interval:
    description:
      - Seconds between two polls while waiting.
    type: int
    default: 2
extends_documentation_fragment:
  - hostdevd.passthrough.common
  - hostdevd.passthrough.common.attributes
author:
  - hostdevd developers (!UNKNOWN)
'''

EXAMPLES = r'''
- name: Reboot for the kernel arguments configured before, and wait up to 20 minutes
  hostdevd.passthrough.reboot:
    url: "https://{{ inventory_hostname }}:8427"
    token: "{{ hostdevd_admin_token }}"
    reboot_timeout: 1200
  delegate_to: localhost
  register: rebooted

- name: The new boot runs them
  ansible.builtin.assert:
    that: rebooted.result.took_effect
  when: rebooted.rebooted
'''

RETURN = r'''
rebooted:
  description: Whether the host rebooted (false in check mode and when nothing was pending).
  returned: success
  type: bool
  sample: true
reboot_pending:
  description: Whether a reboot was pending before the task (C(reboot_required) of the kernel command line).
  returned: success
  type: bool
  sample: true
pending:
  description: The pending kernel arguments before the task (C(pending) of C(GET /v1/kernel-cmdline)).
  returned: success
  type: list
  elements: dict
  sample: [{action: add, argument: intel_iommu=on, key: intel_iommu, value: "on", section: kernel}]
boot_id_before:
  description: The boot id when the reboot was asked for.
  returned: when rebooted
  type: str
  sample: 92354baf-50f9-5e50-9fae-6263cab58435
boot_id_after:
  description: The boot id the agent answers with from the new boot.
  returned: when rebooted
  type: str
  sample: 0d7d3c8a-3f4e-4b52-9d0c-61b2f0e6b1a7
elapsed:
  description: Seconds from the request to the agent's answer from the new boot.
  returned: when rebooted
  type: float
  sample: 74.2
result:
  description: The operation's result (schema RebootResult) - C(expected_arguments) and whether each runs,
    C(all_running), C(iommu_expected), C(iommu_active), C(took_effect).
  returned: when rebooted
  type: dict
  sample: {all_running: true, iommu_expected: true, iommu_active: true, took_effect: true, expected_arguments: []}
operation:
  description: The C(reboot) operation as it ended (schema Operation).
  returned: when rebooted
  type: dict
  sample: {id: 4f0c1d2e3b4a59687766554433221100, kind: reboot, state: succeeded, method: logind}
'''

import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.hostdevd.passthrough.plugins.module_utils.hostdevd import (
    HostdevdError, hostdevd_argument_spec, run_module)


def wait_new_boot(client, op, reboot_timeout, interval):
    """Polls until the operation succeeded in a new boot; unreachable while
    the host is down is expected. Returns (operation, host)."""
    start = time.time()
    deadline = start + reboot_timeout
    last = 'no answer yet'
    poll_timeout = min(client.timeout, 10)  # a host going down may leave a request hanging
    while True:
        try:
            op = client.get(op['self'], timeout=poll_timeout)
            client.raise_if_failed(op)
            if op.get('state') == 'succeeded':
                host = client.get('/v1/host', timeout=poll_timeout)
                if host.get('boot_id') != op.get('boot_id_before'):
                    return op, host
                last = 'the agent answers from the same boot %s' % host.get('boot_id')
            else:
                last = 'operation %s' % op.get('state')
        except HostdevdError as e:
            if not e.unreachable:
                raise
            last = e.msg
        if time.time() > deadline:
            raise HostdevdError('the host did not come back from the reboot within %s s (last: %s)'
                                % (reboot_timeout, last), operation=op)
        time.sleep(interval)


def main():
    spec = hostdevd_argument_spec()
    spec.update(force=dict(type='bool', default=False),
                reboot_timeout=dict(type='int', default=900),
                poll_interval=dict(type='int', default=2))
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    params = module.params

    def apply(client):
        kc = client.get('/v1/kernel-cmdline')
        pending = kc.get('reboot_required') is True
        result = dict(changed=False, rebooted=False, reboot_pending=pending, pending=kc.get('pending'))
        if not pending and not params['force']:
            result['msg'] = 'no reboot pending: the configured kernel arguments are running'
            module.exit_json(**result)
        if module._diff:
            why = 'forced, nothing pending'
            if pending:
                why = 'pending kernel arguments %s' % ', '.join(
                    '%s %s' % (p['action'], p['argument']) for p in kc.get('pending') or [])
            result['diff'] = dict(prepared='reboot: %s\n' % why)
        if module.check_mode:
            if not client.get('/v1/maintenance').get('enabled'):
                module.warn('the host is not in maintenance mode: the agent would refuse the reboot')
            result.update(changed=True, msg='would reboot')
            module.exit_json(**result)
        started = time.time()
        op = client.request('POST', '/v1/reboot', {})[1]
        op, host = wait_new_boot(client, op, params['reboot_timeout'], params['poll_interval'])
        reboot = op.get('result') or {}
        if reboot.get('took_effect') is False:
            module.warn('the reboot happened but did not take effect: %s' % reboot)
        result.update(changed=True, rebooted=True, operation=op, result=reboot,
                      boot_id_before=op.get('boot_id_before'), boot_id_after=host.get('boot_id'),
                      elapsed=round(time.time() - started, 1))
        module.exit_json(**result)

    run_module(module, apply)


if __name__ == '__main__':
    main()

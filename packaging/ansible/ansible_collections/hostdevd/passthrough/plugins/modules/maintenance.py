#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""hostdevd.passthrough.maintenance: puts a host into maintenance mode or
back to active (PUT /v1/maintenance), changing nothing when it already is
in the state asked for."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: maintenance
short_description: Enter or leave hostdevd's maintenance mode on a host
version_added: 0.1.0
description:
  - Reads C(GET /v1/maintenance) and, when the host is not in the state asked for, sends
    C(PUT /v1/maintenance) with C(enabled), C(reason) and C(force).
  - Kernel command-line changes (M(hostdevd.passthrough.kernel_cmdline)) and reboots
    (M(hostdevd.passthrough.reboot)) need maintenance mode; binding devices for a starting VM does not.
  - The agent keeps the state in its state directory, so it survives agent restarts and reboots.
  - Entering is refused (HTTP 409 C(devices-in-use)) while processes (running VMs) hold VFIO groups open;
    the failure names each group, process and VM. I(force=true) enters all the same.
  - Needs a token with the C(operator) role.
options:
  state:
    description:
      - C(present) puts the host into maintenance mode, C(absent) makes it active again.
    type: str
    choices: [present, absent]
    default: present
  reason:
    description:
      - Why, recorded with the state (printable text, at most 512 bytes). Only used when entering.
      - A host already in maintenance mode keeps the reason, time and requester it was entered with;
        a different I(reason) does not change it (C(changed=false)).
    type: str
  force:
    description:
      - Enter even while running VMs hold passthrough devices.
    type: bool
    default: false
extends_documentation_fragment:
  - hostdevd.passthrough.common
  - hostdevd.passthrough.common.attributes
author:
  - hostdevd developers (!UNKNOWN)
'''

EXAMPLES = r'''
- name: Maintenance mode before changing kernel arguments
  hostdevd.passthrough.maintenance:
    url: "https://{{ inventory_hostname }}:8427"
    token: "{{ hostdevd_token }}"
    ca_path: /etc/pki/hostdevd/ca.pem
    state: present
    reason: enable the IOMMU
  delegate_to: localhost

- name: Active again
  hostdevd.passthrough.maintenance:
    url: "https://{{ inventory_hostname }}:8427"
    token: "{{ hostdevd_token }}"
    state: absent
  delegate_to: localhost
'''

RETURN = r'''
maintenance:
  description:
    - The state after the task (in check mode, the state it would leave), as C(GET /v1/maintenance) shows
      it. In check mode C(since) and C(by) of a state not yet entered are null.
  returned: success
  type: dict
  contains:
    enabled:
      description: Whether the host is in maintenance mode.
      type: bool
      sample: true
    reason:
      description: Why, as given when entering; null when active.
      type: str
      sample: enable the IOMMU
    since:
      description: When the state last changed (UTC, RFC 3339).
      type: str
      sample: "2026-12-07T09:31:54Z"
    by:
      description: The token name or client certificate subject that changed it last.
      type: str
      sample: ansible
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.hostdevd.passthrough.plugins.module_utils.hostdevd import (
    hostdevd_argument_spec, run_module)

FIELDS = ('enabled', 'reason', 'since', 'by')


def state_of(body):
    return dict((k, body.get(k)) for k in FIELDS)


def main():
    spec = hostdevd_argument_spec()
    spec.update(state=dict(type='str', choices=['present', 'absent'], default='present'),
                reason=dict(type='str'),
                force=dict(type='bool', default=False))
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)

    def apply(client):
        want = module.params['state'] == 'present'
        before = state_of(client.get('/v1/maintenance'))
        if before['enabled'] is want:
            module.exit_json(changed=False, maintenance=before)
        changed = True
        if module.check_mode:
            after = dict(enabled=want, reason=module.params['reason'] if want else None, since=None, by=None)
        else:
            body = dict(enabled=want, force=module.params['force'])
            if want and module.params['reason'] is not None:
                body['reason'] = module.params['reason']
            reply = client.request('PUT', '/v1/maintenance', body)[1]
            changed = reply.get('changed', True)
            after = state_of(reply)
        result = dict(changed=changed, maintenance=after)
        if module._diff:
            result['diff'] = dict(before=dict((k, before[k]) for k in ('enabled', 'reason')),
                                  after=dict((k, after[k]) for k in ('enabled', 'reason')),
                                  before_header='maintenance', after_header='maintenance')
        module.exit_json(**result)

    run_module(module, apply)


if __name__ == '__main__':
    main()

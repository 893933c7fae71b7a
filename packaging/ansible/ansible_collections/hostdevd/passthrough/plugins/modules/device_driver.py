#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""hostdevd.passthrough.device_driver: a PCI device's IOMMU group bound to
vfio-pci for passthrough, or given back to the host's drivers, through
PUT/DELETE /v1/devices/{address}/driver; reads the binding first, so a
group already in the state asked for is left alone."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: device_driver
short_description: Bind a device's IOMMU group to vfio-pci, or give it back, through hostdevd
version_added: 0.1.0
description:
  - The unit of passthrough is the IOMMU group. I(driver=vfio-pci) binds B(every endpoint of the device's
    group) to vfio-pci (bridges are left alone) with C(PUT /v1/devices/{address}/driver); the agent
    records the original drivers first and rolls back on failure. I(driver=host) gives the group hostdevd
    bound back to the recorded drivers with C(DELETE /v1/devices/{address}/driver).
  - The agent runs both as operations (C(bind), C(release)); the module follows the operation to its end
    and fails with its problem (C(binding-refused), C(devices-in-use), C(binding-failed) with what the
    rollback restored).
  - Reads C(GET /v1/devices/{address}/driver) first. A group hostdevd already bound, in effect, with the
    same I(persistent), or a group with no binding of hostdevd and not on vfio-pci for I(driver=host), is
    left alone (C(changed=false)); check mode predicts from the same reading.
  - The agent refuses (409 C(binding-refused), before writing anything) a group when no IOMMU is active, a
    bridge, a group holding a device the host uses (its root disk, the NIC with the default route, the boot
    display) or a platform device, and a group a process (a running VM) holds open; the failure lists the
    reasons. I(driver=host) for a group on vfio-pci that hostdevd did not bind is refused likewise
    (C(not-bound-by-hostdevd)).
  - Does not need maintenance mode. Needs a token with the C(operator) role.
options:
  address:
    description:
      - The PCI address, C(dddd:bb:ss.f) (C(0000:01:00.0)); any member of the group names the group.
    type: str
    required: true
  driver:
    description:
      - C(vfio-pci) binds the group for passthrough; C(host) gives it back to its original drivers.
    type: str
    choices: [vfio-pci, host]
    default: vfio-pci
  persistent:
    description:
      - With I(driver=vfio-pci), whether the agent binds the group again when it starts in a later boot
        (unless the device or its group changed). Changing only this changes the binding's record.
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds to wait for the bind or release operation to end.
    type: int
    default: 120
extends_documentation_fragment:
  - hostdevd.passthrough.common
  - hostdevd.passthrough.common.attributes
author:
  - hostdevd developers (!UNKNOWN)
'''

EXAMPLES = r'''
- name: The GPU and its HDMI audio function on vfio-pci, also after reboots
  hostdevd.passthrough.device_driver:
    url: "https://{{ inventory_hostname }}:8427"
    token: "{{ hostdevd_operator_token }}"
    address: "0000:01:00.0"
    driver: vfio-pci
    persistent: true
  delegate_to: localhost

- name: Back to the host's drivers
  hostdevd.passthrough.device_driver:
    url: "https://{{ inventory_hostname }}:8427"
    token: "{{ hostdevd_operator_token }}"
    address: "0000:01:00.0"
    driver: host
  delegate_to: localhost
'''

RETURN = r'''
iommu_group:
  description: The device's IOMMU group.
  returned: success
  type: int
  sample: 9
devices:
  description:
    - Every member of the group with its driver before and after (C(address), C(role), C(before), C(after)).
    - In check mode and when nothing changed, C(after) is the prediction (C(vfio-pci) for endpoints on a bind,
      the recorded original driver on a release).
  returned: success
  type: list
  elements: dict
  sample: [{address: "0000:01:00.0", role: endpoint, before: nouveau, after: vfio-pci}]
binding:
  description: hostdevd's binding of the group after the task (schema Binding; null when there is none),
    with C(persistent), C(in_effect), the C(members) and their C(original_driver), and C(drift).
  returned: success
  type: dict
  sample: {iommu_group: 9, requested: "0000:01:00.0", persistent: false, in_effect: true}
state:
  description: C(GET /v1/devices/{address}/driver) after the task (before it, in check mode).
  returned: success
  type: dict
  sample: {address: "0000:01:00.0", driver: vfio-pci, driver_override: vfio-pci, iommu_group: 9}
operation:
  description: The C(bind) or C(release) operation the change ran as (schema Operation).
  returned: changed and not in check mode
  type: dict
  sample: {id: 7e0c1d2e3b4a59687766554433221100, kind: bind, state: succeeded}
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.hostdevd.passthrough.plugins.module_utils.hostdevd import (
    hostdevd_argument_spec, quote_path, run_module)


def needs_change(state, driver, persistent):
    binding = state.get('binding')
    if driver == 'vfio-pci':
        return binding is None or not binding.get('in_effect') or binding.get('persistent') is not persistent
    return binding is not None or state.get('driver') == 'vfio-pci'


def summary(state):
    """What the diff compares: the driver, and hostdevd's binding."""
    binding = state.get('binding')
    return dict(address=state.get('address'), iommu_group=state.get('iommu_group'), driver=state.get('driver'),
                bound_by_hostdevd=binding is not None,
                persistent=binding.get('persistent') if binding else None)


def predicted(state, driver, persistent):
    """The summary a change would leave (check mode)."""
    after = summary(state)
    if driver == 'vfio-pci':
        after.update(driver='vfio-pci', bound_by_hostdevd=True, persistent=persistent)
    else:
        originals = dict((m.get('address'), m.get('original_driver'))
                         for m in (state.get('binding') or {}).get('members') or [])
        after.update(driver=originals.get(state.get('address')), bound_by_hostdevd=False, persistent=None)
    return after


def predicted_devices(client, state, driver):
    """The group's members with their driver now and as the change would
    leave them: endpoints on vfio-pci for a bind, on the recorded original
    driver for a release; bridges as they are."""
    binding = state.get('binding')
    if driver == 'host' and binding:
        return [dict(address=m.get('address'), role=m.get('role'), before=m.get('driver'),
                     after=m.get('original_driver') if m.get('role') == 'endpoint' else m.get('driver'))
                for m in binding.get('members') or []]
    if state.get('iommu_group') is None:
        return [dict(address=state.get('address'), role='endpoint', before=state.get('driver'),
                     after=state.get('driver'))]
    group = client.get('/v1/iommu-groups/%d' % state['iommu_group'])
    return [dict(address=m.get('address'), role='bridge' if m.get('role') == 'bridge' else 'endpoint',
                 before=m.get('driver'),
                 after='vfio-pci' if driver == 'vfio-pci' and m.get('role') != 'bridge' else m.get('driver'))
            for m in group.get('members') or []]


def main():
    spec = hostdevd_argument_spec()
    spec.update(address=dict(type='str', required=True),
                driver=dict(type='str', choices=['vfio-pci', 'host'], default='vfio-pci'),
                persistent=dict(type='bool', default=False),
                wait_timeout=dict(type='int', default=120))
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    params = module.params

    def apply(client):
        path = '/v1/devices/%s/driver' % quote_path(params['address'])
        before = client.get(path)
        driver, persistent = params['driver'], params['persistent']
        result = dict(changed=False, iommu_group=before.get('iommu_group'), binding=before.get('binding'),
                      state=before, devices=predicted_devices(client, before, driver))
        if not needs_change(before, driver, persistent):
            module.exit_json(**result)
        after = predicted(before, driver, persistent)
        changed = True
        if module.check_mode:
            if driver == 'host' and before.get('binding') is None:
                module.warn('%s is on vfio-pci but hostdevd did not bind it: the agent will refuse to release it'
                            % params['address'])
        else:
            if driver == 'vfio-pci':
                op = client.change('PUT', path, dict(driver='vfio-pci', persistent=persistent),
                                   params['wait_timeout'])
            else:
                op = client.change('DELETE', path, None, params['wait_timeout'])
            change = op.get('result') or {}
            state = client.get(path)
            after = summary(state)
            changed = bool(change.get('changed')) or after != summary(before)
            result.update(operation=op, state=state, binding=state.get('binding'),
                          iommu_group=change.get('iommu_group', state.get('iommu_group')),
                          devices=change.get('devices') or [])
        result['changed'] = changed
        if module._diff:
            result['diff'] = dict(before=summary(before), after=after, before_header=params['address'],
                                  after_header=params['address'])
        module.exit_json(**result)

    run_module(module, apply)


if __name__ == '__main__':
    main()

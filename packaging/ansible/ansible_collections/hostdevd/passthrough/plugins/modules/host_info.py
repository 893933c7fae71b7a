#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""hostdevd.passthrough.host_info: what a host's agent says about it
(capabilities, devices, IOMMU groups, kernel command line, maintenance
mode, identity), each as the GET of its resource returns it. Reads only."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: host_info
short_description: Read what a host's hostdevd agent knows about PCI passthrough
version_added: 0.1.0
description:
  - Reads the agent's resources and returns each body as the agent sends it.
  - C(capabilities) is C(GET /v1/capabilities), C(devices) C(GET /v1/devices), C(iommu_groups)
    C(GET /v1/iommu-groups), C(kernel_cmdline) C(GET /v1/kernel-cmdline), C(maintenance)
    C(GET /v1/maintenance), C(host) C(GET /v1/host).
  - Never changes anything, so it reports C(changed=false) and runs the same in check mode.
  - Needs a token with the C(reader) role.
options:
  gather:
    description:
      - The resources to read. Leave out C(devices) on hosts with thousands of functions when only the
        verdict is needed.
    type: list
    elements: str
    choices: [capabilities, devices, iommu_groups, kernel_cmdline, maintenance, host]
    default: [capabilities, devices, iommu_groups, kernel_cmdline, maintenance, host]
extends_documentation_fragment:
  - hostdevd.passthrough.common
  - hostdevd.passthrough.common.attributes
attributes:
  diff_mode:
    description: Changes nothing, so there is never a diff.
    support: N/A
author:
  - hostdevd developers (!UNKNOWN)
'''

EXAMPLES = r'''
- name: Ask every hypervisor's agent whether it can pass devices through
  hostdevd.passthrough.host_info:
    url: "https://{{ inventory_hostname }}:8427"
    token: "{{ hostdevd_reader_token }}"
    ca_path: /etc/pki/hostdevd/ca.pem
    gather: [capabilities, host]
  delegate_to: localhost
  register: agent

- name: Say what is missing
  ansible.builtin.debug:
    msg: "{{ agent.host.hostname }}: {{ agent.capabilities.verdict }}, add {{ agent.capabilities.kernel_arguments.add }}"

- name: The assignable devices, with module_defaults for the common options
  module_defaults:
    group/hostdevd.passthrough.all:
      url: "https://{{ inventory_hostname }}:8427"
      token: "{{ hostdevd_token }}"
  block:
    - hostdevd.passthrough.host_info:
        gather: [devices]
      delegate_to: localhost
      register: inventory
    - ansible.builtin.debug:
        msg: "{{ inventory.devices.devices | selectattr('assignable') | map(attribute='address') | list }}"
'''

RETURN = r'''
capabilities:
  description: C(GET /v1/capabilities) as returned (schema Capabilities of the contract).
  returned: when gathered
  type: dict
  sample:
    verdict: needs-kernel-arguments
    iommu: intel-vt-d
    iommu_source: DMAR
    cpu_iommu_vendor: intel-vt-d
    iommu_active: false
    iommu_groups: 0
    kernel_arguments: {add: [intel_iommu=on], remove: [], optional: [iommu=pt]}
    checks: []
devices:
  description: C(GET /v1/devices) as returned, C(count) and the list C(devices) (schema DeviceList).
  returned: when gathered
  type: dict
  sample:
    count: 1
    devices: [{address: "0000:01:00.0", driver: nouveau, iommu_group: 9, assignable: true}]
iommu_groups:
  description: C(GET /v1/iommu-groups) as returned, C(iommu_active), C(count) and the list C(groups)
    (schema IommuGroupList).
  returned: when gathered
  type: dict
  sample: {iommu_active: false, count: 0, groups: []}
kernel_cmdline:
  description:
    - C(GET /v1/kernel-cmdline) as returned (schema KernelCmdline).
    - C(running) is what the kernel booted with, C(configured) what the next boot gets, C(pending) the
      difference, C(reboot_required) whether there is one.
  returned: when gathered
  type: dict
  sample:
    configured: {source: GRUB_CMDLINE_LINUX GRUB_CMDLINE_LINUX_DEFAULT, text: quiet, arguments: []}
    reboot_required: false
    pending: []
maintenance:
  description: C(GET /v1/maintenance) as returned (schema Maintenance).
  returned: when gathered
  type: dict
  sample: {enabled: false, reason: null, since: null, by: null}
host:
  description: C(GET /v1/host) as returned (schema Host), with C(boot_id), C(hostname), C(kernel_release).
  returned: when gathered
  type: dict
  sample: {hostname: hv01, boot_id: 92354baf-50f9-5e50-9fae-6263cab58435, kernel_release: 6.1.0-27-amd64}
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.hostdevd.passthrough.plugins.module_utils.hostdevd import (
    hostdevd_argument_spec, run_module)

RESOURCES = (
    ('capabilities', '/v1/capabilities'),
    ('devices', '/v1/devices'),
    ('iommu_groups', '/v1/iommu-groups'),
    ('kernel_cmdline', '/v1/kernel-cmdline'),
    ('maintenance', '/v1/maintenance'),
    ('host', '/v1/host'),
)


def main():
    spec = hostdevd_argument_spec()
    names = [resource[0] for resource in RESOURCES]
    spec.update(gather=dict(type='list', elements='str', choices=names, default=names))
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)

    def gather(client):
        wanted = set(module.params['gather'])
        result = dict(changed=False)
        for name, path in RESOURCES:
            if name in wanted:
                result[name] = client.get(path)
        module.exit_json(**result)

    run_module(module, gather)


if __name__ == '__main__':
    main()

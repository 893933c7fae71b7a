#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""hostdevd.passthrough.kernel_cmdline: kernel arguments the host's next
boot gets, through PATCH /v1/kernel-cmdline. Every run first asks the
agent's dry run, so check mode, --diff and changed all come from the plan
the agent itself would carry out; the change then runs as an operation."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: kernel_cmdline
short_description: Add or remove kernel arguments through a host's hostdevd agent
version_added: 0.1.0
description:
  - Edits the kernel command line the host's B(next boot) gets, in every file of the bootloader setup the
    agent detected (BootLoaderSpec entries, C(/etc/kernel/cmdline), grubenv, its own GRUB drop-in,
    systemd-boot, proxmox-boot-tool; never a rescue entry), with C(PATCH /v1/kernel-cmdline).
  - The agent distinguishes what is B(running) (C(/proc/cmdline)), what is B(configured) for the next boot,
    and what is B(pending) (configured but not running, or running but no longer configured). This module
    changes only the configured arguments and reports C(changed) only when they change; a pending
    argument needs a reboot (M(hostdevd.passthrough.reboot)) to run.
  - Each run first sends the same edit with C(dry_run=true), which the agent allows outside maintenance
    mode. When that plan changes nothing the module returns C(changed=false) without asking for more, so
    a repeated run is harmless even on an active host. In check mode the module stops after the dry run.
  - A real change needs maintenance mode (M(hostdevd.passthrough.maintenance)); the agent refuses it with
    409 C(not-in-maintenance), and the module fails with the agent's explanation. The change runs as a
    C(kernel-cmdline) operation, which the module follows until it succeeded or failed.
  - With C(--diff) the diff shows the configured command line before and after, and the agent's unified
    diff of the bootloader files.
  - Needs a token with the C(admin) role.
options:
  present:
    description:
      - Kernel arguments that must be configured, each exactly one argument as on the command line
        (C(intel_iommu=on), C(iommu=pt), C(key="a b")). Added at the end unless this exact pair is
        there (the agent's C(append_if_missing)). Only what the agent adds is recorded as its own.
    type: list
    elements: str
    default: []
  absent:
    description:
      - Kernel arguments that must not be configured. C(KEY=VALUE) removes that pair, C(KEY) the flag or
        the one value C(KEY) has (the agent's C(delete_if_present)), even when the administrator put it there.
    type: list
    elements: str
    default: []
  presets:
    description:
      - Presets of C(GET /v1/kernel-cmdline/presets) whose arguments for this host must be configured.
        C(iommu) maps to the host's IOMMU vendor (Intel VT-d C(intel_iommu=on iommu=pt), AMD-Vi
        C(iommu=pt)); a preset that does not apply to the host (C(iommu) without a firmware IOMMU) fails
        with 409 C(preset-not-applicable).
    type: list
    elements: str
    choices: [iommu, nested-virtualization, unsafe-interrupts, pci-realloc, blacklist-nouveau, smt-off]
    default: []
  absent_presets:
    description:
      - Presets whose arguments the agent added must go (the agent's C(remove_presets)); an identical
        argument the administrator put there stays.
    type: list
    elements: str
    choices: [iommu, nested-virtualization, unsafe-interrupts, pci-realloc, blacklist-nouveau, smt-off, vfio-pci-ids]
    default: []
  allow_conflicts:
    description:
      - Add an argument even where its key has another value (C(iommu=off) configured, C(iommu=pt) asked for).
        Otherwise such an edit fails with 409 C(kernel-argument-conflict), listing the conflicts.
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds to wait for the C(kernel-cmdline) operation to end.
    type: int
    default: 120
extends_documentation_fragment:
  - hostdevd.passthrough.common
  - hostdevd.passthrough.common.attributes
author:
  - hostdevd developers (!UNKNOWN)
'''

EXAMPLES = r'''
- name: The IOMMU arguments for this host's IOMMU vendor, and no intel_iommu=off
  hostdevd.passthrough.kernel_cmdline:
    url: "https://{{ inventory_hostname }}:8427"
    token: "{{ hostdevd_admin_token }}"
    presets: [iommu]
    absent: [intel_iommu=off]
  delegate_to: localhost
  register: kargs

- name: Reboot only when the configured arguments changed
  hostdevd.passthrough.reboot:
    url: "https://{{ inventory_hostname }}:8427"
    token: "{{ hostdevd_admin_token }}"
  delegate_to: localhost
  when: kargs.reboot_required

- name: Given arguments
  hostdevd.passthrough.kernel_cmdline:
    url: "https://{{ inventory_hostname }}:8427"
    token: "{{ hostdevd_admin_token }}"
    present: [amd_iommu=on, iommu=pt, "vfio-pci.ids=10de:1eb8,10de:10f8"]
  delegate_to: localhost
'''

RETURN = r'''
before:
  description: The configured command line before the task, as the agent formats it.
  returned: success
  type: str
  sample: quiet
after:
  description: The configured command line after the task (in check mode, after the change it would make).
  returned: success
  type: str
  sample: intel_iommu=on iommu=pt quiet
files:
  description: The files that changed (would change), relative to the host's root.
  returned: success
  type: list
  elements: str
  sample: [/etc/default/grub.d/zz-hostdevd.cfg]
pending:
  description: Arguments a reboot would change (C(action) add or remove), after the task.
  returned: success
  type: list
  elements: dict
  sample: [{action: add, argument: intel_iommu=on, key: intel_iommu, value: "on", section: kernel}]
reboot_required:
  description: Whether the configured arguments differ from the running ones after the task.
  returned: success
  type: bool
  sample: true
change:
  description:
    - What the agent did (or, in check mode and when nothing changed, what its dry run planned), as
      C(PATCH /v1/kernel-cmdline) returns it (schema KernelCmdlineChange), with the unified C(diff) of
      the files, C(owned), C(notes), C(warnings) and C(regeneration) (C(update-grub) or
      C(proxmox-boot-tool refresh)).
  returned: success
  type: dict
  sample: {changed: true, dry_run: false, bootloader_kind: grub-debian, owned: [intel_iommu=on, iommu=pt]}
operation:
  description: The C(kernel-cmdline) operation the change ran as (schema Operation).
  returned: changed and not in check mode
  type: dict
  sample: {id: 229c9bce0d6d285c1ddc2713a33dd26e, kind: kernel-cmdline, state: succeeded}
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.hostdevd.passthrough.plugins.module_utils.hostdevd import (
    hostdevd_argument_spec, run_module)

PRESETS = ['iommu', 'nested-virtualization', 'unsafe-interrupts', 'pci-realloc', 'blacklist-nouveau', 'smt-off']
# option -> the field of KernelCmdlineEdit it fills
EDITS = (('present', 'append_if_missing'), ('absent', 'delete_if_present'),
         ('presets', 'presets'), ('absent_presets', 'remove_presets'))


def edit_body(params):
    body = dict((field, params[option]) for option, field in EDITS if params[option])
    if params['allow_conflicts']:
        body['allow_conflicts'] = True
    return body


def line(text):
    return '' if text is None else text + '\n'


def outcome(change, operation=None):
    result = dict(changed=bool(change.get('changed')), before=change.get('before'), after=change.get('after'),
                  files=change.get('files') or [], pending=change.get('pending'),
                  reboot_required=change.get('reboot_required'), change=change)
    if operation is not None:
        result['operation'] = operation
    return result


def main():
    spec = hostdevd_argument_spec()
    spec.update(present=dict(type='list', elements='str', default=[]),
                absent=dict(type='list', elements='str', default=[]),
                presets=dict(type='list', elements='str', choices=PRESETS, default=[]),
                absent_presets=dict(type='list', elements='str', choices=PRESETS + ['vfio-pci-ids'], default=[]),
                allow_conflicts=dict(type='bool', default=False),
                wait_timeout=dict(type='int', default=120))
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)

    def apply(client):
        body = edit_body(module.params)
        if not any(edit[1] in body for edit in EDITS):
            module.fail_json(msg='nothing to do: give present, absent, presets or absent_presets')
        plan = client.request('PATCH', '/v1/kernel-cmdline', dict(body, dry_run=True))[1]
        result = outcome(plan)
        if plan.get('changed') and not module.check_mode:
            op = client.change('PATCH', '/v1/kernel-cmdline', body, module.params['wait_timeout'])
            result = outcome(op['result'], op)
        for warning in result['change'].get('warnings') or []:
            module.warn('hostdevd: %s' % warning)
        if module._diff and result['changed']:
            result['diff'] = [dict(before=line(result['before']), after=line(result['after']),
                                   before_header='configured kernel command line',
                                   after_header='configured kernel command line')]
            if result['change'].get('diff'):
                result['diff'].append(dict(prepared=result['change']['diff']))
        module.exit_json(**result)

    run_module(module, apply)


if __name__ == '__main__':
    main()

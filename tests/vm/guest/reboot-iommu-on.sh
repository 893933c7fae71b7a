#!/bin/sh
# reboot-iommu-on.sh: guest script of the real-kernel tier for a UEFI boot
# (run-machine --uefi) of the intel-off machine.  Boot 1 takes the inventory
# (guest/inventory.sh), then does what an administrator would to turn VT-d
# on: replaces intel_iommu=off by intel_iommu=on in the systemd-boot entry
# on the EFI system partition, and asks /init for a reboot.  Boot 2, through
# firmware and boot loader again, takes the inventory once more.
set -u
sh /guest/inventory.sh || exit 1
[ "$BOOT_NUMBER" = 1 ] || exit 0

entry=${ESP:?no EFI system partition mounted}/loader/entries/hostdevd-vm.conf
sed -i 's/\bintel_iommu=off\b/intel_iommu=on/' "$entry" || exit 1
grep -q '^options .*intel_iommu=on' "$entry" || exit 1
touch /run/reboot-requested

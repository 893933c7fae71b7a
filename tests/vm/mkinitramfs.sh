#!/bin/bash
# mkinitramfs.sh: builds the initramfs the real-kernel test tier boots.
#
# The image holds busybox (static), the kernel modules the test machines'
# devices and VFIO need (with their dependencies, in load order), lspci with
# its libraries and pci.ids, optionally a hostdevd binary with its libraries
# and the dynamic loader, vfio-group-status (guest/vfio-group-status.c, built
# static here), the guest /init (tests/vm/guest/init), the guest scripts of
# tests/vm/guest/ and the one that /init runs.  See tests/vm/guest/init for
# what happens at boot.
#
# usage: mkinitramfs.sh --kernel-root DIR --script FILE --output FILE.gz
#                       [--binary PATH] [--esp] [--state-disk] [--file FILE]...
#   --kernel-root  an unpacked kernel package (DIR/lib/modules/VERSION/)
#   --script       the guest script, installed as /guest/script.sh
#   --binary       the daemon, installed as /usr/sbin/hostdevd
#   --esp          also the modules to mount the EFI system partition (a FAT
#                  disk on q35's own AHCI controller) for UEFI boots
#   --state-disk   also the modules to mount an ext4 disk on the same AHCI
#   --file         an extra file for the guest, installed as /guest/NAME
set -euo pipefail

# Modules loaded at boot: the drivers of the machines' devices (bochs for the
# VGA, snd_hda_intel, e1000e, nvme, i6300esb) and the VFIO stack.  Their
# dependencies are added from modules.dep.
MODULES="e1000e nvme snd_hda_intel bochs i6300esb
	irqbypass vfio vfio_iommu_type1 vfio_pci_core vfio_pci"
# With --esp: the disk (ahci, sd_mod) and its FAT file system.
ESP_MODULES="ahci sd_mod vfat nls_cp437 nls_ascii"
# With --state-disk: the disk and ext4 (whose checksums need crc32c, a soft
# dependency that modules.dep does not list).
STATE_MODULES="ahci sd_mod crc32c_generic ext4"

die() { echo "mkinitramfs.sh: $*" >&2; exit 1; }

kroot="" script="" output="" binary="" esp=no state_disk=no files=()
while [ $# -gt 0 ]; do
	case $1 in
	--kernel-root) kroot=$2; shift 2 ;;
	--script) script=$2; shift 2 ;;
	--output) output=$2; shift 2 ;;
	--binary) binary=$2; shift 2 ;;
	--esp) esp=yes; shift ;;
	--state-disk) state_disk=yes; shift ;;
	--file) files+=("$2"); shift 2 ;;
	*) die "unknown argument '$1'" ;;
	esac
done
[ -n "$kroot" ] && [ -n "$script" ] && [ -n "$output" ] ||
	die "usage: --kernel-root DIR --script FILE --output FILE [--binary PATH] [--esp]" \
		"[--state-disk] [--file FILE]..."
[ $esp = no ] || MODULES="$MODULES $ESP_MODULES"
[ $state_disk = no ] || MODULES="$MODULES $STATE_MODULES"
for f in "${files[@]}"; do
	[ -r "$f" ] || die "cannot read guest file '$f'"
done
[ -r "$script" ] || die "cannot read guest script '$script'"
[ -z "$binary" ] || [ -x "$binary" ] || die "binary '$binary' is not executable"
for tool in cpio gzip depmod modprobe ldd cc; do
	command -v $tool >/dev/null || die "'$tool' not found (run tests/vm/setup.sh)"
done
[ -x /bin/busybox ] || die "/bin/busybox not found (run tests/vm/setup.sh)"

here=$(cd "$(dirname "$0")" && pwd)
kroot=$(cd "$kroot" && pwd)
kver=$(ls "$kroot/lib/modules" | head -n 1)
[ -n "$kver" ] || die "no lib/modules/VERSION in '$kroot'"
moddir=$kroot/lib/modules/$kver

stage=$(mktemp -d "${TMPDIR:-/tmp}/hostdevd-initramfs.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,dev,proc,sys,tmp,run,etc,guest,results,usr/sbin,usr/share/misc}
ln -s bin "$stage/sbin"
ln -s ../bin "$stage/usr/bin"

# busybox and one link per applet.
cp /bin/busybox "$stage/bin/busybox"
for applet in $(/bin/busybox --list); do
	[ -e "$stage/bin/$applet" ] || ln -s busybox "$stage/bin/$applet"
done

# copy_elf FILE DEST: a dynamically linked program at DEST, with every shared
# library ldd names and the dynamic loader, each at the path ldd prints.
copy_elf() {
	local file=$1 dest=$2 lib
	mkdir -p "$stage/$(dirname "$dest")"
	cp -L "$file" "$stage/$dest"
	for lib in $(ldd "$file" 2>/dev/null | grep -o '/[^ ]*'); do
		[ -e "$stage/$lib" ] && continue
		mkdir -p "$stage/$(dirname "$lib")"
		cp -L "$lib" "$stage/$lib"
	done
}

copy_elf /usr/bin/lspci /bin/lspci
cp -L /usr/share/misc/pci.ids "$stage/usr/share/misc/pci.ids"
cc -static -O2 -Wall -o "$stage/bin/vfio-group-status" "$here/guest/vfio-group-status.c" ||
	die "building vfio-group-status failed (needs libc6-dev)"
[ -z "$binary" ] || copy_elf "$binary" /usr/sbin/hostdevd

# Kernel modules, in load order, kept at their paths under lib/modules so
# that depmod can index them for lspci -k's "Kernel modules:" lines.
[ -e "$moddir/modules.dep" ] && [ "$moddir/modules.dep" -nt "$moddir/modules.order" ] ||
	depmod -b "$kroot" "$kver" || die "depmod failed for '$kroot'"
mkdir -p "$stage/lib/modules/$kver"
: >"$stage/etc/modules.order"
for mod in $MODULES; do
	modprobe -d "$kroot" -S "$kver" --show-depends "$mod" ||
		die "module '$mod' not found in '$moddir'"
done | awk '$1 == "insmod" { print $2 }' | while read -r ko; do
	rel=${ko#"$moddir"/}
	[ -e "$stage/lib/modules/$kver/$rel" ] && continue
	mkdir -p "$stage/lib/modules/$kver/$(dirname "$rel")"
	cp "$ko" "$stage/lib/modules/$kver/$rel"
	echo "$rel" >>"$stage/etc/modules.order"
done
cp "$moddir"/modules.builtin* "$moddir/modules.order" "$stage/lib/modules/$kver/"
depmod -b "$stage" "$kver" || die "depmod failed in the initramfs"

install -m 0755 "$here/guest/init" "$stage/init"
install -m 0755 "$here"/guest/*.sh "$stage/guest/"
install -m 0755 "$script" "$stage/guest/script.sh"
for f in "${files[@]}"; do
	install -m 0644 "$f" "$stage/guest/$(basename "$f")"
done

# The kernel opens /dev/console before running /init; /init mounts devtmpfs
# over /dev and reopens it anyway, so the node is only made when we can.
mknod -m 600 "$stage/dev/console" c 5 1 2>/dev/null || true

(cd "$stage" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) |
	gzip -1 >"$output.tmp" || die "cpio failed"
mv "$output.tmp" "$output"

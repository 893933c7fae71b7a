#!/bin/sh
# setup.sh: installs what the real-kernel test tier needs and fetches the kernel.
#
# The tier boots Debian's own kernel under QEMU (software emulation) with an
# emulated IOMMU.  This script installs the Debian packages it uses (when run
# as root and something is missing), then downloads the kernel image package
# that linux-image-amd64 currently depends on and unpacks it with dpkg -x into
# the cache directory (tests/vm/cache/ by default, or $HOSTDEVD_VM_CACHE).
# Idempotent and quiet: a second run with everything in place does nothing.
#
# Exit status: 0 when the tier can run; 77 (automake's "skip") when something
# cannot be had, with the reason on stderr and in CACHE/skip-reason.
set -u

here=$(cd "$(dirname "$0")" && pwd)
cache=${HOSTDEVD_VM_CACHE:-$here/cache}
mkdir -p "$cache" || exit 1
rm -f "$cache/skip-reason"

skip() {
	echo "setup.sh: SKIP: $*" >&2
	echo "$*" >"$cache/skip-reason"
	exit 77
}

# Debian packages: the package and one file that proves it is installed.
packages="
qemu-system-x86:/usr/bin/qemu-system-x86_64
busybox-static:/bin/busybox
cpio:/usr/bin/cpio
kmod:/usr/sbin/depmod
pciutils:/usr/bin/lspci
ovmf:/usr/share/OVMF/OVMF_CODE_4M.fd
systemd-boot-efi:/usr/lib/systemd/boot/efi/systemd-bootx64.efi
dosfstools:/usr/sbin/mkfs.vfat
mtools:/usr/bin/mcopy
e2fsprogs:/usr/sbin/mkfs.ext4
gcc:/usr/bin/gcc
libc6-dev:/usr/lib/x86_64-linux-gnu/libc.a
linux-libc-dev:/usr/include/linux/vfio.h
"
missing=""
for p in $packages; do
	[ -e "${p#*:}" ] || missing="$missing ${p%%:*}"
done

# apt-get update is needed before install or download finds anything; do it
# once per run, only when we have to talk to the mirror.
updated=no
apt_update() {
	[ $updated = yes ] && return 0
	updated=yes
	DEBIAN_FRONTEND=noninteractive apt-get -qq update >"$cache/apt-update.log" 2>&1
}

if [ -n "$missing" ]; then
	[ "$(id -u)" = 0 ] || skip "missing packages:$missing (run tests/vm/setup.sh as root)"
	apt_update || skip "apt-get update failed (see $cache/apt-update.log)"
	DEBIAN_FRONTEND=noninteractive apt-get -qq -y install --no-install-recommends $missing \
		>"$cache/apt-install.log" 2>&1 ||
		skip "apt-get install$missing failed (see $cache/apt-install.log)"
fi

# The kernel: the image package that the linux-image-amd64 metapackage names.
# Once unpacked, CACHE/kernel is a symlink to the unpacked tree; we keep it
# rather than asking the mirror again on every run.
if [ ! -e "$cache/kernel/.unpacked" ]; then
	apt_update || skip "apt-get update failed (see $cache/apt-update.log)"
	image=$(apt-cache depends linux-image-amd64 2>/dev/null |
		sed -n 's/^ *Depends: *\(linux-image-[0-9][^ ]*\).*/\1/p' | head -n 1)
	[ -n "$image" ] || skip "apt-cache depends linux-image-amd64 names no kernel image"
	dir="$cache/$image"
	if [ ! -e "$dir/.unpacked" ]; then
		rm -rf "$dir" && mkdir -p "$dir/deb" || exit 1
		(cd "$dir/deb" && apt-get -qq download "$image") >"$cache/apt-download.log" 2>&1 ||
			skip "apt-get download $image failed (see $cache/apt-download.log)"
		dpkg -x "$dir"/deb/*.deb "$dir/root" || skip "dpkg -x of $image failed"
		rm -rf "$dir/deb"
		touch "$dir/.unpacked"
	fi
	ln -sfn "$image" "$cache/kernel"
fi

ls "$cache"/kernel/root/boot/vmlinuz-* >/dev/null 2>&1 || skip "no vmlinuz in $cache/kernel"
ls -d "$cache"/kernel/root/lib/modules/*/ >/dev/null 2>&1 || skip "no modules in $cache/kernel"
exit 0

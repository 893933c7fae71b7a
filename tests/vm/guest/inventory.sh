#!/bin/sh
# inventory.sh: guest script of the real-kernel tier (run by /init, in
# $RESULTS).  First binds two devices to vfio-pci the way an administrator
# would, so that groups in every VFIO state exist; then records what the
# kernel says about PCI devices, drivers, IOMMU groups, VFIO viability and
# SR-IOV (kernel/), then asks hostdevd the same through its API (daemon/),
# for test_vm_inventory.py to compare on the host.  On a machine with IOMMU
# groups it then releases the GPU from (0)'s manual binding and has hostdevd
# plan, bind the GPU's group to vfio-pci and release it again through the
# API, recording the kernel's view after each step (binding/).
#
# Exit status: non-zero only when the kernel-side record could not be made;
# the daemon's failures are written to daemon/status.txt and judged by the
# tests.

set -u
: "${RESULTS:=$PWD}"
PORT=8080
BASE=http://127.0.0.1:$PORT
GPU=0000:01:00.0
SERIAL=0000:05:01.0  # behind the PCIe-to-PCI bridge 04:00.0
mkdir -p "$RESULTS/kernel" "$RESULTS/daemon" "$RESULTS/binding"

# ---- (0) vfio-pci bindings ----------------------------------------------
# The GPU's function 0 alone (its audio function stays on snd_hda_intel: the
# group is not viable) and the first SR-IOV VF (alone in its group: viable).
# Without an active IOMMU vfio-pci refuses them and they are left driverless.
bind_vfio() {
	dev=/sys/bus/pci/devices/$1
	[ -e "$dev" ] || return 0
	echo vfio-pci >"$dev/driver_override"
	[ -L "$dev/driver" ] && echo "$1" >"$dev/driver/unbind"
	echo "$1" >/sys/bus/pci/drivers_probe
}
bind_vfio 0000:01:00.0 2>>"$RESULTS/kernel/bind.log"
bind_vfio 0000:06:00.1 2>>"$RESULTS/kernel/bind.log"

# ---- (a) what the kernel says -------------------------------------------
cd "$RESULTS/kernel" || exit 1
lspci -nn -D -k >lspci-nn-D-k.txt || exit 1
# One paragraph per device: Slot, Class [cccc], ProgIf, Vendor [vvvv],
# Device [dddd], Driver, IOMMUGroup: the tests' main source.
lspci -vmm -nn -D -k >lspci-vmm.txt || exit 1
lspci -tv >lspci-tv.txt
ls -l /sys/kernel/iommu_groups/*/devices >iommu-groups.txt 2>&1
cat /proc/cmdline >cmdline.txt
if [ -d /sys/firmware/efi ]; then echo uefi; else echo bios; fi >firmware.txt
uname -r >uname.txt

# The same facts read straight from sysfs, one device a line, fields
# separated by tabs (driver names may hold spaces: "i6300ESB timer"), so the
# tests can check lspci (libpci) against the kernel's own files:
#   ADDR vendor=0x.. device=0x.. class=0x...... driver=NAME|- group=N|-
#        physfn=ADDR|- override=NAME|- bridge=yes|no
#        totalvfs=N|- numvfs=N|- virtfns=A,B|-
# A bridge is a device with a secondary bus (pci_bus/), as the kernel sees it.
link_name() { if [ -L "$1" ]; then basename "$(readlink "$1")"; else echo -; fi; }
for dev in /sys/bus/pci/devices/*; do
	addr=${dev##*/}
	bridge=no
	[ -d "$dev/pci_bus" ] && bridge=yes
	total=- num=- vfs=-
	if [ -r "$dev/sriov_totalvfs" ]; then
		total=$(cat "$dev/sriov_totalvfs")
		num=$(cat "$dev/sriov_numvfs")
		vfs=$(for l in "$dev"/virtfn*; do [ -L "$l" ] && echo "${l##*virtfn} $(link_name "$l")"; done |
			sort -n | awk '{ printf "%s%s", sep, $2; sep = "," }')
		[ -n "$vfs" ] || vfs=-
	fi
	override=$(cat "$dev/driver_override")
	[ "$override" = "(null)" ] && override=-
	printf '%s\tvendor=%s\tdevice=%s\tclass=%s\tdriver=%s\tgroup=%s\tphysfn=%s\toverride=%s' \
		"$addr" "$(cat "$dev/vendor")" "$(cat "$dev/device")" "$(cat "$dev/class")" \
		"$(link_name "$dev/driver")" "$(link_name "$dev/iommu_group")" \
		"$(link_name "$dev/physfn")" "$override"
	printf '\tbridge=%s\ttotalvfs=%s\tnumvfs=%s\tvirtfns=%s\n' "$bridge" "$total" "$num" "$vfs"
done >sysfs-devices.txt

ls -l /sys/bus/pci/devices/*/physfn /sys/bus/pci/devices/*/virtfn* >sriov-links.txt 2>&1
ls -l /sys/class/iommu/ >class-iommu.txt 2>&1
ls /sys/firmware/acpi/tables/ >acpi-tables.txt 2>&1
cat /proc/modules >modules.txt
grep -m 1 "^vendor_id" /proc/cpuinfo >cpuinfo.txt
grep -m 1 '^flags' /proc/cpuinfo >>cpuinfo.txt
ls -l /dev/vfio >dev-vfio.txt 2>&1
# "N viable=yes|no" for every group with a /dev/vfio/N node (see
# vfio-group-status.c); a group without a node is not usable through VFIO.
set -- /dev/vfio/[0-9]*
[ -e "$1" ] || set --
vfio-group-status "$@" >vfio-status.txt 2>&1

# ---- (b) what hostdevd says ----------------------------------------------
cd "$RESULTS/daemon" || exit 1
status() { echo "$*" >>status.txt; }
: >status.txt
if [ ! -x /usr/sbin/hostdevd ]; then
	status "binary=absent"
	exit 0
fi
status "binary=present"

# A throw-away admin token, made the way an administrator would.
tokens=/etc/hostdevd/tokens
token=$(hostdevd --new-token=admin:inventory --tokens=$tokens 2>>daemon.log)
auth="Authorization: Bearer $token"
hostdevd --listen 127.0.0.1:$PORT --tokens=$tokens --state-dir=/run/hostdevd >>daemon.log 2>&1 &
pid=$!
# Wait until it answers anything over HTTP, even an error (TCG is slow:
# allow 20 s), or stop if it died.  (busybox 1.35's wget -T crashes.)
tries=0
until timeout 10 wget -q -S -O /dev/null $BASE/v1/host 2>&1 | grep -q HTTP/; do
	if ! kill -0 $pid 2>/dev/null; then
		wait $pid
		status "started=no exited_early=$?"
		exit 0
	fi
	tries=$((tries + 1))
	if [ $tries -ge 100 ]; then
		status "started=no answered=no"
		break
	fi
	sleep 0.2
done
[ $tries -lt 100 ] && status "started=yes after_tries=$tries"

# One body (EP.json) and one header dump (EP.headers: wget -S's status and
# header lines) per endpoint; the status line says whether it was a 2xx.
for ep in host capabilities devices iommu-groups; do
	if timeout 30 wget -q -S -O "$ep.json" --header "$auth" $BASE/v1/$ep 2>"$ep.headers"; then
		status "GET /v1/$ep=ok"
	else
		status "GET /v1/$ep=failed $(grep -v '^  ' "$ep.headers" | tr '\n' ' ')"
	fi
done

# ---- (c) binding the GPU's group through the API ---------------------------
cd "$RESULTS/binding" || exit 1
: >status.txt
# api NAME METHOD PATH [BODY]: one request (busybox wget can only GET and
# POST); the raw answer in NAME.http, its body in NAME.json, and
# "METHOD PATH=STATUS" in status.txt.
api() {
	name=$1 method=$2 path=$3 body=${4:-}
	{
		printf '%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\nConnection: close\r\n' "$method" "$path" "$auth"
		[ -z "$body" ] || printf 'Content-Type: application/json\r\nContent-Length: %d\r\n' ${#body}
		printf '\r\n%s' "$body"
	} | timeout 60 nc 127.0.0.1 $PORT >"$name.http"
	tr -d '\r' <"$name.http" | sed '1,/^$/d' >"$name.json"
	code=$(head -n 1 "$name.http" | cut -d' ' -f2)
	echo "$method $path=$code" >>status.txt
	[ "$code" = 202 ] && follow "$name"
	return 0
}
# follow NAME: a change answered 202 runs as an operation; its Location is
# read until the operation succeeded or failed (NAME-operation.json), as a
# client must before it looks at the kernel.
follow() {
	loc=$(tr -d '\r' <"$1.http" | sed -n 's/^[Ll]ocation: *//p' | head -n 1)
	i=0
	while [ -n "$loc" ] && [ $i -lt 60 ]; do
		timeout 10 wget -q -O "$1-operation.json" --header "$auth" "http://127.0.0.1:$PORT$loc" 2>/dev/null
		grep -q '"state": *"\(succeeded\|failed\)"' "$1-operation.json" && break
		sleep 1
		i=$((i + 1))
	done
	echo "$1 operation=$(grep -o '"state": *"[a-z]*"' "$1-operation.json" 2>/dev/null | head -n 1)" >>status.txt
}
# kernel_view NAME: the drivers of the GPU group's members as sysfs says
# ("ADDR DRIVER|-", NAME-drivers.txt) and lspci -k of the GPU's slot.
kernel_view() {
	for l in /sys/kernel/iommu_groups/$group/devices/*; do
		echo "${l##*/} $(link_name "$l/driver")"
	done >"$1-drivers.txt"
	lspci -nn -k -s 01:00 >"$1-lspci.txt"
}
# members_view GROUP NAME: the group's members and drivers (NAME-drivers.txt).
members_view() {
	for l in /sys/kernel/iommu_groups/$1/devices/*; do
		echo "${l##*/} $(link_name "$l/driver")"
	done >"$2-drivers.txt"
}
group=$(link_name /sys/bus/pci/devices/$GPU/iommu_group)
if [ "$group" = - ] && kill -0 $pid 2>/dev/null; then
	# No IOMMU: hostdevd must refuse, and touch nothing.
	echo "no_iommu=yes" >>status.txt
	link_name /sys/bus/pci/devices/$GPU/driver >noiommu-before-driver.txt
	api noiommu-bind PUT /v1/devices/$GPU/driver '{"driver": "vfio-pci"}'
	link_name /sys/bus/pci/devices/$GPU/driver >noiommu-after-driver.txt
elif [ "$group" = - ]; then
	echo "skipped=no IOMMU group, hostdevd is not running" >>status.txt
elif ! kill -0 $pid 2>/dev/null; then
	echo "skipped=hostdevd is not running" >>status.txt
else
	echo "group=$group" >>status.txt
	# Undo (0)'s manual binding first, and tell hostdevd to look again.  The
	# GPU stays without a driver, as on a host that keeps the passthrough
	# GPU's own driver away (bochs-drm would put the framebuffer console on
	# it, and hostdevd rightly refuses to take the console from the host);
	# its audio function stays on snd_hda_intel.
	dev=/sys/bus/pci/devices/$GPU
	echo >"$dev/driver_override"
	[ -L "$dev/driver" ] && echo $GPU >"$dev/driver/unbind"
	kernel_view before
	api rescan POST /v1/inventory/rescan '{}'
	api plan POST /v1/passthrough/plan "{\"devices\": [\"$GPU\"]}"
	api bind PUT /v1/devices/$GPU/driver '{"driver": "vfio-pci"}'
	kernel_view bound
	vfio-group-status /dev/vfio/$group >bound-vfio-status.txt 2>&1
	api driver-bound GET /v1/devices/$GPU/driver
	api release DELETE /v1/devices/$GPU/driver
	kernel_view after
	ls /dev/vfio >after-dev-vfio.txt 2>&1

	# The bridge's group (PCIe-to-PCI bridge, serial card and watchdog
	# behind it): asking for the serial card binds both endpoints, the
	# bridge stays with the host.
	bgroup=$(link_name /sys/bus/pci/devices/$SERIAL/iommu_group)
	echo "bridge_group=$bgroup" >>status.txt
	members_view $bgroup bridge-before
	api bridge-bind PUT /v1/devices/$SERIAL/driver '{"driver": "vfio-pci"}'
	members_view $bgroup bridge-bound
	vfio-group-status /dev/vfio/$bgroup >bridge-vfio-status.txt 2>&1
	api bridge-release DELETE /v1/devices/$SERIAL/driver
	members_view $bgroup bridge-after
fi

# ---- (d) the inventory follows the kernel, without a rescan ----------------
# Changes made behind hostdevd's back, as an operator, libvirt and QEMU make
# them: the SR-IOV VFs removed and created again (sriov_numvfs), the NIC
# unbound from e1000e and probed again, a VF given to vfio-pci by
# driver_override (libvirt's managed mode) and its group opened and closed
# by a process. After each change the kernel's view is recorded
# (STEP-kernel.txt: "ADDR DRIVER|-" per device, or the holder's pid) and the
# daemon is asked, never told to rescan, until its answer shows the change
# or 60 s pass (TCG is slow): STEP.json, and "STEP=seen after N polls" or
# "STEP=timeout" in live/status.txt. The event stream, open from before the
# first change, is live/events.txt; live/inventory.json is the watch's
# counters at the end. test_vm_inventory.py judges all of it.
PF=0000:06:00.0
NIC=0000:02:00.0
mkdir -p "$RESULTS/live"
cd "$RESULTS/live" || exit 1
: >status.txt
# get NAME PATH: one GET, the body in NAME.json.
get() {
	timeout 30 wget -q -O "$1.json" --header "$auth" "$BASE$2" 2>/dev/null
}
# seen STEP PATH PATTERN: polls GET PATH every 0.2 s until its body, with
# blanks and newlines taken out, matches PATTERN (grep -E).
seen() {
	i=0
	while [ $i -lt 300 ]; do
		get "$1" "$2" && tr -d ' \t\n' <"$1.json" | grep -q -E "$3" && {
			echo "$1=seen after $i polls" >>status.txt
			return 0
		}
		sleep 0.2
		i=$((i + 1))
	done
	echo "$1=timeout" >>status.txt
	return 1
}
drivers() {
	for a in "$@"; do echo "$a $(link_name /sys/bus/pci/devices/$a/driver)"; done
}
if kill -0 $pid 2>/dev/null && [ -w /sys/bus/pci/devices/$PF/sriov_numvfs ]; then
	timeout 600 wget -q -O events.txt --header "$auth" $BASE/v1/events 2>events.err &
	stream=$!
	sleep 1
	pfdev=/sys/bus/pci/devices/$PF
	ls -d /sys/bus/pci/devices/* | sed 's,.*/,,' >devices-before.txt

	# the VFs go away: the PF shows none, the VFs are gone
	echo 0 >$pfdev/sriov_numvfs 2>>status.txt
	cat $pfdev/sriov_numvfs >vfs-off-kernel.txt
	seen vfs-off /v1/devices/$PF '"enabled_vfs":0[^0-9]'
	get vfs-off-list /v1/devices
	# and come back, three of them this time (autoprobe is off: driverless)
	echo 3 >$pfdev/sriov_numvfs 2>>status.txt
	for l in $pfdev/virtfn*; do link_name "$l"; done | sort >vfs-on-kernel.txt
	seen vfs-on /v1/devices/$PF '"enabled_vfs":3[^0-9]'
	get vfs-on-list /v1/devices

	# the NIC unbound and probed again, with sysfs writes (the tests talk to
	# hostdevd over loopback: the NIC is not needed meanwhile)
	echo $NIC >/sys/bus/pci/devices/$NIC/driver/unbind 2>>status.txt
	drivers $NIC >unbound-kernel.txt
	seen unbound /v1/devices/$NIC '"driver":null'
	echo $NIC >/sys/bus/pci/drivers_probe 2>>status.txt
	drivers $NIC >probed-kernel.txt
	seen probed /v1/devices/$NIC '"driver":"[^"]+"'

	# libvirt's managed mode: the last new VF to vfio-pci through driver_override
	vf=$(tail -n 1 vfs-on-kernel.txt)
	echo "vf=$vf" >>status.txt
	if [ -n "$vf" ] && [ -e /sys/bus/pci/devices/$vf/iommu_group ]; then
		bind_vfio $vf 2>>status.txt
		drivers $vf >vf-bound-kernel.txt
		vgroup=$(link_name /sys/bus/pci/devices/$vf/iommu_group)
		echo "vf_group=$vgroup" >>status.txt
		seen vf-bound /v1/devices/$vf '"driver":"vfio-pci"'
		# QEMU opens the group: a process holding /dev/vfio/N
		if [ -e /dev/vfio/$vgroup ]; then
			sh -c "exec 3</dev/vfio/$vgroup; exec sleep 120" &
			holder=$!
			sleep 0.5
			echo "$holder" >held-kernel.txt
			ls -l /proc/$holder/fd >held-fds.txt 2>&1
			seen held /v1/iommu-groups/$vgroup "\"pid\":$holder[^0-9]"
			kill $holder
			wait $holder 2>/dev/null
			seen closed /v1/iommu-groups/$vgroup '"in_use_by":\[\]'
		fi
	fi
	get inventory /v1/inventory
	sleep 1
	kill $stream 2>/dev/null
	wait $stream 2>/dev/null
else
	echo "skipped=hostdevd is not running or no SR-IOV PF" >>status.txt
fi

# ---- (e) SR-IOV through the API --------------------------------------------
# PUT /v1/devices/PF/sriov sets 2, then 0, then 4 VFs (autoprobe off: the VFs
# come without a driver); after each operation the kernel's count, virtfn
# links and device list are recorded (set-N-*.txt) beside hostdevd's answer.
# Then the first VF goes to vfio-pci and a process opens its group, as QEMU
# does: setting 0 must be refused and leave the 4 VFs (held-*.txt).
mkdir -p "$RESULTS/sriov"
cd "$RESULTS/sriov" || exit 1
: >status.txt
pfdev=/sys/bus/pci/devices/$PF
if kill -0 $pid 2>/dev/null && [ -w $pfdev/sriov_numvfs ]; then
	for n in 2 0 4; do
		api set-$n PUT /v1/devices/$PF/sriov "{\"numvfs\": $n, \"drivers_autoprobe\": false}"
		cat $pfdev/sriov_numvfs >set-$n-numvfs.txt
		for l in $pfdev/virtfn*; do [ -e "$l" ] && link_name "$l"; done | sort >set-$n-virtfns.txt
		ls -d /sys/bus/pci/devices/* | sed 's,.*/,,' >set-$n-devices.txt
		api set-$n-state GET /v1/devices/$PF/sriov
	done
	vf=$(head -n 1 set-4-virtfns.txt)
	if [ -n "$vf" ] && [ -e /sys/bus/pci/devices/$vf/iommu_group ]; then
		bind_vfio $vf 2>>status.txt
		vgroup=$(link_name /sys/bus/pci/devices/$vf/iommu_group)
		if [ -e /dev/vfio/$vgroup ]; then
			sh -c "exec 3</dev/vfio/$vgroup; exec sleep 120" &
			holder=$!
			sleep 0.5
			echo "$vf $vgroup $holder" >held-kernel.txt
			api held PUT /v1/devices/$PF/sriov '{"numvfs": 0}'
			cat $pfdev/sriov_numvfs >held-numvfs.txt
			kill $holder
			wait $holder 2>/dev/null
		fi
	fi
else
	echo "skipped=hostdevd is not running or no SR-IOV PF" >>status.txt
fi

cd "$RESULTS/daemon" || exit 1
if kill -0 $pid 2>/dev/null; then
	status "alive_at_end=yes"
	kill $pid
	wait $pid
	status "exit_after_sigterm=$?"
else
	wait $pid
	status "alive_at_end=no exit=$?"
fi
exit 0

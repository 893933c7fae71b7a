#!/bin/sh
# api-agent.sh: guest script of the real-kernel tier for test_vm_api_reboot.py
# (run-machine intel-off --uefi --state-disk --forward PORT:8427
# --guest-file tokens --guest-file guest-token).  The host drives hostdevd
# over HTTP; this script only makes the guest look like an installed host and
# runs the agent as a service, in every boot the same way:
#   - the state disk (ext4, label hostdevd-state) on /state; hostdevd's state
#     directory is /state/hostdevd, so maintenance mode and operations survive
#     the reboot;
#   - the EFI system partition on /efi, where hostdevd's systemd-boot backend
#     looks for loader/entries, and /etc/kernel (with kernel-install's
#     cmdline, made from the boot entry in the first boot) kept on the state
#     disk, as a real root file system would keep it;
#   - hostdevd on 0.0.0.0:8427, plain HTTP (user-net's forwarded port),
#     direct reboots (no logind here), the tokens file the host made.
# The host's POST /v1/reboot reboots the machine from under this script; the
# next boot starts the agent again.  The script ends when it sees maintenance
# mode turned off (polling GET /v1/maintenance with the reader token the host
# gave, /guest/guest-token) after it was on in this boot or in any later boot
# (where it is still on from before the reboot), when hostdevd dies, or at the
# deadline.  It then stops hostdevd and copies what every boot left on the
# state disk (persist/boot-N/: daemon.log, script.log, cmdline, ...) and the
# state directory into $RESULTS.
#
# Exit status: 0 maintenance was turned off; 1 hostdevd died or the guest
# could not be set up; 2 the deadline passed first.

set -u
: "${RESULTS:=$PWD}" "${BOOT_NUMBER:=1}"
PORT=8427
BASE=http://127.0.0.1:$PORT
DEADLINE=180            # seconds of this boot's polling
STATE=/state

log() {
	echo "api-agent[$BOOT_NUMBER]: $*"
	echo "api-agent[$BOOT_NUMBER]: $*" >/dev/console
	[ -n "${boot_dir:-}" ] && echo "$*" >>"$boot_dir/script.log"
}
die() { log "$*"; exit 1; }

# ---- the places a real host keeps across reboots -------------------------
tries=0
until dev=$(findfs LABEL=hostdevd-state 2>/dev/null) || [ $tries -ge 50 ]; do
	sleep 0.1
	tries=$((tries + 1))
done
[ -n "${dev:-}" ] || die "no disk labelled hostdevd-state (run-machine --state-disk)"
mkdir -p $STATE && mount -t ext4 "$dev" $STATE || die "mounting the state disk $dev failed"
boot_dir=$STATE/vm/boot-$BOOT_NUMBER
mkdir -p "$boot_dir" || die "cannot write to the state disk"
log "state disk $dev on $STATE"

[ -n "${ESP:-}" ] || die "no EFI system partition (run-machine --uefi)"
mkdir -p /efi && mount -o bind "$ESP" /efi || die "bind-mounting the ESP on /efi failed"
entry=/efi/loader/entries/hostdevd-vm.conf
if [ ! -e $STATE/etc-kernel/cmdline ]; then
	mkdir -p $STATE/etc-kernel
	sed -n 's/^options[ 	]*//p' $entry >$STATE/etc-kernel/cmdline
fi
mkdir -p /etc/kernel && mount -o bind $STATE/etc-kernel /etc/kernel ||
	die "bind-mounting /etc/kernel failed"

cat /proc/cmdline >"$boot_dir/cmdline.txt"
cat /proc/sys/kernel/random/boot_id >"$boot_dir/boot-id.txt"
if [ -d /sys/firmware/efi ]; then echo uefi; else echo bios; fi >"$boot_dir/firmware.txt"
cp $entry "$boot_dir/entry-at-start.conf"
cp /etc/kernel/cmdline "$boot_dir/etc-kernel-cmdline-at-start.txt"
ls -l /sys/kernel/iommu_groups/*/devices >"$boot_dir/iommu-groups-ls.txt" 2>&1
ip addr show >"$boot_dir/ip-addr.txt" 2>&1

# ---- the agent as a service -----------------------------------------------
[ -x /usr/sbin/hostdevd ] || die "no hostdevd in the initramfs (run-machine --binary)"
[ -r /guest/tokens ] && [ -r /guest/guest-token ] || die "no tokens from the host (--guest-file)"
mkdir -p /etc/hostdevd && cp /guest/tokens /etc/hostdevd/tokens && chmod 0600 /etc/hostdevd/tokens ||
	die "cannot install the tokens"
token=$(cat /guest/guest-token)

hostdevd --listen 0.0.0.0:$PORT --allow-plain-http --tokens /etc/hostdevd/tokens \
	--state-dir $STATE/hostdevd --reboot-method=direct >>"$boot_dir/daemon.log" 2>&1 &
pid=$!
log "hostdevd started (pid $pid) after $(cut -d' ' -f1 /proc/uptime) s"

# enabled_now: "true", "false", or "" (no answer), from GET /v1/maintenance.
# (busybox 1.35's wget -T crashes: timeout(1) bounds it instead.)
enabled_now() {
	timeout 10 wget -q -O - --header "Authorization: Bearer $token" $BASE/v1/maintenance 2>/dev/null |
		tr -d ' \n' | grep -o '"enabled":[a-z]*' | cut -d: -f2
}

start=$(cut -d. -f1 /proc/uptime)
seen_on=no first=""
[ "$BOOT_NUMBER" -gt 1 ] && seen_on=yes
while :; do
	if ! kill -0 $pid 2>/dev/null; then
		wait $pid
		log "hostdevd exited with $?"
		rc=1
		break
	fi
	if [ $(($(cut -d. -f1 /proc/uptime) - start)) -ge $DEADLINE ]; then
		log "deadline: maintenance mode was not turned off within $DEADLINE s"
		rc=2
		break
	fi
	state=$(enabled_now)
	if [ -n "$state" ] && [ -z "$first" ]; then
		first=$state
		echo "$state" >"$boot_dir/maintenance-at-start.txt"
		log "hostdevd answers after $(cut -d' ' -f1 /proc/uptime) s; maintenance enabled: $state"
	fi
	[ "$state" = true ] && seen_on=yes
	if [ "$state" = false ] && [ $seen_on = yes ]; then
		log "maintenance mode turned off: stopping"
		rc=0
		break
	fi
	sleep 1
done

if kill -0 $pid 2>/dev/null; then
	kill $pid
	wait $pid
	log "hostdevd exited with $? after SIGTERM"
fi

# ---- results ----------------------------------------------------------------
dmesg >"$boot_dir/dmesg.txt"
cp $entry "$boot_dir/entry-at-end.conf"
cp /etc/kernel/cmdline "$boot_dir/etc-kernel-cmdline-at-end.txt"
cp -r $STATE/vm "$RESULTS/persist"
cp -r $STATE/hostdevd "$RESULTS/state-dir"
ls -lR $STATE/hostdevd >"$RESULTS/state-dir.txt" 2>&1
umount /etc/kernel
umount /efi
umount $STATE
exit $rc

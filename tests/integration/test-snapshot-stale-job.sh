#!/usr/bin/env bash
# snapshot: a qmpctl SIGKILLed in the middle of a save leaves its concluded job in QEMU (nobody is
# left to dismiss it); the next qmpctl that runs a snapshot job dismisses it, and only it.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/snapshot-lib.sh"

VM=snapstale$$
Q=$T/q.qcow2
qemu-img create -q -f qcow2 "$Q" 1G
# 256 MiB of random RAM: the save lasts long enough to be killed in.
head -c 256M /dev/urandom >"$T/big.blob"
qemu_start "$VM" -m 512 \
	-drive "file=$Q,format=qcow2,if=virtio,id=vda" \
	-device "loader,file=$T/big.blob,addr=0x100000,force-raw=on"
assert_exit 0 --limit $((30 * SLOW)) qmpctl qmp "$VM" query-status

note "qmpctl killed with SIGKILL while QEMU saves"
bg_start "$T/kill.out" "$T/kill.err" qmpctl -v snapshot create "$VM" s
pid=$BG_PID
wait_for_match "$T/kill.err" '"event": ?"STOP"' $((20 * SLOW)) "the save did not start"
kill -KILL "$pid"
bg_wait "$pid" $((10 * SLOW))

# The job runs on without us; wait (bounded) until QEMU has concluded it.
deadline=$((SECONDS + 30 * SLOW))
while :; do
	assert_exit 0 qmpctl --json qmp "$VM" query-jobs
	[[ "$(jq -r '.[0].status // ""' <<<"$OUT")" != concluded ]] || break
	((SECONDS < deadline)) || fail "the save job did not conclude: $OUT"
	sleep 0.1
done
assert_json "$OUT" "length == 1 and .[0].id == \"qmpctl-snapshot-save-$pid-1\"" "the killed qmpctl's job is left behind"

note "the next snapshot job dismisses it"
assert_exit 0 --limit $((30 * SLOW)) qmpctl snapshot create "$VM" s2
assert_exit 0 qmpctl --json qmp "$VM" query-jobs
assert_json "$OUT" 'length == 0' "no job left in QEMU"
get_status
assert_eq "running" "$STATUS" "the VM runs on"
vm_quit
assert_eq "s s2" "$(snaps "$Q")" "both snapshots on the disk (qemu-img)"

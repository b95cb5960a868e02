#!/usr/bin/env bash
# snapshot revert restores the VM state, not just the disks: a paused QEMU (-S, the CPUs never
# run) holds random blob A in guest RAM when the snapshot is taken; a new QEMU started with blob B
# must show A again after the revert (QMP pmemsave). Also the run state after a revert: running
# stays running, --paused stops, a stopped VM stays stopped.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/snapshot-lib.sh"
# In a sanitizer build a report must not pass for an ordinary failure (exit 1).
export ASAN_OPTIONS="exitcode=99:${ASAN_OPTIONS:-}" UBSAN_OPTIONS="exitcode=99:${UBSAN_OPTIONS:-}"

mkdir -p "$T/libvirt" "$T/run"
export QMPCTL_LIBVIRT_DIR=$T/libvirt QMPCTL_RUN_DIR=$T/run

VM=snapvm$$
DISK=$T/vda.qcow2
ADDR=1048576 # 0x100000
SIZE=65536
qemu-img create -q -f qcow2 "$DISK" 16M
head -c $SIZE /dev/urandom >"$T/blob-a"
head -c $SIZE /dev/urandom >"$T/blob-b"
if cmp -s "$T/blob-a" "$T/blob-b"; then
	fail "two random blobs are equal"
fi

start_vm()
{
	qemu_start "$VM" -S \
		-drive "file=$DISK,format=qcow2,if=virtio,id=vda" \
		-device "loader,file=$1,addr=0x100000,force-raw=on"
}

# ram_is BLOB WHAT: guest RAM at ADDR must equal BLOB.
ram_is()
{
	local out
	out=$T/ram.$CHECKS
	assert_exit 0 qmpctl qmp "$VM" pmemsave val=$ADDR size=$SIZE "filename=$out"
	if ! cmp -s "$1" "$out"; then
		fail "$2: guest RAM at $ADDR is not $(basename "$1") ($(cmp "$1" "$out" 2>&1 | head -1))"
	fi
	_ok
}

note "QEMU 1 with blob A; snapshot s"
start_vm "$T/blob-a"
ram_is "$T/blob-a" "the loader put blob A in RAM"
assert_exit 0 --limit $((30 * SLOW)) qmpctl snapshot create "$VM" s
assert_exit 0 qmpctl --json snapshot list "$VM"
assert_json "$OUT" 'length == 1 and .[0].name == "s" and .[0]."vm-state-size" > 0 and .[0]."vmstate-disk" == "vda" and .[0].state == "paused"' \
	"s holds VM state"
vm_quit

note "QEMU 2 with blob B; revert"
start_vm "$T/blob-b"
ram_is "$T/blob-b" "before the revert"
# The oracle must be able to say no.
out=$T/ram.before
assert_exit 0 qmpctl qmp "$VM" pmemsave val=$ADDR size=$SIZE "filename=$out"
if cmp -s "$T/blob-a" "$out"; then
	fail "guest RAM already equals blob A before the revert"
fi
_ok
get_status
assert_eq "prelaunch" "$STATUS" "QEMU started with -S"
assert_exit 0 --limit $((30 * SLOW)) qmpctl snapshot revert "$VM" s
ram_is "$T/blob-a" "after the revert"
get_status
assert_eq "false" "$(jq -r .running <<<"$OUT")" "a VM that was not running does not start"

note "revert --paused of a running VM leaves it paused"
assert_exit 0 qmpctl qmp "$VM" cont
get_status
assert_eq "running" "$STATUS" "running after cont"
assert_exit 0 --limit $((30 * SLOW)) qmpctl snapshot revert "$VM" s --paused
get_status
assert_eq "paused" "$STATUS" "revert --paused"
ram_is "$T/blob-a" "after revert --paused"

note "revert of a paused VM keeps it paused"
assert_exit 0 --limit $((30 * SLOW)) qmpctl snapshot revert "$VM" s
get_status
assert_eq "paused" "$STATUS" "a paused VM stays paused"
ram_is "$T/blob-a" "after reverting the paused VM"

note "revert of a running VM leaves it running"
assert_exit 0 qmpctl qmp "$VM" cont
assert_exit 0 --limit $((30 * SLOW)) qmpctl snapshot revert "$VM" s
get_status
assert_eq "running" "$STATUS" "a running VM runs after the revert"
vm_quit

qemu-img check -q "$DISK" || fail "qemu-img check $DISK failed"
_ok

#!/usr/bin/env bash
# snapshot create/list/info/revert/delete on a running QEMU with two qcow2 disks. The disks are
# checked after QEMU has quit with qemu-io and qemu-img, which know nothing of qmpctl.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/snapshot-lib.sh"
# In a sanitizer build a report must not pass for an ordinary failure (exit 1).
export ASAN_OPTIONS="exitcode=99:${ASAN_OPTIONS:-}" UBSAN_OPTIONS="exitcode=99:${UBSAN_OPTIONS:-}"

# Our own (empty) libvirt directories: the host's VMs and other tests' stay out of the way.
mkdir -p "$T/libvirt" "$T/run"
export QMPCTL_LIBVIRT_DIR=$T/libvirt QMPCTL_RUN_DIR=$T/run

VM=snaplive$$
A=$T/vda.qcow2
B=$T/vdb.qcow2
qemu-img create -q -f qcow2 "$A" 16M
qemu-img create -q -f qcow2 "$B" 16M

# img_snap FILE NAME: the SnapshotInfo qemu-img reports for NAME in FILE ("null" when none).
img_snap()
{
	qemu-img info -U --output=json "$1" | jq -c --arg n "$2" '[.snapshots // [] | .[] | select(.name == $n)][0]'
}

# expect_pattern WANT_RC FILE FORMAT PATTERN OFFSET LEN: qemu-io's pattern check of a file.
expect_pattern()
{
	local want=$1 file=$2 fmt=$3 pat=$4 off=$5 len=$6 rc=0
	qemu-io -r -f "$fmt" -c "read -P $pat $off $len" "$file" >"$T/io.out" 2>&1 || rc=$?
	if [[ "$rc" != "$want" ]]; then
		fail "qemu-io 'read -P $pat $off $len' $file: exit $rc, expected $want: $(cat "$T/io.out")"
	fi
	_ok
}

hmp_io()
{
	assert_exit 0 qmpctl hmp "$VM" "qemu-io $1 \"$2\""
}

qemu_start "$VM" \
	-drive "file=$A,format=qcow2,if=virtio,id=vda" \
	-drive "file=$B,format=qcow2,if=virtio,id=vdb"

note "known patterns on both disks, then snapshot s1"
hmp_io vda "write -P 0xaa 0 1M"
hmp_io vdb "write -P 0x55 0 1M"
assert_exit 0 qmpctl snapshot list "$VM"
assert_not_contains "$OUT" " s1 " "no snapshot before the first create"
assert_exit 0 --limit $((30 * SLOW)) qmpctl snapshot create "$VM" s1
assert_eq "Domain snapshot s1 created" "$OUT" "create's message"
assert_eq "s1" "$(snaps "$A")" "qemu-img sees s1 on vda"
assert_eq "s1" "$(snaps "$B")" "qemu-img sees s1 on vdb"
qa=$(img_snap "$A" s1)
qb=$(img_snap "$B" s1)
assert_json "$qa" '."vm-state-size" > 0' "the VM state went to vda (the first qcow2 disk)"
assert_json "$qb" '."vm-state-size" == 0' "no VM state on vdb"

note "overwrite (0xbb / 0x66, plus 0xcc where s1 had nothing), snapshot s2"
hmp_io vda "write -P 0xbb 0 1M"
hmp_io vda "write -P 0xcc 4M 1M"
hmp_io vdb "write -P 0x66 0 1M"
assert_exit 0 --limit $((30 * SLOW)) qmpctl snapshot create "$VM" s2

note "list --json against qemu-img"
assert_exit 0 qmpctl --json snapshot list "$VM"
list=$OUT
assert_json "$list" 'type == "array" and length == 2' "two snapshots"
assert_json "$list" 'map(.name) == ["s1", "s2"]' "oldest first"
assert_json "$list" 'all(.[]; keys == (["name", "date", "state", "vm-state-size", "vm-clock", "disks", "vmstate-disk", "consistent"] | sort))' \
	"exactly the documented keys"
s1=$(jq -c '.[0]' <<<"$list")
assert_json "$s1" '.disks == ["vda", "vdb"] and ."vmstate-disk" == "vda" and .consistent == true' "s1 on both disks"
assert_json "$s1" '.date | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[+-][0-9]{2}:[0-9]{2}$")' "RFC 3339 date"
assert_json "$s1" '."vm-clock" | test("^[0-9]{2,}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}$")' "vm-clock as HH:MM:SS.mmm"
assert_eq "$(jq '."vm-state-size"' <<<"$qa")" "$(jq '."vm-state-size"' <<<"$s1")" "vm-state-size is qemu-img's"
assert_eq "$(jq '."date-sec"' <<<"$qa")" "$(date -d "$(jq -r .date <<<"$s1")" +%s)" "date is qemu-img's date-sec"
clock=$(jq -r '"\(."vm-clock-sec") \(."vm-clock-nsec")"' <<<"$qa")
read -r csec cnsec <<<"$clock"
assert_eq "$(printf '%02d:%02d:%02d.%03d' $((csec / 3600)) $((csec / 60 % 60)) $((csec % 60)) $((cnsec / 1000000)))" \
	"$(jq -r '."vm-clock"' <<<"$s1")" "vm-clock is qemu-img's"
assert_le "$(($(date +%s) - $(jq '."date-sec"' <<<"$qa")))" 120 "the snapshot is dated now"

note "the same list through the socket path"
assert_exit 0 qmpctl --json snapshot list "$QMP_SOCK"
assert_eq "$(jq -c 'map(del(.date))' <<<"$list")" "$(jq -c 'map(del(.date))' <<<"$OUT")" "by name and by socket"

note "human list"
assert_exit 0 qmpctl snapshot list "$VM"
assert_match "$(sed -n 1p <<<"$OUT")" '^ *Name +Creation Time +State +VM Size +Disks *$' "table header"
assert_match "$(sed -n 2p <<<"$OUT")" '^-+$' "rule under the header"
assert_match "$OUT" '^ *s1 +[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8} [+-][0-9]{4} +running +[0-9.]+ [KMG]iB +vda,vdb *$' "s1's row"
assert_match "$OUT" '^ *s2 +.* running +.* vda,vdb *$' "s2's row"
assert_eq 4 "$(line_count "$OUT")" "header, rule and two rows"

note "info"
assert_exit 0 qmpctl snapshot info "$VM" s1
assert_match "$OUT" '^Name: +s1$' "info Name"
assert_match "$OUT" "^Domain: +$VM\$" "info Domain"
assert_match "$OUT" '^State: +running$' "info State"
assert_match "$OUT" '^VM State Disk: +vda$' "info VM State Disk"
assert_match "$OUT" '^Disks: +vda,vdb$' "info Disks"
assert_match "$OUT" '^Consistent: +yes$' "info Consistent"
assert_match "$OUT" "^Disk vda \\($A\\):\$" "per-disk table for vda"
assert_match "$OUT" "^Disk vdb \\($B\\):\$" "per-disk table for vdb"
assert_match "$OUT" '^ID +TAG +VM SIZE +DATE +VM CLOCK' "qemu-img's column heads"
assert_exit 0 qmpctl --json snapshot info "$VM" s1
assert_json "$OUT" '.name == "s1" and (."per-disk" | map(.target)) == ["vda", "vdb"]' "info --json per-disk"
assert_json "$OUT" '."per-disk"[0].snapshot.name == "s1" and ."per-disk"[0].snapshot."vm-state-size" > 0' \
	"per-disk SnapshotInfo"

note "--vmstate-disk vdb and --disks vda"
assert_exit 0 --limit $((30 * SLOW)) qmpctl snapshot create "$VM" onb --vmstate-disk vdb
assert_json "$(img_snap "$B" onb)" '."vm-state-size" > 0' "VM state on vdb"
assert_json "$(img_snap "$A" onb)" '."vm-state-size" == 0' "none on vda"
assert_exit 0 --limit $((30 * SLOW)) qmpctl snapshot create "$VM" onlya --disks vda
assert_eq "s1 s2 onb onlya" "$(snaps "$A")" "vda holds onlya"
assert_eq "s1 s2 onb" "$(snaps "$B")" "vdb does not"
assert_exit 0 qmpctl --json snapshot list "$VM"
assert_json "$OUT" '.[] | select(.name == "onb") | ."vmstate-disk" == "vdb" and .consistent' "onb's VM state disk"
assert_json "$OUT" '.[] | select(.name == "onlya") | .disks == ["vda"] and .consistent == false' \
	"a snapshot on some disks only is inconsistent"
assert_exit 0 qmpctl snapshot list "$VM"
assert_match "$OUT" '^ *onlya .* vda \(missing on vdb\) *$' "the human list names the disk it is missing on"

note "--disk-only: both disks, no VM state, cannot be loaded live"
assert_exit 0 qmpctl snapshot create "$VM" d1 --disk-only
assert_json "$(img_snap "$A" d1)" '."vm-state-size" == 0' "no VM state on vda"
assert_json "$(img_snap "$B" d1)" '."vm-state-size" == 0' "no VM state on vdb"
assert_exit 0 qmpctl --json snapshot list "$VM"
assert_json "$OUT" '.[] | select(.name == "d1") | ."vm-state-size" == 0 and ."vmstate-disk" == null and .disks == ["vda", "vdb"] and .consistent' \
	"d1 in the list"
assert_exit 0 qmpctl snapshot list "$VM"
assert_match "$OUT" '^ *d1 .* disk-snapshot +0 B +vda,vdb *$' "d1 lists as a disk-snapshot (of a running VM), as virsh"
assert_exit 1 qmpctl snapshot revert "$VM" d1
assert_match "$ERR" '^qmpctl: .*disk-only' "the disk-only message"
get_status
assert_eq "running" "$STATUS" "the VM still runs"

note "delete"
for s in d1 onb onlya; do
	assert_exit 0 --limit $((30 * SLOW)) qmpctl snapshot delete "$VM" "$s"
	assert_eq "Domain snapshot $s deleted" "$OUT" "delete's message"
done
assert_eq "s1 s2" "$(snaps "$A")" "deleted from vda"
assert_eq "s1 s2" "$(snaps "$B")" "deleted from vdb"
assert_exit 0 qmpctl --json snapshot list "$VM"
assert_json "$OUT" 'map(.name) == ["s1", "s2"]' "the list agrees"

note "revert to s1 while running"
get_status
assert_eq "running" "$STATUS" "running before the revert"
assert_exit 0 --limit $((30 * SLOW)) qmpctl snapshot revert "$VM" s1
get_status
assert_eq "running" "$STATUS" "a running VM runs again after the revert"
vm_quit

note "after quit: s1's contents are back, s2 keeps the overwrite"
expect_pattern 0 "$A" qcow2 0xaa 0 1M
expect_pattern 0 "$A" qcow2 0 4M 1M
expect_pattern 0 "$B" qcow2 0x55 0 1M
# The oracle must be able to say no.
expect_pattern 1 "$A" qcow2 0xbb 0 1M
expect_pattern 1 "$B" qcow2 0x66 0 1M
qemu-img convert -l snapshot.name=s2 -O raw "$A" "$T/a-s2.raw"
qemu-img convert -l snapshot.name=s2 -O raw "$B" "$T/b-s2.raw"
expect_pattern 0 "$T/a-s2.raw" raw 0xbb 0 1M
expect_pattern 0 "$T/a-s2.raw" raw 0xcc 4M 1M
expect_pattern 0 "$T/b-s2.raw" raw 0x66 0 1M
for f in "$A" "$B"; do
	qemu-img check -q "$f" || fail "qemu-img check $f failed"
	_ok
done
assert_eq "s1 s2" "$(snaps "$A")" "snapshots survive the revert"

note "a name that one disk already holds cannot be created again on another without --force"
qemu_start "$VM" \
	-drive "file=$A,format=qcow2,if=virtio,id=vda" \
	-drive "file=$B,format=qcow2,if=virtio,id=vdb"
assert_exit 0 --limit $((30 * SLOW)) qmpctl snapshot create "$VM" half --disks vda --disk-only
assert_exit 1 qmpctl snapshot create "$VM" half --disks vdb --disk-only
assert_contains "$ERR" "already exists" "the name exists on vda"
assert_eq "s1 s2" "$(snaps "$B")" "nothing created on vdb"
vm_quit

#!/usr/bin/env bash
# snapshot as a virsh user expects it: create without a name (named by the time), names of digits,
# the state of each snapshot read from the image (running, paused, disk-snapshot, shutoff, unknown),
# raw disks never "missing", a shut-off VM snapshotted and reverted without flags, --force that says
# when the old snapshot is gone, --disks that opens only those disks, and hints that point somewhere.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/snapshot-lib.sh"
# In a sanitizer build a report must not pass for an ordinary failure (exit 1).
export ASAN_OPTIONS="exitcode=99:${ASAN_OPTIONS:-}" UBSAN_OPTIONS="exitcode=99:${UBSAN_OPTIONS:-}"

mkdir -p "$T/libvirt" "$T/run" "$T/tmp"
export QMPCTL_LIBVIRT_DIR=$T/libvirt QMPCTL_RUN_DIR=$T/run TMPDIR=$T/tmp

VM=snapvirsh$$
A=$T/vda.qcow2
R=$T/vdb.raw
qemu-img create -q -f qcow2 "$A" 16M
qemu-img create -q -f raw "$R" 16M
# The domain file keeps the VM known once its QEMU has quit (shut off).
cat >"$T/libvirt/$VM.xml" <<XML
<domain type='kvm'>
  <name>$VM</name>
  <memory unit='KiB'>65536</memory>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$A'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='$R'/>
      <target dev='vdb' bus='virtio'/>
    </disk>
  </devices>
</domain>
XML

# state NAME: the state `snapshot list --json` gives snapshot NAME (in LIST).
state()
{
	jq -r --arg n "$1" '.[] | select(.name == $n) | .state' <<<"$LIST"
}

list_json()
{
	assert_exit 0 qmpctl --json snapshot list "$VM" "$@"
	LIST=$OUT
}

qemu_start "$VM" \
	-drive "file=$A,format=qcow2,if=virtio,id=vda" \
	-drive "file=$R,format=raw,if=virtio,id=vdb"

note "create without a name: named by the time, as virsh"
t0=$(date +%s)
assert_exit 0 --limit $((30 * SLOW)) qmpctl snapshot create "$VM" --disks vda
t1=$(date +%s)
assert_match "$OUT" '^Domain snapshot [0-9]+ created$' "virsh's line, with the generated name"
auto=$(sed -n 's/^Domain snapshot \([0-9]*\) created$/\1/p' <<<"$OUT")
if ((auto < t0 || auto > t1)); then
	fail "generated name $auto is not the time of the create ($t0..$t1)"
fi
_ok
assert_eq "$auto" "$(snaps "$A")" "qemu-img sees it"

note "a name of digits is a name; one that is another snapshot's id is refused"
assert_exit 0 --limit $((30 * SLOW)) qmpctl snapshot create "$VM" 12345 --disks vda --disk-only
assert_eq "$auto 12345" "$(snaps "$A")" "12345 created"
id=$(qemu-img info -U --output=json "$A" | jq -r --arg n "$auto" '.snapshots[] | select(.name == $n) | .id')
assert_exit 1 qmpctl snapshot create "$VM" "$id" --disks vda --disk-only
assert_match "$ERR" "^qmpctl: snapshot name '$id' is the id of snapshot '$auto' on vda" "the clash named"
assert_eq "$auto 12345" "$(snaps "$A")" "nothing created"

note "State from the image: running, paused, disk-snapshot"
assert_exit 0 qmpctl qmp "$VM" stop
assert_exit 0 --limit $((30 * SLOW)) qmpctl snapshot create "$VM" paused1 --disks vda
assert_exit 0 qmpctl qmp "$VM" cont
list_json
assert_eq "running" "$(state "$auto")" "a snapshot of the running VM"
assert_eq "paused" "$(state paused1)" "a snapshot of the paused VM"
assert_eq "disk-snapshot" "$(state 12345)" "a disk-only snapshot of the running VM"
assert_exit 0 qmpctl snapshot list "$VM"
assert_match "$OUT" "^ *$auto +.* running +[0-9.]+ [KMG]iB +vda *\$" "table: running"
assert_match "$OUT" '^ *paused1 +.* paused +[0-9.]+ [KMG]iB +vda *$' "table: paused"
assert_match "$OUT" '^ *12345 +.* disk-snapshot +0 B +vda *$' "table: disk-snapshot"

note "a raw disk never counts as missing a snapshot, in list as in revert"
assert_not_contains "$OUT" "missing" "no '(missing on vdb)' for the raw disk"
assert_json "$LIST" 'all(.[]; .consistent)' "every snapshot consistent"
assert_exit 0 qmpctl snapshot info "$VM" paused1
assert_match "$OUT" '^Disks: +vda$' "info: no missing disk either"
assert_match "$OUT" '^State: +paused$' "info: State"

note "hints: unknown disk, raw disk, ambiguous option"
assert_exit 1 qmpctl snapshot create "$VM" x --disks vdz
assert_contains "$ERR" "the VM has no disk 'vdz' (its disks: vda, vdb)" "lists the disks it has"
assert_exit 1 qmpctl snapshot create "$VM" x
assert_contains "$ERR" "vdb" "the raw disk"
assert_not_contains "$ERR" "external" "no external snapshot offered"
assert_exit 2 qmpctl snapshot create "$VM" x --disk
assert_contains "$ERR" "ambiguous" "ambiguous"
assert_contains "$ERR" "--disk-only" "names --disk-only"
assert_contains "$ERR" "--disks" "names --disks"
assert_eq "$auto 12345 paused1" "$(snaps "$A")" "nothing created by the refused ones"

note "list --disks on the running VM"
assert_exit 0 qmpctl --json snapshot list "$VM" --disks vda
assert_json "$OUT" 'map(.name) == ["'"$auto"'", "12345", "paused1"] and all(.[]; .disks == ["vda"])' "only vda"
assert_exit 1 qmpctl snapshot list "$VM" --disks vdz
assert_contains "$ERR" "the VM has no disk 'vdz' (its disks: vda, vdb)" "live list: lists the disks it has"
assert_exit 2 qmpctl snapshot delete "$VM" 12345 --disks vda
assert_contains "$ERR" "--disks is for create, list and info" "--disks refused where it would split a snapshot"

note "--help says that --force is not atomic"
assert_exit 0 qmpctl snapshot --help
assert_contains "$OUT" "Not atomic" "--force's caveat"
vm_quit

# ---------------------------------------------------------------------------------------------
note "a shut-off VM: create and revert need no flag; --paused has no effect"
qemu-io -c "write -P 0x11 0 1M" "$A" >/dev/null
assert_exit 0 --limit $((30 * SLOW)) qmpctl snapshot create "$VM" off1 --disks vda
assert_eq "Domain snapshot off1 created" "$OUT" "created without --disk-only"
qemu-io -c "write -P 0x22 0 1M" "$A" >/dev/null
list_json
assert_eq "shutoff" "$(state off1)" "a snapshot of the shut-off VM"
assert_json "$LIST" '.[] | select(.name == "off1") | ."vm-state-size" == 0' "no VM state"
assert_eq "running" "$(state "$auto")" "read offline too: running"
assert_eq "paused" "$(state paused1)" "read offline too: paused"
assert_exit 0 --limit $((30 * SLOW)) qmpctl snapshot revert "$VM" off1 --paused
assert_eq "qmpctl: warning: --paused has no effect: the VM is shut off and stays so" "$ERR" "one warning line"
qemu-io -r -c "read -P 0x11 0 1M" "$A" >/dev/null || fail "off1's data is not back after the revert"
_ok
qemu-io -c "write -P 0x33 0 1M" "$A" >/dev/null
assert_exit 0 --limit $((30 * SLOW)) qmpctl snapshot revert "$VM" off1
assert_eq "" "$ERR" "a plain revert: no option, no warning"
qemu-io -r -c "read -P 0x11 0 1M" "$A" >/dev/null || fail "off1's data is not back after the second revert"
_ok
qemu-img check -q "$A" || fail "qemu-img check $A"
_ok

note "a snapshot qemu-img made (VM clock 0) is shutoff too"
qemu-img snapshot -c byimg "$A"
list_json
assert_eq "shutoff" "$(state byimg)" "qemu-img's snapshot"

note "--disks vda opens only vda: vdb's file missing does not matter"
mv "$R" "$R.away"
assert_exit 1 qmpctl snapshot list "$VM"
assert_contains "$ERR" "vdb" "without --disks the missing file is an error"
list_json --disks vda
assert_json "$LIST" 'map(.name) | index("off1") != null' "list --disks vda"
assert_exit 0 --limit $((30 * SLOW)) qmpctl snapshot create "$VM" only-a --disks vda
assert_contains "$(snaps "$A")" "only-a" "create --disks vda"
assert_exit 0 qmpctl snapshot info "$VM" only-a --disks vda
assert_match "$OUT" '^Disks: +vda$' "info --disks vda"
assert_exit 1 qmpctl snapshot list "$VM" --disks vdz
assert_contains "$ERR" "the VM has no disk 'vdz' (its disks: vda, vdb)" "offline: lists the disks it has"
mv "$R.away" "$R"

note "an image another QEMU writes: list says -U and takes it; create does not offer -U"
qemu_start "holder$$" -drive "file=$A,format=qcow2,if=virtio,id=vda"
assert_exit 1 qmpctl snapshot list "$VM"
assert_contains "$ERR" "in use" "list: in use"
assert_contains "$ERR" "-U" "list: points to -U"
assert_exit 0 qmpctl --json snapshot list "$VM" -U
assert_eq "$(snaps "$A")" "$(jq -r 'map(.name) | join(" ")' <<<"$OUT")" "list -U reads it anyway"
before=$(snaps "$A")
assert_exit 1 --limit $((30 * SLOW)) qmpctl snapshot create "$VM" busy --disks vda
assert_contains "$ERR" "in use" "create: in use"
assert_not_contains "$ERR" "-U" "create: no -U offered"
assert_exit 2 qmpctl snapshot create "$VM" busy --disks vda -U
assert_contains "$ERR" "list and info" "-U is for list and info"
assert_eq "$before" "$(snaps "$A")" "nothing created"
qemu_stop

# ---------------------------------------------------------------------------------------------
note "--force whose save fails: the error says the old snapshot was deleted; unknown state"
VM=snapforce$$
F=$T/f.qcow2
U=$T/u.qcow2
qemu-img create -q -f qcow2 "$F" 64M
qemu-img create -q -f qcow2 "$U" 64M
# Writes of the VM state to vdb fail with ENOSPC; vda is an untouched blkdebug layer, whose
# file QEMU names with a json: filename that cannot be opened to read the VM state.
printf '[inject-error]\nevent = "vmstate_save"\nerrno = "28"\n' >"$T/blkdebug.conf"
qemu_start "$VM" \
	-drive "driver=qcow2,file.driver=blkdebug,file.image.filename=$U,if=virtio,id=vda" \
	-drive "driver=qcow2,file.driver=blkdebug,file.config=$T/blkdebug.conf,file.image.filename=$F,if=virtio,id=vdb"
assert_exit 0 --limit $((30 * SLOW)) qmpctl snapshot create "$VM" full --disks vda
list_json
assert_eq "unknown" "$(state full)" "VM state that cannot be read: unknown"
assert_exit 0 --limit $((30 * SLOW)) qmpctl snapshot create "$VM" f --disks vdb --disk-only
assert_eq "f" "$(snaps "$F")" "the old f"
assert_exit 1 --limit $((30 * SLOW)) qmpctl snapshot create "$VM" f --disks vdb --force
assert_match "$ERR" "^qmpctl: the old snapshot 'f' was deleted \(on vdb\) before the new save, which failed: .*VM state" \
	"says the old one is gone, and QEMU's reason"
assert_eq "" "$(snaps "$F")" "indeed neither is left"
list_json
assert_json "$LIST" 'map(.name) == ["full"]' "the list agrees"
get_status
assert_eq "running" "$STATUS" "the VM runs on"
qemu_stop

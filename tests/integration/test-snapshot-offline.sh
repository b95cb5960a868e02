#!/usr/bin/env bash
# Snapshots of a shut-off VM known only from its domain XML (two qcow2 disks and an empty cdrom):
# create --disk-only, list, info, delete, checked with qemu-img; what a shut-off VM cannot do; and
# an image that a QEMU unknown to the VM's configuration holds open: a clean error, nothing changed.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/snapshot-lib.sh"
# In a sanitizer build a report must not pass for an ordinary failure (exit 1).
export ASAN_OPTIONS="exitcode=99:${ASAN_OPTIONS:-}" UBSAN_OPTIONS="exitcode=99:${UBSAN_OPTIONS:-}"

mkdir -p "$T/libvirt" "$T/run" "$T/tmp"
export QMPCTL_LIBVIRT_DIR=$T/libvirt QMPCTL_RUN_DIR=$T/run
# The private qemu-storage-daemon's directory (qmpctl-qsd.*) goes here, so we can see that it is removed.
export TMPDIR=$T/tmp

VM=snapoff$$
A=$T/disk-a.qcow2
B=$T/disk-b.qcow2
qemu-img create -q -f qcow2 "$A" 16M
qemu-img create -q -f qcow2 "$B" 16M

cat >"$T/libvirt/$VM.xml" <<EOF
<domain type='kvm'>
  <name>$VM</name>
  <uuid>$(cat /proc/sys/kernel/random/uuid)</uuid>
  <memory unit='KiB'>65536</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
  </os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$A'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$B'/>
      <target dev='vdb' bus='virtio'/>
    </disk>
    <disk type='file' device='cdrom'>
      <driver name='qemu' type='raw'/>
      <target dev='sda' bus='sata'/>
      <readonly/>
    </disk>
  </devices>
</domain>
EOF

# table FILE: qemu-img's view of FILE's snapshots (names, ids, sizes, dates), for before/after.
table()
{
	qemu-img info -U --output=json "$1" | jq -c '.snapshots // []'
}

check_images()
{
	local f
	for f in "$A" "$B"; do
		qemu-img check -q "$f" || fail "qemu-img check $f failed"
		_ok
	done
}

no_leftovers()
{
	assert_eq "" "$(cd "$T/tmp" && ls -d qmpctl-qsd.* 2>/dev/null || true)" "the daemon's private directory is gone ($1)"
	if pgrep -f "qemu-storage-daemon.*$T" >/dev/null; then
		fail "a qemu-storage-daemon on our images still runs ($1)"
	fi
	_ok
}

note "discovery sees the VM shut off"
assert_exit 0 qmpctl --json list --all
assert_eq "shut off" "$(jq -r --arg n "$VM" '.[] | select(.name == $n) | .state' <<<"$OUT")" "the VM is shut off"
assert_exit 0 qmpctl snapshot list "$VM"
assert_eq 2 "$(line_count "$OUT")" "an empty table (header and rule)"

note "data the snapshot must keep"
qemu-io -c "write -P 0x11 0 1M" "$A" >/dev/null
qemu-io -c "write -P 0x22 0 1M" "$B" >/dev/null

note "create --disk-only"
assert_exit 0 --limit $((30 * SLOW)) qmpctl snapshot create "$VM" s --disk-only
assert_eq "Domain snapshot s created" "$OUT" "create's message"
qemu-img snapshot -l "$A" >"$T/l.a"
qemu-img snapshot -l "$B" >"$T/l.b"
assert_match "$(cat "$T/l.a")" '^[0-9]+ +s +0 B ' "qemu-img snapshot -l shows s on disk A"
assert_match "$(cat "$T/l.b")" '^[0-9]+ +s +0 B ' "qemu-img snapshot -l shows s on disk B"
check_images
no_leftovers "after create"

note "the snapshot keeps the data"
qemu-io -c "write -P 0x33 0 1M" "$A" >/dev/null
qemu-img convert -l snapshot.name=s -O raw "$A" "$T/a-s.raw"
qemu-io -r -f raw -c "read -P 0x11 0 1M" "$T/a-s.raw" >/dev/null || fail "snapshot s of disk A lost its data"
_ok
rc=0
qemu-io -r -f raw -c "read -P 0x33 0 1M" "$T/a-s.raw" >/dev/null 2>&1 || rc=$?
assert_eq 1 "$rc" "the oracle tells the snapshot from the current data"

note "list and info"
assert_exit 0 qmpctl --json snapshot list "$VM"
assert_json "$OUT" 'length == 1 and .[0].name == "s"' "one snapshot"
assert_json "$OUT" '.[0] | ."vm-state-size" == 0 and ."vmstate-disk" == null and .disks == ["vda", "vdb"] and .consistent == true' \
	"disk-only, on both disks (the cdrom does not count)"
assert_json "$OUT" '.[0] | keys == (["name", "date", "state", "vm-state-size", "vm-clock", "disks", "vmstate-disk", "consistent"] | sort)' \
	"the documented keys"
assert_eq "$(qemu-img info --output=json "$A" | jq '.snapshots[0]."date-sec"')" \
	"$(date -d "$(jq -r '.[0].date' <<<"$OUT")" +%s)" "the date is the image's"
assert_exit 0 qmpctl snapshot list "$VM"
assert_match "$OUT" '^ *s +[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8} [+-][0-9]{4} +shutoff +0 B +vda,vdb *$' "the human row"
assert_exit 0 qmpctl snapshot info "$VM" s
assert_match "$OUT" '^Name: +s$' "info Name"
assert_match "$OUT" '^State: +shutoff$' "info State"
assert_match "$OUT" '^Disks: +vda,vdb$' "info Disks"
assert_match "$OUT" "^Disk vda \\($A\\):\$" "per-disk table for vda"
assert_match "$OUT" "^Disk vdb \\($B\\):\$" "per-disk table for vdb"

note "a shut-off VM has no RAM to save: create needs no --disk-only"
before_a=$(table "$A")
before_b=$(table "$B")
assert_exit 0 --limit $((30 * SLOW)) qmpctl snapshot create "$VM" plain
assert_eq "Domain snapshot plain created" "$OUT" "create's message"
assert_eq "s plain" "$(snaps "$A")" "plain on disk A"
assert_eq "s plain" "$(snaps "$B")" "plain on disk B"
assert_exit 0 qmpctl --json snapshot list "$VM"
assert_json "$OUT" '.[] | select(.name == "plain") | .state == "shutoff" and ."vm-state-size" == 0 and .consistent' \
	"a snapshot of the disks, state shutoff"
assert_exit 0 --limit $((30 * SLOW)) qmpctl snapshot delete "$VM" plain
assert_eq "$before_a" "$(table "$A")" "disk A as before"
assert_eq "$before_b" "$(table "$B")" "disk B as before"

note "an existing name, offline: refused, then --force replaces it"
assert_exit 1 qmpctl snapshot create "$VM" s --disk-only
assert_contains "$ERR" "already exists" "duplicate name"
assert_eq "$before_a" "$(table "$A")" "disk A unchanged by the refused create"
old_date=$(qemu-img info --output=json "$A" | jq -c '.snapshots[0] | [."date-sec", ."date-nsec"]')
assert_exit 0 --limit $((30 * SLOW)) qmpctl snapshot create "$VM" s --disk-only --force
assert_eq "s" "$(snaps "$A")" "still one s on disk A"
assert_eq "s" "$(snaps "$B")" "still one s on disk B"
new_date=$(qemu-img info --output=json "$A" | jq -c '.snapshots[0] | [."date-sec", ."date-nsec"]')
if [[ "$new_date" == "$old_date" ]]; then
	fail "--force left the old snapshot (same date $old_date)"
fi
_ok
check_images
no_leftovers "after --force"

note "delete"
assert_exit 0 --limit $((30 * SLOW)) qmpctl snapshot delete "$VM" s
assert_eq "Domain snapshot s deleted" "$OUT" "delete's message"
assert_eq "" "$(qemu-img snapshot -l "$A")" "qemu-img snapshot -l: gone from disk A"
assert_eq "" "$(qemu-img snapshot -l "$B")" "qemu-img snapshot -l: gone from disk B"
assert_exit 0 qmpctl --json snapshot list "$VM"
assert_json "$OUT" 'length == 0' "the list is empty"
assert_exit 1 qmpctl snapshot delete "$VM" s
assert_contains "$ERR" "no snapshot named 's'" "deleting it again"
check_images
no_leftovers "after delete"

note "a snapshot with VM state cannot be reverted while shut off"
# The same VM, started under its name: discovery merges it with the XML and it is running.
qemu_start "$VM" \
	-drive "file=$A,format=qcow2,if=virtio,id=vda" \
	-drive "file=$B,format=qcow2,if=virtio,id=vdb"
assert_exit 0 --limit $((30 * SLOW)) qmpctl snapshot create "$VM" full
vm_quit
assert_exit 0 qmpctl --json snapshot list "$VM"
assert_json "$OUT" '.[] | select(.name == "full") | ."vm-state-size" > 0 and ."vmstate-disk" == "vda" and .consistent' \
	"the shut-off VM lists the full snapshot"
assert_exit 1 qmpctl snapshot revert "$VM" full
assert_contains "$ERR" "start the VM and revert it while running" "points to a live revert"
assert_exit 1 qmpctl snapshot revert "$VM" nosuch
assert_contains "$ERR" "no snapshot named 'nosuch'" "unknown snapshot"
assert_exit 0 --limit $((30 * SLOW)) qmpctl snapshot delete "$VM" full
assert_eq "" "$(snaps "$A")$(snaps "$B")" "full deleted offline"

note "a disk held by a QEMU that the configuration does not mention"
assert_exit 0 --limit $((30 * SLOW)) qmpctl snapshot create "$VM" keep --disk-only
before_a=$(table "$A")
before_b=$(table "$B")
qemu_start "holder$$" -drive "file=$B,format=qcow2,if=virtio,id=vdb"
assert_exit 1 --limit $((30 * SLOW)) qmpctl snapshot create "$VM" locked --disk-only
assert_match "$ERR" '^qmpctl: .*(lock|in use)' "says the disk is in use"
assert_contains "$ERR" "$B" "names the locked image"
assert_eq "$before_a" "$(table "$A")" "disk A unchanged"
assert_eq "$before_b" "$(table "$B")" "disk B unchanged"
assert_exit 1 --limit $((30 * SLOW)) qmpctl snapshot delete "$VM" keep
assert_match "$ERR" '^qmpctl: .*(lock|in use)' "delete says the disk is in use"
assert_eq "$before_a" "$(table "$A")" "disk A unchanged by the delete"
assert_eq "$before_b" "$(table "$B")" "disk B unchanged by the delete"
no_leftovers "after the locked image"
qemu_stop
check_images

note "SIGTERM to qmpctl while its qemu-storage-daemon starts: the daemon and its directory go too"
# A daemon that takes a second to start, so that the signal lands while qmpctl waits for it.
cat >"$T/slow-qsd" <<'SH'
#!/bin/sh
sleep 1
exec qemu-storage-daemon "$@"
SH
chmod +x "$T/slow-qsd"
before_a=$(table "$A")
before_b=$(table "$B")
QMPCTL_QSD=$T/slow-qsd bg_start "$T/term.out" "$T/term.err" qmpctl snapshot create "$VM" term --disk-only
pid=$BG_PID
sleep 0.3
kill -TERM "$pid"
bg_wait "$pid" $((10 * SLOW))
note "qmpctl exited $BG_RC after SIGTERM"
sleep 2 # the wrapper's sleep ends; an orphaned daemon would be running now
orphans=$(pgrep -f "qemu-storage-daemon.*$T" || true)
if [[ -n "$orphans" ]]; then
	# Ours (their command lines name our private images): end them before failing.
	for p in $orphans; do
		kill -TERM "$p" 2>/dev/null || true
	done
	sleep 0.5
	fail "qemu-storage-daemon left running after qmpctl got SIGTERM (pids: $(echo $orphans))"
fi
_ok
no_leftovers "after SIGTERM"
assert_eq "$before_a" "$(table "$A")" "disk A unchanged"
assert_eq "$before_b" "$(table "$B")" "disk B unchanged"
check_images

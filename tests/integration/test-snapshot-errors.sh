#!/usr/bin/env bash
# snapshot: what goes wrong. A raw disk, an existing name (--force), bad names, unknown snapshots,
# a job that fails inside QEMU, QEMU killed in the middle of a save, and Ctrl-C during a save.
# After each, the images (qemu-img) and `snapshot list` must agree on what exists.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/snapshot-lib.sh"
# In a sanitizer build a report must not pass for an ordinary failure (exit 1).
export ASAN_OPTIONS="exitcode=99:${ASAN_OPTIONS:-}" UBSAN_OPTIONS="exitcode=99:${UBSAN_OPTIONS:-}"

mkdir -p "$T/libvirt" "$T/run"
export QMPCTL_LIBVIRT_DIR=$T/libvirt QMPCTL_RUN_DIR=$T/run

# domain_xml NAME DISK: a domain XML for NAME with one qcow2 disk, so that the VM stays known
# (shut off) when its QEMU is gone.
domain_xml()
{
	cat >"$T/libvirt/$1.xml" <<EOF
<domain type='kvm'>
  <name>$1</name>
  <memory unit='KiB'>524288</memory>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
  </devices>
</domain>
EOF
}

# ---------------------------------------------------------------------------------------------
VM=snaperr$$
Q=$T/q.qcow2
R=$T/r.raw
qemu-img create -q -f qcow2 "$Q" 16M
qemu-img create -q -f raw "$R" 16M
qemu_start "$VM" \
	-drive "file=$Q,format=qcow2,if=virtio,id=vda" \
	-drive "file=$R,format=raw,if=virtio,id=vdb"

note "a raw disk: refused before anything is touched"
assert_exit 1 qmpctl snapshot create "$VM" s
assert_match "$ERR" '^qmpctl: ' "one error line"
assert_contains "$ERR" "vdb" "names the raw disk"
assert_contains "$ERR" "$R" "names its file"
assert_contains "$ERR" "--disks" "way out: leave it out"
assert_contains "$ERR" "convert" "way out: convert to qcow2"
assert_not_contains "$ERR" "external" "no external snapshot offered (there is none yet)"
assert_eq "" "$(snaps "$Q")" "nothing created on the qcow2 disk"
assert_exit 1 qmpctl snapshot create "$VM" s --disk-only
assert_contains "$ERR" "vdb" "--disk-only: names the raw disk too"
assert_eq "" "$(snaps "$Q")" "nothing created by --disk-only"
assert_exit 1 qmpctl snapshot create "$VM" s --disks vdb
assert_contains "$ERR" "vdb" "--disks naming only the raw disk"
assert_exit 1 qmpctl snapshot create "$VM" s --disks vdz
assert_contains "$ERR" "vdz" "--disks naming a disk the VM lacks"
assert_eq "" "$(snaps "$Q")" "still nothing"

note "--disks vda: the way out works"
assert_exit 0 --limit $((30 * SLOW)) qmpctl snapshot create "$VM" s --disks vda
assert_eq "s" "$(snaps "$Q")" "s on the qcow2 disk"
assert_exit 0 qmpctl --json snapshot list "$VM"
assert_json "$OUT" 'length == 1 and .[0].name == "s" and .[0].disks == ["vda"]' "listed on vda"

note "an existing name: refused without --force, replaced with it"
date_of()
{
	qemu-img info -U --output=json "$Q" | jq -c --arg n "$1" '[.snapshots[] | select(.name == $n) | [."date-sec", ."date-nsec"]]'
}
before=$(date_of s)
assert_exit 1 qmpctl snapshot create "$VM" s --disks vda
assert_match "$ERR" "^qmpctl: .*'s' already exists" "says the name exists"
assert_contains "$ERR" "--force" "points to --force"
assert_eq "$before" "$(date_of s)" "the snapshot is untouched"
assert_exit 1 qmpctl snapshot create "$VM" s --disks vda --disk-only
assert_contains "$ERR" "already exists" "--disk-only too"
assert_eq "$before" "$(date_of s)" "still untouched"
assert_exit 0 --limit $((30 * SLOW)) qmpctl snapshot create "$VM" s --disks vda --force
after=$(date_of s)
assert_json "$after" 'length == 1' "one snapshot named s after --force"
if [[ "$after" == "$before" ]]; then
	fail "--force kept the old snapshot ($before)"
fi
_ok

note "unknown snapshots"
for sub in revert delete info; do
	assert_exit 1 qmpctl snapshot "$sub" "$VM" nosuch
	assert_contains "$ERR" "nosuch" "$sub names the missing snapshot"
done
assert_eq "s" "$(snaps "$Q")" "nothing changed"
vm_quit

# ---------------------------------------------------------------------------------------------
note "a job that fails inside QEMU (writes of the VM state fail with ENOSPC)"
VM=snapjob$$
Q=$T/j.qcow2
qemu-img create -q -f qcow2 "$Q" 64M
printf '[inject-error]\nevent = "vmstate_save"\nerrno = "28"\n' >"$T/blkdebug.conf"
qemu_start "$VM" \
	-drive "driver=qcow2,file.driver=blkdebug,file.config=$T/blkdebug.conf,file.image.filename=$Q,if=virtio,id=vda"
assert_exit 1 --limit $((30 * SLOW)) qmpctl snapshot create "$VM" s
assert_match "$ERR" '^qmpctl: .*VM state' "QEMU's reason"
assert_eq 1 "$(grep -c '^qmpctl: ' <<<"$ERR")" "one error line"
assert_exit 0 qmpctl --json snapshot list "$VM"
assert_json "$OUT" 'length == 0' "no snapshot listed"
assert_exit 0 qmpctl --json qmp "$VM" query-jobs
assert_json "$OUT" 'length == 0' "the failed job was dismissed"
get_status
assert_eq "running" "$STATUS" "the VM runs on"
vm_quit
assert_eq "" "$(snaps "$Q")" "qemu-img: no snapshot"

# ---------------------------------------------------------------------------------------------
# A guest whose save takes a while: 256 MiB of random RAM.
head -c 256M /dev/urandom >"$T/big.blob"

# start_big NAME DISK: a running QEMU with -m 512 and the blob in RAM, known by an XML too.
start_big()
{
	VM=$1
	qemu-img create -q -f qcow2 "$2" 1G
	domain_xml "$VM" "$2"
	qemu_start "$VM" -m 512 \
		-drive "file=$2,format=qcow2,if=virtio,id=vda" \
		-device "loader,file=$T/big.blob,addr=0x100000,force-raw=on"
	# Let QEMU finish starting up before the timing matters.
	assert_exit 0 --limit $((30 * SLOW)) qmpctl qmp "$VM" query-status
}

note "QEMU killed with SIGKILL in the middle of a save"
K=$T/k.qcow2
start_big snapkill$$ "$K"
bg_start "$T/kill.out" "$T/kill.err" qmpctl -v snapshot create "$VM" s
pid=$BG_PID
# The save has begun once QEMU has stopped the guest for it.
wait_for_match "$T/kill.err" '"event": ?"STOP"' $((20 * SLOW)) "the save did not start"
kill -KILL "$QEMU_PID"
bg_wait "$pid" $((10 * SLOW))
assert_eq 1 "$BG_RC" "qmpctl's exit status when QEMU dies (stderr: $(grep -v '^\[' "$T/kill.err" || true))"
assert_le "$BG_MS" $((3000 * SLOW)) "qmpctl gives up promptly"
msg=$(grep '^qmpctl: ' "$T/kill.err" || true)
assert_match "$msg" '^qmpctl: .*(closed|went away|QEMU)' "a clear message"
assert_not_contains "$(cat "$T/kill.out")" "created" "no success claimed"
qemu_stop
rc=0
qemu-img check -q "$K" >/dev/null 2>&1 || rc=$?
# 0: clean, 3: leaked clusters only (the half-written VM state); anything else is corruption.
[[ $rc == 0 || $rc == 3 ]] || fail "qemu-img check $K: exit $rc"
_ok
assert_exit 0 qmpctl --json snapshot list "$VM"
assert_eq "$(snaps "$K")" "$(jq -r 'map(.name) | join(" ")' <<<"$OUT")" "the list tells the truth (qemu-img)"
assert_eq "" "$(snaps "$K")" "no snapshot from the killed save"

# ---------------------------------------------------------------------------------------------
note "bad names"
assert_exit 0 --limit $((30 * SLOW)) qmpctl snapshot create "$VM" ok --disk-only
long=$(printf 'n%.0s' {1..300})
for bad in "" "$long"; do
	run qmpctl snapshot create "$VM" "$bad" --disk-only
	if [[ $RC != 1 && $RC != 2 ]]; then
		fail "create with name '${bad:0:20}...' (${#bad} bytes): exit $RC, expected 1 or 2 (stderr: $ERR)"
	fi
	_ok
	assert_match "$ERR" '^qmpctl: .*(name|empty|long)' "a message about the name (${#bad} bytes)"
done
assert_eq "ok" "$(snaps "$K")" "no snapshot created from a bad name"
assert_exit 0 --limit $((30 * SLOW)) qmpctl snapshot delete "$VM" ok

# ---------------------------------------------------------------------------------------------
note "a save that outlasts -t (VM state written through a 64 MB/s throttle)"
VM=snapslow$$
S=$T/s.qcow2
qemu-img create -q -f qcow2 "$S" 1G
qemu_start "$VM" -m 512 \
	-object throttle-group,id=tg0,x-bps-write=64000000 \
	-blockdev "driver=file,filename=$S,node-name=slow-file" \
	-blockdev driver=throttle,throttle-group=tg0,file=slow-file,node-name=slow-throttle \
	-blockdev driver=qcow2,file=slow-throttle,node-name=slow-qcow2 \
	-device virtio-blk-pci,drive=slow-qcow2,id=vda \
	-device "loader,file=$T/big.blob,addr=0x100000,force-raw=on"
assert_exit 0 --limit $((30 * SLOW)) qmpctl qmp "$VM" query-status
# The first save into a fresh image is quick; later ones pay the throttle (about 4 s).
assert_exit 0 --limit $((60 * SLOW)) qmpctl -t 60 snapshot create "$VM" warm
# -t bounds each QMP reply, not the job: the save runs to its end and is reported as made.
assert_exit 0 --limit $((60 * SLOW)) qmpctl -t 1 snapshot create "$VM" slow
note "create -t 1: exit 0 after $ELAPSED_MS ms"
assert_contains "$OUT" "Domain snapshot slow created" "says created"
assert_eq "warm slow" "$(snaps "$S")" "the slow snapshot exists (qemu-img)"
assert_exit 0 --limit $((60 * SLOW)) qmpctl -t 60 snapshot list --json "$VM"
assert_eq "$(snaps "$S")" "$(jq -r 'map(.name) | join(" ")' <<<"$OUT")" "the list tells the truth (qemu-img)"
assert_exit 0 qmpctl --json qmp "$VM" query-jobs
assert_json "$OUT" 'length == 0' "no job left behind after the timeout"
qemu_stop

# ---------------------------------------------------------------------------------------------
note "Ctrl-C during a save"
C=$T/c.qcow2
start_big snapint$$ "$C"
# A background job of a non-interactive shell ignores SIGINT; env gives it back its default.
bg_start "$T/int.out" "$T/int.err" env --default-signal=INT "${_wrapper[@]}" "$QMPCTL" -v snapshot create "$VM" c
pid=$BG_PID
wait_for_match "$T/int.err" '"event": ?"STOP"' $((20 * SLOW)) "the save did not start"
kill -INT "$pid"
bg_wait "$pid" $((20 * SLOW))
msg=$(grep -v '^\[' "$T/int.err" || true)
# Whenever the signal lands in the save, the promise is the same: the snapshot is removed again.
assert_eq 130 "$BG_RC" "dies of SIGINT after its message (stderr: $msg)"
assert_eq "qmpctl: interrupted: snapshot c removed" "$(grep '^qmpctl: ' <<<"$msg")" "says it was removed"
assert_not_contains "$(cat "$T/int.out")" "created" "no success claimed"
assert_eq "" "$(snaps "$C")" "no snapshot on the disk (qemu-img)"
assert_exit 0 qmpctl --json snapshot list "$VM"
assert_json "$OUT" 'length == 0' "none listed"
get_status
assert_eq "running" "$STATUS" "the VM still runs"
assert_exit 0 qmpctl --json qmp "$VM" query-jobs
assert_json "$OUT" 'length == 0' "no job left behind"

note "SIGTERM during a save: the same promise"
bg_start "$T/term.out" "$T/term.err" qmpctl -v snapshot create "$VM" t
pid=$BG_PID
wait_for_match "$T/term.err" '"event": ?"STOP"' $((20 * SLOW)) "the save did not start"
kill -TERM "$pid"
bg_wait "$pid" $((20 * SLOW))
msg=$(grep -v '^\[' "$T/term.err" || true)
assert_eq 143 "$BG_RC" "dies of SIGTERM after its message (stderr: $msg)"
assert_eq "qmpctl: interrupted: snapshot t removed" "$(grep '^qmpctl: ' <<<"$msg")" "says it was removed"
assert_eq "" "$(snaps "$C")" "no snapshot on the disk (qemu-img)"
get_status
assert_eq "running" "$STATUS" "the VM still runs"
assert_exit 0 qmpctl --json qmp "$VM" query-jobs
assert_json "$OUT" 'length == 0' "no job left behind"

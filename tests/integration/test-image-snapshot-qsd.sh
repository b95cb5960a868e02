#!/usr/bin/env bash
# The private qemu-storage-daemon of image snapshot -c/-d and of a shut-off VM's snapshots: the VM
# clock it records is 0 (as qemu-img writes), a comma in TMPDIR does not break it, nothing of it
# lives in TMPDIR, and SIGINT, SIGTERM, SIGHUP or SIGKILL sent to qmpctl while the daemon starts
# (images open and locked, monitor not yet up) leave no daemon, no file and no lock behind.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/image-lib.sh"
export ASAN_OPTIONS="exitcode=99:${ASAN_OPTIONS:-}" UBSAN_OPTIONS="exitcode=99:${UBSAN_OPTIONS:-}"

mkdir -p "$T/img" "$T/tmp,with,commas"
export TMPDIR="$T/tmp,with,commas"
cd "$T/img"

# clock0 FILE NAME: the snapshot NAME of FILE records VM clock 0, as qemu-img's own does.
clock0()
{
	local info
	info=$(qemu-img info --output=json "$1")
	assert_json "$info" "[.snapshots[] | select(.name == \"$2\")] | length == 1 and
		(.[0] | .[\"vm-clock-sec\"] == 0 and .[\"vm-clock-nsec\"] == 0)" "$1: VM clock of $2 is 0"
	assert_match "$(qemu-img snapshot -l "$1")" " $2 .* 00:00:00\.000 " "qemu-img snapshot -l shows 00:00:00.000"
	qemu-img check -q "$1" || fail "qemu-img check $1 after snapshot $2"
	_ok
}

# Valgrind (under QMPCTL_WRAPPER) keeps its vgdb FIFOs in TMPDIR too, and a SIGKILL leaves them: not ours.
tmp_empty()
{
	assert_eq "" "$(find "$TMPDIR" -mindepth 1 -maxdepth 1 ! -name 'vgdb-pipe-*' -printf '%f\n')" \
		"nothing left in TMPDIR ($1)"
}

note "image snapshot -c records VM clock 0 (TMPDIR with commas)"
mk -f qcow2 a.qcow2 16M
io a.qcow2 "write -P 0x11 0 64k"
assert_exit 0 qmpctl image snapshot -c first a.qcow2
clock0 a.qcow2 first
# qemu-img's own snapshot beside it, for comparison.
qemu-img snapshot -c byqemu a.qcow2
clock0 a.qcow2 byqemu
assert_exit 0 qmpctl image snapshot -c second a.qcow2
clock0 a.qcow2 second
assert_exit 0 qmpctl image snapshot -d first a.qcow2
assert_exit 0 qmpctl --json image snapshot -l a.qcow2
assert_json "$OUT" '[.[].name] == ["byqemu", "second"]'
tmp_empty "after create and delete"

note "a shut-off VM's snapshot records VM clock 0 on every disk"
mkdir -p "$T/libvirt" "$T/run"
export QMPCTL_LIBVIRT_DIR=$T/libvirt QMPCTL_RUN_DIR=$T/run
mk -f qcow2 vda.qcow2 16M
mk -f qcow2 vdb.qcow2 16M
cat >"$T/libvirt/qsdvm.xml" <<XML
<domain type='kvm'>
  <name>qsdvm</name>
  <memory unit='KiB'>65536</memory>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$T/img/vda.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$T/img/vdb.qcow2'/>
      <target dev='vdb' bus='virtio'/>
    </disk>
  </devices>
</domain>
XML
assert_exit 0 qmpctl snapshot create qsdvm off1 --disk-only
clock0 vda.qcow2 off1
clock0 vdb.qcow2 off1
tmp_empty "after a shut-off VM's snapshot"

# A qemu-storage-daemon that stops halfway through its start: the images are open and locked
# (--blockdev comes first), then it blocks reading a secret from a FIFO nobody writes, before its
# monitor exists.  It records its pid ($$ stays the pid across exec).
cat >"$T/qsd-hold" <<'SH'
#!/bin/sh
for a; do
	shift
	[ "$a" = --chardev ] && set -- "$@" --object "secret,id=hold,file=$HOLD_FIFO"
	set -- "$@" "$a"
done
echo $$ >"$HOLD_PID"
exec qemu-storage-daemon "$@"
SH
chmod +x "$T/qsd-hold"
export HOLD_FIFO=$T/hold.fifo HOLD_PID=$T/hold.pid
mkfifo "$HOLD_FIFO"

# gone PID: true once PID no longer runs (a zombie nobody reaps counts as gone).
gone()
{
	! _qf_alive "$1"
}

# signal_case SIG IMAGE WHAT CMD...: start CMD (a snapshot on IMAGE through the holding daemon), wait
# until the daemon holds IMAGE, send SIG to qmpctl, and check that nothing is left behind.
signal_case()
{
	local sig=$1 img=$2 what=$3 qsd locked
	shift 3
	note "SIG$sig to $what while the daemon starts"
	rm -f "$HOLD_PID"
	QMPCTL_QSD=$T/qsd-hold bg_start "$T/sig.out" "$T/sig.err" "$@"
	qmpctl_pid=$BG_PID
	for _ in $(seq 400); do
		[[ -s "$HOLD_PID" ]] && break
		sleep 0.05
	done
	[[ -s "$HOLD_PID" ]] || fail "the daemon never started"
	qsd=$(cat "$HOLD_PID")
	_bg_pids+=("$qsd")
	# Wait until the daemon holds the image (the scenario under test), then signal qmpctl.
	locked=0
	for _ in $(seq 400); do
		if ! qemu-io -c 'write 0 512' "$img" >/dev/null 2>&1; then
			locked=1
			break
		fi
		sleep 0.05
	done
	((locked)) || fail "the daemon never locked the image"
	_ok
	kill -"$sig" "$qmpctl_pid"
	bg_wait "$qmpctl_pid" 30
	for _ in $(seq 200); do
		gone "$qsd" && break
		sleep 0.05
	done
	gone "$qsd" || fail "SIG$sig: qemu-storage-daemon (pid $qsd) still runs"
	_ok
	qemu-io -c 'write 0 512' "$img" >/dev/null || fail "SIG$sig: the image is still locked"
	_ok
	assert_eq "" "$(qemu-img snapshot -l "$img")" "SIG$sig: no snapshot was made"
	qemu-img check -q "$img" || fail "SIG$sig: qemu-img check"
	tmp_empty "after SIG$sig"
	if [[ $sig == KILL ]]; then
		assert_eq 137 "$BG_RC" "qmpctl was killed"
	else
		assert_eq $((128 + $(kill -l "$sig"))) "$BG_RC" "qmpctl dies of SIG$sig after its cleanup (as a shell expects)"
		assert_contains "$(cat "$T/sig.err")" "interrupted"
	fi
}

for sig in INT TERM HUP KILL; do
	mk -f qcow2 s.qcow2 16M
	signal_case "$sig" s.qcow2 "image snapshot -c" qmpctl image snapshot -c s1 s.qcow2
	rm -f s.qcow2
done
# The same daemon start serves a shut-off VM's snapshot.
for sig in TERM KILL; do
	mk -f qcow2 vda.qcow2 16M
	mk -f qcow2 vdb.qcow2 16M
	signal_case "$sig" vda.qcow2 "snapshot create of a shut-off VM" qmpctl snapshot create qsdvm s2 --disk-only
	assert_eq "" "$(qemu-img snapshot -l vdb.qcow2)" "SIG$sig: no snapshot on the other disk"
done

note "a daemon that never opens its monitor, one that gives up, one that cannot be run"
mk -f qcow2 s.qcow2 16M
rm -f "$HOLD_PID"
QMPCTL_QSD=$T/qsd-hold assert_exit 1 qmpctl image snapshot -t 1 -c s1 s.qcow2
assert_contains "$ERR" "qemu-storage-daemon did not open its monitor within 1000 ms"
qsd=$(cat "$HOLD_PID")
_bg_pids+=("$qsd")
gone "$qsd" || fail "the daemon that timed out still runs"
qemu-io -c 'write 0 512' s.qcow2 >/dev/null || fail "the image is still locked after the timeout"
_ok
QMPCTL_QSD=/bin/false assert_exit 1 qmpctl image snapshot -c s1 s.qcow2
assert_eq "qmpctl: s.qcow2: cannot create snapshot 's1': qemu-storage-daemon failed: it exited without saying why" "$ERR"
QMPCTL_QSD=$T/no-such-daemon assert_exit 1 qmpctl image snapshot -c s1 s.qcow2
assert_eq "qmpctl: s.qcow2: cannot create snapshot 's1': cannot run $T/no-such-daemon: No such file or directory" "$ERR"
# The daemon's own words are the error; a lock it cannot get is named as such.
printf '#!/bin/sh\necho "qemu-storage-daemon: --blockdev x: Failed to get \\"write\\" lock" >&2\nexit 1\n' >"$T/qsd-locked"
chmod +x "$T/qsd-locked"
QMPCTL_QSD=$T/qsd-locked assert_exit 1 qmpctl image snapshot -c s1 s.qcow2
assert_eq "qmpctl: s.qcow2: cannot create snapshot 's1': an image is in use by a running QEMU (qemu-storage-daemon: --blockdev x: Failed to get \"write\" lock)" "$ERR"
printf '#!/bin/sh\necho >&2\necho "qemu-storage-daemon: something else" >&2\nexit 1\n' >"$T/qsd-fails"
chmod +x "$T/qsd-fails"
QMPCTL_QSD=$T/qsd-fails assert_exit 1 qmpctl image snapshot -c s1 s.qcow2
assert_eq "qmpctl: s.qcow2: cannot create snapshot 's1': qemu-storage-daemon failed: qemu-storage-daemon: something else" "$ERR"
tmp_empty "after the failures"

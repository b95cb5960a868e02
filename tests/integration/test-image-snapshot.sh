#!/usr/bin/env bash
# image snapshot: -l against qemu-img snapshot -l; -c/-d through qemu-storage-daemon (cleaned up);
# raw images refused with the documented message; images in use refused; -a natively, equal to
# qemu-img snapshot -a, and crash-safe: stopped before every single write or flush, the image passes
# qemu-img check and holds either the old or the new data.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/image-lib.sh"

export TZ=UTC
export TMPDIR=$T/tmp
mkdir -p "$TMPDIR"
D=$T/img
mkdir -p "$D"
cd "$D"
qsd_left() { pgrep -f "qemu-storage-daemon.*$D" | wc -l; }
# check_ok FILE: qemu-img check finds no errors (leaked clusters are allowed with LEAKS=1).
check_ok()
{
	run qemu-img check "$1"
	if [[ "$RC" == 0 ]] || [[ "${LEAKS:-0}" == 1 && "$RC" == 3 && "$OUT" == *"leaked clusters"* ]]; then
		_ok
		return 0
	fi
	fail "qemu-img check $1 (exit $RC): $OUT $ERR"
}

note "-l matches qemu-img snapshot -l"
mk -f qcow2 none.qcow2 16M
assert_exit 0 qmpctl image snapshot -l none.qcow2
assert_eq "$(qemu-img snapshot -l none.qcow2)" "$OUT" "no snapshots: no output"
mk -f qcow2 s.qcow2 64M
io s.qcow2 "write -P 1 0 2M"
qemu-img snapshot -c first s.qcow2
io s.qcow2 "write -P 2 1M 2M"
qemu-img snapshot -c "second, with a long name" s.qcow2
io s.qcow2 "write -P 3 2M 64k"
assert_exit 0 qmpctl image snapshot -l s.qcow2
assert_eq "$(qemu-img snapshot -l s.qcow2)" "$OUT" "-l table"
assert_exit 0 qmpctl image snapshot -l --json s.qcow2
assert_json "$OUT" 'length == 2 and .[0].name == "first" and .[1].id == "2"' "--json list"

note "-c and -d through qemu-storage-daemon"
cp s.qcow2 c.qcow2
assert_exit 0 qmpctl image snapshot -c third c.qcow2
assert_contains "$(qemu-img snapshot -l c.qcow2)" " third "
check_ok c.qcow2
assert_exit 1 qmpctl image snapshot -c third c.qcow2
assert_contains "$ERR" "already exists"
assert_exit 1 qmpctl image snapshot -c 1 c.qcow2
assert_contains "$ERR" "already exists"
assert_exit 0 qmpctl image snapshot -d first c.qcow2
assert_not_contains "$(qemu-img snapshot -l c.qcow2)" " first "
assert_exit 0 qmpctl image snapshot -d 3 c.qcow2
assert_not_contains "$(qemu-img snapshot -l c.qcow2)" " third "
check_ok c.qcow2
assert_exit 1 qmpctl image snapshot -d nosuch c.qcow2
assert_eq "qmpctl: c.qcow2: no snapshot with id or name 'nosuch'" "$ERR"
assert_eq 0 "$(qsd_left)" "no qemu-storage-daemon left running"
assert_eq "" "$(ls -A "$TMPDIR")" "qemu-storage-daemon's private directories are removed"
# A name with a comma and a path with a comma go through QEMU's option syntax intact.
cp s.qcow2 "comma,name.qcow2"
assert_exit 0 qmpctl image snapshot -c "a,b" "comma,name.qcow2"
assert_contains "$(qemu-img snapshot -l "comma,name.qcow2")" " a,b "
# A daemon that is not there, or fails: a clear error and nothing left behind.
run env QMPCTL_QSD=/nonexistent/qsd "$QMPCTL" image snapshot -c x c.qcow2
assert_eq 1 "$RC"
assert_contains "$ERR" "cannot run /nonexistent/qsd"
assert_eq "" "$(ls -A "$TMPDIR")"

note "raw images are refused with the documented message"
mk -f raw r.raw 16M
for op in "-l" "-c x" "-a x" "-d x"; do
	# shellcheck disable=SC2086
	assert_exit 1 qmpctl image snapshot $op r.raw
	assert_eq "qmpctl: 'r.raw' is a raw image; raw images cannot hold internal snapshots (convert it to qcow2 with 'qmpctl image convert -O qcow2', or take an external snapshot)" "$ERR" "raw: $op"
done

note "usage"
assert_exit 2 qmpctl image snapshot s.qcow2
assert_exit 2 qmpctl image snapshot -l -c x s.qcow2
assert_exit 2 qmpctl image snapshot -c x -U s.qcow2
assert_exit 2 qmpctl image snapshot -l
assert_exit 0 qmpctl image snapshot --help
assert_contains "$OUT" "Usage: qmpctl image snapshot"

note "-a equals qemu-img snapshot -a"
apply_like_qemu()
{
	local img=$1 snap=$2
	cp "$img" ours.qcow2
	cp "$img" theirs.qcow2
	qemu-img snapshot -a "$snap" theirs.qcow2
	assert_exit 0 qmpctl image snapshot -a "$snap" ours.qcow2
	check_ok ours.qcow2
	run qemu-img compare ours.qcow2 theirs.qcow2
	assert_eq 0 "$RC" "$img -a $snap: data as qemu-img's: $OUT"
	assert_eq "$(qemu-img info --output=json theirs.qcow2 | jq -S 'del(.filename, ."actual-size")')" \
		"$(qemu-img info --output=json ours.qcow2 | jq -S 'del(.filename, ."actual-size")')" "$img -a $snap: info"
	# Writing after the apply must not disturb the snapshot (copy-on-write still works).
	io ours.qcow2 "write -P 0xee 0 3M"
	check_ok ours.qcow2
	cp ours.qcow2 again.qcow2
	qemu-img snapshot -a "$snap" again.qcow2
	qemu-img snapshot -a "$snap" theirs.qcow2
	run qemu-img compare again.qcow2 theirs.qcow2
	assert_eq 0 "$RC" "$img: the snapshot is intact after writing to the applied image"
}
apply_like_qemu s.qcow2 first
apply_like_qemu s.qcow2 2
apply_like_qemu s.qcow2 "second, with a long name"
for opts in compat=0.10 cluster_size=4k refcount_bits=8 extended_l2=on refcount_bits=64 cluster_size=512 \
	compression_type=zstd; do
	mk -f qcow2 -o "$opts" m.qcow2 8M
	io m.qcow2 "write -P 1 0 1M"
	io m.qcow2 "write -c -P 5 4M 256k"
	qemu-img snapshot -c a m.qcow2
	io m.qcow2 "write -P 2 512k 1M"
	io m.qcow2 "write -z 4M 64k"
	qemu-img snapshot -c b m.qcow2
	io m.qcow2 "write -P 3 0 64k"
	apply_like_qemu m.qcow2 a
	apply_like_qemu m.qcow2 b
done
# A snapshot taken at another size brings that size back.
mk -f qcow2 grow.qcow2 8M
io grow.qcow2 "write -P 9 7M 1M"
qemu-img snapshot -c small grow.qcow2
qemu-img resize -q grow.qcow2 2G
io grow.qcow2 "write -P 8 1G 1M"
apply_like_qemu grow.qcow2 small
assert_exit 1 qmpctl image snapshot -a nosuch s.qcow2
assert_eq "qmpctl: s.qcow2: no snapshot with id or name 'nosuch'" "$ERR"

note "-a stopped before each write or flush: qemu-img check passes, data is old or new"
cp s.qcow2 orig.qcow2
cp s.qcow2 new.qcow2
qemu-img snapshot -a first new.qcow2
run env QMPCTL_TEST_APPLY_STOP_AT=0 "$QMPCTL" image snapshot -a first s.qcow2
assert_eq 0 "$RC"
writes=$(sed -n 's/^qmpctl: test: \([0-9]*\) writes and flushes$/\1/p' <<<"$ERR")
assert_match "$writes" '^[0-9]+$' "the test hook reports the number of writes"
cp orig.qcow2 s.qcow2
olds=0
news=0
for ((n = 1; n <= writes + 1; n++)); do
	cp orig.qcow2 cut.qcow2
	run env QMPCTL_TEST_APPLY_STOP_AT=$n "$QMPCTL" image snapshot -a first cut.qcow2
	if ((n <= writes)); then
		assert_eq 1 "$RC" "stopped before write $n"
		assert_contains "$ERR" "fault injection"
	else
		assert_eq 0 "$RC" "stop point past the last write: the apply completes"
	fi
	LEAKS=1 check_ok cut.qcow2
	if qemu-img compare -q cut.qcow2 orig.qcow2 2>/dev/null; then
		olds=$((olds + 1))
	elif qemu-img compare -q cut.qcow2 new.qcow2 2>/dev/null; then
		news=$((news + 1))
	else
		fail "stopped before write $n: data is neither the old nor the new state"
	fi
	_ok
	# The interrupted image stays usable: the apply can simply be run again.
	assert_exit 0 qmpctl image snapshot -a first cut.qcow2
	run qemu-img compare cut.qcow2 new.qcow2
	assert_eq 0 "$RC" "re-running the apply after a stop before write $n"
done
note "stop points: $olds left the old state, $news the new one"
assert_le 1 "$olds" "some stop points leave the old state"
assert_le 1 "$news" "some stop points leave the new state"
cp orig.qcow2 cut.qcow2
assert_exit 0 qmpctl image snapshot -a first cut.qcow2
check_ok cut.qcow2

note "an image in use by a running QEMU: refused, nothing changed; -l -U reads it"
cp orig.qcow2 busy.qcow2
before=$(md5sum busy.qcow2)
qemu_start image-snapshot -drive "file=$D/busy.qcow2,if=none,id=drive0,format=qcow2"
for op in "-c x" "-d first" "-a first"; do
	# shellcheck disable=SC2086
	assert_exit 1 qmpctl image snapshot $op busy.qcow2
	assert_contains "$ERR" "in use"
done
assert_exit 1 qmpctl image snapshot -l busy.qcow2
assert_exit 0 qmpctl image snapshot -l -U busy.qcow2
assert_contains "$OUT" "first"
assert_eq 0 "$(qsd_left)"
qemu_stop
assert_eq "$before" "$(md5sum busy.qcow2)" "the image in use was not changed"

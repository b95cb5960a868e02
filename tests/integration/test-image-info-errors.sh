#!/usr/bin/env bash
# ctest-labels: valgrind-slow
# image info on what should fail: usage errors, missing files, backing loops, hand-broken headers
# ("qmpctl: FILE: what is wrong", exit 1, never a crash), and images a running QEMU writes (-U).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/image-lib.sh"

export TZ=UTC
D=$T/img
mkdir -p "$D/sub/deeper"
cd "$D"

mk -f qcow2 -o lazy_refcounts=on lazy.qcow2 1G
mk -f raw plain.raw 10M
mk -f qcow2 snaps.qcow2 1G
io snaps.qcow2 "write -P 0x01 0 1M"
qemu-img snapshot -c first snaps.qcow2
qemu-img snapshot -c second snaps.qcow2

note "usage errors"
assert_exit 2 qmpctl image info
assert_exit 2 qmpctl image info --output xml plain.raw
assert_exit 2 qmpctl image info a b
assert_exit 0 qmpctl image info --help
assert_contains "$OUT" "Usage: qmpctl image info"
assert_exit 0 qmpctl image --help
assert_contains "$OUT" "Usage: qmpctl image"
assert_exit 2 qmpctl image frobnicate
assert_exit 1 qmpctl image info -f vmdk plain.raw
assert_contains "$ERR" "unknown image format 'vmdk'"

note "missing files and backing loops"
assert_exit 1 qmpctl image info nonexistent.qcow2
assert_eq "qmpctl: nonexistent.qcow2: cannot open: No such file or directory" "$ERR"
assert_exit 1 qmpctl image info .
assert_match "$ERR" '^qmpctl: \.: '
mkfifo fifo
assert_exit 1 qmpctl image info fifo
assert_eq "qmpctl: fifo: not a regular file or block device" "$ERR" "a FIFO is refused, not waited on"
assert_exit 1 qmpctl image info /dev/null
assert_contains "$ERR" "not a regular file or block device"
mk -f qcow2 loop1.qcow2 1M
mk -f qcow2 -b loop1.qcow2 -F qcow2 loop2.qcow2
qemu-img rebase -u -b loop2.qcow2 -F qcow2 loop1.qcow2
assert_exit 0 qmpctl image info loop1.qcow2
assert_exit 1 qmpctl image info --backing-chain loop1.qcow2
assert_contains "$ERR" "loops back"
mk -u -f qcow2 -b missing.qcow2 -F qcow2 orphan.qcow2 1M
assert_exit 0 qmpctl image info orphan.qcow2
assert_exit 1 qmpctl image info --backing-chain orphan.qcow2
assert_eq "qmpctl: orphan.qcow2: cannot open backing file: missing.qcow2: cannot open: No such file or directory" "$ERR"

note "hand-broken images get 'qmpctl: FILE: what is wrong', exit 1"
broken()
{
	local name=$1 expect=$2
	shift 2
	cp lazy.qcow2 "$name"
	while (($#)); do
		poke "$name" "$1" "$2"
		shift 2
	done
	run qmpctl image info -f qcow2 "$name"
	[[ "$RC" == 1 ]] || fail "$name: expected exit 1, got $RC (stderr: $ERR)"
	assert_match "$ERR" "^qmpctl: $name: " "$name: message names the file"
	assert_contains "$ERR" "$expect" "$name: message says what is wrong"
	assert_eq 1 "$(line_count "$ERR")" "$name: one line"
	assert_eq "" "$OUT" "$name: nothing on stdout"
}
broken badmagic.qcow2 "bad magic" 0 00000000
broken version.qcow2 "unsupported qcow2 version 4" 4 00000004
broken clusterbits.qcow2 "cluster size 2^30" 20 0000001e
broken l1past.qcow2 "L1 table at offset" 40 00000000ffff0000
broken l1unaligned.qcow2 "not aligned" 40 0000000000030008
broken l1huge.qcow2 "too large" 36 7fffffff
broken size.qcow2 "too large" 24 4000000000000000
broken l1small.qcow2 "too small" 24 0000010000000000
broken reftable.qcow2 "refcount table" 48 0000001000000000
broken reftable0.qcow2 "no refcount table" 56 00000000
broken nbsnap.qcow2 "snapshots" 60 7fffffff 64 0000000000030000
broken snappast.qcow2 "snapshot table" 60 00000010 64 0000000100000000
broken backing.qcow2 "backing file name" 8 0000000000000200 16 00001388
broken backingoff.qcow2 "outside the first cluster" 8 00000000000ffff0 16 00000010
broken incompat.qcow2 "unsupported incompatible features: bit 20" 72 0000000000100000

broken hdrlen.qcow2 "header length" 100 00000010
broken extlen.qcow2 "past the header area" 116 7ffffff0
broken refcount.qcow2 "refcount width" 96 00000007
broken crypt.qcow2 "encryption method 9" 32 00000009
broken comptype.qcow2 "compression type" 104 05
# Header extensions written by hand over the feature table (extensions start at byte 112).
broken bmlen.qcow2 "bitmaps extension has length 23" 112 2385287500000017
broken bmdir.qcow2 "bitmap directory at offset" 88 0000000000000001 \
	112 238528750000001800000001000000000000000000000020000000100000000000000000000000
broken bmcount.qcow2 "bitmaps extension lists 0 bitmaps" 88 0000000000000001 \
	112 238528750000001800000000000000000000000000000020000000000003000000000000000000
broken dupext.qcow2 "appears more than once" 112 e2792aca0000000571636f7732000000e2792aca0000000571636f773200000000000000000000
broken luksnoext.qcow2 "no encryption header extension" 32 00000002
broken datafile.qcow2 "does not name it" 72 0000000000000004
broken comp0.qcow2 "compression type bit is set" 72 0000000000000008
broken cryptext.qcow2 "encryption header at offset" 112 0537be770000001000000000ffff00000000000000001000
broken cryptlen.qcow2 "encryption header extension has length 8" 112 0537be770000000800000000000100000000000000000000
broken snapalign.qcow2 "snapshot table offset 0x30001 is not aligned" 60 00000001 64 0000000000030001
qemu-img create -q -f qcow2 -o cluster_size=4k small.qcow2 1M
cp small.qcow2 extl2small.qcow2
poke extl2small.qcow2 72 0000000000000010
run qmpctl image info extl2small.qcow2
assert_eq 1 "$RC"
assert_contains "$ERR" "extended L2 entries need clusters of at least 16 KiB"

# The feature table names bit 0 "dirty bit": flag an unknown feature with its name by moving the
# table's entry 0 to bit 9 and setting bit 9.
cp lazy.qcow2 incompat2.qcow2
poke incompat2.qcow2 121 09
poke incompat2.qcow2 72 0000000000000200
run qmpctl image info incompat2.qcow2
assert_eq 1 "$RC"
assert_contains "$ERR" "unsupported incompatible features: \"dirty bit\" (bit 9)"
printf 'QFI\xfb\x00\x00\x00\x03' >tiny.qcow2
run qmpctl image info tiny.qcow2
assert_eq 1 "$RC"
assert_eq "qmpctl: tiny.qcow2: file is too small (8 bytes) for a qcow2 header" "$ERR"
# A snapshot table entry whose L1 table lies past the end of the file.
cp snaps.qcow2 snapl1.qcow2
snapoff=$(od -An -j64 -N8 -tx1 snapl1.qcow2 | tr -d ' \n')
poke snapl1.qcow2 $((16#$snapoff)) 00000f0000000000
run qmpctl image info snapl1.qcow2
assert_eq 1 "$RC"
assert_contains "$ERR" "snapshot 1: snapshot L1 table at offset"
cp snaps.qcow2 snapextra.qcow2
poke snapextra.qcow2 $((16#$snapoff + 36)) 00100000
run qmpctl image info snapextra.qcow2
assert_eq 1 "$RC"
assert_contains "$ERR" "extra data"

note "an image in use by a running QEMU is refused unless -U"
mk -f qcow2 inuse.qcow2 64M
qemu_start image-info -drive "file=$D/inuse.qcow2,if=none,id=drive0,format=qcow2"
run qmpctl image info inuse.qcow2
assert_eq 1 "$RC" "image info on a disk a QEMU writes"
assert_contains "$ERR" "inuse.qcow2: image is in use"
assert_contains "$ERR" "-U"
want=$(qemu-img info -U inuse.qcow2)
assert_exit 0 qmpctl image info -U inuse.qcow2
assert_eq "$want" "$OUT" "-U reads it anyway"
qemu_stop
assert_exit 0 qmpctl image info inuse.qcow2

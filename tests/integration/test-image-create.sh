#!/usr/bin/env bash
# ctest-labels: valgrind-slow
# image create against qemu-img create: the same options give images that pass qemu-img check and
# read the same in qemu-img info (byte-identical files where the layout allows); existing files are
# never replaced unless asked.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

D=$T/img
mkdir -p "$D/sub"
cd "$D"
qemu-img create -q -f qcow2 base.qcow2 3G
qemu-img create -q -f raw base.raw 100M

# same_as_qemu FMT OPTS SIZE [-b ...]: create with both tools and compare.
identical=0
compared=0
same_as_qemu()
{
	local fmt=$1 opts=$2 size=$3 ours theirs
	shift 3
	rm -f ours.img theirs.img
	local o=()
	[[ -n "$opts" ]] && o=(-o "$opts")
	# shellcheck disable=SC2086
	if ! qemu-img create -q -f "$fmt" "${o[@]}" "$@" theirs.img $size 2>/dev/null; then
		# What qemu-img refuses, we refuse too, leaving no file.
		# shellcheck disable=SC2086
		run qmpctl image create -f "$fmt" "${o[@]}" "$@" ours.img $size
		[[ "$RC" == 1 || "$RC" == 2 ]] || fail "qemu-img refused $fmt '$opts' $size $*, we did not (exit $RC)"
		[[ ! -e ours.img ]] || fail "a refused create left a file"
		_ok
		return 0
	fi
	# shellcheck disable=SC2086
	assert_exit 0 qmpctl image create -f "$fmt" "${o[@]}" "$@" ours.img $size
	if [[ "$fmt" == qcow2 ]]; then
		run qemu-img check ours.img
		assert_eq 0 "$RC" "qemu-img check accepts qcow2 '$opts' $size $*: $OUT $ERR"
	fi
	ours=$(qemu-img info --output=json ours.img | jq -S 'del(.filename)')
	theirs=$(qemu-img info --output=json theirs.img | jq -S 'del(.filename)')
	if [[ "$opts" == *preallocation=* && "$opts" != *preallocation=off* ]]; then
		# Preallocated layouts differ (ours puts metadata after the data), so the disk use may too.
		ours=$(jq 'del(."actual-size")' <<<"$ours")
		theirs=$(jq 'del(."actual-size")' <<<"$theirs")
	fi
	assert_eq "$theirs" "$ours" "qemu-img info of $fmt '$opts' $size $*"
	compared=$((compared + 1))
	if cmp -s ours.img theirs.img; then
		identical=$((identical + 1))
	fi
}

note "qcow2 option matrix"
for size in 0 100000 1M 5G 3T; do
	for opts in "" compat=0.10 compat=1.1 cluster_size=512 cluster_size=4k cluster_size=2M refcount_bits=1 \
		refcount_bits=8 refcount_bits=64 lazy_refcounts=on extended_l2=on extended_l2=on,cluster_size=16k \
		compression_type=zstd compat=0.10,cluster_size=1k; do
		same_as_qemu qcow2 "$opts" "$size"
	done
done
note "preallocation"
for p in off metadata falloc full; do
	for opts in "preallocation=$p" "preallocation=$p,cluster_size=4k" "preallocation=$p,compat=0.10" \
		"preallocation=$p,extended_l2=on"; do
		same_as_qemu qcow2 "$opts" 3M
	done
	same_as_qemu raw "preallocation=$p" 3M
done
assert_exit 0 qmpctl image create -f qcow2 -o preallocation=metadata pm.qcow2 20M
run qemu-img map --output=json pm.qcow2
assert_json "$OUT" 'all(.[]; .data == true)' "metadata preallocation maps every cluster"
note "raw"
same_as_qemu raw "" 100000
same_as_qemu raw "" 1G
note "backing files: size from the backing image, relative names, -o backing_file"
same_as_qemu qcow2 "" "" -b base.qcow2 -F qcow2
same_as_qemu qcow2 "" 5G -b base.raw -F raw
same_as_qemu qcow2 "backing_file=base.qcow2,backing_fmt=qcow2" ""
assert_exit 0 qmpctl image create -f qcow2 -b ../base.qcow2 -F qcow2 sub/child.qcow2
assert_exit 0 qmpctl image info --backing-chain --output json sub/child.qcow2
assert_json "$OUT" '.[0]."virtual-size" == 3221225472 and .[0]."backing-filename" == "../base.qcow2" and
	.[1].filename == "sub/../base.qcow2"' "relative backing resolved from the new image's directory"
assert_exit 1 qmpctl image create -f qcow2 -b base.qcow2 nofmt.qcow2
assert_contains "$ERR" "without its format"
assert_exit 1 qmpctl image create -f qcow2 -b missing.qcow2 -F qcow2 orphan.qcow2
assert_contains "$ERR" "cannot open backing file"
[[ ! -e orphan.qcow2 ]] || fail "a failed create left orphan.qcow2 behind"
assert_exit 1 qmpctl image create -f qcow2 -o preallocation=metadata -b base.qcow2 -F qcow2 pb.qcow2
assert_contains "$ERR" "extended_l2"
note "note: $identical of $compared images are byte-identical to qemu-img's"
assert_le 40 "$identical" "most images are byte-identical to qemu-img's"

note "existing files are never replaced unless asked"
echo "precious" >keep.img
assert_exit 1 qmpctl image create -f qcow2 keep.img 1M
assert_eq "qmpctl: keep.img: file exists; not replacing it (give --overwrite to replace it)" "$ERR"
assert_eq "precious" "$(cat keep.img)" "the existing file is untouched"
assert_exit 0 qmpctl image create -f qcow2 --overwrite keep.img 1M
run qemu-img check keep.img
assert_eq 0 "$RC" "--overwrite replaced it with a good image"
# On a terminal it asks; only "y" replaces the file.
if command -v script >/dev/null 2>&1; then
	echo "precious" >ask.img
	run bash -c "printf 'n\n' | script -qec '${QMPCTL_WRAPPER:-} $QMPCTL image create -f qcow2 ask.img 1M' /dev/null"
	assert_eq 1 "$RC" "answering n on a terminal: $OUT"
	assert_contains "$OUT" "'ask.img' exists; overwrite it? [y/N]"
	assert_eq "precious" "$(cat ask.img)" "n keeps the file"
	run bash -c "printf 'y\n' | script -qec '${QMPCTL_WRAPPER:-} $QMPCTL image create -f qcow2 ask.img 1M' /dev/null"
	assert_eq 0 "$RC" "answering y on a terminal: $OUT"
	run qemu-img check ask.img
	assert_eq 0 "$RC" "y replaced it with a good image"
else
	note "NOTE: script(1) is missing; the terminal question is not tested"
fi
ln -s keep.img link.img
assert_exit 1 qmpctl image create link.img 1M
assert_eq 0 "$(find . -name '.*qmpctl-*' | wc -l)" "no temporary files left"

note "bad options and sizes"
assert_exit 2 qmpctl image create -f qcow2 -o cluster_size=1000 x.qcow2 1M
assert_contains "$ERR" "power of two"
assert_exit 2 qmpctl image create -f qcow2 -o refcount_bits=3 x.qcow2 1M
assert_exit 2 qmpctl image create -f qcow2 -o nosuch=1 x.qcow2 1M
assert_contains "$ERR" "unknown option 'nosuch'"
assert_exit 2 qmpctl image create -f raw -o cluster_size=4k x.raw 1M
assert_exit 2 qmpctl image create -f vmdk x.img 1M
assert_exit 2 qmpctl image create x.img 12Q
assert_contains "$ERR" "invalid size '12Q'"
assert_exit 2 qmpctl image create x.img -- -5
assert_exit 1 qmpctl image create -f qcow2 -o compat=0.10,lazy_refcounts=on x.qcow2 1M
assert_contains "$ERR" "compat=1.1"
assert_exit 1 qmpctl image create -f qcow2 -o extended_l2=on,cluster_size=4k x.qcow2 1M
assert_exit 1 qmpctl image create -f qcow2 x.qcow2
assert_contains "$ERR" "no size given"
assert_exit 1 qmpctl image create -f qcow2 -o cluster_size=512 x.qcow2 1P
assert_contains "$ERR" "too large"
[[ ! -e x.qcow2 && ! -e x.raw && ! -e x.img ]] || fail "failed creates left files behind"
assert_exit 2 qmpctl image create
assert_exit 0 qmpctl image create --help
assert_contains "$OUT" "Usage: qmpctl image create"
for s in 1k 1K 1.5M 2G 1T 512 4096b; do
	rm -f s.raw
	assert_exit 0 qmpctl image create s.raw "$s"
	qemu-img create -q -f raw q.raw "$s"
	assert_eq "$(stat -c %s q.raw)" "$(stat -c %s s.raw)" "size $s as qemu-img reads it"
	rm -f q.raw
done

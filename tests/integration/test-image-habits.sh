#!/usr/bin/env bash
# qemu-img's habits: image create prints the "Formatting" line qemu-img prints for the same options
# (unless -q); image convert defaults to -O raw, takes -n (write into an existing target) and -S
# (sparse size, 0: fully allocated); image snapshot -l takes --output json; convert's preallocation
# refusal points somewhere real.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/image-lib.sh"

mkdir -p "$T/q" "$T/m"
for d in q m; do
	(cd "$T/$d" && mk -f qcow2 base.qcow2 16M && mk -f qcow2 "b,comma.qcow2" 1M)
done

note "the Formatting line, against qemu-img create"
sets=(
	"-f qcow2 @ 16M"
	"-f raw @ 16M"
	"@ 1M"
	"-f qcow2 -o cluster_size=4k,lazy_refcounts=on,refcount_bits=8 @ 1G"
	"-f qcow2 -o compat=1.1,extended_l2=on,compression_type=zstd,preallocation=metadata @ 1G"
	"-f qcow2 -o compat=0.10 @ 1G"
	"-f qcow2 -o compat=v3 @ 1M"
	"-f qcow2 -o lazy_refcounts=true,extended_l2=true @ 1M"
	"-f qcow2 -o cluster_size=2M,refcount_bits=64 @ 1G"
	"-f qcow2 -o preallocation=off @ 1M"
	"-f qcow2 -o preallocation=falloc @ 1M"
	"-f qcow2 @ 1000"
	"-f qcow2 -b base.qcow2 -F qcow2 @"
	"-f qcow2 -b base.qcow2 -F qcow2 @ 1G"
	"-f qcow2 -o backing_file=base.qcow2,backing_fmt=qcow2 @"
	"-f qcow2 -b b,comma.qcow2 -F qcow2 @"
	"-f raw -o preallocation=falloc @ 1M"
	"-f raw -o preallocation=off @ 1M"
	"-f raw -o preallocation=full,size=2M @"
)
i=0
for s in "${sets[@]}"; do
	i=$((i + 1))
	read -r -a args <<<"${s//@/img$i}"
	want=$(cd "$T/q" && qemu-img create "${args[@]}")
	cd "$T/m"
	assert_exit 0 qmpctl image create "${args[@]}"
	assert_eq "$want" "$OUT" "image create ${args[*]} prints what qemu-img create prints"
	cd "$T"
done
cd "$T/m"
assert_exit 0 qmpctl image create -q -f qcow2 quiet.qcow2 1M
assert_eq "" "$OUT" "-q prints nothing"
assert_exit 0 qmpctl image create --quiet quiet.raw 1M
assert_eq "" "$OUT"

note "convert: -O raw by default"
mk -f qcow2 src.qcow2 16M
io src.qcow2 "write -P 0xaa 0 4k"
io src.qcow2 "write -P 0xbb 8k 4k"
io src.qcow2 "write -P 0xcc 1M 64k"
assert_exit 0 qmpctl image convert src.qcow2 out.img
assert_json "$(qemu-img info --output=json out.img)" '.format == "raw"' "no -O: raw output"
qemu-img compare -q src.qcow2 out.img || fail "default convert differs from the source"
_ok

# data PATH OFFSET LENGTH: true when qemu-img map reports that range of a raw file all as data.
data()
{
	qemu-img map -f raw --output=json "$1" |
		jq -e --argjson o "$2" --argjson l "$3" \
			'[.[] | select(.start < $o + $l and .start + .length > $o)] | length > 0 and all(.data)' >/dev/null
}

note "convert -S: sparse size"
assert_exit 0 qmpctl image convert -O raw src.qcow2 sparse.raw
data sparse.raw 4096 4096 && fail "default: the zero gap at 4k is a hole"
data sparse.raw 0 4096 || fail "default: data at 0"
_ok
assert_exit 0 qmpctl image convert -O raw -S 64k src.qcow2 s64k.raw
data s64k.raw 4096 4096 || fail "-S 64k: a 4k zero gap inside data is written, not a hole"
data s64k.raw $((2 * 1048576)) 4096 && fail "-S 64k: a long zero run is still a hole"
qemu-img compare -q src.qcow2 s64k.raw || fail "-S 64k output differs"
_ok
assert_exit 0 qmpctl image convert -O raw -S 0 src.qcow2 full.raw
data full.raw 0 $((16 * 1048576)) || fail "-S 0: every byte is allocated"
qemu-img compare -q src.qcow2 full.raw || fail "-S 0 output differs"
_ok
assert_exit 0 qmpctl image convert -O qcow2 -S 0 src.qcow2 full.qcow2
qemu-img compare -q src.qcow2 full.qcow2 || fail "-S 0 qcow2 output differs"
assert_json "$(qemu-img map --output=json full.qcow2)" 'all(.data)' "-S 0: every qcow2 cluster is allocated"
qemu-img check -q full.qcow2 || fail "check of the -S 0 qcow2 output"
assert_exit 2 qmpctl image convert -S 1000 src.qcow2 bad.raw
assert_contains "$ERR" "multiples of 512"
assert_exit 2 qmpctl image convert -S 32M src.qcow2 bad.raw
[[ ! -e bad.raw ]] || fail "a refused -S left bad.raw"

note "convert -n: into an existing target"
mk -f raw target.raw 16M
qemu-io -f raw -c "write -P 0xff 0 16M" target.raw >/dev/null
assert_exit 0 qmpctl image convert -n src.qcow2 target.raw
qemu-img compare -q src.qcow2 target.raw || fail "-n: the old contents of the target show through"
_ok
assert_eq 16777216 "$(stat -c %s target.raw)" "-n does not truncate"
mk -f raw big.raw 32M
qemu-io -f raw -c "write -P 0xff 0 32M" big.raw >/dev/null
assert_exit 0 qmpctl image convert -n -O raw src.qcow2 big.raw
assert_eq 33554432 "$(stat -c %s big.raw)" "-n keeps a larger target's size"
assert_exit 0 qemu-io -f raw -c "read -P 0xff 16M 16M" big.raw
assert_exit 0 qemu-io -f raw -c "read -P 0xcc 1M 64k" -c "read -P 0 64k 64k" big.raw
mk -f raw small.raw 8M
assert_exit 1 qmpctl image convert -n src.qcow2 small.raw
assert_contains "$ERR" "smaller than the input"
assert_exit 1 qmpctl image convert -n src.qcow2 missing.raw
assert_eq "qmpctl: missing.raw: cannot open: No such file or directory" "$ERR"
[[ ! -e missing.raw ]] || fail "-n created missing.raw"
mk -f qcow2 t.qcow2 16M
assert_exit 1 qmpctl image convert -n -O qcow2 src.qcow2 t.qcow2
assert_contains "$ERR" "-n writes into existing raw images and devices only"
# -S 0 with -n: every byte written (zeros too), the result still equal.
qemu-io -f raw -c "write -P 0xee 0 16M" target.raw >/dev/null
assert_exit 0 qmpctl image convert -n -S 0 src.qcow2 target.raw
qemu-img compare -q src.qcow2 target.raw || fail "-n -S 0 differs"
_ok

note "convert -o preallocation: the hint says what works"
assert_exit 1 qmpctl image convert -O raw -o preallocation=full src.qcow2 pre.raw
assert_not_contains "$ERR" "create the image instead"
assert_contains "$ERR" "-S 0"
[[ ! -e pre.raw ]] || fail "refused convert left pre.raw"

note "snapshot -l --output json"
qemu-img snapshot -c one src.qcow2
assert_exit 0 qmpctl --json image snapshot -l src.qcow2
json=$OUT
assert_exit 0 qmpctl image snapshot -l --output=json src.qcow2
assert_eq "$json" "$OUT" "--output=json is --json"
assert_json "$OUT" '.[0].name == "one"'
assert_exit 0 qmpctl image snapshot -l --output human src.qcow2
assert_contains "$OUT" "Snapshot list:"
assert_exit 2 qmpctl image snapshot -l --output xml src.qcow2
assert_exit 2 qmpctl image snapshot -c two --output json src.qcow2

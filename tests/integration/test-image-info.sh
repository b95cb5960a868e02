#!/usr/bin/env bash
# ctest-labels: valgrind-slow
# image info against qemu-img info: a matrix of images compared line by line (human) and key by
# key (JSON), explicit formats and backing chains.  Failures: test-image-info-errors.sh.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/image-lib.sh"

export TZ=UTC
D=$T/img
mkdir -p "$D/sub/deeper"
cd "$D"

note "building the image matrix with qemu-img and qemu-io"
images=()
for compat in 0.10 1.1; do
	for cs in 512 4096 65536 2M; do
		f=c$compat-$cs.qcow2
		mk -f qcow2 -o compat=$compat,cluster_size=$cs "$f" 3G
		io "$f" "write -P 0x11 0 1M"
		io "$f" "write -P 0x22 2G 64k"
		images+=("$f")
	done
done
for rb in 1 2 8 32 64; do
	mk -f qcow2 -o refcount_bits=$rb rb$rb.qcow2 64M
	io rb$rb.qcow2 "write -P 0x33 1M 1M"
	images+=(rb$rb.qcow2)
done
mk -f qcow2 -o lazy_refcounts=on lazy.qcow2 1G
images+=(lazy.qcow2)
mk -f qcow2 -o extended_l2=on,cluster_size=32k extl2.qcow2 1G
io extl2.qcow2 "write -P 0x44 4k 4k"
images+=(extl2.qcow2)
mk -f qcow2 -o compression_type=zstd zstd.qcow2 64M
io zstd.qcow2 "write -c -P 0x55 0 64k"
images+=(zstd.qcow2)
mk -f qcow2 zlib.qcow2 64M
io zlib.qcow2 "write -c -P 0x56 0 64k"
images+=(zlib.qcow2)
for p in metadata falloc full; do
	mk -f qcow2 -o preallocation=$p pre-$p.qcow2 20M
	images+=(pre-$p.qcow2)
done
mk -f qcow2 big.qcow2 5T
io big.qcow2 "write -P 0x66 4T 64k"
images+=(big.qcow2)
mk -f qcow2 snaps.qcow2 1G
io snaps.qcow2 "write -P 0x01 0 1M"
qemu-img snapshot -c first snaps.qcow2
io snaps.qcow2 "write -P 0x02 0 1M"
qemu-img snapshot -c "a much longer snapshot name than sixteen" snaps.qcow2
io snaps.qcow2 "write -P 0x03 512k 1M"
qemu-img snapshot -c third snaps.qcow2
images+=(snaps.qcow2)
mk -f qcow2 bitmaps.qcow2 64M
qemu-img bitmap --add bitmaps.qcow2 b0
qemu-img bitmap --add -g 128k --disable bitmaps.qcow2 b1
images+=(bitmaps.qcow2)
mk -f qcow2 -o data_file=ext.data,data_file_raw=on datafile.qcow2 64M
images+=(datafile.qcow2)
mk -f qcow2 --object secret,id=s0,data=pw -o encrypt.format=aes,encrypt.key-secret=s0 aes.qcow2 64M
images+=(aes.qcow2)
luks_ok=0
for _ in 1 2 3; do
	if mk -f qcow2 --object secret,id=s0,data=pw \
		-o encrypt.format=luks,encrypt.key-secret=s0,encrypt.iter-time=50 luks.qcow2 64M 2>/dev/null; then
		luks_ok=1
		break
	fi
done
if ((luks_ok)); then
	images+=(luks.qcow2)
else
	note "NOTE: qemu-img could not create a LUKS image on this host (pbkdf timing); LUKS not compared"
fi
mk -f raw plain.raw 10M
qemu-io -f raw -c "write -P 0x77 1M 1M" plain.raw >/dev/null
images+=(plain.raw)
truncate -s 0 empty.raw
images+=(empty.raw)
# Backing chain with relative names across directories.
mk -f qcow2 base.qcow2 2G
io base.qcow2 "write -P 0x10 0 2M"
mk -f qcow2 -b ../base.qcow2 -F qcow2 sub/mid.qcow2
io sub/mid.qcow2 "write -P 0x20 1M 1M"
mk -f qcow2 -b ../mid.qcow2 -F qcow2 sub/deeper/top.qcow2 3G
mk -f qcow2 -b "$D/base.qcow2" -F qcow2 absolute.qcow2
mk -f qcow2 -b plain.raw -F raw onraw.qcow2
images+=(sub/mid.qcow2 sub/deeper/top.qcow2 absolute.qcow2 onraw.qcow2)
# Dirty and corrupt bits set by hand (incompatible features at byte 72, bit 0 and 1).
cp lazy.qcow2 dirty.qcow2
poke dirty.qcow2 79 03
images+=(dirty.qcow2)

compare()
{
	local f=$1 want got
	shift
	want=$(qemu-img info "$@" "$f" 2>&1) || fail "qemu-img info $* $f failed: $want"
	assert_exit 0 qmpctl image info "$@" "$f"
	assert_eq "$want" "$OUT" "human info of $f ($*) equals qemu-img's"
	want=$(qemu-img info --output=json "$@" "$f")
	assert_exit 0 qmpctl image info --output json "$@" "$f"
	assert_eq "$(jq -S . <<<"$want")" "$(jq -S . <<<"$OUT")" "JSON info of $f ($*) has qemu-img's keys and values"
	assert_eq "$want" "$OUT" "JSON info of $f ($*) is laid out as qemu-img's"
}

note "comparing ${#images[@]} images with qemu-img info"
for f in "${images[@]}"; do
	compare "$f"
done
note "explicit formats, a path with a directory, and --backing-chain"
compare plain.raw -f raw
compare snaps.qcow2 -f qcow2
compare "$D/sub/../snaps.qcow2"
compare sub/deeper/top.qcow2 --backing-chain
compare absolute.qcow2 --backing-chain
compare onraw.qcow2 --backing-chain
assert_exit 0 qmpctl image info --json sub/deeper/top.qcow2 --backing-chain
assert_json "$OUT" 'length == 3 and .[2].filename == "sub/deeper/../../base.qcow2"' "--json chain is an array, top first"

note "a qcow2 read as raw with -f raw"
want=$(qemu-img info -f raw snaps.qcow2)
assert_exit 0 qmpctl image info -f raw snaps.qcow2
assert_eq "$want" "$OUT" "-f raw on a qcow2 file"


#!/usr/bin/env bash
# ctest-labels: valgrind-slow
# image convert: qcow2 <-> raw and qcow2 -> qcow2 (flattening chains) from a matrix of sources,
# checked with qemu-img compare and qemu-img check; outputs no larger on disk than qemu-img's.
# The rest (compression, progress, interruption, errors): test-image-convert-more.sh.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/image-lib.sh"

D=$T/img
mkdir -p "$D/sub"
cd "$D"

note "sources"
srcs=()
mk -f qcow2 plain.qcow2 64M
io plain.qcow2 "write -P 0x11 0 3M"
io plain.qcow2 "write -P 0x12 33M 100k"
io plain.qcow2 "write -z 1M 64k"
srcs+=(plain.qcow2)
mk -f qcow2 -o compat=0.10,cluster_size=512 v2small.qcow2 8M
io v2small.qcow2 "write -P 0x21 1000 5000"
srcs+=(v2small.qcow2)
mk -f qcow2 -o cluster_size=2M big-cluster.qcow2 5G
io big-cluster.qcow2 "write -P 0x31 4G 3M"
io big-cluster.qcow2 "write -P 0x32 4097M 1k"
srcs+=(big-cluster.qcow2)
mk -f qcow2 -o extended_l2=on,cluster_size=64k extl2.qcow2 16M
io extl2.qcow2 "write -P 0x41 2k 2k"
io extl2.qcow2 "write -z 4k 8k"
io extl2.qcow2 "write -P 0x42 1M 64k"
srcs+=(extl2.qcow2)
mk -f qcow2 zlib.qcow2 16M
io zlib.qcow2 "write -c -P 0x51 0 128k"
io zlib.qcow2 "write -P 0x52 128k 64k"
srcs+=(zlib.qcow2)
mk -f qcow2 -o compression_type=zstd zstd.qcow2 16M
io zstd.qcow2 "write -c -P 0x61 64k 192k"
srcs+=(zstd.qcow2)
mk -f qcow2 -o cluster_size=4k,refcount_bits=1 rb1.qcow2 4M
io rb1.qcow2 "write -P 0x71 0 1M"
srcs+=(rb1.qcow2)
mk -f qcow2 snaps.qcow2 16M
io snaps.qcow2 "write -P 1 0 1M"
qemu-img snapshot -c s1 snaps.qcow2
io snaps.qcow2 "write -P 2 512k 1M"
srcs+=(snaps.qcow2)
# A backing chain with relative names; the child is larger than its base and zeroes some of it.
mk -f qcow2 base.qcow2 8M
io base.qcow2 "write -P 0x81 0 8M"
mk -f qcow2 -b ../base.qcow2 -F qcow2 sub/mid.qcow2 12M
io sub/mid.qcow2 "write -P 0x82 1M 1M"
io sub/mid.qcow2 "write -z 3M 1M"
mk -f qcow2 -b mid.qcow2 -F qcow2 sub/top.qcow2
io sub/top.qcow2 "write -P 0x83 10M 64k"
srcs+=(sub/top.qcow2)
mk -f raw plain.raw 20M
qemu-io -f raw -c "write -P 0x91 4M 4M" plain.raw >/dev/null
mk -f qcow2 -b plain.raw -F raw onraw.qcow2
io onraw.qcow2 "write -P 0x92 6M 64k"
srcs+=(plain.raw onraw.qcow2)
truncate -s 1000 odd.raw
printf 'tail' | dd of=odd.raw bs=1 seek=990 conv=notrunc status=none
srcs+=(odd.raw)

du_k() { du -k "$1" | cut -f1; }
n=0
for s in "${srcs[@]}"; do
	n=$((n + 1))
	for out in raw qcow2 qcow2-c qcow2-zstd qcow2-v2 qcow2-4k qcow2-extl2; do
		dst=out-$n.$out
		theirs=theirs-$n.$out
		case $out in
		raw) args=(-O raw) ;;
		qcow2) args=(-O qcow2) ;;
		qcow2-c) args=(-O qcow2 -c) ;;
		qcow2-zstd) args=(-O qcow2 -c -o compression_type=zstd) ;;
		qcow2-v2) args=(-O qcow2 -o compat=0.10) ;;
		qcow2-4k) args=(-O qcow2 -o cluster_size=4k) ;;
		qcow2-extl2) args=(-O qcow2 -o extended_l2=on) ;;
		esac
		assert_exit 0 qmpctl image convert "${args[@]}" "$s" "$dst"
		run qemu-img compare "$s" "$dst"
		assert_eq 0 "$RC" "qemu-img compare $s $dst ($out): $OUT $ERR"
		if [[ $out == qcow2* ]]; then
			run qemu-img check "$dst"
			assert_eq 0 "$RC" "qemu-img check $dst: $OUT $ERR"
			if [[ $out == qcow2 ]]; then
				assert_exit 0 qmpctl image info --output json "$dst"
				assert_json "$OUT" '.format == "qcow2" and (has("backing-filename") | not)' "$dst is flat"
			fi
		fi
		qemu-img convert "${args[@]}" "$s" "$theirs"
		assert_le "$(du_k "$dst")" "$(du_k "$theirs")" "$dst takes no more disk than qemu-img's output"
		rm -f "$theirs"
	done
done

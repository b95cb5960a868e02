#!/usr/bin/env bash
# ctest-labels: valgrind-slow
# image convert: qcow2 <-> raw and qcow2 -> qcow2 (flattening chains) from a matrix of sources,
# checked with qemu-img compare and qemu-img check; outputs no larger on disk than qemu-img's;
# compressed output; progress; interruption and write errors leave neither DST nor a temp file.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

D=$T/img
mkdir -p "$D/sub"
cd "$D"
mk() { qemu-img create -q "$@"; }
io() { qemu-io -c "$2" "$1" >/dev/null; }

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
			assert_exit 0 qmpctl image info --output json "$dst"
			assert_json "$OUT" '.format == "qcow2" and (has("backing-filename") | not)' "$dst is flat"
		fi
		qemu-img convert "${args[@]}" "$s" "$theirs"
		assert_le "$(du_k "$dst")" "$(du_k "$theirs")" "$dst takes no more disk than qemu-img's output"
		rm -f "$theirs"
	done
done
note "compressed output is smaller and reads back"
mk -f raw zeroish.raw 16M
qemu-io -f raw -c "write -P 0xab 0 8M" zeroish.raw >/dev/null
assert_exit 0 qmpctl image convert -O qcow2 -c zeroish.raw c.qcow2
assert_le "$(du_k c.qcow2)" 1024 "8 MiB of one byte compresses to well under 1 MiB"
run qemu-img map --output=json c.qcow2
assert_json "$OUT" 'map(select(.data)) | length > 0' "clusters allocated"
run qemu-img check c.qcow2
assert_contains "$OUT" "compressed clusters"
assert_exit 0 qmpctl image convert -O raw c.qcow2 c.raw
run qemu-img compare -f raw -F raw zeroish.raw c.raw
assert_eq 0 "$RC" "our compressed clusters read back through our reader"
assert_exit 0 qmpctl image convert -O qcow2 -c -o refcount_bits=1,cluster_size=4k zeroish.raw c1.qcow2
run qemu-img check c1.qcow2
assert_eq 0 "$RC" "1-bit refcounts never share a cluster between compressed clusters: $OUT"
run qemu-img compare zeroish.raw c1.qcow2
assert_eq 0 "$RC"

note "a compressed cluster descriptor claiming the most sectors it can (two clusters' worth)"
cp zlib.qcow2 bigdesc.qcow2
l1=$(od -An -tu8 --endian=big -j40 -N8 bigdesc.qcow2 | tr -d ' ')
l2=$(($(od -An -tu8 --endian=big -j"$l1" -N8 bigdesc.qcow2 | tr -d ' ') & 0x00fffffffffffe00))
e=$(od -An -tu8 --endian=big -j"$l2" -N8 bigdesc.qcow2 | tr -d ' ')
e=$((e | 0x3fc0000000000000))
esc=$(printf '%016x' "$e" | sed 's/../\\x&/g')
# shellcheck disable=SC2059
printf "$esc" | dd of=bigdesc.qcow2 bs=1 seek="$l2" conv=notrunc status=none
run qmpctl image convert -O raw bigdesc.qcow2 bigdesc.raw
[[ "$RC" == 0 || "$RC" == 1 ]] || fail "convert of an oversized compressed descriptor: exit $RC ($ERR)"
[[ "$RC" == 1 ]] && assert_match "$ERR" '^qmpctl: bigdesc.qcow2: '
_ok

note "raw output is sparse where the source is zero"
mk -f qcow2 sparse.qcow2 1G
io sparse.qcow2 "write -P 1 512M 64k"
assert_exit 0 qmpctl image convert -O raw sparse.qcow2 sparse.raw
assert_eq 1073741824 "$(stat -c %s sparse.raw)" "raw output has the virtual size"
assert_le "$(du_k sparse.raw)" 128 "only the written 64k take space"

note "-p shows progress like qemu-img"
assert_exit 0 qmpctl image convert -p -O raw plain.qcow2 p.raw
assert_contains "$ERR" "(100.00/100%)"
assert_contains "$ERR" "(0.00/100%)"

note "DST is never replaced unless asked; encrypted sources are refused"
echo precious >exists.raw
assert_exit 1 qmpctl image convert -O raw plain.qcow2 exists.raw
assert_contains "$ERR" "exists.raw: file exists"
assert_eq precious "$(cat exists.raw)"
assert_exit 0 qmpctl image convert --overwrite -O raw plain.qcow2 exists.raw
run qemu-img compare plain.qcow2 exists.raw
assert_eq 0 "$RC"
mk -f qcow2 --object secret,id=s0,data=pw -o encrypt.format=aes,encrypt.key-secret=s0 aes.qcow2 1M
assert_exit 1 qmpctl image convert -O raw aes.qcow2 aes.raw
assert_contains "$ERR" "encrypted"
assert_exit 2 qmpctl image convert plain.qcow2 x.raw
assert_exit 2 qmpctl image convert -O raw plain.qcow2
assert_exit 2 qmpctl image convert -O raw -o cluster_size=4k plain.qcow2 x.raw
assert_exit 1 qmpctl image convert -O raw -c plain.qcow2 x.raw
assert_exit 1 qmpctl image convert -O qcow2 nonexistent.qcow2 x.qcow2
assert_eq "qmpctl: nonexistent.qcow2: cannot open: No such file or directory" "$ERR"
assert_exit 0 qmpctl image convert --help
assert_contains "$OUT" "Usage: qmpctl image convert"

leftovers() { find . -name '.*qmpctl-*' | wc -l; }
note "a write error (file size limit) leaves neither DST nor a temporary file"
run bash -c "trap '' XFSZ; ulimit -f 2048; exec ${QMPCTL_WRAPPER:-} \"$QMPCTL\" image convert -O raw plain.qcow2 limited.raw"
assert_eq 1 "$RC" "convert fails: $ERR"
assert_match "$ERR" '^qmpctl: limited.raw: cannot (write output|set the output size).*File too large'
[[ ! -e limited.raw ]] || fail "limited.raw exists after a failed convert"
assert_eq 0 "$(leftovers)" "no temporary file after a write error"
run bash -c "trap '' XFSZ; ulimit -f 2048; exec ${QMPCTL_WRAPPER:-} \"$QMPCTL\" image convert -O qcow2 plain.qcow2 limited.qcow2"
assert_eq 1 "$RC" "convert to qcow2 fails: $ERR"
assert_match "$ERR" "^qmpctl: limited.qcow2: cannot write .*File too large"
[[ ! -e limited.qcow2 ]] || fail "limited.qcow2 exists after a failed convert"
assert_eq 0 "$(leftovers)"

note "Ctrl-C (SIGINT) mid-convert leaves neither DST nor a temporary file"
# Compressing 512 MiB takes seconds: long enough to be interrupted midway.
mk -f raw huge.raw 1G
qemu-io -f raw -c "write -P 0x5a 0 512M" huge.raw >/dev/null
for sig in INT TERM; do
	# The binary itself (not the qmpctl shell function) so that BG_PID is its pid.
	bg_start "$T/conv.out" "$T/conv.err" "${_wrapper[@]}" "$QMPCTL" image convert -p -c -O qcow2 huge.raw \
		interrupted.qcow2
	wait_for_match "$T/conv.err" '\(([1-9]|[1-9][0-9])\.[0-9]{2}/100%\)' $((30 * SLOW)) "convert got going"
	kill -s "$sig" "$BG_PID"
	bg_wait "$BG_PID" $((30 * SLOW))
	assert_eq 1 "$BG_RC" "SIG$sig ends convert with status 1"
	assert_contains "$(cat "$T/conv.err")" "interrupted"
	[[ ! -e interrupted.qcow2 ]] || fail "interrupted.qcow2 exists after SIG$sig"
	assert_eq 0 "$(leftovers)" "no temporary file after SIG$sig"
done

note "a source in use by a running QEMU is refused unless -U"
mk -f qcow2 inuse.qcow2 16M
io inuse.qcow2 "write -P 7 0 1M"
qemu_start image-convert -drive "file=$D/inuse.qcow2,if=none,id=drive0,format=qcow2"
assert_exit 1 qmpctl image convert -O raw inuse.qcow2 inuse.raw
assert_contains "$ERR" "in use"
assert_exit 0 qmpctl image convert -U -O raw inuse.qcow2 inuse.raw
qemu_stop
run qemu-img compare inuse.qcow2 inuse.raw
assert_eq 0 "$RC"

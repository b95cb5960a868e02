#!/usr/bin/env bash
# ctest-labels: valgrind-slow
# image convert beyond the matrix: compressed output, oversized compressed descriptors, sparse raw
# output, progress, existing DST, encrypted sources, usage; interruption and write errors leave
# neither DST nor a temporary file; sources a running QEMU writes (-U).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/image-lib.sh"

D=$T/img
mkdir -p "$D/sub"
cd "$D"

mk -f qcow2 plain.qcow2 64M
io plain.qcow2 "write -P 0x11 0 3M"
io plain.qcow2 "write -P 0x12 33M 100k"
io plain.qcow2 "write -z 1M 64k"
mk -f qcow2 zlib.qcow2 16M
io zlib.qcow2 "write -c -P 0x51 0 128k"
io zlib.qcow2 "write -P 0x52 128k 64k"
du_k() { du -k "$1" | cut -f1; }

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
# No -O: raw, as qemu-img does.
assert_exit 0 qmpctl image convert plain.qcow2 x.raw
assert_json "$(qemu-img info --output=json x.raw)" '.format == "raw"'
rm -f x.raw
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

note "Ctrl-C (SIGINT), SIGTERM, SIGHUP mid-convert leave neither DST nor a temporary file, and qmpctl dies of them"
# Compressing 512 MiB takes seconds: long enough to be interrupted midway.
mk -f raw huge.raw 1G
qemu-io -f raw -c "write -P 0x5a 0 512M" huge.raw >/dev/null
for sig in INT TERM HUP; do
	# The binary itself (not the qmpctl shell function) so that BG_PID is its pid.
	# A file of its own per run: the previous run's progress must not count.
	bg_start "$T/conv-$sig.out" "$T/conv-$sig.err" "${_wrapper[@]}" "$QMPCTL" image convert -p -c -O qcow2 \
		huge.raw interrupted.qcow2
	wait_for_match "$T/conv-$sig.err" '\(([1-9]|[1-9][0-9])\.[0-9]{2}/100%\)' $((30 * SLOW)) "convert got going"
	kill -s "$sig" "$BG_PID"
	bg_wait "$BG_PID" $((30 * SLOW))
	# As bash reports a death by that signal: 130, 143, 129.
	assert_eq $((128 + $(kill -l "$sig"))) "$BG_RC" "SIG$sig ends convert as a death by SIG$sig"
	assert_contains "$(cat "$T/conv-$sig.err")" "interrupted"
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

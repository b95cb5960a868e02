#!/usr/bin/env bash
# ctest-labels: valgrind-slow
# Differential test of the data path: images built by qemu-io from a fixed pseudo-random script
# of compressed writes, then writes, zero writes, discards and snapshots (cluster sizes 512 B to 2 MiB,
# extended L2, both compression types, backing chains) must read the same through qmpctl as
# through QEMU: `qmpctl image convert -O raw` vs `qemu-img compare`, and an applied snapshot must
# equal qemu-img's.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

D=$T/img
mkdir -p "$D"
cd "$D"
RANDOM=20261125 # the same images every run

cluster_sizes=(512 4k 64k 64k 2M)
rounds=12
for ((r = 0; r < rounds; r++)); do
	cs=${cluster_sizes[RANDOM % ${#cluster_sizes[@]}]}
	opts="cluster_size=$cs"
	if ((RANDOM % 3 == 0)) && [[ $cs == 64k || $cs == 2M ]]; then
		opts+=",extended_l2=on"
	fi
	((RANDOM % 2)) && opts+=",compression_type=zstd"
	size=$(((RANDOM % 64 + 1) * 1048576 + (RANDOM % 8) * 512))
	base=""
	if ((RANDOM % 2)); then
		qemu-img create -q -f qcow2 "base$r.qcow2" $((size / 2))
		qemu-io -c "write -P $((RANDOM % 255 + 1)) 0 $((size / 4))" "base$r.qcow2" >/dev/null
		base="-b base$r.qcow2 -F qcow2"
	fi
	img=r$r.qcow2
	# shellcheck disable=SC2086
	qemu-img create -q -f qcow2 -o "$opts" $base "$img" "$size"
	cmds=()
	snaps=0
	# Compressed writes first: QEMU writes compressed clusters only where
	# nothing is allocated yet.
	c=$(qemu-img info --output=json "$img" | jq '."cluster-size"')
	for ((k = 0; k < 4; k++)); do
		o=$(((RANDOM * 32768 + RANDOM) % size / c * c))
		((o + c <= size)) && cmds+=(-c "write -c -P $((RANDOM % 255 + 1)) $o $c")
	done
	qemu-io "${cmds[@]}" "$img" >/dev/null 2>&1 || true
	cmds=()
	for ((k = 0; k < 24; k++)); do
		off=$(((RANDOM * 32768 + RANDOM) % size / 512 * 512))
		len=$(((RANDOM % 512 + 1) * 512))
		((off + len > size)) && len=$((size - off))
		((len > 0)) || continue
		case $((RANDOM % 6)) in
		0 | 1) cmds+=(-c "write -P $((RANDOM % 255 + 1)) $off $len") ;;
		2) cmds+=(-c "write -z $off $len") ;;
		3) cmds+=(-c "discard $off $len") ;;
		4) cmds+=(-c "write -P $((RANDOM % 255 + 1)) $off 512") ;;
		5)
			qemu-io "${cmds[@]}" "$img" >/dev/null
			cmds=()
			qemu-img snapshot -c "s$snaps" "$img"
			snaps=$((snaps + 1))
			;;
		esac
	done
	if ((${#cmds[@]})); then
		qemu-io "${cmds[@]}" "$img" >"$T/qemu-io.out" 2>&1 ||
			fail "round $r ($opts, $size bytes): qemu-io: $(grep -v '^wrote\|^[0-9]' "$T/qemu-io.out" | head -3): ${cmds[*]}"
	fi
	run qemu-img check "$img"
	assert_eq 0 "$RC" "round $r: qemu-io built a consistent image: $OUT"
	cp "$img" "orig$r.qcow2"

	assert_exit 0 qmpctl image convert -O raw "$img" "ours$r.raw"
	run qemu-img compare "$img" "ours$r.raw"
	assert_eq 0 "$RC" "round $r ($opts${base:+, backed}, $size bytes): our read equals QEMU's: $OUT $ERR"
	assert_exit 0 qmpctl image convert -O qcow2 "$img" "ours$r.qcow2"
	run qemu-img compare "$img" "ours$r.qcow2"
	assert_eq 0 "$RC" "round $r: qcow2 copy equals: $OUT"
	rm -f "ours$r.raw" "ours$r.qcow2"
	if ((snaps)); then
		s="s$((RANDOM % snaps))"
		cp "$img" "theirs$r.qcow2"
		qemu-img snapshot -a "$s" "theirs$r.qcow2"
		if [[ $cs == 512 && -z "${stopped_once:-}" ]]; then
			# Small clusters fill the refcount blocks: this apply may need
			# a new one.  Stop it before each of its writes once.
			stopped_once=1
			run env QMPCTL_TEST_APPLY_STOP_AT=0 "$QMPCTL" image snapshot -a "$s" "$img"
			writes=$(sed -n 's/^qmpctl: test: \([0-9]*\) writes and flushes$/\1/p' <<<"$ERR")
			# The loop below is only a test when it runs: the bound must be read, and be at least 1.
			[[ "$writes" =~ ^[0-9]+$ ]] || fail "round $r: no 'N writes and flushes' line from -a: $ERR"
			assert_le 1 "$writes" "round $r: -a $s counts at least one write"
			run qemu-img compare "$img" "theirs$r.qcow2"
			assert_eq 0 "$RC" "round $r: uninterrupted -a $s"
			cp "$img" "new$r.qcow2"
			for ((n = 1; n <= writes; n++)); do
				cp "orig$r.qcow2" cut.qcow2
				run env QMPCTL_TEST_APPLY_STOP_AT=$n "$QMPCTL" image snapshot -a "$s" cut.qcow2
				assert_eq 1 "$RC" "round $r: stopped before write $n"
				run qemu-img check cut.qcow2
				[[ "$RC" == 0 || ( "$RC" == 3 && "$OUT" == *"leaked clusters"* ) ]] ||
					fail "round $r: check after a stop before write $n (exit $RC): $OUT"
				qemu-img compare -q cut.qcow2 "orig$r.qcow2" 2>/dev/null ||
					qemu-img compare -q cut.qcow2 "new$r.qcow2" 2>/dev/null ||
					fail "round $r: stopped before write $n: neither the old nor the new data"
				_ok
			done
			note "round $r: -a $s stopped before each of its $writes writes and flushes"
			cp "orig$r.qcow2" "$img"
		fi
		assert_exit 0 qmpctl image snapshot -a "$s" "$img"
		run qemu-img check "$img"
		assert_eq 0 "$RC" "round $r: check after -a $s: $OUT"
		run qemu-img compare "$img" "theirs$r.qcow2"
		assert_eq 0 "$RC" "round $r: -a $s equals qemu-img's: $OUT"
	fi
	note "round $r: $opts${base:+ on a backing file}, $size bytes, $snaps snapshots"
done
# The interrupted apply above runs in one round only (the first with 512-byte clusters and a snapshot).
[[ -n "${stopped_once:-}" ]] || fail "no round stopped an apply before each of its writes"
_ok

#!/usr/bin/env bash
# QEMU dying or hanging under qmpctl: a clean error and exit 1, never a hang.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

# kill_qemu: SIGKILL the fixture's QEMU and reap it.
kill_qemu()
{
	kill -KILL "$QEMU_PID"
	wait "$QEMU_PID" 2>/dev/null || true
}

# A command blocks QEMU's main loop: pmemsave into a fifo nobody reads waits in open().
block_args()
{
	echo "val=0 size=4096 filename=$QEMU_DIR/block.fifo"
}

closed_re='[Cc]losed.*connection|[Cc]onnection.*closed'

note "QEMU killed before its greeting"
qemu_start crash1
kill -STOP "$QEMU_PID"
# -vv logs the session's state changes: "connecting -> greeting" once connected.
bg_start "$T/a.out" "$T/a.err" qmpctl -vv -t 30 qmp "$QMP_SOCK" query-status
pid=$BG_PID
wait_for_match "$T/a.err" 'connecting -> greeting' $((10 * SLOW)) "qmpctl did not connect"
kill_qemu
bg_wait "$pid" $((5 * SLOW))
assert_eq 1 "$BG_RC" "exit status when QEMU dies before the greeting"
assert_match "$(grep -v "debug:" "$T/a.err")" "^qmpctl: .*($closed_re)" "connection closed message"
assert_le "$BG_MS" $((5000 * SLOW)) "qmpctl notices at once, not at its 30 s timeout"
qemu_stop

note "QEMU killed while a command is in flight"
qemu_start crash2
mkfifo "$QEMU_DIR/block.fifo"
# shellcheck disable=SC2046
bg_start "$T/b.out" "$T/b.err" qmpctl -v -t 30 qmp "$QMP_SOCK" pmemsave $(block_args)
pid=$BG_PID
wait_for_match "$T/b.err" '-> .*"pmemsave"' $((10 * SLOW)) "pmemsave was not sent"
sleep 0.3
kill_qemu
bg_wait "$pid" $((5 * SLOW))
assert_eq 1 "$BG_RC" "exit status when QEMU dies during a command"
errors=$(grep -v '^\[' "$T/b.err" || true)
assert_match "$errors" "^qmpctl: .*($closed_re)" "connection closed message"
assert_eq 1 "$(line_count "$errors")" "one error line"
assert_le "$BG_MS" $((5000 * SLOW)) "qmpctl notices at once"
assert_eq "" "$(cat "$T/b.out")" "nothing on stdout"
qemu_stop

note "QEMU killed in the middle of a --batch pipeline"
qemu_start crash3
mkfifo "$QEMU_DIR/block.fifo"
{
	printf 'query-status\nquery-name\n{"execute": "query-kvm"}\n'
	echo "pmemsave $(block_args)"
	for ((i = 0; i < 200; i++)); do echo query-status; done
} >"$T/batch.in"
BG_STDIN=$T/batch.in bg_start "$T/c.out" "$T/c.err" qmpctl -v -t 30 qmp "$QMP_SOCK" --batch
pid=$BG_PID
wait_for_match "$T/c.err" '-> .*"pmemsave"' $((10 * SLOW)) "pmemsave was not sent"
sleep 0.3
kill_qemu
bg_wait "$pid" $((5 * SLOW))
assert_eq 1 "$BG_RC" "exit status when QEMU dies during --batch"
errors=$(grep -v '^\[' "$T/c.err" || true)
assert_match "$errors" "^qmpctl: .*($closed_re)" "connection closed message"
# One line per command left without a reply is allowed, but each must say why.
others=$(grep -Ev "^qmpctl: .*($closed_re)" <<<"$errors" || true)
assert_eq "" "$others" "every error line is about the closed connection"
assert_le "$(line_count "$errors")" 201 "at most one error line per command left without a reply"
assert_le "$BG_MS" $((5000 * SLOW)) "qmpctl notices at once"
out=$(cat "$T/c.out")
# One line per command, so output stays in step with input: an error line for each left unanswered.
assert_eq 204 "$(line_count "$out")" "a line for every command"
assert_json "$(sed -n 1p <<<"$out")" '.status == "running"' "replies before the crash are printed in order"
assert_eq 0 "$(sed -n '5,$p' <<<"$out" | jq -c 'select((.error.desc // "") | test("'"$closed_re"'") | not)' | wc -l)" \
	"the lines of the commands after pmemsave are errors about the closed connection"
assert_json "$(sed -n 4p <<<"$out")" '.error.desc | test("pmemsave")' "pmemsave's line names it"
qemu_stop

note "QEMU killed while events are awaited"
qemu_start crash4
bg_start "$T/d.out" "$T/d.err" qmpctl -v -t 30 events "$QMP_SOCK"
pid=$BG_PID
wait_for_match "$T/d.err" '<- \{"return": ?\{\}' $((10 * SLOW)) "qmpctl events did not negotiate capabilities"
kill_qemu
bg_wait "$pid" $((5 * SLOW))
assert_eq 1 "$BG_RC" "events exit status when QEMU dies"
errors=$(grep -v '^\[' "$T/d.err" || true)
assert_match "$errors" "^qmpctl: .*($closed_re)" "connection closed message (events)"
qemu_stop

note "a command that takes longer than -t"
qemu_start slow
mkfifo "$QEMU_DIR/block.fifo"
# shellcheck disable=SC2046
assert_exit 1 qmpctl -t 2 qmp "$QMP_SOCK" pmemsave $(block_args)
assert_match "$ERR" '^qmpctl: .*(time|[0-9] ?s)' "a timeout message"
assert_le 1500 "$ELAPSED_MS" "waits for the timeout"
assert_le "$ELAPSED_MS" $((6000 * SLOW)) "gives up soon after -t 2"
# Let QEMU finish the command: read the fifo.
bg_start "$T/blob" "$T/cat.err" cat "$QEMU_DIR/block.fifo"
bg_wait "$BG_PID" 10
assert_eq 4096 "$(stat -c %s "$T/blob")" "QEMU wrote the memory once unblocked"
assert_exit 0 qmpctl --json qmp "$QMP_SOCK" query-status
assert_json "$OUT" '.status == "running"' "the monitor answers the next client"

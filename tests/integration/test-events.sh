#!/usr/bin/env bash
# The events verb: STOP/RESUME seen on one monitor while stop/cont go through the other,
# --filter, --count, -t, SIGTERM and SIGINT.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

qemu_start events

# start_events OUT ERR ARGS...: run `qmpctl -v events $QMP_SOCK ARGS...` in the background and wait
# until it has negotiated capabilities (its -v log shows the reply), so no event can be missed.
start_events()
{
	local out=$1 err=$2
	shift 2
	bg_start "$out" "$err" qmpctl -v events "$QMP_SOCK" "$@"
	wait_for_match "$err" '<- \{"return": ?\{\}' $((10 * SLOW)) "qmpctl events did not negotiate capabilities"
}

stop_cont()
{
	assert_exit 0 qmpctl qmp "$QMP_SOCK2" stop
	assert_exit 0 qmpctl qmp "$QMP_SOCK2" cont
}

note "--count 2 sees STOP then RESUME"
start_events "$T/ev.out" "$T/ev.err" --count 2
pid=$BG_PID
stop_cont
bg_wait "$pid" $((10 * SLOW))
assert_eq 0 "$BG_RC" "events --count 2 exit status (stderr: $(grep -v '] [<>-]' "$T/ev.err" || true))"
lines=$(cat "$T/ev.out")
assert_eq 2 "$(line_count "$lines")" "two event lines"
assert_json "$(sed -n 1p <<<"$lines")" '.event == "STOP" and (.timestamp.seconds | type) == "number"' "first line is STOP"
assert_json "$(sed -n 2p <<<"$lines")" '.event == "RESUME" and (.timestamp.microseconds | type) == "number"' "second line is RESUME"
assert_json "$(sed -n 1p <<<"$lines")" 'keys - ["event", "data", "timestamp"] == []' "the event message, nothing else"
bad=$(grep -v '^{.*}$' <<<"$lines" || true)
assert_eq "" "$bad" "each event is one compact JSON object per line"

note "--filter RESUME prints only RESUME"
start_events "$T/f.out" "$T/f.err" --filter RESUME --count 1
pid=$BG_PID
stop_cont
bg_wait "$pid" $((10 * SLOW))
assert_eq 0 "$BG_RC" "events --filter RESUME --count 1 exit status"
assert_eq 1 "$(line_count "$(cat "$T/f.out")")" "one line"
assert_json "$(cat "$T/f.out")" '.event == "RESUME"' "the line is RESUME"

note "--filter with a list, until the timeout"
start_events "$T/l.out" "$T/l.err" --filter RESUME,STOP,NO_SUCH_EVENT -t $((3 * SLOW))
pid=$BG_PID
stop_cont
assert_exit 0 qmpctl qmp "$QMP_SOCK2" stop
bg_wait "$pid" $((10 * SLOW))
assert_eq 0 "$BG_RC" "events -t without --count ends with 0"
assert_eq "STOP RESUME STOP" "$(jq -r .event "$T/l.out" | tr '\n' ' ' | sed 's/ $//')" "events in order"
assert_eq "qmpctl: warning: 'NO_SUCH_EVENT' is not an event of this QEMU (query-qmp-schema)" \
	"$(grep '^qmpctl: ' "$T/l.err")" "a warning for the name that is no event, none for STOP and RESUME"
assert_exit 0 qmpctl qmp "$QMP_SOCK2" cont

note "events -t 1 with nothing happening"
assert_exit 0 qmpctl events "$QMP_SOCK" -t 1
assert_eq "" "$OUT" "no events printed"
assert_le 900 "$ELAPSED_MS" "events -t 1 waits about a second"
assert_le "$ELAPSED_MS" $((4000 * SLOW)) "events -t 1 ends soon after a second"

note "--count with fewer events than asked before the timeout -> exit 1"
assert_exit 1 qmpctl events "$QMP_SOCK" --count 1 -t 1
assert_match "$ERR" '^qmpctl: ' "an error message"
assert_le "$ELAPSED_MS" $((4000 * SLOW)) "gives up at the timeout"

note "events printed as they arrive (flushed per line)"
start_events "$T/s.out" "$T/s.err" --filter STOP
pid=$BG_PID
assert_exit 0 qmpctl qmp "$QMP_SOCK2" stop
wait_for_match "$T/s.out" '"STOP"' $((5 * SLOW)) "STOP was not printed while qmpctl events kept running"
assert_exit 0 qmpctl qmp "$QMP_SOCK2" cont

note "SIGTERM ends events with status 0"
kill -TERM "$pid"
bg_wait "$pid" $((5 * SLOW))
assert_eq 0 "$BG_RC" "exit status after SIGTERM"
assert_eq 1 "$(line_count "$(cat "$T/s.out")")" "the STOP line stays the only output"

note "SIGINT ends events with status 0"
# A background job of a non-interactive shell ignores SIGINT; env gives it back its default.
bg_start "$T/i.out" "$T/i.err" env --default-signal=INT "${_wrapper[@]}" "$QMPCTL" -v events "$QMP_SOCK"
pid=$BG_PID
wait_for_match "$T/i.err" '<- \{"return": ?\{\}' $((10 * SLOW)) "qmpctl events did not negotiate capabilities"
kill -INT "$pid"
bg_wait "$pid" $((5 * SLOW))
assert_eq 0 "$BG_RC" "exit status after SIGINT"

note "the monitor serves the next client after each events run"
assert_exit 0 qmpctl --json qmp "$QMP_SOCK" query-status
assert_json "$OUT" '.status == "running"'

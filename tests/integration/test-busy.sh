#!/usr/bin/env bash
# A monitor already serving a client: qmpctl must give up after -t with a clear message, not hang.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

qemu_start busy

note "socat holds the first monitor"
mkfifo "$T/hold"
# socat's stdin is the fifo, kept open by fd 7, so it never sees EOF and stays connected.
exec 7<>"$T/hold"
BG_STDIN=$T/hold bg_start "$T/socat.out" "$T/socat.err" socat - "UNIX-CONNECT:$QMP_SOCK"
socat_pid=$BG_PID
wait_for_match "$T/socat.out" '"QMP"' 10 "socat got no greeting"

assert_exit 1 qmpctl -t 2 qmp "$QMP_SOCK" query-status
assert_contains "$ERR" "qmpctl: no greeting from $QMP_SOCK within 2 s" "busy monitor message"
assert_contains "$ERR" "another client" "busy monitor message names the cause"
assert_le 1500 "$ELAPSED_MS" "waits for the timeout"
assert_le "$ELAPSED_MS" $((6000 * SLOW)) "gives up soon after -t 2"
assert_eq "" "$OUT" "nothing on stdout"

# Connections that gave up stay in the monitor's listen queue until QEMU accepts them, so later
# attempts may find the queue full and fail at once: either way the message must say why.
assert_exit 1 qmpctl -t 1 hmp "$QMP_SOCK" 'info status'
assert_contains "$ERR" "(QEMU serves one client per monitor socket)" "hmp on a busy monitor"
assert_le "$ELAPSED_MS" $((5000 * SLOW)) "hmp gives up soon"
assert_exit 1 qmpctl -t 1 qmp "$QMP_SOCK" --batch
assert_contains "$ERR" "(QEMU serves one client per monitor socket)" "--batch on a busy monitor"
assert_le "$ELAPSED_MS" $((5000 * SLOW)) "--batch gives up soon"

note "the second monitor still works meanwhile"
assert_exit 0 qmpctl --json qmp "$QMP_SOCK2" query-status
assert_json "$OUT" '.status == "running"'

note "a qmpctl events holds the second monitor"
bg_start "$T/ev.out" "$T/ev.err" qmpctl -v events "$QMP_SOCK2"
ev_pid=$BG_PID
wait_for_match "$T/ev.err" '<- \{"return": ?\{\}' $((10 * SLOW)) "qmpctl events did not negotiate capabilities"
assert_exit 1 qmpctl --socket "$QMP_SOCK2" -t 2 qmp query-status
assert_contains "$ERR" "no greeting from $QMP_SOCK2 within 2 s" "busy second monitor"
assert_contains "$ERR" "another client"
kill -TERM "$ev_pid"
bg_wait "$ev_pid" $((5 * SLOW))
assert_eq 0 "$BG_RC" "events exit status after SIGTERM"

note "once the holder leaves, the monitor answers again"
kill -TERM "$socat_pid"
bg_wait "$socat_pid" 5
exec 7>&-
assert_exit 0 qmpctl -t 10 --json qmp "$QMP_SOCK" query-status
assert_json "$OUT" '.status == "running"' "first monitor free again"
assert_exit 0 qmpctl -t 10 --json qmp "$QMP_SOCK2" query-status
assert_json "$OUT" '.status == "running"' "second monitor free again"

#!/usr/bin/env bash
# tap --reconnect: listens before QEMU is there (clients wait for their greeting), closes every
# client when QEMU goes away but keeps running, and serves again once a QEMU is back.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

# QEMU's socket path changes with every start: the tap follows a symlink we re-point.
VM=$T/vm.qmp
TAP=$T/tap.sock
LOG=$T/tap.out # --log - : the log goes to stdout
ln -s "$T/nothing-yet" "$VM"

bg_start "$T/tap.out" "$T/tap.err" qmpctl tap "$VM" --listen "$TAP" --log - --reconnect
TAP_PID=$BG_PID
deadline=$((SECONDS + 10 * SLOW))
until [[ -S "$TAP" ]]; do
	_qf_alive "$TAP_PID" || fail "tap ended: $(cat "$T/tap.err")"
	((SECONDS < deadline)) || fail "tap did not listen without a QEMU"
	sleep 0.05
done
_ok

# client NAME: a socat client fed from a fifo; sets fd in KEYS_NAME, pid in PID_NAME.
client()
{
	local name=$1 fd
	mkfifo "$T/$name.in"
	socat -t 1 - "UNIX-CONNECT:$TAP" <"$T/$name.in" >"$T/$name.out" 2>/dev/null &
	printf -v "PID_$name" %s "$!"
	_bg_pids+=("$!")
	exec {fd}>"$T/$name.in"
	printf -v "KEYS_$name" %s "$fd"
}

note "a client connecting while there is no QEMU waits for its greeting"
client a
sleep $((1 * SLOW))
assert_eq "" "$(cat "$T/a.out")" "no greeting without a QEMU"
_qf_alive "$TAP_PID" || fail "the tap ended without a QEMU"
_ok

note "a client that gives up on the greeting is told the tap waits for QEMU"
assert_exit 1 qmpctl qmp "$TAP" query-name -t 1
assert_match "$ERR" "^qmpctl: no greeting from $TAP within 1 s: it is a qmpctl tap \\(pid [0-9]+\\) waiting for QEMU to come" \
	"says what the tap is waiting for"
assert_not_contains "$ERR" "another client" "not a busy monitor"
assert_exit 1 qmpctl events "$TAP" -t 1
assert_match "$ERR" "^qmpctl: no greeting from $TAP within 1 s: it is a qmpctl tap \\(pid [0-9]+\\) waiting for QEMU" \
	"events says so too"

note "once QEMU is there the waiting client is greeted and served"
qemu_start first
ln -sfn "$QMP_SOCK" "$VM"
wait_for_match "$T/a.out" '"QMP"' $((10 * SLOW)) "the waiting client was never greeted"
printf '%s\n' '{"execute":"qmp_capabilities"}' '{"execute":"query-name","id":1}' >&"$KEYS_a"
wait_for_match "$T/a.out" '"id": ?1' $((10 * SLOW))
assert_json "$(grep '"id"' "$T/a.out")" '.return.name == "first"' "served by the first QEMU"

note "QEMU going away closes the clients, the tap stays"
qemu_stop
wait_for_match "$LOG" '"dir":"disconnect","client":1,"note":"the connection to QEMU ended"' $((10 * SLOW)) \
	"client a was not closed"
exec {KEYS_a}>&-
bg_wait "$PID_a" $((10 * SLOW))
sleep 0.5
_qf_alive "$TAP_PID" || fail "the tap ended with --reconnect: $(cat "$T/tap.err")"
_ok
[[ -S "$TAP" ]] || fail "the socket went away"
_ok
assert_contains "$(cat "$T/tap.err")" "connecting again" "the tap says it reconnects"

note "a new QEMU: new clients are served by it"
qemu_start second
ln -sfn "$QMP_SOCK" "$VM"
deadline=$((SECONDS + 10 * SLOW))
until [[ $(grep -c '"connected to QEMU"' "$LOG") -ge 2 ]]; do
	((SECONDS < deadline)) || fail "the tap did not reconnect: $(cat "$T/tap.err")"
	sleep 0.1
done
_ok
assert_exit 0 qmpctl --json qmp "$TAP" query-name
assert_json "$OUT" '.name == "second"' "served by the second QEMU"

note "SIGTERM: exit 0, socket removed"
kill -TERM "$TAP_PID"
bg_wait "$TAP_PID" $((10 * SLOW))
assert_eq 0 "$BG_RC" "exit status after SIGTERM"
[[ ! -e "$TAP" ]] || fail "socket left behind"
_ok

#!/usr/bin/env bash
# reboot: with no guest OS the powerdown gets no SHUTDOWN, so reboot must set shutdown=pause,
# give up after -t with a clear error and set the action back; --reset resets at once (a RESET
# event on the other monitor).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

qemu_start reboot

note "reboot without a guest: shutdown=pause, powerdown, no SHUTDOWN within -t, action restored"
assert_exit 1 qmpctl -v reboot -t 1 "$QMP_SOCK"
assert_contains "$ERR" "reboot failed, shutdown action set back to poweroff: no SHUTDOWN event within 1 s" "reboot error"
sent=$(grep -o '"execute":"[a-z_-]*"\(,"arguments":{[^}]*}\)\?' <<<"$ERR" | grep -v qmp_capabilities | tr '\n' ' ')
assert_eq '"execute":"set-action","arguments":{"shutdown":"pause"} "execute":"system_powerdown" "execute":"set-action","arguments":{"shutdown":"poweroff"} ' \
	"$sent" "commands sent, in order"
_qf_alive "$QEMU_PID" || fail "QEMU ended"
assert_exit 0 qmpctl --json qmp "$QMP_SOCK2" query-status
assert_json "$OUT" '.status == "running"' "still running"

note "reboot --reset: a RESET event on the other monitor"
bg_start "$T/ev.out" "$T/ev.err" qmpctl -v events "$QMP_SOCK2" --count 1 --filter RESET
wait_for_match "$T/ev.err" '<- \{"return": ?\{\}' $((10 * SLOW)) "qmpctl events did not negotiate capabilities"
assert_exit 0 qmpctl reboot --reset "$QMP_SOCK"
assert_eq "Domain '$QMP_SOCK' was reset" "$OUT" "reboot --reset message"
bg_wait "$BG_PID" $((10 * SLOW))
assert_eq 0 "$BG_RC" "events --count 1 exit status"
assert_contains "$(cat "$T/ev.out")" "RESET" "RESET event seen"

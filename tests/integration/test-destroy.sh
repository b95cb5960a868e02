#!/usr/bin/env bash
# shutdown and destroy: with no guest OS system_powerdown gets no SHUTDOWN, so shutdown --wait
# fails after -t; destroy (also --graceful) ends the QEMU and exits 0.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

qemu_start destroy

note "shutdown sends system_powerdown"
assert_exit 0 qmpctl -v shutdown "$QMP_SOCK"
assert_eq "Domain '$QMP_SOCK' is being shutdown" "$OUT" "shutdown message"
assert_contains "$ERR" '"execute":"system_powerdown"' "system_powerdown sent"

note "shutdown --wait without a guest: no SHUTDOWN within -t"
assert_exit 1 qmpctl shutdown --wait -t 1 "$QMP_SOCK"
assert_contains "$ERR" "no SHUTDOWN event within 1 s" "shutdown --wait error"
_qf_alive "$QEMU_PID" || fail "QEMU ended after shutdown without a guest"

note "destroy --graceful: powerdown, no answer within -t, then quit"
assert_exit 0 qmpctl -v destroy --graceful -t 1 "$QMP_SOCK"
assert_eq "Domain '$QMP_SOCK' destroyed" "$OUT" "destroy message"
assert_contains "$ERR" '"execute":"system_powerdown"' "powerdown tried first"
assert_contains "$ERR" '"execute":"quit"' "then quit"
bg_wait "$QEMU_PID" $((10 * SLOW))
_qf_alive "$QEMU_PID" && fail "QEMU still runs after destroy"

qemu_start destroy2
note "destroy ends QEMU"
assert_exit 0 qmpctl destroy "$QMP_SOCK"
assert_eq "Domain '$QMP_SOCK' destroyed" "$OUT" "destroy message"
bg_wait "$QEMU_PID" $((10 * SLOW))
_ok

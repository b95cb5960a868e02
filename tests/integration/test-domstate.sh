#!/usr/bin/env bash
# Domain verbs: domstate in virsh's words, suspend/resume observed through query-status on the
# other monitor, reset seen as a RESET event there.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

qemu_start domstate

note "domstate of a running VM"
assert_exit 0 qmpctl domstate "$QMP_SOCK"
assert_eq "running" "$OUT" "domstate"
assert_exit 0 qmpctl domstate --reason "$QMP_SOCK"
assert_eq "running (unknown)" "$OUT" "domstate --reason"

note "domstate of a shut-off domain (a domain file, no process)"
mkdir -p "$T/lv" "$T/run"
printf '<domain type="kvm">\n  <name>off%s</name>\n  <uuid>6e1c7a20-2222-4c2b-8e3a-0a0b0c0d0e0f</uuid>\n</domain>\n' $$ \
	>"$T/lv/off$$.xml"
assert_exit 0 qmpctl --libvirt-dir "$T/lv" --run-dir "$T/run" domstate --reason "off$$"
assert_eq "shut off (unknown)" "$OUT" "domstate --reason of a shut-off domain"
assert_exit 0 qmpctl --libvirt-dir "$T/lv" --run-dir "$T/run" --json domstate "off$$"
assert_json "$OUT" '.state == "shut off" and .status == "shutoff"' "domstate --json of a shut-off domain"

note "suspend pauses the VM"
assert_exit 0 qmpctl suspend "$QMP_SOCK"
assert_eq "Domain '$QMP_SOCK' suspended" "$OUT" "suspend message"
assert_exit 0 qmpctl --json qmp "$QMP_SOCK2" query-status
assert_json "$OUT" '.running == false and .status == "paused"' "paused after suspend"
assert_exit 0 qmpctl domstate --reason "$QMP_SOCK"
assert_eq "paused (user)" "$OUT" "domstate --reason of a suspended VM"
assert_exit 0 qmpctl --json domstate "$QMP_SOCK"
assert_json "$OUT" '.state == "paused" and .reason == "user" and .status == "paused"' "domstate --json"

note "resume runs it again"
assert_exit 0 qmpctl resume "$QMP_SOCK"
assert_eq "Domain '$QMP_SOCK' resumed" "$OUT" "resume message"
assert_exit 0 qmpctl --json qmp "$QMP_SOCK2" query-status
assert_json "$OUT" '.running == true and .status == "running"' "running after resume"

note "reset: a RESET event on the other monitor"
bg_start "$T/ev.out" "$T/ev.err" qmpctl -v events "$QMP_SOCK2" --count 1 --filter RESET
wait_for_match "$T/ev.err" '<- \{"return": ?\{\}' $((10 * SLOW)) "qmpctl events did not negotiate capabilities"
assert_exit 0 qmpctl reset "$QMP_SOCK"
assert_eq "Domain '$QMP_SOCK' was reset" "$OUT" "reset message"
bg_wait "$BG_PID" $((10 * SLOW))
assert_eq 0 "$BG_RC" "events --count 1 exit status"
assert_contains "$(cat "$T/ev.out")" "RESET" "RESET event seen"

note "usage"
assert_exit 2 qmpctl domstate "$QMP_SOCK" extra
assert_exit 0 qmpctl suspend --help
assert_contains "$OUT" "Usage: qmpctl suspend" "suspend --help"

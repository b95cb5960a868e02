#!/usr/bin/env bash
# The verb table: common options before and after the verb, one-line usage errors with a Try line,
# the nearest verb suggested, --help for every entry.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

note "--help lists the sub-verbs, and every entry's --help is its usage"
assert_exit 0 qmpctl --help
for sub in "snapshot create" "snapshot list" "image convert" "image snapshot"; do
	assert_match "$OUT" "^  $sub " "qmpctl --help lists '$sub'"
done
entries=$(sed -n '/^Commands:/,/^$/s/^  \([a-z]\{1,\}\( [a-z]\{1,\}\)\{0,1\}\)  .*/\1/p' <<<"$OUT")
assert_le 18 "$(line_count "$entries")" "the command list holds every table entry"
while read -r entry; do
	# shellcheck disable=SC2086
	assert_exit 0 qmpctl $entry --help
	assert_match "$OUT" '^Usage: qmpctl' "qmpctl $entry --help starts with Usage:"
	assert_contains "$OUT" "qmpctl $entry" "qmpctl $entry --help describes it"
	assert_eq "" "$ERR" "qmpctl $entry --help: nothing on stderr"
done <<<"$entries"

note "a usage error is one line and where to read more, exit 2"
try() { printf "qmpctl: %s\nTry 'qmpctl %s--help' for more information." "$1" "${2:+$2 }"; }
assert_exit 2 qmpctl image info
assert_eq "$(try "no FILE given" "image info")" "$ERR" "image info without FILE"
assert_eq "" "$OUT" "usage error: nothing on stdout"
assert_exit 2 qmpctl list extra
assert_eq "$(try "unexpected argument 'extra'" list)" "$ERR" "list with an argument"
assert_exit 2 qmpctl snapshot info /tmp/x.qmp
assert_eq "$(try "no snapshot name given" "snapshot info")" "$ERR" "snapshot info without NAME"
assert_exit 2 qmpctl hmp
assert_eq "$(try "no VM given" hmp)" "$ERR" "hmp without VM"
assert_exit 2 qmpctl disks /tmp/x.qmp --no-such-option
assert_eq "$(try "unknown option or missing argument: '--no-such-option'" disks)" "$ERR" "unknown option"
assert_exit 2 qmpctl list --timeout=0
assert_eq "$(try "invalid timeout '0': expected a number of seconds greater than 0" list)" "$ERR" "bad value"
assert_exit 2 qmpctl snapshot list /tmp/x.qmp --paused
assert_eq "$(try "unknown option or missing argument: '--paused'" "snapshot list")" "$ERR" \
	"another sub-verb's option"
assert_exit 2 qmpctl
assert_eq "$(try "no command given")" "$ERR" "no command"

note "an unknown verb or sub-verb suggests the nearest"
assert_exit 2 qmpctl snapshot-list
assert_eq "qmpctl: unknown command 'snapshot-list'
Did you mean 'snapshot list'?
Try 'qmpctl --help' for more information." "$ERR" "snapshot-list"
assert_exit 2 qmpctl lsit
assert_contains "$ERR" "Did you mean 'list'?" "lsit"
assert_exit 2 qmpctl snapshot lst VM
assert_contains "$ERR" "unknown subcommand 'lst'" "snapshot lst"
assert_contains "$ERR" "Did you mean 'snapshot list'?" "snapshot lst"
assert_exit 2 qmpctl frobnicate
assert_not_contains "$ERR" "Did you mean" "nothing is near frobnicate"
assert_exit 2 qmpctl snapshot
assert_eq "$(try "no subcommand given (create, list, info, revert, delete)" snapshot)" "$ERR" "snapshot alone"

note "common options after the verb: image create, image info"
assert_exit 0 qmpctl image create -f qcow2 "$T/after.qcow2" 16M --json
assert_exit 0 qmpctl --json image create -f qcow2 "$T/before.qcow2" 16M
assert_exit 0 qmpctl image info --json "$T/after.qcow2"
after=$(jq -c 'del(.filename)' <<<"$OUT")
assert_exit 0 qmpctl --json image info "$T/before.qcow2"
assert_eq "$after" "$(jq -c 'del(.filename)' <<<"$OUT")" "--json before and after image info: same output"
assert_json "$after" '.format == "qcow2" and ."virtual-size" == 16777216' "image info --json is JSON"

qemu_start cli
empty=$T/empty
mkdir -p "$empty"

note "common options after the verb: list, qmp, -s, -v"
# Only our VM: other tests' QEMUs come and go in parallel.
ours() { jq -c --argjson pid "$QEMU_PID" '[.[] | select(.pid == $pid)]' <<<"$1"; }
assert_exit 0 qmpctl --libvirt-dir "$empty" --run-dir "$empty" --json list
before=$(ours "$OUT")
assert_json "$before" 'length == 1 and .[0].name == "cli" and .[0].state == "running"' "--json list finds the VM"
assert_exit 0 qmpctl list --json --libvirt-dir "$empty" --run-dir "$empty"
assert_eq "$before" "$(ours "$OUT")" "list --json and --json list: same output"
assert_exit 0 qmpctl list --libvirt-dir "$empty" --run-dir "$empty"
assert_not_contains "$OUT" '"name"' "list without --json: a table"
assert_exit 0 qmpctl qmp query-name --socket "$QMP_SOCK" --json
assert_eq '{"name":"cli"}' "$OUT" "--socket and --json after the verb"
assert_exit 0 qmpctl hmp "$QMP_SOCK" info name -v
assert_contains "$ERR" '"execute"' "-v after the verb traces"
assert_exit 0 qmpctl --libvirt-dir "$empty" --run-dir "$empty" hmp cli info name
assert_contains "$OUT" "cli" "a VM found by name"

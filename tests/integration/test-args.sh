#!/usr/bin/env bash
# QMP arguments: key=value (dotted keys nest, JSON-typed values), one JSON object, and QMP errors.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

qemu_start args
version=$(qemu_version)
[[ -n "$version" ]] || fail "cannot read the version of $QEMU_BIN"

note "no arguments"
assert_exit 0 qmpctl --json qmp "$QMP_SOCK" query-name
assert_eq '{"name":"args"}' "$(jq -c . <<<"$OUT")" "query-name"

note "key=value with a space in the value"
assert_exit 0 qmpctl --json qmp "$QMP_SOCK" human-monitor-command command-line='info version'
assert_json "$OUT" 'type == "string"' "human-monitor-command returns a string"
assert_contains "$(jq -r . <<<"$OUT")" "$version" "HMP info version through key=value"

note "one JSON object"
assert_exit 0 qmpctl --json qmp "$QMP_SOCK" human-monitor-command '{"command-line": "info status"}'
assert_contains "$(jq -r . <<<"$OUT")" "VM status: running" "HMP info status through a JSON object"

note "dotted keys nest, numbers stay numbers"
assert_exit 0 qmpctl --json qmp "$QMP_SOCK" blockdev-add driver=raw node-name=r0 file.driver=null-co file.size=1048576
assert_eq '{}' "$(jq -c . <<<"$OUT")" "blockdev-add with nested file.* keys"
assert_exit 0 qmpctl --json qmp "$QMP_SOCK" query-named-block-nodes flat=true
assert_json "$OUT" 'map(select(."node-name" == "r0"))[0].image."virtual-size" == 1048576' \
	"node r0 exists with the size given as a number"
assert_json "$OUT" 'map(select(."node-name" == "r0"))[0].drv == "raw"' "node r0 is raw"

note "a JSON object with nesting"
assert_exit 0 qmpctl --json qmp "$QMP_SOCK" blockdev-add \
	'{"driver": "raw", "node-name": "r1", "file": {"driver": "null-co", "size": 2097152}}'
assert_exit 0 qmpctl --json qmp "$QMP_SOCK" query-named-block-nodes '{"flat": true}'
assert_json "$OUT" 'map(select(."node-name" == "r1"))[0].image."virtual-size" == 2097152' "node r1 from a JSON object"

note "a quoted JSON string value stays a string"
assert_exit 1 qmpctl qmp "$QMP_SOCK" blockdev-add driver=raw node-name=r2 file.driver=null-co 'file.size="4096"'
assert_match "$ERR" '^qmpctl: GenericError: .*size' "a JSON string where QEMU wants an integer"

note "unknown command -> CommandNotFound, exit 1"
assert_exit 1 qmpctl qmp "$QMP_SOCK" no-such-command
assert_match "$ERR" '^qmpctl: CommandNotFound: .*no-such-command' "CommandNotFound message"
assert_eq "" "$OUT" "nothing on stdout after an error"

note "bad arguments -> GenericError, exit 1"
assert_exit 1 qmpctl qmp "$QMP_SOCK" query-name bogus=1
assert_match "$ERR" "^qmpctl: GenericError: .*bogus" "unexpected parameter"
assert_exit 1 qmpctl qmp "$QMP_SOCK" blockdev-add driver=raw node-name=r0 file.driver=null-co file.size=1
assert_match "$ERR" "^qmpctl: GenericError: .*r0" "duplicate node name"
assert_exit 1 qmpctl qmp "$QMP_SOCK" human-monitor-command
assert_match "$ERR" "^qmpctl: GenericError: .*command-line" "missing parameter"

note "malformed arguments are usage errors"
assert_exit 2 qmpctl qmp "$QMP_SOCK" query-name '{"unterminated": '
assert_match "$ERR" '^qmpctl: ' "bad JSON object"
assert_exit 2 qmpctl qmp "$QMP_SOCK" query-name '[1, 2]'
assert_match "$ERR" '^qmpctl: ' "a JSON array is not an argument object"

note "the VM is still fine"
assert_exit 0 qmpctl --json qmp "$QMP_SOCK2" query-status
assert_json "$OUT" '.status == "running"'

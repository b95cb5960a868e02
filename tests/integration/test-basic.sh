#!/usr/bin/env bash
# Program basics: --version, --help for every verb, usage errors, connect errors, query-status, -v.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

note "--version"
assert_exit 0 qmpctl --version
assert_eq "qmpctl 0.1.0" "$OUT" "--version output"

note "--help on the program and on every verb goes to stdout with exit 0"
assert_exit 0 qmpctl --help
# the verbs listed under "Commands:" in the program's help, and at least these three
verbs=$(sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z-]*\) .*/\1/p' <<<"$OUT" | tr '\n' ' ')
for verb in qmp hmp events; do
	assert_contains " $verbs" " $verb " "qmpctl --help lists the $verb verb"
done
for verb in "" $verbs; do
	# shellcheck disable=SC2086
	assert_exit 0 qmpctl $verb --help
	assert_match "$OUT" '^[Uu]sage: qmpctl' "qmpctl $verb --help prints usage on stdout"
	[[ -z "$verb" ]] || assert_contains "$OUT" "qmpctl $verb" "qmpctl $verb --help describes the verb"
	assert_eq "" "$ERR" "qmpctl $verb --help writes nothing on stderr"
done

note "usage errors exit 2 with a message and where to read the usage on stderr"
assert_exit 2 qmpctl
assert_match "$ERR" "Try 'qmpctl --help'" "no arguments: where the usage is on stderr"
assert_eq "" "$OUT" "no arguments: nothing on stdout"
assert_exit 2 qmpctl no-such-verb
assert_match "$ERR" '^qmpctl: ' "unknown verb: a qmpctl: message"
assert_match "$ERR" "Try 'qmpctl --help'" "unknown verb: where the usage is on stderr"
assert_exit 2 qmpctl --no-such-option qmp /tmp/x.qmp query-status
assert_match "$ERR" "Try 'qmpctl --help'" "unknown option: where the usage is on stderr"
assert_exit 2 qmpctl qmp
assert_match "$ERR" "Try 'qmpctl qmp --help'" "qmp without VM: where the usage is on stderr"
assert_exit 2 qmpctl hmp
assert_exit 2 qmpctl events
assert_exit 2 qmpctl -t notanumber qmp /tmp/x.qmp query-status
assert_exit 2 qmpctl events /tmp/x.qmp --count notanumber

note "missing socket"
missing=$T/no-such-vm.qmp
assert_exit 1 qmpctl qmp "$missing" query-status
assert_eq "qmpctl: cannot connect to $missing: No such file or directory" "$ERR" "missing socket message"
assert_eq "" "$OUT" "missing socket: nothing on stdout"
assert_exit 1 qmpctl --socket "$missing" hmp 'info status'
assert_eq "qmpctl: cannot connect to $missing: No such file or directory" "$ERR" "missing socket message (hmp, --socket)"
assert_exit 1 qmpctl events "$missing" -t 1
assert_eq "qmpctl: cannot connect to $missing: No such file or directory" "$ERR" "missing socket message (events)"

qemu_start basic

note "query-status, compact (--json) and pretty"
assert_exit 0 qmpctl --json qmp "$QMP_SOCK" query-status
assert_eq 1 "$(line_count "$OUT")" "--json prints one line"
assert_json "$OUT" '.running == true and .status == "running"' "query-status says running"
compact=$OUT
assert_exit 0 qmpctl qmp "$QMP_SOCK" query-status
pretty=$OUT
assert_le 3 "$(line_count "$pretty")" "pretty output spans several lines"
assert_eq "$(jq -cS . <<<"$compact")" "$(jq -cS . <<<"$pretty")" "pretty and compact output hold the same value"
assert_eq "" "$ERR" "nothing on stderr without -v"

note "a whole QMP command as the COMMAND argument, as --batch and the shell take it"
assert_exit 0 qmpctl --json qmp "$QMP_SOCK" '{"execute": "query-name"}'
assert_json "$OUT" '.name == "basic"' "query-name from a whole QMP object"
assert_exit 0 qmpctl --json qmp "$QMP_SOCK" ' {"execute": "qom-get", "arguments": {"path": "/machine", "property": "type"}}'
assert_match "$OUT" '^"[a-z0-9.-]+-machine"$' "its arguments are sent too"
assert_exit 2 qmpctl qmp "$QMP_SOCK" '{"execute": "query-name"}' extra=1
assert_contains "$ERR" "after a whole QMP command" "nothing may follow it"
assert_exit 2 qmpctl qmp "$QMP_SOCK" '{"arguments": {}}'
assert_contains "$ERR" '"execute"' "an object without execute is a usage error"

note "--socket / -s forms, global options after the verb"
assert_exit 0 qmpctl --socket "$QMP_SOCK" --json qmp query-status
assert_json "$OUT" '.status == "running"' "--socket before the verb"
assert_exit 0 qmpctl -s "$QMP_SOCK" qmp query-name
assert_json "$OUT" '.name == "basic"' "-s before the verb"
assert_exit 0 qmpctl qmp --socket "$QMP_SOCK" --json query-status
assert_json "$OUT" '.running == true' "--socket after the verb"
assert_eq 1 "$(line_count "$OUT")" "--json after the verb is honoured"
assert_exit 0 qmpctl qmp "$QMP_SOCK" query-status --json
assert_eq 1 "$(line_count "$OUT")" "--json after the command name is honoured"
assert_exit 0 qmpctl hmp -s "$QMP_SOCK" 'info status'
assert_contains "$OUT" "running" "hmp with -s after the verb"

note "-v shows the conversation on stderr"
assert_exit 0 qmpctl -v qmp "$QMP_SOCK" query-status
assert_json "$OUT" '.status == "running"' "-v leaves stdout alone"
ts='^\[[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}\] '
assert_match "$ERR" "$ts<- .*\"QMP\"" "-v shows the greeting"
assert_match "$ERR" "$ts-> .*\"qmp_capabilities\"" "-v shows qmp_capabilities"
assert_match "$ERR" "$ts-> .*\"query-status\"" "-v shows the command"
assert_match "$ERR" "$ts<- .*\"running\"" "-v shows the reply"
bad=$(grep -Ev "$ts(->|<-) [{]" <<<"$ERR" || true)
assert_eq "" "$bad" "every -v line is '[time] ->|<- {json}'"
assert_exit 0 qmpctl qmp "$QMP_SOCK" query-status --verbose
assert_match "$ERR" "$ts-> .*\"query-status\"" "--verbose after the command name"

note "the monitor is free again after each run"
assert_exit 0 qmpctl -t 5 --json qmp "$QMP_SOCK" query-status
assert_json "$OUT" '.running == true'

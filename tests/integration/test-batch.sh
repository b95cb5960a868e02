#!/usr/bin/env bash
# qmp --batch: many commands pipelined on one session, replies printed in input order.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

qemu_start batch

# Commands with distinct replies, in both input forms; the expected line for each comes from a
# single `qmpctl --json qmp` run.
cmds=(
	'query-status'
	'query-name'
	'{"execute": "query-kvm"}'
	'query-target'
	'{"execute": "human-monitor-command", "arguments": {"command-line": "info status"}}'
	'qom-get path=/machine property=type'
	'{"execute":"query-uuid"}'
)
single_args=(
	'query-status'
	'query-name'
	'query-kvm'
	'query-target'
	'human-monitor-command {"command-line": "info status"}'
	'qom-get path=/machine property=type'
	'query-uuid'
)
expected=()
for ((k = 0; k < ${#cmds[@]}; k++)); do
	read -r -a words <<<"${single_args[k]%% \{*}"
	if [[ "${single_args[k]}" == *'{'* ]]; then
		words+=("{${single_args[k]#*\{}")
	fi
	assert_exit 0 qmpctl --json qmp "$QMP_SOCK" "${words[@]}"
	expected+=("$(jq -cS . <<<"$OUT")")
done
n=${#cmds[@]}

note "1000 commands, 7 kinds in rotation"
: >"$T/in"
: >"$T/want"
for ((i = 0; i < 1000; i++)); do
	echo "${cmds[i % n]}" >>"$T/in"
	echo "${expected[i % n]}" >>"$T/want"
done
RUN_STDIN=$T/in assert_exit 0 qmpctl -t 60 qmp "$QMP_SOCK" --batch
echo "    1000 commands in $ELAPSED_MS ms"
assert_eq 1000 "$(line_count "$OUT")" "1000 output lines"
bad=$(grep -vc '^[^ ].*$' <<<"$OUT" || true)
assert_eq 0 "$bad" "one compact JSON value per line"
jq -cS . <<<"$OUT" >"$T/got" || fail "the --batch output is not JSON lines"
if ! cmp -s "$T/want" "$T/got"; then
	echo "FAIL: $TEST_NAME: replies out of order or wrong; first difference:" >&2
	diff "$T/want" "$T/got" | head -n 6 >&2
	exit 1
fi
CHECKS=$((CHECKS + 1))
assert_eq "" "$ERR" "nothing on stderr"

note "--socket form, blank lines ignored"
printf 'query-status\n\nquery-name\n' >"$T/in2"
RUN_STDIN=$T/in2 assert_exit 0 qmpctl --socket "$QMP_SOCK" qmp --batch
assert_eq 2 "$(line_count "$OUT")" "two replies"
assert_json "$(sed -n 2p <<<"$OUT")" '.name == "batch"' "second reply is query-name"

note "a failing command in the middle: exit 1, the others still answered"
printf 'query-name\nno-such-command\nquery-name bogus=1\nquery-status\n' >"$T/in3"
RUN_STDIN=$T/in3 assert_exit 1 qmpctl qmp "$QMP_SOCK" --batch
assert_contains "$ERR" "qmpctl: line 2: CommandNotFound: " "the CommandNotFound error, with its line"
assert_match "$ERR" "qmpctl: line 3: GenericError: .*bogus" "the GenericError, with its line"
assert_eq 4 "$(line_count "$OUT")" "one output line per command, failed ones too"
assert_json "$(sed -n 1p <<<"$OUT")" '.name == "batch"' "first reply printed"
assert_json "$(sed -n 2p <<<"$OUT")" '.error.class == "CommandNotFound"' "line 2: its error line"
assert_json "$(sed -n 3p <<<"$OUT")" '.error.class == "GenericError" and (.error.desc | test("bogus"))' \
	"line 3: its error line"
assert_json "$(sed -n 4p <<<"$OUT")" '.status == "running"' "last reply printed, on line 4"

note "a line that does not parse still gets its error line"
printf 'query-name\n{"execute": \nquery-status\n' >"$T/in3b"
RUN_STDIN=$T/in3b assert_exit 1 qmpctl qmp "$QMP_SOCK" --batch
assert_eq 3 "$(line_count "$OUT")" "three lines for three commands"
assert_json "$(sed -n 2p <<<"$OUT")" '.error.class == "GenericError"' "line 2: an error line"
assert_contains "$ERR" "qmpctl: line 2: " "stderr names the line"
assert_json "$(sed -n 3p <<<"$OUT")" '.status == "running"' "line 3 answered"

note "empty input"
: >"$T/empty"
RUN_STDIN=$T/empty assert_exit 0 --limit 15 qmpctl -t 5 qmp "$QMP_SOCK" --batch
assert_eq "" "$OUT" "no output for an empty file"
# /dev/null is a character device, not a regular file or pipe (it cannot be polled with epoll).

note "input from a pipe"
mkfifo "$T/pipe"
bg_start /dev/null /dev/null sh -c 'printf "query-name\nquery-status\n" >"$1"' sh "$T/pipe"
RUN_STDIN=$T/pipe assert_exit 0 --limit 15 qmpctl -t 5 qmp "$QMP_SOCK" --batch
assert_eq 2 "$(line_count "$OUT")" "two replies from a pipe"
assert_json "$(sed -n 1p <<<"$OUT")" '.name == "batch"' "first reply from a pipe"

note "one session: the second monitor sees no extra clients while a batch runs"
for ((i = 0; i < 300; i++)); do echo "query-status"; done >"$T/in4"
RUN_STDIN=$T/in4 assert_exit 0 qmpctl -v qmp "$QMP_SOCK" --batch
assert_eq 1 "$(grep -c '<- {"QMP"' <<<"$ERR")" "one greeting, i.e. one connection"
assert_eq 1 "$(grep -c '"qmp_capabilities"' <<<"$ERR")" "capabilities negotiated once"
assert_eq 300 "$(grep -c -- '-> .*"query-status"' <<<"$ERR")" "300 commands sent"
assert_eq 300 "$(line_count "$OUT")" "300 replies printed"

note "empty input on /dev/null"
# /dev/null is a character device, not a regular file or pipe (it cannot be polled with epoll).
RUN_STDIN=/dev/null assert_exit 0 --limit 15 qmpctl -t 5 qmp "$QMP_SOCK" --batch
assert_eq "" "$OUT" "no output for /dev/null"

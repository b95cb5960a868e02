#!/usr/bin/env bash
# The shell verb: script mode (one JSON reply per line, qmp-shell syntax, hmp, stop at the first
# error or --keep-going) and, in a pseudo-terminal made by script(1), line editing: Tab completion
# of command and argument names, an event printed while a line is half typed (and the line kept),
# Ctrl-C dropping a line, history saved in $XDG_STATE_HOME.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

command -v script >/dev/null || fail "script(1) from util-linux is not installed"

qemu_start shell

# shell_script TEXT [ARGS...]: run `qmpctl shell` with TEXT on stdin.
shell_script()
{
	local text=$1
	shift
	printf '%s' "$text" >"$T/script.in"
	RUN_STDIN=$T/script.in run qmpctl shell "$QMP_SOCK" "$@"
}

note "script mode: one JSON reply per command, in order"
shell_script $'query-status\n\n# a comment\nquery-name\n{"execute": "query-version"}\nhmp info status\n'
assert_eq 0 "$RC" "exit status (stderr: $ERR)"
assert_eq 4 "$(line_count "$OUT")" "four replies"
assert_json "$(sed -n 1p <<<"$OUT")" '.return.status == "running"' "query-status"
assert_json "$(sed -n 2p <<<"$OUT")" '.return.name == "shell"' "query-name"
assert_json "$(sed -n 3p <<<"$OUT")" '.return.qemu.major >= 2' "a raw JSON line"
assert_json "$(sed -n 4p <<<"$OUT")" '.return | startswith("VM status: running")' "hmp prefix"
assert_eq "" "$ERR" "nothing on stderr"

note "qmp-shell syntax: dotted keys nest, JSON values, quoted strings"
shell_script $'blockdev-add driver=raw node-name=r0 file.driver=null-co file.size=65536 read-only=true\nquery-named-block-nodes flat=true\nhuman-monitor-command \'command-line=info block r0\'\n'
assert_eq 0 "$RC" "exit status (stderr: $ERR)"
assert_json "$(sed -n 1p <<<"$OUT")" '.return == {}' "blockdev-add with nested file.* options"
assert_json "$(sed -n 2p <<<"$OUT")" '[.return[] | select(."node-name" == "r0")] | .[0].ro == true' "the node exists, read-only"
assert_json "$(sed -n 3p <<<"$OUT")" '.return | test("r0.*null-co"; "s")' "a quoted value with a blank"

note "-H: every line is HMP"
shell_script $'info status\ninfo name\n' -H
assert_eq 0 "$RC"
assert_json "$(sed -n 1p <<<"$OUT")" '.return | startswith("VM status: running")' "-H info status"
assert_json "$(sed -n 2p <<<"$OUT")" '.return | startswith("shell")' "-H info name"

note "the first failing command stops the script, exit 1"
shell_script $'query-name\nno-such-command\nstop\n'
assert_eq 1 "$RC" "exit status"
assert_eq 2 "$(line_count "$OUT")" "replies up to the failure"
assert_json "$(sed -n 2p <<<"$OUT")" '.error.class == "CommandNotFound"' "the error reply"
assert_match "$ERR" '^qmpctl: line 2: CommandNotFound: ' "stderr names the line"
assert_exit 0 qmpctl --json qmp "$QMP_SOCK" query-status
assert_json "$OUT" '.status == "running"' "the stop after the failure never ran"

note "--keep-going runs every line and still exits 1"
shell_script $'no-such-command\nquery-status x=\'unterminated\nstop\nquery-status\ncont\n' --keep-going
assert_eq 1 "$RC" "exit status"
assert_eq 5 "$(line_count "$OUT")" "a reply line for every command, the one that did not parse too"
assert_json "$(sed -n 2p <<<"$OUT")" '.error.class == "GenericError"' "the syntax error's line"
assert_json "$(sed -n 4p <<<"$OUT")" '.return.status == "paused"' "stop ran after the failures"
assert_match "$ERR" 'line 2: ' "the syntax error is reported with its line"

note "exit ends a script as it ends the shell on a terminal"
shell_script $'query-name
exit
stop
'
assert_eq 0 "$RC" "exit status (stderr: $ERR)"
assert_eq 1 "$(line_count "$OUT")" "nothing after exit ran"
assert_not_contains "$ERR" "CommandNotFound" "exit was not sent to QEMU"
assert_exit 0 qmpctl --json qmp "$QMP_SOCK" query-status
assert_json "$OUT" '.status == "running"' "the stop after exit never ran"

note "incomplete JSON is called so"
shell_script $'{"execute": "query-name"\n'
assert_eq 1 "$RC"
assert_match "$ERR" '^qmpctl: line 1: incomplete JSON \(an object, array or string is not closed\): ' "a message a person reads"
assert_not_contains "$ERR" "continue" "not json-c's word"

note "--json and -v"
shell_script $'query-name\n' -v
assert_eq 0 "$RC"
assert_match "$ERR" '\-> \{"execute":"query-name","id":[0-9]+\}' "-v shows the message sent"

# ---- in a pseudo-terminal ---------------------------------------------------------------------
note "on a terminal: completion, a live event, Ctrl-C, history"
export XDG_STATE_HOME=$T/state
mkfifo "$T/keys"
PTY=$T/pty.out
_argv qmpctl shell "$QMP_SOCK"
printf -v cmdline '%q ' "${_ARGV[@]}"
TERM=xterm script -qefc "$cmdline" /dev/null <"$T/keys" >"$PTY" 2>&1 &
pty_pid=$!
_bg_pids+=("$pty_pid")
exec {keys}>"$T/keys"

count_prompts()
{
	{ grep -ao '(QEMU) ' "$PTY" || true; } | wc -l
}

# prompts N: wait until the N-th prompt has been drawn.
prompts()
{
	local want=$1 deadline=$((SECONDS + 15 * SLOW)) n
	while :; do
		n=$(count_prompts)
		((n >= want)) && return 0
		((SECONDS <= deadline)) || fail "only $n of $want prompts: $(cat -v "$PTY")"
		sleep 0.05
	done
}
type_keys()
{
	printf '%s' "$1" >&"$keys"
}

prompts 1
# Only the completed name can answer this (libedit redraws with cursor moves, so the completed
# line itself never appears whole in the output).
type_keys $'query-statu\t\r'
wait_for_match "$PTY" '"status": "running"|not been found' $((10 * SLOW)) "no reply to the completed command"
assert_contains "$(cat "$PTY")" '"status": "running"' "Tab completed query-statu and the reply is pretty JSON"
# The same line again: history keeps it once (checked at the end).
type_keys $'query-status\r'
deadline=$((SECONDS + 10 * SLOW))
until (($(grep -ac '"status": "running"' "$PTY") >= 2)); do
	((SECONDS < deadline)) || fail "no reply to the repeated line"
	sleep 0.05
done

before=$(count_prompts)
type_keys 'query-na'
wait_for_match "$PTY" 'query-na' $((10 * SLOW)) "the typed characters were not echoed"
assert_exit 0 qmpctl qmp "$QMP_SOCK2" stop
wait_for_match "$PTY" '"event":"STOP"' $((10 * SLOW)) "the STOP event was not printed while a line was being typed"
assert_contains "$(grep -a -A1 '"event":"STOP"' "$PTY" | tail -n1)" '(QEMU) query-na' \
	"the prompt and the half-typed line are redrawn under the event"
type_keys $'me\r'
wait_for_match "$PTY" '"name": "shell"' $((10 * SLOW)) "the half-typed line did not survive the event"
assert_exit 0 qmpctl qmp "$QMP_SOCK2" cont
wait_for_match "$PTY" '"event":"RESUME"' $((10 * SLOW)) "no RESUME while idle at the prompt"

# An enum value (driver) and an argument name, both by Tab.
type_keys $'blockdev-add driver=null-c\tnode-na\tn1\r'
prompts $((before + 4))
type_keys $'query-named-block-nodes\r'
wait_for_match "$PTY" '"node-name": "n1"' $((10 * SLOW)) "the command with a completed argument did not run"

# HMP: the command and the info subcommand by Tab.
type_keys $'hmp inf\tstatu\t\r'
wait_for_match "$PTY" 'VM status: (running|paused)|not found|unknown command' $((10 * SLOW)) "no reply to the completed HMP line"
assert_match "$(cat "$PTY")" 'VM status: running' "Tab completed 'hmp inf' and 'statu'"

# An error from a line that does not parse: the next prompt on a row of its own.
n=$(count_prompts)
type_keys $'{"execute": \r'
wait_for_match "$PTY" 'incomplete JSON' $((10 * SLOW)) "no error for incomplete JSON"
prompts $((n + 1))
type_keys $'query-target\r'
wait_for_match "$PTY" '"arch"' $((10 * SLOW)) "no reply to the line after the error"
assert_eq "(QEMU) query-target" "$(grep -a -A1 'incomplete JSON' "$PTY" | tail -n1 | tr -d '\r')" \
	"one fresh prompt on the row after the error: $(grep -a -A1 'incomplete JSON' "$PTY" | cat -v)"

n=$(count_prompts)
type_keys 'no-such-thing'
wait_for_match "$PTY" 'no-such-thing' $((10 * SLOW)) "the typed characters were not echoed"
type_keys $'\003'
prompts $((n + 1)) # Ctrl-C draws a fresh prompt
type_keys $'query-version\r'
wait_for_match "$PTY" '"micro"' $((10 * SLOW))
assert_not_contains "$(cat "$PTY")" 'not been found' "Ctrl-C dropped the line"

# Ctrl-D right after a command QEMU is slow to answer: the reply is still printed.
n=$(count_prompts)
kill -STOP "$QEMU_PID"
type_keys $'query-name\r'
prompts $((n + 1))
type_keys $'\004'
sleep 0.5
_qf_alive "$pty_pid" || fail "the shell ended before the reply it was waiting for"
_ok
kill -CONT "$QEMU_PID"
bg_wait "$pty_pid" $((10 * SLOW))
assert_eq 0 "$BG_RC" "Ctrl-D ends the shell with status 0"
assert_eq 2 "$(grep -ac '"name": "shell"' "$PTY")" "the reply due at Ctrl-D was printed"
exec {keys}>&-
hist=$(cat "$XDG_STATE_HOME/qmpctl/history")
assert_contains "$hist" "query-status" "history saved"
assert_contains "$hist" "query-named-block-nodes"
assert_eq 1 "$(grep -c '^query-status$' <<<"$hist")" "a line is kept once"
assert_eq 700 "$(stat -c %a "$XDG_STATE_HOME/qmpctl")" "the history directory is private"
assert_not_contains "$(cat "$PTY")" "Sanitizer" "no sanitizer report"

note "SIGTERM ends a shell on a terminal cleanly (status 0)"
mkfifo "$T/keys2"
PTY=$T/pty2.out
TERM=xterm script -qefc "exec $cmdline" /dev/null <"$T/keys2" >"$PTY" 2>&1 &
pty_pid=$!
_bg_pids+=("$pty_pid")
exec {keys}>"$T/keys2"
prompts 1
type_keys 'query-'
shell_pid=$(ps -o pid= --ppid "$pty_pid" | tr -d ' ')
[[ -n "$shell_pid" ]] || fail "no shell process under script"
kill -TERM "$shell_pid"
bg_wait "$pty_pid" $((10 * SLOW))
assert_eq 0 "$BG_RC" "exit status after SIGTERM"
exec {keys}>&-

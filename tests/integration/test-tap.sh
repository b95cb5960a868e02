#!/usr/bin/env bash
# The tap verb: clients with colliding ids get their own replies, every client sees STOP/RESUME,
# the log holds every message with sane latencies, a client killed mid-command, one sending garbage,
# one flooding or sending a huge message do not disturb the others; socket permissions and removal;
# QEMU going away closes every client and ends the tap with status 1.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

qemu_start tap

TAP=$T/tap.sock
LOG=$T/tap.log

# start_tap SOCKET LOGFILE [ARGS...]: run the tap in the background until its socket exists.
start_tap()
{
	local sock=$1 log=$2
	shift 2
	bg_start "$T/tap.out" "$T/tap.err" qmpctl tap "$QMP_SOCK" --listen "$sock" --log "$log" "$@"
	TAP_PID=$BG_PID
	local deadline=$((SECONDS + 10 * SLOW))
	until [[ -S "$sock" ]]; do
		_qf_alive "$TAP_PID" || fail "tap ended before listening: $(cat "$T/tap.err")"
		((SECONDS < deadline)) || fail "tap did not create $sock"
		sleep 0.05
	done
}

# A client: socat between a fifo we write to and a file we read.
# client_open NAME: connects and negotiates; sets fd CL_NAME for writing.
declare -A CL_FD CL_PID CL_SENT
client_open()
{
	local name=$1 fd
	mkfifo "$T/$name.in"
	socat -t 30 - "UNIX-CONNECT:$TAP" <"$T/$name.in" >"$T/$name.out" 2>"$T/$name.err" &
	CL_PID[$name]=$!
	_bg_pids+=("$!")
	exec {fd}>"$T/$name.in"
	CL_FD[$name]=$fd
	wait_for_match "$T/$name.out" '"QMP"' $((10 * SLOW)) "client $name got no greeting"
	client_send "$name" '{"execute":"qmp_capabilities","id":"caps"}'
	wait_for_match "$T/$name.out" '"id": ?"caps"' $((10 * SLOW)) "client $name: no reply to qmp_capabilities"
}

client_send()
{
	local name=$1
	shift
	printf '%s\n' "$@" >&"${CL_FD[$name]}"
	CL_SENT[$name]=$((${CL_SENT[$name]:-0} + $#))
}

client_close()
{
	local name=$1
	exec {CL_FD[$name]}>&-
}

# wait_lines FILE ERE COUNT SEC: until COUNT lines of FILE match ERE.
wait_lines()
{
	local file=$1 re=$2 want=$3 limit=$4 n=0
	local deadline=$((SECONDS + limit))
	while :; do
		n=$(grep -Ec -- "$re" "$file" 2>/dev/null || true)
		((n >= want)) && return 0
		((SECONDS <= deadline)) || fail "only $n of $want lines matching /$re/ in $file within $limit s"
		sleep 0.05
	done
}

# A small output limit keeps the "client that stops reading" case quick.
start_tap "$TAP" "$LOG" --max-output 1048576

note "the socket is private (0600) by default"
assert_eq 600 "$(stat -c %a "$TAP")" "mode of the tap socket"

note "each client gets a greeting from QEMU's and negotiates locally"
client_open a
client_open b
greeting=$(head -n1 "$T/a.out")
assert_json "$greeting" '.QMP.version.qemu.major >= 2 and (.QMP.capabilities | type) == "array"' "greeting"
assert_json "$(grep '"caps"' "$T/b.out")" '.return == {}' "qmp_capabilities answered"

note "two clients with colliding ids each get their own replies"
N=150
for ((i = 0; i < N; i++)); do echo '{"execute":"query-name","id":"same"}'; done >"$T/a.cmds"
for ((i = 0; i < N; i++)); do echo '{"execute":"query-status","id":"same"}'; done >"$T/b.cmds"
cat "$T/a.cmds" >&"${CL_FD[a]}" &
w1=$!
cat "$T/b.cmds" >&"${CL_FD[b]}" &
w2=$!
wait "$w1" "$w2"
CL_SENT[a]=$((CL_SENT[a] + N))
wait_lines "$T/a.out" '"id": ?"same"' $N $((20 * SLOW))
wait_lines "$T/b.out" '"id": ?"same"' $N $((20 * SLOW))
assert_eq $N "$(grep '"same"' "$T/a.out" | jq -c 'select(.return.name == "tap")' | wc -l)" "a: every reply is query-name's"
assert_eq $N "$(grep '"same"' "$T/b.out" | jq -c 'select(.return.status == "running")' | wc -l)" "b: every reply is query-status's"

note "ids of any JSON type come back intact; commands without an id work"
client_send a '{"execute":"query-name","id":{"k":[1,"x",null]}}' '{"execute":"query-status"}' \
	'{"execute":"query-name","id":null}'
wait_for_match "$T/a.out" '"id": ?\{"k"' $((10 * SLOW))
wait_lines "$T/a.out" '"id": ?null' 1 $((10 * SLOW))
assert_json "$(grep '"k"' "$T/a.out")" '.id == {"k": [1, "x", null]} and .return.name == "tap"' "object id restored"
assert_json "$(grep -v '"id"' "$T/a.out" | grep '"return"' | tail -n1)" '.return.status == "running" and (has("id") | not)' \
	"a reply without an id to a command without one"

note "both clients see STOP and RESUME caused by a third (qmpctl qmp through the tap)"
assert_exit 0 qmpctl qmp "$TAP" stop
assert_exit 0 qmpctl --json qmp "$TAP" query-status
assert_json "$OUT" '.status == "paused"' "qmpctl qmp works through the tap"
assert_exit 0 qmpctl qmp "$TAP" cont
for c in a b; do
	wait_for_match "$T/$c.out" '"event": ?"RESUME"' $((10 * SLOW)) "client $c did not see RESUME"
	assert_eq "STOP RESUME" "$(jq -r 'select(.event) | .event' "$T/$c.out" | tr '\n' ' ' | sed 's/ $//')" \
		"client $c events"
done

note "garbage gets an error reply and the client goes on"
client_send b 'this is not json' '{"execute":"query-name","id":"after-garbage"}'
wait_for_match "$T/b.out" '"after-garbage"' $((10 * SLOW))
assert_json "$(grep -B1 '"after-garbage"' "$T/b.out" | head -n1)" '.error.class == "GenericError"' "error for the garbage line"
assert_json "$(grep '"after-garbage"' "$T/b.out")" '.return.name == "tap"' "next command fine"
client_send b '{"execute":"qmp_capabilities","id":"again"}' '{"id":"noexec"}' '{"execute":"x","foo":1,"id":"extra"}'
wait_for_match "$T/b.out" '"extra"' $((10 * SLOW))
assert_json "$(grep '"again"' "$T/b.out")" '.error.class == "CommandNotFound"' "second qmp_capabilities refused"
assert_json "$(grep '"noexec"' "$T/b.out")" '.error.desc | test("execute")' "message without execute"
assert_json "$(grep '"extra"' "$T/b.out")" '.error.desc | test("foo")' "unexpected member"

note "a client killed in the middle of a command does not disturb the other"
kill -STOP "$QEMU_PID" # commands now wait in QEMU
client_open c
client_send c '{"execute":"query-status","id":"c1"}'
client_send a '{"execute":"query-name","id":"a-mid"}'
sleep 0.3
kill -KILL "${CL_PID[c]}"
wait "${CL_PID[c]}" 2>/dev/null || true
kill -CONT "$QEMU_PID"
wait_for_match "$T/a.out" '"a-mid"' $((10 * SLOW)) "client a did not get its reply after c was killed"
assert_json "$(grep '"a-mid"' "$T/a.out")" '.return.name == "tap"' "a's reply"
wait_for_match "$LOG" '"dir":"disconnect","client":3' $((10 * SLOW)) "the tap did not notice c's death"
assert_exit 0 qmpctl --json qmp "$TAP" query-name
assert_json "$OUT" '.name == "tap"' "the tap serves new clients after that"

note "a client flooding the tap is answered in full, in order, and does not starve the others"
{
	echo '{"execute":"qmp_capabilities"}'
	for ((i = 0; i < 3000; i++)); do echo "{\"execute\":\"query-name\",\"id\":$i}"; done
} >"$T/flood.cmds"
socat -t 60 - "UNIX-CONNECT:$TAP" <"$T/flood.cmds" >"$T/flood.out" &
flood=$!
_bg_pids+=("$flood")
sleep 0.1
assert_exit 0 qmpctl --json qmp "$TAP" query-status
assert_le "$ELAPSED_MS" $((5000 * SLOW)) "a command while another client floods"
bg_wait "$flood" $((60 * SLOW))
assert_eq 3000 "$(grep -c '"name"' "$T/flood.out")" "the flooding client got every reply"
assert_eq "$(seq 0 2999 | tr '\n' ' ')" "$(jq -r 'select(.return.name) | .id' "$T/flood.out" | tr '\n' ' ')" \
	"replies in order, each with its own id"

note "a client that stops reading is dropped once --max-output bytes wait for it; the others are not"
mkfifo "$T/slow.fifo"
exec {slow_r}<>"$T/slow.fifo" # held open, never read: socat blocks once the pipe is full
{
	echo '{"execute":"qmp_capabilities"}'
	for ((i = 0; i < 30; i++)); do echo '{"execute":"query-qmp-schema"}'; done
} >"$T/slow.cmds"
socat -t 60 - "UNIX-CONNECT:$TAP" <"$T/slow.cmds" >"$T/slow.fifo" 2>/dev/null {slow_r}<&- &
slow=$!
_bg_pids+=("$slow")
wait_for_match "$LOG" '"note":"not reading its replies' $((30 * SLOW)) "the client that does not read was not dropped"
exec {slow_r}<&-
kill "$slow" 2>/dev/null || true # it holds our client fifos open too
wait "$slow" 2>/dev/null || true
assert_exit 0 qmpctl --json qmp "$TAP" query-name
assert_json "$OUT" '.name == "tap"' "the others are still served"

note "a client sending a message over the size limit is dropped; the others are not"
{
	echo '{"execute":"qmp_capabilities"}'
	printf '{"execute":"query-name","arguments":{"x":"'
	head -c $((2 * 1024 * 1024)) /dev/zero | tr '\0' 'a'
	echo '"}}'
} >"$T/huge.cmds"
socat -t 10 - "UNIX-CONNECT:$TAP" <"$T/huge.cmds" >"$T/huge.out" 2>/dev/null || true
wait_for_match "$LOG" '"note":"sent a message larger than' $((10 * SLOW)) "the huge message did not get its sender dropped"
client_send a '{"execute":"query-name","id":"after-huge"}'
wait_for_match "$T/a.out" '"after-huge"' $((10 * SLOW)) "client a stalled after the huge message"

note "the log: one JSON object per line, every message of client a, sane latencies"
sleep 0.2
bad=$(jq -c . "$LOG" >/dev/null 2>&1 && echo ok || echo bad)
assert_eq ok "$bad" "every log line is JSON"
assert_eq "${CL_SENT[a]}" "$(jq -c 'select(.client == 1 and .dir == "in")' "$LOG" | wc -l)" "messages from client a logged"
a_got=$(grep -vc '"event"' "$T/a.out")
assert_eq "$a_got" "$(jq -c 'select(.client == 1 and .dir == "out")' "$LOG" | wc -l)" \
	"messages to client a logged (greeting, replies)"
assert_json "$(jq -s '[.[] | select(.dir == "out" and (.msg | has("return") or has("error")))]' "$LOG")" \
	'length > 3000 and all(.[]; (.latency_ms | type) == "number" and .latency_ms >= 0 and .latency_ms < 30000)' \
	"every reply has a latency in milliseconds"
assert_json "$(jq -s '[.[] | select(.dir == "out" and .client == 1 and .msg.id == "a-mid")][0]' "$LOG")" \
	'.latency_ms >= 250' "the latency of the command held up by a stopped QEMU shows the wait"
assert_json "$(jq -s '[.[] | select(.dir == "event") | .msg.event]' "$LOG")" '. == ["STOP", "RESUME"]' \
	"events logged once each"
assert_json "$(jq -s '.[0]' "$LOG")" '(.time | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\\.[0-9]{6}\\+00:00$"))' "RFC 3339 timestamps, UTC"
assert_json "$(jq -s '[.[] | select(.dir == "out" and .local == true and .msg.QMP)] | length' "$LOG")" '. >= 4' \
	"local greetings marked as such"
assert_json "$(jq -s '[.[] | select(.dir == "connect" and .client == 1)][0]' "$LOG")" \
	'.note | test("^pid [0-9]+ uid [0-9]+ \\(socat\\)$")' "a client's connect record names its program"

note "socket checks: --mode, a path in use, a path that is not a socket, bad usage"
bg_start "$T/m.out" "$T/m.err" qmpctl tap "$QMP_SOCK2" --listen "$T/m.sock" --mode 0660 --max-output 65536
m_pid=$BG_PID
deadline=$((SECONDS + 10 * SLOW))
until [[ -S "$T/m.sock" ]]; do
	((SECONDS < deadline)) || fail "second tap did not listen: $(cat "$T/m.err")"
	sleep 0.05
done
assert_eq 660 "$(stat -c %a "$T/m.sock")" "--mode 0660"
assert_exit 0 qmpctl --json qmp "$T/m.sock" query-qmp-schema
assert_json "$OUT" 'length > 100' "one reply larger than --max-output reaches a client that reads"
# (a tap of the tap: the other monitor is busy with the second tap)
assert_exit 1 qmpctl tap "$TAP" --listen "$T/m.sock"
assert_contains "$ERR" "in use" "a live socket is not replaced"
kill -TERM "$m_pid"
bg_wait "$m_pid" $((10 * SLOW))
assert_eq 0 "$BG_RC" "SIGTERM ends the tap with status 0"
[[ ! -e "$T/m.sock" ]] || fail "the socket was not removed on exit"
_ok
touch "$T/plain"
assert_exit 1 qmpctl tap "$TAP" --listen "$T/plain"
assert_contains "$ERR" "not a socket"
assert_exit 2 qmpctl tap "$QMP_SOCK2"
assert_contains "$ERR" "--listen"
assert_exit 2 qmpctl tap "$QMP_SOCK2" --listen "$T/x.sock" --mode 999

note "QEMU going away closes every client and ends the tap with status 1"
qemu_stop
bg_wait "$TAP_PID" $((15 * SLOW))
assert_eq 1 "$BG_RC" "tap exit status when QEMU goes away"
assert_match "$(cat "$T/tap.err")" '^qmpctl: .*closed' "the tap says why"
assert_eq 1 "$(grep -c . "$T/tap.err")" "the tap's stderr holds that one line (no sanitizer or valgrind report)"
[[ ! -e "$TAP" ]] || fail "the tap socket was left behind"
_ok
client_close a
client_close b
bg_wait "${CL_PID[a]}" $((10 * SLOW))
bg_wait "${CL_PID[b]}" $((10 * SLOW))
assert_json "$(jq -s '[.[] | select(.dir == "disconnect" and .note == "the connection to QEMU ended") | .client] | sort' "$LOG")" \
	'. == [1, 2]' "both clients closed"

# Helpers for the integration tests; source it from a test-*.sh after `set -euo pipefail`.
#
# Environment:
#   QMPCTL          path of the qmpctl binary (default: $QMPCTL_SRC/build/cli/qmpctl)
#   QMPCTL_SRC      source tree (default: two levels above this file)
#   QMPCTL_WRAPPER  optional command prefix, e.g. "valgrind -q --error-exitcode=99"
#
# Every qmpctl run goes through the `qmpctl` function below, i.e. `$QMPCTL_WRAPPER $QMPCTL ...`.

TEST_NAME=$(basename "$0" .sh)
QMPCTL_SRC=${QMPCTL_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
QMPCTL=${QMPCTL:-$QMPCTL_SRC/build/cli/qmpctl}
read -r -a _wrapper <<<"${QMPCTL_WRAPPER:-}"

# Time limits are multiplied by SLOW under a wrapper (valgrind starts slowly and runs ~20x slower).
if ((${#_wrapper[@]})); then
	SLOW=${QMPCTL_SLOW:-6}
else
	SLOW=${QMPCTL_SLOW:-1}
fi

# shellcheck source=../../scripts/qemu-fixture
source "$QMPCTL_SRC/scripts/qemu-fixture"

if [[ ! -x "$QMPCTL" ]]; then
	echo "FAIL: $TEST_NAME: qmpctl binary not found at $QMPCTL" >&2
	exit 1
fi
for _tool in jq socat timeout; do
	if ! command -v "$_tool" >/dev/null 2>&1; then
		echo "FAIL: $TEST_NAME: $_tool is not installed (run scripts/setup)" >&2
		exit 1
	fi
done

T=$(mktemp -d "${TMPDIR:-/tmp}/qmpctl-it.XXXXXX")
CHECKS=0
_bg_pids=()

qmpctl()
{
	"${_wrapper[@]}" "$QMPCTL" "$@"
}

# _argv CMD...: put CMD into the array _ARGV, with a leading `qmpctl` replaced by
# $QMPCTL_WRAPPER $QMPCTL (so that it also runs under timeout, env and the like).
_argv()
{
	if [[ "$1" == qmpctl ]]; then
		shift
		_ARGV=("${_wrapper[@]}" "$QMPCTL" "$@")
	else
		_ARGV=("$@")
	fi
}

_cleanup()
{
	local rc=$? pid
	for pid in "${_bg_pids[@]}"; do
		if _qf_alive "$pid"; then
			kill -TERM "$pid" 2>/dev/null || true
			sleep 0.2
			kill -KILL "$pid" 2>/dev/null || true
		fi
		wait "$pid" 2>/dev/null || true
	done
	qemu_stop
	rm -rf -- "$T"
	if ((rc == 0)); then
		echo "PASS: $TEST_NAME ($CHECKS checks)"
	fi
	return "$rc"
}
trap _cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# fail MESSAGE...: print a clear failure and end the test with status 1.
fail()
{
	echo "FAIL: $TEST_NAME: $*" >&2
	exit 1
}

# note MESSAGE...: progress line.
note()
{
	echo "--- $*"
}

_ok()
{
	CHECKS=$((CHECKS + 1))
}

_show()
{
	local label=$1 text=$2
	printf '  %s: ' "$label" >&2
	if [[ -z "$text" ]]; then
		echo "(empty)" >&2
	elif [[ "$text" == *$'\n'* ]]; then
		echo >&2
		sed 's/^/    | /' <<<"$text" >&2
	else
		printf '%q\n' "$text" >&2
	fi
}

# assert_eq EXPECTED ACTUAL [WHAT]
assert_eq()
{
	if [[ "$1" != "$2" ]]; then
		echo "FAIL: $TEST_NAME: ${3:-values differ}" >&2
		_show expected "$1"
		_show actual "$2"
		exit 1
	fi
	_ok
}

# assert_contains HAYSTACK NEEDLE [WHAT]   (fixed string)
assert_contains()
{
	if [[ "$1" != *"$2"* ]]; then
		echo "FAIL: $TEST_NAME: ${3:-text lacks the expected part}" >&2
		_show "expected to contain" "$2"
		_show actual "$1"
		exit 1
	fi
	_ok
}

# assert_not_contains HAYSTACK NEEDLE [WHAT]
assert_not_contains()
{
	if [[ "$1" == *"$2"* ]]; then
		echo "FAIL: $TEST_NAME: ${3:-text contains an unexpected part}" >&2
		_show "expected not to contain" "$2"
		_show actual "$1"
		exit 1
	fi
	_ok
}

# assert_match TEXT ERE [WHAT]   (extended regular expression, anywhere in TEXT)
assert_match()
{
	if ! grep -Eq -- "$2" <<<"$1"; then
		echo "FAIL: $TEST_NAME: ${3:-text does not match}" >&2
		_show "expected to match" "$2"
		_show actual "$1"
		exit 1
	fi
	_ok
}

# assert_json JSON JQ_FILTER [WHAT]: JSON must parse and the jq filter must yield true.
assert_json()
{
	local verdict
	if ! verdict=$(jq -e "$2" <<<"$1" 2>&1); then
		echo "FAIL: $TEST_NAME: ${3:-JSON check failed}" >&2
		_show "jq filter" "$2"
		_show "jq says" "$verdict"
		_show json "$1"
		exit 1
	fi
	_ok
}

# assert_le A B [WHAT]: integer A <= integer B
assert_le()
{
	if (($1 > $2)); then
		fail "${3:-expected $1 <= $2} ($1 > $2)"
	fi
	_ok
}

# run [--limit SEC] CMD...: run CMD, never longer than SEC seconds (default 60), and set
# OUT (stdout), ERR (stderr), RC (exit status) and ELAPSED_MS. A hung command fails the test.
run()
{
	local limit=60
	if [[ "$1" == --limit ]]; then
		limit=$2
		shift 2
	fi
	local start=$EPOCHREALTIME
	RC=0
	_argv "$@"
	timeout --kill-after=5 "$limit" "${_ARGV[@]}" >"$T/run.out" 2>"$T/run.err" <"${RUN_STDIN:-/dev/null}" || RC=$?
	ELAPSED_MS=$(_ms_since "$start")
	OUT=$(cat "$T/run.out")
	ERR=$(cat "$T/run.err")
	# valgrind's own remarks ("--PID-- WARNING: unhandled syscall" for pidfd_open in 3.19) are
	# not qmpctl's output; its error reports ("==PID==") stay and fail through the exit status.
	if ((${#_wrapper[@]})); then
		ERR=$(grep -v -E '^--[0-9]+-- ' <<<"$ERR" || true)
	fi
	if ((RC == 124 || RC == 137)); then
		echo "FAIL: $TEST_NAME: command hung (killed after $limit s): $*" >&2
		_show stdout "$OUT"
		_show stderr "$ERR"
		exit 1
	fi
}

# assert_exit CODE [--limit SEC] CMD...: run CMD (see run) and require exit status CODE.
assert_exit()
{
	local want=$1
	shift
	run "$@"
	[[ "$1" != --limit ]] || shift 2
	if [[ "$RC" != "$want" ]]; then
		echo "FAIL: $TEST_NAME: expected exit status $want, got $RC from: $*" >&2
		_show stdout "$OUT"
		_show stderr "$ERR"
		exit 1
	fi
	_ok
}

# _ms_since EPOCHREALTIME_VALUE: milliseconds elapsed since then.
_ms_since()
{
	local a=${1/[.,]/} b=${EPOCHREALTIME/[.,]/}
	echo $(((b - a) / 1000))
}

# bg_start OUTFILE ERRFILE CMD...: start CMD in the background (stdin from $BG_STDIN or /dev/null),
# remember its pid for cleanup and put it in BG_PID.
bg_start()
{
	local out=$1 err=$2
	shift 2
	_argv "$@"
	"${_ARGV[@]}" >"$out" 2>"$err" <"${BG_STDIN:-/dev/null}" &
	BG_PID=$!
	_bg_pids+=("$BG_PID")
}

# bg_wait PID SEC: wait at most SEC seconds for background PID to end; sets BG_RC and BG_MS
# (time waited). Fails the test (killing PID) when it does not end in time.
bg_wait()
{
	local pid=$1 limit=$2 start=$EPOCHREALTIME
	local deadline=$((SECONDS + limit))
	while _qf_alive "$pid"; do
		if ((SECONDS > deadline)); then
			kill -KILL "$pid" 2>/dev/null || true
			wait "$pid" 2>/dev/null || true
			fail "process $pid did not end within $limit s"
		fi
		sleep 0.05
	done
	BG_RC=0
	wait "$pid" 2>/dev/null || BG_RC=$?
	BG_MS=$(_ms_since "$start")
}

# wait_for_match FILE ERE SEC [WHAT]: poll FILE until a line matches ERE; fail after SEC seconds.
wait_for_match()
{
	local file=$1 re=$2 limit=$3
	local deadline=$((SECONDS + limit))
	until grep -Eq -- "$re" "$file" 2>/dev/null; do
		if ((SECONDS > deadline)); then
			echo "FAIL: $TEST_NAME: ${4:-no line matching /$re/ in $file} within $limit s" >&2
			_show "$file" "$(cat "$file" 2>/dev/null)"
			exit 1
		fi
		sleep 0.05
	done
}

# line_count TEXT: number of lines in TEXT (0 for empty).
line_count()
{
	if [[ -z "$1" ]]; then
		echo 0
	else
		wc -l <<<"$1" | tr -d ' '
	fi
}

# qemu_version: the version string `qemu-system-x86_64 --version` reports, e.g. 7.2.22
qemu_version()
{
	"$QEMU_BIN" --version | sed -n '1s/^QEMU emulator version \([0-9][0-9.]*\).*/\1/p'
}

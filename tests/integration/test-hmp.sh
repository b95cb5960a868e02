#!/usr/bin/env bash
# The hmp verb prints human monitor text.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

qemu_start hmp
version=$(qemu_version)
package=$("$QEMU_BIN" --version | sed -n '1s/^QEMU emulator version [^ ]* (\(.*\))$/\1/p')
[[ -n "$version" ]] || fail "cannot read the version of $QEMU_BIN"

note "hmp 'info version' matches qemu-system-x86_64 --version ($version)"
assert_exit 0 qmpctl hmp "$QMP_SOCK" 'info version'
first=$(head -n 1 <<<"$OUT")
assert_match "$first" "^${version//./\\.}" "info version starts with $version"
[[ -z "$package" ]] || assert_contains "$first" "$package" "info version names the package"
assert_not_contains "$OUT" $'\r' "no carriage returns in hmp output"
assert_not_contains "$OUT" '"' "hmp prints text, not a JSON string"

note "hmp 'info status'"
assert_exit 0 qmpctl hmp "$QMP_SOCK" 'info status'
assert_eq "VM status: running" "$OUT" "info status"

note "several words are one command line"
assert_exit 0 qmpctl hmp "$QMP_SOCK" info status
assert_eq "VM status: running" "$OUT" "info status as two words"

note "hmp stop changes the state seen through QMP"
assert_exit 0 qmpctl hmp "$QMP_SOCK" stop
assert_exit 0 qmpctl --json qmp "$QMP_SOCK2" query-status
assert_json "$OUT" '.running == false and .status == "paused"' "stopped through hmp"
assert_exit 0 qmpctl hmp --socket "$QMP_SOCK" cont
assert_exit 0 qmpctl hmp "$QMP_SOCK" 'info status'
assert_eq "VM status: running" "$OUT" "running again"

note "a command HMP does not know is an error, its text on stderr"
assert_exit 1 qmpctl hmp "$QMP_SOCK" nosuchcmd
assert_eq "qmpctl: unknown command: 'nosuchcmd'" "$ERR" "HMP's words, as an error"
assert_eq "" "$OUT" "nothing on stdout"
assert_exit 1 qmpctl --json hmp "$QMP_SOCK" 'info nosuchthing'
assert_eq "qmpctl: unknown command: 'info nosuchthing'" "$ERR" "an unknown info subcommand too"

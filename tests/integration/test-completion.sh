#!/usr/bin/env bash
# Bash completion: the installed script sourced in bash, its function called with COMP_WORDS and
# COMP_CWORD set; candidates for a verb prefix, a sub-verb, an option and a VM name from a domain
# file in a test libvirt directory.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

mkdir -p "$T/bin" "$T/lv" "$T/run" "$T/inst"
ln -s "$QMPCTL" "$T/bin/qmpctl"
printf '<domain type="kvm">\n  <name>comptest-vm</name>\n  <uuid>5d1c7a20-1111-4c2b-8e3a-0a0b0c0d0e0f</uuid>\n</domain>\n' \
	>"$T/lv/comptest-vm.xml"

# complete WORD...: COMPREPLY of the last word, sorted, on one line.
complete_words()
{
	PATH="$T/bin:$PATH" QMPCTL_LIBVIRT_DIR="$T/lv" QMPCTL_RUN_DIR="$T/run" bash -c '
		source "$1"; shift
		COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		_qmpctl
		((${#COMPREPLY[@]} == 0)) || printf "%s\n" "${COMPREPLY[@]}" | LC_ALL=C sort | tr "\n" " "' _ "$SCRIPT" qmpctl "$@"
}

note "the script is installed as share/bash-completion/completions/qmpctl"
cmake --install "$(dirname "$(dirname "$QMPCTL")")" --prefix "$T/inst" >/dev/null
SCRIPT=$T/inst/share/bash-completion/completions/qmpctl
[[ -f "$SCRIPT" ]] || fail "no $SCRIPT after cmake --install"
_ok

assert_eq "domblkinfo domblkstat dominfo domjobinfo domstate " "$(complete_words dom)" "verb prefix"
assert_eq "create " "$(complete_words snapshot cr)" "sub-verb"
assert_eq "delete " "$(complete_words snapshot d)" "sub-verb d"
assert_eq "--reason --run-dir " "$(complete_words domstate --r)" "option of the verb and common ones"
assert_eq "--graceful " "$(complete_words destroy --g)" "destroy's option"
assert_eq "comptest-vm " "$(complete_words dominfo compt)" "VM name from the domain file"
assert_eq "comptest-vm " "$(complete_words snapshot list -t 5 compt)" "VM name after an option with a value"
assert_eq "" "$(complete_words dominfo comptest-vm compt)" "nothing after the VM"
assert_not_contains "$(complete_words '')" "__complete" "the hidden verb is not offered"

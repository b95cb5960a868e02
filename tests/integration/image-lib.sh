# Helpers shared by the test-image-*.sh tests (sourced after lib.sh).

# mk ARGS...: qemu-img create, quietly.
mk() { qemu-img create -q "$@"; }
# io FILE CMD: one qemu-io command on FILE, its output dropped.
io() { qemu-io -c "$2" "$1" >/dev/null; }

# poke FILE OFFSET HEXBYTES: overwrite bytes in place (big-endian fields written by hand).
poke()
{
	local hex=$3 esc=""
	while [[ -n "$hex" ]]; do
		esc+="\\x${hex:0:2}"
		hex=${hex:2}
	done
	# shellcheck disable=SC2059
	printf "$esc" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# Helpers shared by the test-snapshot-*.sh tests (sourced after lib.sh and the QEMU fixture).

# snaps FILE: the snapshot names in an image, as qemu-img sees them (space-separated).
snaps()
{
	qemu-img info -U --output=json "$1" | jq -r '[.snapshots // [] | .[].name] | join(" ")'
}

# get_status: QEMU's run state of $VM into STATUS.
get_status()
{
	assert_exit 0 qmpctl --json qmp "$VM" query-status
	STATUS=$(jq -r .status <<<"$OUT")
}

# vm_quit: QMP quit, then wait (by pid) for QEMU to end and drop its directory.
vm_quit()
{
	assert_exit 0 qmpctl qmp "$VM" quit
	local deadline=$((SECONDS + 20))
	while _qf_alive "$QEMU_PID"; do
		((SECONDS < deadline)) || fail "QEMU (pid $QEMU_PID) still runs 20 s after quit"
		sleep 0.05
	done
	qemu_stop
}

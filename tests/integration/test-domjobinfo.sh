#!/usr/bin/env bash
# domjobinfo: "Job type: None" on an idle VM; a backup job held back by its speed limit is shown.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

qemu-img create -q -f qcow2 "$T/a.qcow2" 16M
qemu_start domjobinfo -drive "file=$T/a.qcow2,format=qcow2,if=virtio,id=drive0"

assert_exit 0 qmpctl domjobinfo "$QMP_SOCK"
assert_eq "Job type:         None" "$OUT" "idle VM"
assert_exit 0 qmpctl --json domjobinfo "$QMP_SOCK"
assert_json "$OUT" '.type == "none" and .migration == null and .jobs == []' "idle VM, --json"

note "a backup job at one byte a second stays running"
assert_exit 0 qmpctl hmp "$QMP_SOCK" 'qemu-io drive0 "write -P 0x5a 0 1M"'
assert_exit 0 qmpctl qmp "$QMP_SOCK" drive-backup job-id=bk0 device=drive0 "target=$T/bk.qcow2" format=qcow2 \
	sync=full speed=1
assert_exit 0 qmpctl domjobinfo "$QMP_SOCK"
assert_contains "$OUT" "Job type:         Unbounded" "job type"
assert_contains "$OUT" "Operation:        backup" "operation"
assert_contains "$OUT" "Job id:           bk0" "job id"
assert_exit 0 qmpctl qmp "$QMP_SOCK" job-cancel id=bk0

#!/usr/bin/env bash
# dominfo: virsh's layout with what QEMU tells (name, uuid, state, CPUs, memory).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

uuid=8f3c2a1e-5b6d-4e7f-9a0b-1c2d3e4f5a6b
qemu_start dominfo -smp 2 -uuid "$uuid"

assert_exit 0 qmpctl dominfo "$QMP_SOCK"
want="Id:             -
Name:           dominfo
UUID:           $uuid
PID:            -
OS Type:        hvm
State:          running
CPU(s):         2
Max memory:     65536 KiB
Used memory:    65536 KiB"
assert_eq "$want" "$OUT" "dominfo of a running VM"

assert_exit 0 qmpctl suspend "$QMP_SOCK"
assert_exit 0 qmpctl --json dominfo "$QMP_SOCK"
assert_json "$OUT" '.name == "dominfo" and .uuid == "'"$uuid"'" and .pid == null and .state == "paused"
	and .reason == "user" and .cpus == 2 and .max_memory_kib == 65536 and .used_memory_kib == 65536' "dominfo --json"

#!/usr/bin/env bash
# domblkinfo against qemu-img info -U of the same files, domblkstat counters after a qemu-io
# write through HMP, and an unknown target naming the VM's disks.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

qemu-img create -q -f qcow2 "$T/a.qcow2" 16M
qemu-img create -q -f raw "$T/b.raw" 8M
qemu_start domblk -drive "file=$T/a.qcow2,format=qcow2,if=virtio,id=drive0" \
	-drive "file=$T/b.raw,format=raw,if=none,id=drive1" -device virtio-blk-pci,drive=drive1,id=disk1

note "domblkstat counts a write"
assert_exit 0 qmpctl --json domblkstat "$QMP_SOCK" drive0
assert_json "$OUT" '.target == "drive0" and .wr_req == 0 and .wr_bytes == 0' "no writes yet"
assert_exit 0 qmpctl hmp "$QMP_SOCK" 'qemu-io drive0 "aio_write -P 0x5a 0 64k"'
assert_exit 0 qmpctl hmp "$QMP_SOCK" 'qemu-io drive0 "aio_read 0 4k"'
assert_exit 0 qmpctl hmp "$QMP_SOCK" 'qemu-io drive0 "aio_read 4k 4k"'
assert_exit 0 qmpctl hmp "$QMP_SOCK" 'qemu-io drive0 aio_flush'
assert_exit 0 qmpctl domblkstat "$QMP_SOCK" drive0
assert_contains "$OUT" "drive0 wr_req 1" "one write request"
assert_contains "$OUT" "drive0 wr_bytes 65536" "64 KiB written"
assert_contains "$OUT" "drive0 rd_req 2" "two read requests"
assert_contains "$OUT" "drive0 rd_bytes 8192" "8 KiB read"
fields=$(cut -d' ' -f2 <<<"$OUT" | tr '\n' ' ')
assert_eq "rd_req rd_bytes wr_req wr_bytes flush_operations rd_total_times wr_total_times flush_total_times " \
	"$fields" "virsh's field names"
assert_exit 0 qmpctl --json domblkstat "$QMP_SOCK"
assert_json "$OUT" 'length == 2 and .[0].target == "drive0" and .[0].wr_bytes == 65536 and .[1].target == "drive1"
	and .[1].wr_bytes == 0' "every disk"

note "domblkinfo matches qemu-img info -U"
for d in drive0:a.qcow2 drive1:b.raw; do
	target=${d%%:*} file=$T/${d#*:}
	info=$(qemu-img info -U --output=json "$file")
	cap=$(jq '."virtual-size"' <<<"$info")
	alloc=$(jq '."actual-size"' <<<"$info")
	phys=$(stat -c %s "$file")
	assert_exit 0 qmpctl domblkinfo "$QMP_SOCK" "$target"
	assert_eq "Capacity:       $cap
Allocation:     $alloc
Physical:       $phys" "$OUT" "domblkinfo $target"
done
assert_exit 0 qmpctl domblkinfo --human "$QMP_SOCK" drive0
assert_contains "$OUT" "Capacity:       16.000 MiB" "--human capacity"
assert_exit 0 qmpctl --json domblkinfo "$QMP_SOCK" drive1
assert_json "$OUT" '.target == "drive1" and .capacity == 8388608 and .physical == 8388608' "domblkinfo --json"

note "an unknown target names the disks"
assert_exit 1 qmpctl domblkinfo "$QMP_SOCK" vdz
assert_eq "qmpctl: no disk 'vdz'; the VM has: drive0, drive1" "$ERR" "domblkinfo vdz"
assert_exit 1 qmpctl domblkstat "$QMP_SOCK" vdz
assert_eq "qmpctl: no disk 'vdz'; the VM has: drive0, drive1" "$ERR" "domblkstat vdz"
assert_exit 2 qmpctl domblkinfo "$QMP_SOCK"

#!/usr/bin/env bash
# Discovery against a real QEMU: list, names/pids wherever a VM is taken, libvirt
# domain and status files in throwaway directories, disks (config and live views),
# broken files and the environment variables.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

NAME=disc-$$
XMLVM=xmlvm-$$
STALE=stale-$$
OFFVM=offvm-$$
BROKEN=broken-$$
EMPTY=$T/empty
LV=$T/libvirt
RUN=$T/run
mkdir -p "$EMPTY" "$LV" "$RUN" "$LV/autostart"

# The fixture's VM gets a real qcow2 disk over a raw backing file, attached the way
# libvirt does it (-blockdev nodes, a virtio-blk device whose id is the alias).
qemu-img create -q -f raw "$T/base.raw" 1M
qemu-img create -q -f qcow2 -b "$T/base.raw" -F raw "$T/top.qcow2"
qemu_start "$NAME" \
	-blockdev "{\"driver\":\"file\",\"filename\":\"$T/base.raw\",\"node-name\":\"libvirt-2-storage\",\"read-only\":true}" \
	-blockdev '{"node-name":"libvirt-2-format","read-only":true,"driver":"raw","file":"libvirt-2-storage"}' \
	-blockdev "{\"driver\":\"file\",\"filename\":\"$T/top.qcow2\",\"node-name\":\"libvirt-1-storage\"}" \
	-blockdev '{"node-name":"libvirt-1-format","read-only":false,"driver":"qcow2","file":"libvirt-1-storage","backing":"libvirt-2-format"}' \
	-device '{"driver":"virtio-blk-pci","bus":"pcie.0","addr":"0x5","drive":"libvirt-1-format","id":"virtio-disk0"}'

# row TEXT NAME: the one table line whose Name column is NAME ("" when none).
row()
{
	awk -v n="$2" '$2 == n' <<<"$1"
}

# ---- a bare QEMU, found through the process list ----------------------------------

note "list shows the fixture QEMU with its pid and QMP socket"
assert_exit 0 qmpctl --libvirt-dir "$EMPTY" --run-dir "$EMPTY" list
assert_match "$(head -n 1 <<<"$OUT")" '^ Id +Name +State +QMP *$' "list header like virsh list"
line=$(row "$OUT" "$NAME")
[[ -n "$line" ]] || fail "list does not show $NAME:"$'\n'"$OUT"
assert_eq 1 "$(line_count "$line")" "$NAME is listed once"
read -r id name state qmp <<<"$line"
assert_eq "$QEMU_PID" "$id" "Id is the pid"
assert_eq "running" "$state" "state of the fixture"
if [[ "$qmp" != "$QMP_SOCK" && "$qmp" != "$QMP_SOCK2" ]]; then
	fail "QMP column '$qmp' is neither $QMP_SOCK nor $QMP_SOCK2"
fi
_ok

note "qmp by name and by pid"
assert_exit 0 qmpctl --libvirt-dir "$EMPTY" --run-dir "$EMPTY" --json qmp "$NAME" query-status
assert_json "$OUT" '.status == "running" and .running == true' "query-status by name"
assert_exit 0 qmpctl --libvirt-dir "$EMPTY" --run-dir "$EMPTY" --json qmp "$QEMU_PID" query-status
assert_json "$OUT" '.status == "running"' "query-status by pid"
assert_exit 0 qmpctl --libvirt-dir "$EMPTY" --run-dir "$EMPTY" --json qmp "$NAME" query-name
assert_json "$OUT" ".name == \"$NAME\"" "query-name of the VM found by name"

note "a paused VM is listed as paused"
assert_exit 0 qmpctl --libvirt-dir "$EMPTY" --run-dir "$EMPTY" qmp "$NAME" stop
assert_exit 0 qmpctl --libvirt-dir "$EMPTY" --run-dir "$EMPTY" list
read -r id name state qmp <<<"$(row "$OUT" "$NAME")"
assert_eq "paused" "$state" "state after stop"
assert_exit 0 qmpctl --libvirt-dir "$EMPTY" --run-dir "$EMPTY" qmp "$QEMU_PID" cont
assert_exit 0 qmpctl --libvirt-dir "$EMPTY" --run-dir "$EMPTY" --json list
assert_json "$OUT" "map(select(.name == \"$NAME\")) | length == 1 and .[0].state == \"running\"" "running again"

note "list --json: keys and values"
assert_json "$OUT" 'type == "array" and length >= 1' "an array"
assert_json "$OUT" 'all(.[]; (keys == (["monitor", "name", "not_domain", "pid", "qmp", "reason", "sources", "state",
	"uuid"])))' "every object has exactly name, uuid, state, reason, pid, qmp, monitor, sources, not_domain"
assert_json "$OUT" "map(select(.name == \"$NAME\"))[0] | .pid == $QEMU_PID and .uuid == null and .monitor == null
	and (.qmp == \"$QMP_SOCK\" or .qmp == \"$QMP_SOCK2\") and .sources == [\"process\"]" "the fixture as JSON"

note "disks of the running VM: the live view (query-block)"
assert_exit 0 qmpctl --libvirt-dir "$EMPTY" --run-dir "$EMPTY" --json disks "$NAME"
assert_json "$OUT" 'type == "array" and length == 1' "one disk"
assert_json "$OUT" 'all(.[]; keys == (["backing", "device", "format", "node", "readonly", "source", "target", "type"]))' \
	"every disk has exactly target, device, type, format, source, readonly, node, backing"
assert_json "$OUT" ".[0] | .source == \"$T/top.qcow2\" and .format == \"qcow2\" and .readonly == false
	and .node == \"libvirt-1-format\" and .device == \"disk\"" "the live disk"
assert_json "$OUT" ".[0].backing | length == 1 and .[0].source == \"$T/base.raw\" and .[0].format == \"raw\"" \
	"the live backing chain"
assert_exit 0 qmpctl --libvirt-dir "$EMPTY" --run-dir "$EMPTY" disks "$QEMU_PID"
assert_match "$(head -n 1 <<<"$OUT")" '^ Type +Device +Target +Format +Source *$' "disks header like domblklist --details"
assert_match "$OUT" "^ *file +disk +[^ ]+ +qcow2 +$T/top\\.qcow2 *\$" "the disk row"

# ---- libvirt files -----------------------------------------------------------------

cat >"$LV/$XMLVM.xml" <<EOF
<!--
This file is maintained by libvirtd; change it with 'virsh edit $XMLVM'
(hand edits may be overwritten).
-->
<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>$XMLVM</name>
  <uuid>3f2504e0-4f89-41d3-9a0c-0305e82c3301</uuid>
  <memory unit='KiB'>65536</memory>
  <vcpu placement='static'>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>
  </os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
  </devices>
  <qemu:commandline>
    <qemu:arg value='-qmp'/>
    <qemu:arg value='unix:$QMP_SOCK2,server=on,wait=off'/>
  </qemu:commandline>
</domain>
EOF
cat >"$LV/$OFFVM.xml" <<EOF
<domain type='kvm'>
  <name>$OFFVM</name>
  <uuid>3f2504e0-4f89-41d3-9a0c-0305e82c3302</uuid>
  <memory unit='KiB'>65536</memory>
  <os>
    <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>
  </os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='/var/lib/libvirt/images/$OFFVM top.qcow2'/>
      <backingStore type='file'>
        <format type='qcow2'/>
        <source file='/var/lib/libvirt/images/$OFFVM-mid.qcow2'/>
        <backingStore type='block'>
          <format type='raw'/>
          <source dev='/dev/vg0/base'/>
          <backingStore/>
        </backingStore>
      </backingStore>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='network' device='disk'>
      <driver name='qemu' type='raw'/>
      <source protocol='nbd' name='exp'>
        <host name='nbd.example.org' port='10809'/>
      </source>
      <target dev='vdb' bus='virtio'/>
    </disk>
    <disk type='file' device='cdrom'>
      <driver name='qemu' type='raw'/>
      <target dev='sda' bus='sata'/>
      <readonly/>
    </disk>
  </devices>
</domain>
EOF
printf '<domain type="kvm">\n  <name>%s</name>\n  <devices>\n' "$BROKEN" >"$LV/$BROKEN.xml"
printf '<domain><name>in-autostart-%s</name></domain>\n' $$ >"$LV/autostart/$XMLVM.xml"
UTF8VM="Prüfstand-ÄÖÜ-$$"
printf '<domain type="kvm">\n  <name>%s</name>\n</domain>\n' "$UTF8VM" >"$LV/utf8.xml"

# A status file left behind by a VM that is gone: its pid is a child that ended.
sleep 0 &
dead=$!
wait "$dead" || true
cat >"$RUN/$STALE.xml" <<EOF
<domstatus state='running' reason='booted' pid='$dead'>
  <monitor path='/var/lib/libvirt/qemu/domain-4-$STALE/monitor.sock' type='unix'/>
  <vcpus>
    <vcpu id='0' pid='$dead'/>
  </vcpus>
  <domain type='kvm' id='4'>
    <name>$STALE</name>
    <uuid>3f2504e0-4f89-41d3-9a0c-0305e82c3303</uuid>
    <memory unit='KiB'>65536</memory>
    <os>
      <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>
    </os>
    <devices>
      <disk type='file' device='disk'>
        <driver name='qemu' type='raw'/>
        <source file='/var/lib/libvirt/images/$STALE.img' index='1'/>
        <backingStore/>
        <target dev='vda' bus='virtio'/>
        <alias name='virtio-disk0'/>
      </disk>
    </devices>
  </domain>
</domstatus>
EOF

note "a domain XML whose <qemu:commandline> has a -qmp socket works by name"
assert_exit 0 qmpctl --libvirt-dir "$LV" --run-dir "$EMPTY" --json qmp "$XMLVM" query-status
assert_json "$OUT" '.status == "running"' "query-status through the XML's socket"
assert_exit 0 qmpctl --libvirt-dir "$LV" --run-dir "$EMPTY" --json qmp 3f2504e0-4f89-41d3-9a0c-0305e82c3301 query-status
assert_json "$OUT" '.status == "running"' "by uuid"

note "a broken XML is one warning naming the file; list still lists and exits 0"
assert_exit 0 qmpctl --libvirt-dir "$LV" --run-dir "$RUN" list --all
assert_eq 1 "$(grep -c . <<<"$ERR")" "one line on stderr"
assert_contains "$ERR" "$LV/$BROKEN.xml" "the warning names the file"
assert_match "$ERR" '^qmpctl: warning: ' "a warning"
assert_not_contains "$OUT" "in-autostart" "autostart/ is not read"
read -r id name state qmp <<<"$(row "$OUT" "$XMLVM")"
assert_eq "-" "$id" "$XMLVM has no known pid"
assert_eq "running" "$state" "$XMLVM state from its socket"
assert_eq "$QMP_SOCK2" "$qmp" "$XMLVM QMP socket"

note "a stale status file: the VM is shut off"
line=$(row "$OUT" "$STALE")
[[ -n "$line" ]] || fail "list --all does not show $STALE:"$'\n'"$OUT"
assert_match "$line" "^ +- +$STALE +shut off( +-)? *\$" "stale status file (dead pid $dead)"
assert_match "$(row "$OUT" "$OFFVM")" "^ +- +$OFFVM +shut off( +-)? *\$" "a config without a process"
line=$(row "$OUT" "$NAME")
assert_match "$line" "^ +$QEMU_PID +$NAME +running " "the fixture is still listed"

note "list without --all shows running and paused VMs only"
assert_exit 0 qmpctl --libvirt-dir "$LV" --run-dir "$RUN" list
assert_eq "" "$(row "$OUT" "$STALE")" "no stale VM without --all"
assert_eq "" "$(row "$OUT" "$OFFVM")" "no shut-off VM without --all"
assert_match "$(row "$OUT" "$XMLVM")" "running" "$XMLVM is running"
assert_match "$(row "$OUT" "$NAME")" "running" "$NAME is running"

note "list --all --json"
assert_exit 0 qmpctl --libvirt-dir "$LV" --run-dir "$RUN" --json list --all
assert_json "$OUT" "map(select(.name == \"$STALE\"))[0] | .state == \"shut off\" and .pid == null and
	.uuid == \"3f2504e0-4f89-41d3-9a0c-0305e82c3303\" and .sources == [\"status\"]" "the stale VM as JSON"
assert_json "$OUT" "map(select(.name == \"$XMLVM\"))[0] | .state == \"running\" and .qmp == \"$QMP_SOCK2\" and
	.sources == [\"xml\"] and .uuid == \"3f2504e0-4f89-41d3-9a0c-0305e82c3301\"" "the XML VM as JSON"
assert_json "$OUT" "map(select(.name == \"$OFFVM\"))[0] | .state == \"shut off\" and .qmp == null and .pid == null" \
	"the shut-off VM as JSON"
assert_json "$OUT" "map(select(.name == \"$BROKEN\")) | length == 0" "the broken file is not a VM"
assert_json "$OUT" 'all(.[]; (keys == (["monitor", "name", "not_domain", "pid", "qmp", "reason", "sources", "state",
	"uuid"])))' "keys"

note "disks of a shut-off VM: from its XML"
assert_exit 0 qmpctl --libvirt-dir "$LV" --run-dir "$RUN" --json disks "$OFFVM"
assert_json "$OUT" "length == 3" "three disks"
assert_json "$OUT" ".[0] == {\"target\": \"vda\", \"device\": \"disk\", \"type\": \"file\", \"format\": \"qcow2\",
	\"source\": \"/var/lib/libvirt/images/$OFFVM top.qcow2\", \"readonly\": false, \"node\": null,
	\"backing\": [{\"type\": \"file\", \"format\": \"qcow2\", \"source\": \"/var/lib/libvirt/images/$OFFVM-mid.qcow2\"},
	              {\"type\": \"block\", \"format\": \"raw\", \"source\": \"/dev/vg0/base\"}]}" "vda"
assert_json "$OUT" '.[1] == {"target": "vdb", "device": "disk", "type": "network", "format": "raw",
	"source": "nbd://nbd.example.org:10809/exp", "readonly": false, "node": null, "backing": []}' "vdb"
assert_json "$OUT" '.[2] == {"target": "sda", "device": "cdrom", "type": "file", "format": "raw",
	"source": null, "readonly": true, "node": null, "backing": []}' "the empty cdrom"
assert_exit 0 qmpctl --libvirt-dir "$LV" --run-dir "$RUN" disks "$OFFVM"
assert_match "$(head -n 1 <<<"$OUT")" '^ Type +Device +Target +Format +Source *$' "disks header"
assert_match "$OUT" "^ +file +disk +vda +qcow2 +/var/lib/libvirt/images/$OFFVM top\\.qcow2 *\$" "vda row"
assert_match "$OUT" '^ +network +disk +vdb +raw +nbd://nbd\.example\.org:10809/exp *$' "vdb row"
assert_match "$OUT" '^ +file +cdrom +sda +raw +-? *$' "the empty cdrom row"
assert_exit 0 qmpctl --libvirt-dir "$LV" --run-dir "$RUN" --json disks "$STALE"
assert_json "$OUT" "length == 1 and .[0].source == \"/var/lib/libvirt/images/$STALE.img\"" "disks from a stale status file"

note "disks of a broken file's VM: exit 1"
assert_exit 1 qmpctl --libvirt-dir "$LV" --run-dir "$RUN" disks "$BROKEN"
assert_contains "$ERR" "$LV/$BROKEN.xml" "the error output names the broken file"

note "an unknown name"
assert_exit 1 qmpctl --libvirt-dir "$LV" --run-dir "$RUN" qmp nosuchvm-$$ query-status
assert_eq "qmpctl: no VM named 'nosuchvm-$$' (looked in $LV, $RUN and running processes)" \
	"$(grep -v ': warning: ' <<<"$ERR")" "unknown VM message"
assert_exit 1 qmpctl --libvirt-dir "$EMPTY" --run-dir "$EMPTY" disks nosuchvm-$$
assert_eq "qmpctl: no VM named 'nosuchvm-$$' (looked in $EMPTY, $EMPTY and running processes)" "$ERR" \
	"unknown VM message for disks"

note "QMPCTL_LIBVIRT_DIR and QMPCTL_RUN_DIR work like the options"
QMPCTL_LIBVIRT_DIR=$LV QMPCTL_RUN_DIR=$RUN assert_exit 0 qmpctl list --all
assert_match "$(row "$OUT" "$STALE")" "shut off" "stale VM through the environment"
assert_match "$(row "$OUT" "$XMLVM")" "running" "XML VM through the environment"
assert_contains "$ERR" "$LV/$BROKEN.xml" "the same warning"
QMPCTL_LIBVIRT_DIR=$LV QMPCTL_RUN_DIR=$RUN assert_exit 0 qmpctl --json qmp "$XMLVM" query-status
assert_json "$OUT" '.status == "running"' "qmp by an XML name through the environment"
QMPCTL_LIBVIRT_DIR=$LV QMPCTL_RUN_DIR=$RUN assert_exit 1 qmpctl qmp nosuchvm-$$ query-status
assert_contains "$ERR" "qmpctl: no VM named 'nosuchvm-$$' (looked in $LV, $RUN and running processes)" \
	"the message names the directories from the environment"
# An option beats the environment.
QMPCTL_LIBVIRT_DIR=$LV QMPCTL_RUN_DIR=$RUN assert_exit 0 qmpctl --libvirt-dir "$EMPTY" --run-dir "$EMPTY" list --all
assert_eq "" "$(row "$OUT" "$STALE")" "--run-dir overrides QMPCTL_RUN_DIR"
assert_eq "" "$(row "$OUT" "$XMLVM")" "--libvirt-dir overrides QMPCTL_LIBVIRT_DIR"
assert_eq "" "$ERR" "no warning from the overridden directory"

note "an unreadable libvirt dir is an error"
if ((EUID != 0)); then
	chmod 000 "$LV"
	assert_exit 1 qmpctl --libvirt-dir "$LV" --run-dir "$RUN" list --all
	chmod 755 "$LV"
	assert_contains "$ERR" "$LV" "the error names the directory"
else
	# root reads through mode 000: nothing changes
	chmod 000 "$LV"
	assert_exit 0 qmpctl --libvirt-dir "$LV" --run-dir "$RUN" list --all
	chmod 755 "$LV"
	assert_match "$(row "$OUT" "$XMLVM")" "running" "root still reads a mode-000 directory"
fi

# ---- a libvirt-style running VM: status file + process, then an external snapshot -----

RUN2=$T/run2
mkdir -p "$RUN2"
cat >"$RUN2/$NAME.xml" <<EOF
<domstatus state='running' reason='booted' pid='$QEMU_PID'>
  <monitor path='$QEMU_DIR/libvirt-monitor.sock' type='unix'/>
  <vcpus>
    <vcpu id='0' pid='$QEMU_PID'/>
  </vcpus>
  <domain type='kvm' id='5'>
    <name>$NAME</name>
    <uuid>3f2504e0-4f89-41d3-9a0c-0305e82c3305</uuid>
    <memory unit='KiB'>65536</memory>
    <os>
      <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>
    </os>
    <devices>
      <emulator>/usr/bin/qemu-system-x86_64</emulator>
      <disk type='file' device='disk'>
        <driver name='qemu' type='qcow2'/>
        <source file='$T/top.qcow2' index='1'/>
        <backingStore type='file' index='2'>
          <format type='raw'/>
          <source file='$T/base.raw'/>
          <backingStore/>
        </backingStore>
        <target dev='vda' bus='virtio'/>
        <alias name='virtio-disk0'/>
      </disk>
    </devices>
  </domain>
</domstatus>
EOF

note "status file + process of one VM: one entry"
assert_exit 0 qmpctl --libvirt-dir "$EMPTY" --run-dir "$RUN2" --json list
assert_json "$OUT" "map(select(.name == \"$NAME\")) | length == 1" "listed once"
assert_json "$OUT" "map(select(.name == \"$NAME\"))[0] | .pid == $QEMU_PID and .state == \"running\"
	and .uuid == \"3f2504e0-4f89-41d3-9a0c-0305e82c3305\" and .monitor == \"$QEMU_DIR/libvirt-monitor.sock\"
	and (.sources | sort) == [\"process\", \"status\"]" "merged entry"
assert_exit 0 qmpctl --libvirt-dir "$EMPTY" --run-dir "$RUN2" --json disks 3f2504e0-4f89-41d3-9a0c-0305e82c3305
assert_json "$OUT" "length == 1 and .[0].target == \"vda\" and .[0].source == \"$T/top.qcow2\"
	and .[0].node == \"libvirt-1-format\"" "the status file's disk with the live node name"

note "after an external snapshot the live file wins, on the same disk"
assert_exit 0 qmpctl --libvirt-dir "$EMPTY" --run-dir "$RUN2" qmp "$NAME" blockdev-snapshot-sync \
	node-name=libvirt-1-format snapshot-file="$T/snap1.qcow2" snapshot-node-name=snap1 format=qcow2
assert_exit 0 qmpctl --libvirt-dir "$EMPTY" --run-dir "$RUN2" --json disks "$NAME"
assert_json "$OUT" "length == 1" "still one disk (not the old one plus a new one)"
assert_json "$OUT" ".[0] | .target == \"vda\" and .source == \"$T/snap1.qcow2\" and .node == \"snap1\"
	and .format == \"qcow2\"" "vda now writes to the snapshot"
assert_json "$OUT" "[.[0].backing[].source] == [\"$T/top.qcow2\", \"$T/base.raw\"]" "the chain under it"

note "columns line up with a UTF-8 name (by characters, not bytes)"
assert_exit 0 qmpctl --libvirt-dir "$LV" --run-dir "$RUN" list --all
line=$(grep -F -- "$UTF8VM" <<<"$OUT") || fail "list --all does not show $UTF8VM"
other=$(row "$OUT" "$OFFVM")
pre_utf8=$(LC_ALL=C.UTF-8 bash -c 'p=${1%%shut off*}; echo ${#p}' _ "$line")
pre_ascii=$(LC_ALL=C.UTF-8 bash -c 'p=${1%%shut off*}; echo ${#p}' _ "$other")
assert_eq "$pre_ascii" "$pre_utf8" "the State column starts at the same character position"$'\n'"$line"$'\n'"$other"

# ---- domains that must not merge -----------------------------------------------------

LV3=$T/libvirt3
mkdir -p "$LV3"
TWIN_UUID=3f2504e0-4f89-41d3-9a0c-0305e82c33aa
# domain NAME FILE UUID DISK...: a domain file with one file disk per DISK (vda, vdb, ...).
domain()
{
	local name=$1 file=$2 uuid=$3 t=a d
	shift 3
	{
		printf "<domain type='kvm'>\n  <name>%s</name>\n  <uuid>%s</uuid>\n  <devices>\n" "$name" "$uuid"
		for d in "$@"; do
			printf "    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
			printf "<source file='%s'/><target dev='vd%s' bus='virtio'/></disk>\n" "$d" "$t"
			t=$(tr a-y b-z <<<"$t")
		done
		printf "  </devices>\n</domain>\n"
	} >"$LV3/$file"
}
domain "twin-a-$$" twin-a.xml "$TWIN_UUID" /var/lib/images/twin-a.qcow2
domain "twin-b-$$" twin-b.xml "$TWIN_UUID" /var/lib/images/twin-b.qcow2
# A shut-off domain with the fixture's name and 4 disks of its own: the running QEMU
# of that name (one disk, top.qcow2) is not that domain.
domain "$NAME" shutoff-namesake.xml 3f2504e0-4f89-41d3-9a0c-0305e82c33bb /var/lib/images/ns-1.qcow2 \
	/var/lib/images/ns-2.qcow2 /var/lib/images/ns-3.qcow2 /var/lib/images/ns-4.qcow2
cat >"$LV3/nvme.xml" <<EOF
<domain type='kvm'>
  <name>nvme-$$</name>
  <devices>
    <disk type='nvme' device='disk'>
      <driver name='qemu' type='raw'/>
      <source type='pci' managed='yes' namespace='1'>
        <address domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>
      </source>
      <target dev='vde' bus='virtio'/>
    </disk>
  </devices>
</domain>
EOF

note "two domain files with one uuid: two domains, each with its own disks, and a warning naming both"
assert_exit 0 qmpctl --libvirt-dir "$LV3" --run-dir "$EMPTY" list --all
assert_match "$(row "$OUT" "twin-a-$$")" "^ +- +twin-a-$$ +shut off" "twin-a listed"
assert_match "$(row "$OUT" "twin-b-$$")" "^ +- +twin-b-$$ +shut off" "twin-b listed"
assert_contains "$ERR" "warning: $LV3/twin-a.xml and $LV3/twin-b.xml carry the same uuid $TWIN_UUID" \
	"the warning names both files"
assert_exit 0 qmpctl --libvirt-dir "$LV3" --run-dir "$EMPTY" --json disks "twin-a-$$"
assert_json "$OUT" 'length == 1 and .[0].source == "/var/lib/images/twin-a.qcow2"' "twin-a's own disk"
assert_exit 0 qmpctl --libvirt-dir "$LV3" --run-dir "$EMPTY" --json disks "twin-b-$$"
assert_json "$OUT" 'length == 1 and .[0].source == "/var/lib/images/twin-b.qcow2"' "twin-b's own disk"
assert_exit 1 qmpctl --libvirt-dir "$LV3" --run-dir "$EMPTY" disks "$TWIN_UUID"
assert_contains "$ERR" "qmpctl: '$TWIN_UUID' names 2 VMs, not one: $LV3/twin-a.xml: select it by name; $LV3/twin-b.xml: select it by name" \
	"the shared uuid selects neither"
assert_eq "" "$OUT" "no disks shown for an ambiguous uuid"

note "a running QEMU and a shut-off domain of one name, other disks: both listed, never merged"
assert_exit 0 qmpctl --libvirt-dir "$LV3" --run-dir "$EMPTY" list --all
assert_match "$OUT" "^ +$QEMU_PID +$NAME \\(not the domain\\) +running " "the process, marked"
assert_match "$OUT" "^ +- +$NAME +shut off" "the shut-off domain"
assert_contains "$ERR" "warning: process $QEMU_PID is named '$NAME' like the domain in $LV3/shutoff-namesake.xml but is not that domain (its disks are not the domain's)" \
	"a warning says why"
assert_exit 0 qmpctl --libvirt-dir "$LV3" --run-dir "$EMPTY" --json list --all
assert_json "$OUT" "map(select(.name == \"$NAME\")) | length == 2" "two entries of that name"
assert_json "$OUT" "map(select(.name == \"$NAME\" and .pid == $QEMU_PID))[0] | .not_domain == \"$LV3/shutoff-namesake.xml\"
	and .sources == [\"process\"] and .state == \"running\"" "the process as JSON"
assert_json "$OUT" "map(select(.name == \"$NAME\" and .pid == null))[0] | .not_domain == null and .sources == [\"xml\"]
	and .state == \"shut off\"" "the domain as JSON"
assert_exit 1 qmpctl --libvirt-dir "$LV3" --run-dir "$EMPTY" disks "$NAME"
assert_contains "$ERR" "qmpctl: '$NAME' names 2 VMs, not one: $LV3/shutoff-namesake.xml: select it by uuid 3f2504e0-4f89-41d3-9a0c-0305e82c33bb; process $QEMU_PID (not the domain): select it by pid $QEMU_PID" \
	"an ambiguous name selects neither and says what selects each"
assert_exit 0 qmpctl --libvirt-dir "$LV3" --run-dir "$EMPTY" --json disks 3f2504e0-4f89-41d3-9a0c-0305e82c33bb
assert_json "$OUT" 'length == 4 and ([.[].source] == ["/var/lib/images/ns-1.qcow2", "/var/lib/images/ns-2.qcow2",
	"/var/lib/images/ns-3.qcow2", "/var/lib/images/ns-4.qcow2"])' "the domain's 4 disks by uuid"
assert_exit 0 qmpctl --libvirt-dir "$LV3" --run-dir "$EMPTY" --json disks "$QEMU_PID"
# (the live view: an external snapshot above put snap1.qcow2 over top.qcow2)
assert_json "$OUT" "length == 1 and .[0].source == \"$T/snap1.qcow2\" and .[0].backing[0].source == \"$T/top.qcow2\"" \
	"the process's 1 disk by pid"
assert_exit 1 qmpctl --libvirt-dir "$LV3" --run-dir "$EMPTY" qmp "$NAME" query-status
assert_contains "$ERR" "names 2 VMs, not one" "every verb refuses the ambiguous name"

note "the domain file of the running QEMU (same name, its disk): one VM"
domain "$NAME" shutoff-namesake.xml 3f2504e0-4f89-41d3-9a0c-0305e82c33bb "$T/top.qcow2"
assert_exit 0 qmpctl --libvirt-dir "$LV3" --run-dir "$EMPTY" --json list --all
assert_json "$OUT" "map(select(.name == \"$NAME\")) | length == 1 and .[0].pid == $QEMU_PID and .[0].not_domain == null
	and (.[0].sources | sort) == [\"process\", \"xml\"]" "merged"
assert_not_contains "$ERR" "is not that domain" "no warning"

note "NVMe disks: the PCI address as virsh domblklist prints it"
assert_exit 0 qmpctl --libvirt-dir "$LV3" --run-dir "$EMPTY" disks "nvme-$$"
assert_match "$OUT" '^ +nvme +disk +vde +raw +nvme://0000:01:00\.0/1 *$' "the nvme row"
assert_exit 0 qmpctl --libvirt-dir "$LV3" --run-dir "$EMPTY" --json disks "nvme-$$"
assert_json "$OUT" '.[0].source == "nvme://0000:01:00.0/1" and .[0].type == "nvme"' "nvme in JSON"

# ---- a monitor another client holds ---------------------------------------------------------

note "list with the VM's monitor held by another client: what is known, not a guess"
assert_exit 0 qmpctl --libvirt-dir "$EMPTY" --run-dir "$EMPTY" --json list
sock=$(jq -r ".[] | select(.pid == $QEMU_PID) | .qmp" <<<"$OUT")
[[ "$sock" == "$QMP_SOCK" || "$sock" == "$QMP_SOCK2" ]] || fail "the fixture's QMP socket is '$sock'"
other=$QMP_SOCK2
[[ "$sock" == "$QMP_SOCK" ]] || other=$QMP_SOCK
# Paused, so a guess of "running" is wrong.
assert_exit 0 qmpctl qmp "$other" stop
mkfifo "$T/hold"
# socat's stdin is the fifo, kept open by fd 7, so it never sees EOF and stays connected.
exec 7<>"$T/hold"
BG_STDIN=$T/hold bg_start "$T/socat.out" "$T/socat.err" socat - "UNIX-CONNECT:$sock"
socat_pid=$BG_PID
wait_for_match "$T/socat.out" '"QMP"' 10 "socat got no greeting"
assert_exit 0 qmpctl --libvirt-dir "$EMPTY" --run-dir "$EMPTY" -t 1 list
assert_match "$(row "$OUT" "$NAME")" "^ +$QEMU_PID +$NAME +unknown \\(monitor busy\\) +$sock *\$" \
	"unknown (monitor busy)"
assert_exit 0 qmpctl --libvirt-dir "$EMPTY" --run-dir "$EMPTY" -t 1 --json list
assert_json "$OUT" "map(select(.pid == $QEMU_PID))[0] | .state == \"unknown\" and .reason == \"monitor busy\"" \
	"JSON: state unknown, reason monitor busy"
# With libvirt's status file of this process, its state is what is known.
RUN4=$T/run4
mkdir -p "$RUN4"
cat >"$RUN4/$NAME.xml" <<EOF
<domstatus state='paused' reason='user' pid='$QEMU_PID'>
  <monitor path='$QEMU_DIR/libvirt-monitor.sock' type='unix'/>
  <domain type='kvm' id='9'>
    <name>$NAME</name>
    <uuid>3f2504e0-4f89-41d3-9a0c-0305e82c33cc</uuid>
  </domain>
</domstatus>
EOF
assert_exit 0 qmpctl --libvirt-dir "$EMPTY" --run-dir "$RUN4" -t 1 list
assert_match "$(row "$OUT" "$NAME")" "^ +$QEMU_PID +$NAME +paused \\(monitor busy\\) " "the status file's state"
assert_exit 0 qmpctl --libvirt-dir "$EMPTY" --run-dir "$RUN4" -t 1 --json list
assert_json "$OUT" "map(select(.pid == $QEMU_PID))[0] | .state == \"paused\" and .reason == \"monitor busy\"" \
	"JSON: the status file's state, reason monitor busy"
kill -TERM "$socat_pid"
bg_wait "$socat_pid" 5
exec 7>&-
assert_exit 0 qmpctl -t 10 qmp "$other" cont
assert_exit 0 qmpctl --libvirt-dir "$EMPTY" --run-dir "$EMPTY" -t 10 --json list
assert_json "$OUT" "map(select(.pid == $QEMU_PID))[0] | .state == \"running\" and .reason == null" \
	"once the monitor is free, QEMU's own answer"

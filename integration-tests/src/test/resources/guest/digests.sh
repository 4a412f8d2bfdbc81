#!/bin/sh
# Guest script for kernel-initiator --no-login: open-iscsi logs in with
# HeaderDigest=CRC32C and DataDigest=CRC32C, then writes and reads back
# 32 MiB with O_DIRECT and checks the checksums and the negotiated digests.
set -e
iscsiadm -m discovery -t st -p "$KI_PORTAL"
iscsiadm -m node -T "$KI_IQN" -o delete >/dev/null 2>&1 || true
iscsiadm -m node -T "$KI_IQN" -p "$KI_PORTAL,1" -o new >/dev/null
for k in HeaderDigest DataDigest; do
  iscsiadm -m node -T "$KI_IQN" -p "$KI_PORTAL" -o update -n "node.conn[0].iscsi.$k" -v CRC32C
done
iscsiadm -m node -T "$KI_IQN" -p "$KI_PORTAL" --login
# sysfs shows the disk before udev has made /dev/sdX: wait for the device node itself
dev=""; i=0
while { [ -z "$dev" ] || [ ! -b "$dev" ]; } && [ $i -lt 120 ]; do
  for b in /sys/class/iscsi_session/session*/device/target*/*:*:*:0/block/*; do
    [ -e "$b" ] && dev=/dev/${b##*/}
  done
  { [ -n "$dev" ] && [ -b "$dev" ]; } || { sleep 0.5; i=$((i+1)); }
done
[ -b "$dev" ] || { echo "KI: no disk"; exit 1; }
iscsiadm -m session -P 2 | grep -iE 'digest' | sed 's/^/KI: [digests] /'
iscsiadm -m session -P 2 | grep -q 'HeaderDigest: CRC32C' || { echo "KI: header digest not negotiated"; exit 1; }
iscsiadm -m session -P 2 | grep -q 'DataDigest: CRC32C' || { echo "KI: data digest not negotiated"; exit 1; }
head -c 33554432 /dev/urandom > /tmp/pat
dd if=/tmp/pat of=$dev bs=1M count=32 oflag=direct 2>/dev/null
echo 3 > /proc/sys/vm/drop_caches
dd if=$dev of=/tmp/back bs=1M count=32 iflag=direct 2>/dev/null
a=$(sha256sum < /tmp/pat); b=$(sha256sum < /tmp/back)
echo "KI: [digests] written $a"
echo "KI: [digests] read    $b"
[ "$a" = "$b" ] || { echo "KI: checksum mismatch"; exit 1; }
if dmesg | grep -iE 'I/O error|digest|iscsi.*err' | grep -v 'Digest: None'; then
  echo "KI: errors in dmesg"; exit 1
fi
iscsiadm -m node -T "$KI_IQN" -p "$KI_PORTAL" --logout
echo "KI: [digests] all checks passed"
exit 0

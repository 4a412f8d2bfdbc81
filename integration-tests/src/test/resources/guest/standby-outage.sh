#!/bin/sh
# Guest script for kernel-initiator: ext4 on the LUN, files with checksums written continuously
# while the host takes the storage away for a while (the target answers BUSY) and brings it back.
# Passes if every file reads back with its checksum, e2fsck is clean and dmesg shows no I/O error.
set -e
dev="$KI_DEV"
mkfs.ext4 -q -F "$dev"
mkdir -p /mnt/t
mount "$dev" /mnt/t
: > /tmp/sums
start=$(date +%s)
echo "KI: [standby] writing"
i=0
# Write for at least WRITE_SECONDS (the host's outage falls inside), at least 20 files.
while [ $i -lt 20 ] || [ $(( $(date +%s) - start )) -lt "${WRITE_SECONDS:-30}" ]; do
  head -c 262144 /dev/urandom > /tmp/f
  cp /tmp/f /mnt/t/file$i
  sync
  echo "$(sha256sum < /tmp/f | cut -d' ' -f1) file$i" >> /tmp/sums
  i=$((i + 1))
done
echo "KI: [standby] wrote $i files in $(( $(date +%s) - start )) s"
umount /mnt/t
echo 3 > /proc/sys/vm/drop_caches
e2fsck -fn "$dev"
mount "$dev" /mnt/t
bad=0
while read -r sum name; do
  [ "$(sha256sum < /mnt/t/$name | cut -d' ' -f1)" = "$sum" ] || { echo "KI: checksum mismatch in $name"; bad=1; }
done < /tmp/sums
umount /mnt/t
[ $bad = 0 ] || exit 1
if dmesg | grep -iE 'I/O error|blk_update_request|Buffer I/O|EXT4-fs error|timing out command'; then
  echo "KI: errors in dmesg"; exit 1
fi
echo "KI: [standby] all $i files verified, no I/O error"

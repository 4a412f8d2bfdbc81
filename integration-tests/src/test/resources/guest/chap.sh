#!/bin/sh
# Guest script for kernel-initiator --no-login: open-iscsi logs in with CHAP, then writes and
# reads back 8 MiB with O_DIRECT and compares the checksums.
# Variables (--env): CHAP_USER, CHAP_SECRET; optional:
#   CHAP_BAD_SECRET  tried first: that login must be refused and leave no session
#   CHAP_USER_IN, CHAP_SECRET_IN  mutual CHAP (the target's account)
#   CHAP_ALGS        node.session.auth.chap_algs, e.g. SHA3-256,SHA256,SHA1,MD5
#   CHAP_EACH_ALG    before the main login, log in and out once with each of these alone,
#                    e.g. "MD5 SHA1 SHA256"
set -e
iscsiadm -m discovery -t st -p "$KI_PORTAL"
iscsiadm -m node -T "$KI_IQN" -o delete >/dev/null 2>&1 || true
iscsiadm -m node -T "$KI_IQN" -p "$KI_PORTAL,1" -o new >/dev/null
auth() { iscsiadm -m node -T "$KI_IQN" -p "$KI_PORTAL" -o update -n "node.session.auth.$1" -v "$2"; }
auth authmethod CHAP
auth username "$CHAP_USER"
if [ -n "$CHAP_USER_IN" ]; then
  auth username_in "$CHAP_USER_IN"
  auth password_in "$CHAP_SECRET_IN"
fi
if [ -n "$CHAP_BAD_SECRET" ]; then
  auth password "$CHAP_BAD_SECRET"
  if iscsiadm -m node -T "$KI_IQN" -p "$KI_PORTAL" --login > /tmp/bad 2>&1; then
    echo "KI: [chap] the login with a wrong secret succeeded"; exit 1
  fi
  sed 's/^/KI: [chap] wrong secret: /' /tmp/bad
  if iscsiadm -m session > /dev/null 2>&1; then
    echo "KI: [chap] a session exists after the refused login"; exit 1
  fi
fi
auth password "$CHAP_SECRET"
for alg in $CHAP_EACH_ALG; do
  auth chap_algs "$alg"
  iscsiadm -m node -T "$KI_IQN" -p "$KI_PORTAL" --login > /dev/null
  echo "KI: [chap] logged in with $alg alone"
  iscsiadm -m node -T "$KI_IQN" -p "$KI_PORTAL" --logout > /dev/null
done
[ -z "$CHAP_ALGS" ] || auth chap_algs "$CHAP_ALGS"
iscsiadm -m node -T "$KI_IQN" -p "$KI_PORTAL" --login
# sysfs shows the disk before udev has made /dev/sdX: wait for the device node itself
dev=""; i=0
while { [ -z "$dev" ] || [ ! -b "$dev" ]; } && [ $i -lt 120 ]; do
  for b in /sys/class/iscsi_session/session*/device/target*/*:*:*:0/block/*; do
    [ -e "$b" ] && dev=/dev/${b##*/}
  done
  { [ -n "$dev" ] && [ -b "$dev" ]; } || { sleep 0.5; i=$((i+1)); }
done
[ -b "$dev" ] || { echo "KI: [chap] no disk"; exit 1; }
iscsiadm -m session -P 2 | grep -iE 'CHAP|username' | grep -v -i password | sed 's/^/KI: [chap] /'
head -c 8388608 /dev/urandom > /tmp/pat
dd if=/tmp/pat of=$dev bs=1M count=8 oflag=direct 2>/dev/null
echo 3 > /proc/sys/vm/drop_caches
dd if=$dev of=/tmp/back bs=1M count=8 iflag=direct 2>/dev/null
a=$(sha256sum < /tmp/pat); b=$(sha256sum < /tmp/back)
echo "KI: [chap] written $a"
echo "KI: [chap] read    $b"
[ "$a" = "$b" ] || { echo "KI: [chap] checksum mismatch"; exit 1; }
iscsiadm -m node -T "$KI_IQN" -p "$KI_PORTAL" --logout
echo "KI: [chap] all checks passed"
exit 0

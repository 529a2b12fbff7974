#!/bin/busybox sh
# /init of the kmview test guest: loads the module, runs the tests, checks the kernel log, and
# ends qemu with the verdict (guest-exit: 0 all passed).
/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
# /tmp stays the initramfs's own (already in RAM and writable): a build tree copied under /tmp
# (CI clones there) must not be hidden by a tmpfs.
mkdir -p /tmp && chmod 1777 /tmp
ln -s /proc/self/fd /dev/fd
ln -s /proc/self/fd/0 /dev/stdin
ln -s /proc/self/fd/1 /dev/stdout
ln -s /proc/self/fd/2 /dev/stderr
echo "KMVIEW-GUEST kernel $(uname -r)"
filter=$(cat /test-filter)
[ -x /debug.sh ] && /debug.sh
verdict=0
fail() { echo "FAIL $*"; verdict=1; }

if insmod /kmview.ko; then echo "PASS insmod"; else fail "insmod"; fi
[ -c /dev/kmview ] && echo "PASS dev_node" || fail "dev_node: /dev/kmview missing"
KMVIEW_BENCH=
[ -f /guest-env ] && . /guest-env
/kmtest $filter || verdict=1
if [ "$KMVIEW_BENCH" = only ] && [ -x /bench.sh ]; then
  /bench.sh  # the benchmark without umview's tests (KMVIEW_BENCH=only run-qemu-tests --umview B)
else
  [ -x /kmview-guest-tests.sh ] && { /kmview-guest-tests.sh || verdict=1; }
fi
if rmmod kmview; then echo "PASS rmmod_when_idle"; else fail "rmmod_when_idle"; fi

echo "---- dmesg ----"
dmesg
echo "---- end dmesg ----"
if dmesg | grep -qE 'BUG:|WARNING:|Oops|lockdep|circular locking|blocked for more than'; then
  fail "dmesg_clean"
else
  echo "PASS dmesg_clean"
fi
echo "VERDICT $verdict"
/guest-exit $verdict

#!/bin/sh
# Benchmark in the kmview guest (KMVIEW_BENCH=1): native vs `umview -e ptrace` vs
# `umview -e kmview` without and with viewfs's path prefilter (prefilter=on), all with a viewfs
# bind elsewhere (/view), on `find` and `ls -lR` of a tree of 3000 files (no syscall-loop row yet). Prints BENCH lines (seconds, and the ratio to native).
# TCG timings: only the ratios mean anything, and only roughly.
b=$(cat /umview-build)
mkdir -p /bench /srcdir
i=0
while [ $i -lt 30 ]; do
  mkdir -p /bench/d$i
  j=0
  while [ $j -lt 100 ]; do : >/bench/d$i/f$j; j=$((j + 1)); done
  i=$((i + 1))
done
now() { cut -d' ' -f1 /proc/uptime; }
run() {  # LABEL CMD...
  label=$1; shift
  s=$(now); "$@" >/dev/null 2>&1; e=$(now)
  echo "$label $(echo "$e $s" | awk '{printf "%.2f", $1 - $2}')"
}
# "true": the fixed cost of starting umview (and the view) in this emulated machine.
for cmd in true "find /bench" "ls -lR /bench"; do
  n=$(run native $cmd | cut -d' ' -f2)
  p=$(run ptrace "$b/umview" -e ptrace -p viewfs,bind=/srcdir:/view -- $cmd | cut -d' ' -f2)
  k=$(run kmview "$b/umview" -e kmview -p viewfs,bind=/srcdir:/view -- $cmd | cut -d' ' -f2)
  f=$(run kmview-prefilter "$b/umview" -e kmview -p viewfs,bind=/srcdir:/view,prefilter=on -- $cmd | cut -d' ' -f2)
  echo "$n $p $k $f" | awk -v c="$cmd" '{n = $1 > 0 ? $1 : 0.01; printf "BENCH %s: native %.2fs ptrace %.2fs (x%.2f) kmview %.2fs (x%.2f) kmview+prefilter %.2fs (x%.2f)\n", c, $1, $2, $2/n, $3, $3/n, $4, $4/n}'
done

#!/bin/sh
# Benchmark in the kmview guest (KMVIEW_BENCH=1, or KMVIEW_BENCH=only for the benchmark alone):
# native vs `umview -e ptrace` vs `umview -e kmview` with viewfs's prefilter off (prefilter=off,
# whatever viewfs's default) and on (prefilter=on), every view with a viewfs bind elsewhere
# (bind=/srcdir:/view).
# Rows (the trees are made here, in the guest's RAM):
#   true             umview's start-up alone (and the view's)
#   stat loop out    busybox sh: 2000 x `[ -e /etc/passwd ]` (a path outside the view)
#   stat loop in     busybox sh: 2000 x `[ -e /view/file ]` (inside: every engine stops)
#   find big         GNU find on /bench: 80 x 50 directories of 20 empty files (4081 directories,
#                    80000 files; KMVIEW_BENCH_TREE="80 50 20" sets the three numbers)
#   ls -lR small     GNU ls -lR on /lsbench: 10 x 10 directories of 10 files (111 directories,
#                    1000 files): smaller, as every file stops without the prefilter
#   ls -lR big       GNU ls -lR on /bench, native and kmview with the prefilter only
#   find big pair    native and kmview with the prefilter only, KMVIEW_BENCH_PAIR_ROUNDS rounds
#                    (default 7)
#   exact            each command timed to the ns by `kmbench run` (start-up included), meant for
#                    a guest whose clock counts instructions (run-qemu-tests with
#                    KMVIEW_QEMU_ICOUNT=0: 1 ns = 1 instruction, the host's load does not count, one
#                    round is enough): /usr/bin/true natively, `umview --version`, umview with no
#                    plugin on each engine, the view on each engine, then find /bench and ls -lR
#                    /bench natively, with kmview+prefilter and with ptrace. BENCHEXACT lines.
# Each row runs KMVIEW_BENCH_ROUNDS times (default 3), the engines alternating within a round (in
# reverse order in odd rounds). BENCH lines give the median (seconds, wall time from
# /proc/uptime) and its ratio to native's median, BENCHRUN lines every run, BENCHCHECK whether
# the view printed what native did, BENCHSTOPS the stops per run (umview --stats) on the small
# tree. KMVIEW_BENCH_ROWS="micro true find-big find-big-pair stat-loop ls-lR-small ls-lR-big stops exact"
# picks rows (default all). TCG timings: only the ratios mean anything, roughly.
#   micro            /kmbench KIND N (timed inside the process: no start-up): ns per call of
#                    getppid (no tracer asks for it) and of path and descriptor calls outside the
#                    view, natively and under kmview with the prefilter, KMVIEW_BENCH_MICRO_ROUNDS
#                    rounds (default 5) of KMVIEW_BENCH_MICRO_N calls (default 20000), and the
#                    whole `find /bench` (wall time, start-up included); KMVIEW_BENCH_MICRO_KINDS
#                    picks (getppid stat-abs stat-rel fstat-empty open-rel getdents find). With
#                    /kmview-base.ko in the guest (run-qemu-tests with KMVIEW_BENCH_BASELINE=REV)
#                    each round runs under both modules, swapped by rmmod/insmod: BENCHMICRO
#                    lines give medians per module, engine and call.
b=$(cat /umview-build)
[ -f /guest-env ] && . /guest-env
rounds=${KMVIEW_BENCH_ROUNDS:-3}
export PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin

mk_tree() {  # DIR TOP SUB FILES: DIR/a<i>/b<j>/f<k>
  awk -v d="$1" -v t="$2" -v s="$3" \
    'BEGIN { for (i = 0; i < t; i++) for (j = 0; j < s; j++) print d "/a" i "/b" j }' | xargs mkdir -p
  awk -v d="$1" -v t="$2" -v s="$3" -v f="$4" 'BEGIN { for (i = 0; i < t; i++)
    for (j = 0; j < s; j++) for (k = 0; k < f; k++) print d "/a" i "/b" j "/f" k }' | xargs touch
}
rm -rf /bench /lsbench
mk_tree /bench ${KMVIEW_BENCH_TREE:-80 50 20}
mk_tree /lsbench 10 10 10
# /view exists on the host too (so the native stat loop finds a file); in the views it is the bind.
mkdir -p /srcdir /view && touch /srcdir/file /view/file
echo "BENCHINFO trees: /bench $(find /bench -type d | wc -l) directories $(find /bench -type f | wc -l) files;" \
  "/lsbench $(find /lsbench -type d | wc -l) directories $(find /lsbench -type f | wc -l) files"

now() { cut -d' ' -f1 /proc/uptime; }
timed() {  # CMD...: prints the wall time in seconds
  s=$(now)
  "$@" >/dev/null 2>&1
  e=$(now)
  echo "$e $s" | awk '{ printf "%.2f", $1 - $2 }'
}
median() { tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
view="viewfs,bind=/srcdir:/view"
run_engine() {  # ENGINE CMD...
  engine=$1
  shift
  case $engine in
    native) timed "$@" ;;
    ptrace) timed "$b/umview" -e ptrace -p "$view,prefilter=off" -- "$@" ;;
    kmview) timed "$b/umview" -e kmview -p "$view,prefilter=off" -- "$@" ;;
    kmview-prefilter) timed "$b/umview" -e kmview -p "$view,prefilter=on" -- "$@" ;;
  esac
}
# The view must not change what the command prints: one untimed run per engine, compared with
# native's output (BENCHCHECK lines). For the rows where the prefilter lets calls run unseen.
check() {  # LABEL "ENGINES" CMD...
  label=$1 engines=$2
  shift 2
  "$@" 2>&1 | md5sum >/tmp/bench-native.md5
  lines=$("$@" 2>&1 | wc -l)
  for e in $engines; do
    [ "$e" = native ] && continue
    case $e in
      ptrace) set -- "$b/umview" -e ptrace -p "$view,prefilter=off" -- "$@" ;;
      kmview) set -- "$b/umview" -e kmview -p "$view,prefilter=off" -- "$@" ;;
      kmview-prefilter) set -- "$b/umview" -e kmview -p "$view,prefilter=on" -- "$@" ;;
    esac
    if [ "$("$@" 2>&1 | md5sum)" = "$(cat /tmp/bench-native.md5)" ]; then
      echo "BENCHCHECK $label: $e prints what native prints ($lines lines)"
    else
      echo "BENCHCHECK $label: $e output DIFFERS from native's"
    fi
    shift 6
  done
}
row() {  # LABEL "ENGINES" CMD...
  label=$1 engines=$2
  shift 2
  all=""
  r=0
  while [ $r -lt "${ROUNDS:-$rounds}" ]; do
    order=$engines
    # Odd rounds run the engines in reverse order: no engine always runs first.
    [ $((r % 2)) = 1 ] && order=$(echo "$engines" | tr ' ' '\n' | sed -n '1!G;h;$p' | tr '\n' ' ')
    for e in $order; do
      t=$(run_engine "$e" "$@")
      echo "BENCHRUN $label $e round $r: ${t}s"
      all="$all $e=$t"
    done
    r=$((r + 1))
  done
  line="BENCH $label:"
  for e in $engines; do
    m=$(echo "$all" | tr ' ' '\n' | sed -n "s/^$e=//p" | median)
    [ "$e" = native ] && n=$m
    line="$line $(echo "$e $m $n" | awk '{ n = $3 > 0 ? $3 : 0.01; printf "%s %.2fs (x%.2f)", $1, $2, $2 / n }')"
  done
  echo "$line"
}

# Stops per run (umview --stats, untimed): what still reaches umview with each engine.
stops() {  # LABEL CMD...
  label=$1
  shift
  for e in ptrace kmview kmview-prefilter; do
    case $e in
      ptrace) opts="-e ptrace -p $view,prefilter=off" ;;
      kmview) opts="-e kmview -p $view,prefilter=off" ;;
      kmview-prefilter) opts="-e kmview -p $view,prefilter=on" ;;
    esac
    # shellcheck disable=SC2086
    top=$("$b/umview" --stats $opts -- "$@" 2>&1 >/dev/null |
      awk '$1 == "total" { t = $3 } NF == 5 && $2 ~ /^[0-9]+$/ && n < 4 { s = s " " $1 "=" $2; n++ }
           END { print t + 0 " (top:" s ")" }')
    echo "BENCHSTOPS $label $e: $top"
  done
}

# Absolute paths: busybox sh would run its own find and ls applets for the bare names, natively,
# where umview runs GNU's (exec by PATH): the rows must compare one program.
find=/usr/bin/find ls=/usr/bin/ls true=/usr/bin/true
want() { case " ${KMVIEW_BENCH_ROWS:-all} " in *" all "* | *" $1 "*) return 0 ;; esac; return 1; }
all4="native ptrace kmview kmview-prefilter"
# Per-call cost, timed inside the process (kmbench), native and under kmview+prefilter; under
# the baseline module (/kmview-base.ko) too when there is one, alternating within each round.
micro() {
  n=${KMVIEW_BENCH_MICRO_N:-20000}
  kinds=${KMVIEW_BENCH_MICRO_KINDS:-getppid stat-abs stat-rel fstat-empty open-rel getdents find}
  mods=cur
  [ -f /kmview-base.ko ] && mods="base cur"
  all=""
  r=0
  while [ $r -lt "${KMVIEW_BENCH_MICRO_ROUNDS:-5}" ]; do
    order=$mods
    [ $((r % 2)) = 1 ] && order=$(echo "$mods" | tr ' ' '\n' | sed -n '1!G;h;$p' | tr '\n' ' ')
    for m in $order; do
      if [ "$mods" != cur ]; then  # swap the modules (no tracer is open between runs)
        rmmod kmview 2>/dev/null
        rmmod kmview_base 2>/dev/null
        if [ $m = base ]; then insmod /kmview-base.ko; else insmod /kmview.ko; fi || echo "BENCHMICRO insmod $m failed"
      fi
      for k in $kinds; do
        for e in native kmview-prefilter; do
          if [ "$k" = find ]; then  # the whole of find /bench, start-up included (wall, s)
            t=$(run_engine $e $find /bench)
            echo "BENCHMICRORUN $m $e find round $r: ${t}s"
          else
            case $e in
              native) set -- /kmbench "$k" "$n" /bench/a0/b0 ;;
              *) set -- "$b/umview" -e kmview -p "$view,prefilter=on" -- /kmbench "$k" "$n" /bench/a0/b0 ;;
            esac
            t=$("$@" 2>/dev/null | awk '{ print $3 }')
            echo "BENCHMICRORUN $m $e $k round $r: ${t}ns"
          fi
          all="$all $m/$e/$k=$t"
        done
      done
    done
    r=$((r + 1))
  done
  if [ "$mods" != cur ]; then rmmod kmview_base 2>/dev/null; lsmod | grep -q '^kmview ' || insmod /kmview.ko; fi
  for k in $kinds; do
    unit=ns/call
    [ "$k" = find ] && unit="s, find /bench"
    line="BENCHMICRO $k ($unit, median [min-max] of ${KMVIEW_BENCH_MICRO_ROUNDS:-5}):"
    for m in $mods; do
      for e in native kmview-prefilter; do
        v=$(echo "$all" | tr ' ' '\n' | sed -n "s|^$m/$e/$k=||p" | grep . | sort -n)
        line="$line $m/$e $(echo "$v" | median) [$(echo "$v" | head -1)-$(echo "$v" | tail -1)]"
      done
    done
    echo "$line"
  done
}
want micro && micro

# Exact timings (see "exact" above): the median of KMVIEW_BENCH_ROUNDS runs of each, and ratios.
exact() {
  all=""
  r=0
  while [ $r -lt "$rounds" ]; do
    for c in "true|native|$true" "version|umview|$b/umview --version" \
      "true|umview-ptrace|$b/umview -e ptrace -- $true" "true|umview-kmview|$b/umview -e kmview -- $true" \
      "true|ptrace|$b/umview -e ptrace -p $view,prefilter=off -- $true" \
      "true|kmview-prefilter|$b/umview -e kmview -p $view,prefilter=on -- $true" \
      "find|native|$find /bench" "find|kmview-prefilter|$b/umview -e kmview -p $view,prefilter=on -- $find /bench" \
      "find|kmview|$b/umview -e kmview -p $view,prefilter=off -- $find /bench" \
      "find|ptrace|$b/umview -e ptrace -p $view,prefilter=off -- $find /bench" \
      "ls-lR|native|$ls -lR /bench" "ls-lR|kmview-prefilter|$b/umview -e kmview -p $view,prefilter=on -- $ls -lR /bench"; do
      label=${c%%|*} rest=${c#*|}
      engine=${rest%%|*} cmd=${rest#*|}
      # shellcheck disable=SC2086
      t=$(/kmbench run $cmd | awk '{ print $2 }')
      echo "BENCHEXACTRUN $label $engine round $r: $t ns"
      all="$all $label/$engine=$t"
    done
    r=$((r + 1))
  done
  for label in true version find ls-lR; do
    line="BENCHEXACT $label (ns, median of $rounds):"
    n=""
    for engine in native umview umview-ptrace umview-kmview ptrace kmview kmview-prefilter; do
      v=$(echo "$all" | tr ' ' '\n' | sed -n "s|^$label/$engine=||p" | median)
      [ -z "$v" ] && continue
      [ "$engine" = native ] && n=$v
      line="$line $engine $v$(echo "$v $n" | awk '$2 > 0 { printf " (x%.3f)", $1 / $2 }')"
    done
    echo "$line"
  done
}
want exact && exact
want stops && stops "find-lsbench" $find /lsbench
want stops && stops "ls-lR-lsbench" $ls -lR /lsbench
loop='i=0; while [ $i -lt 2000 ]; do [ -e "$0" ]; i=$((i + 1)); done'
want true && row "true" "$all4" $true
want find-big && check "find-big" "native kmview-prefilter" $find /bench
want find-big && row "find-big" "$all4" $find /bench
# The cheap pair again, with more rounds (KMVIEW_BENCH_PAIR_ROUNDS, default 7): the host's load
# moves TCG timings by tens of percent between runs.
want find-big-pair &&
  ROUNDS=${KMVIEW_BENCH_PAIR_ROUNDS:-7} row "find-big-pair" "native kmview-prefilter" $find /bench
want stat-loop && row "stat-loop-outside" "$all4" /bin/sh -c "$loop" /etc/passwd
want stat-loop && row "stat-loop-inside" "$all4" /bin/sh -c "$loop" /view/file
want ls-lR-small && check "ls-lR-small" "native kmview-prefilter" $ls -lR /lsbench
want ls-lR-small && row "ls-lR-small" "$all4" $ls -lR /lsbench
want ls-lR-big && check "ls-lR-big" "native kmview-prefilter" $ls -lR /bench
want ls-lR-big && row "ls-lR-big" "native kmview-prefilter" $ls -lR /bench

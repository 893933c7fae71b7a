#!/bin/sh
# Fuzzes hostdevd's parsers with libFuzzer: builds every fuzz target with
# clang (-fsanitize=fuzzer,address,undefined, configure --enable-fuzzing) in
# a build directory of its own, runs each on a fresh copy of its seed corpus
# and regression inputs for --time SECONDS or --runs N executions (with both,
# whichever comes first), one target after another or --jobs J at a time,
# and prints one line per target:
# executions, exec/s, corpus size, coverage (libFuzzer's final cov:) and
# findings. Exits 1 when a target crashed, leaked, timed out or ran out of
# memory, leaving the reproducer under WORK/<target>/artifacts; 2 when it
# could not build or run.
#
#   tests/fuzz/fuzz.sh [--time SECONDS] [--runs N] [--jobs J] [--build-dir DIR]
#                      [--campaign CDIR] [TARGET...]
#
# Without --time or --runs each target runs 60 seconds. The build directory
# defaults to build/fuzz under the source tree; WORK is DIR/fuzz-work.
#
# --campaign CDIR makes runs add up: each target's corpus stays in
# CDIR/<target>/corpus (seeded once, regression inputs added each time) and
# its executions and seconds so far in CDIR/<target>/total; a run goes on
# from there until the total reaches --runs (the rest of it is the -runs
# given to libFuzzer), or for --time, so a long campaign can be run in
# slices. The figures printed are the totals.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)

all_targets="kcmdline grub-shell grubenv bls kernel-cmdline-file ledger json-body bodies router pci-addr \
tokens config sysfs uevent sriov-state vfio-state store"

# The longest input each target is given (-max_len): a little more than its
# parser's own limit where it has one, enough for the formats otherwise.
max_len() {
        case $1 in
        # The command line's parser is linear and its edits repeat it: longer lines than
        # a few hundred bytes add time, not paths (x86's COMMAND_LINE_SIZE is 2048).
        kcmdline) echo 512 ;;
        # A setup of several files: entries and fragments of real setups are smaller.
        bls | kernel-cmdline-file | grub-shell) echo 2048 ;;
        pci-addr) echo 64 ;;
        uevent) echo 8192 ;; # UEVENT_BUFFER_SIZE
        grubenv) echo 2048 ;; # a 1024-byte block and a value
        router) echo 2048 ;; # WEB_MAX_URL
        sysfs) echo 12288 ;; # attributes beyond a page (4096) too
        store) echo 8192 ;;
        *) echo 4096 ;;
        esac
}

usage() {
        echo "usage: $0 [--time SECONDS] [--runs N] [--jobs J] [--build-dir DIR] [--campaign CDIR] [TARGET...]" >&2
        echo "targets: $all_targets" >&2
        exit 2
}

time_limit=""
runs=""
jobs=1
build=""
campaign=""
targets=""
while [ $# -gt 0 ]; do
        case $1 in
        --time) [ $# -ge 2 ] || usage; time_limit=$2; shift 2 ;;
        --runs) [ $# -ge 2 ] || usage; runs=$2; shift 2 ;;
        --jobs) [ $# -ge 2 ] || usage; jobs=$2; shift 2 ;;
        --build-dir) [ $# -ge 2 ] || usage; build=$2; shift 2 ;;
        --campaign) [ $# -ge 2 ] || usage; campaign=$2; shift 2 ;;
        -h | --help) usage ;;
        -*) usage ;;
        *) targets="$targets $1"; shift ;;
        esac
done
for n in ${time_limit:-1} ${runs:-1} $jobs; do
        case $n in '' | *[!0-9]* | 0) usage ;; esac
done
[ -z "$time_limit" ] && [ -z "$runs" ] && time_limit=60
[ -n "$targets" ] || targets=$all_targets
for t in $targets; do
        case " $all_targets " in *" $t "*) ;; *) echo "fuzz.sh: no target '$t'" >&2; usage ;; esac
done

build=${build:-$top/build/fuzz}
mkdir -p "$build" || exit 2
build=$(cd "$build" && pwd)
work=$build/fuzz-work
if [ -n "$campaign" ]; then
        mkdir -p "$campaign" || exit 2
        campaign=$(cd "$campaign" && pwd)
fi

# ---- Build ----
if [ ! -x "$top/configure" ]; then
        (cd "$top" && ./autogen.sh) >"$build/autogen.out" 2>&1 || { cat "$build/autogen.out"; exit 2; }
fi
if [ ! -f "$build/Makefile" ]; then
        echo "fuzz.sh: configuring $build (CC=clang --enable-fuzzing)"
        if ! (cd "$build" && "$top/configure" CC=clang CFLAGS="-g -O2" --enable-fuzzing --enable-werror) \
                >"$build/configure.out" 2>&1; then
                tail -n 30 "$build/configure.out"
                exit 2
        fi
fi
echo "fuzz.sh: building the targets in $build"
if ! make -C "$build" -j2 fuzz-targets >"$build/fuzz-build.out" 2>&1; then
        tail -n 40 "$build/fuzz-build.out"
        exit 2
fi

# ---- Runs ----
# One target: a fresh work directory, the corpus copied into it, libFuzzer
# run, its figures written to WORK/<target>/result as one line.
run_one() {
        t=$1
        dir=$work/$t
        rm -rf "$dir"
        mkdir -p "$dir/corpus" "$dir/artifacts"
        corpus=$dir/corpus
        done_execs=0
        done_secs=0
        left=$runs
        if [ -n "$campaign" ]; then
                corpus=$campaign/$t/corpus
                if [ ! -d "$corpus" ]; then
                        mkdir -p "$corpus.new" && cp "$top/tests/fuzz/corpus/$t/"* "$corpus.new/" 2>/dev/null
                        mv "$corpus.new" "$corpus"
                fi
                [ -f "$campaign/$t/total" ] && read -r done_execs done_secs <"$campaign/$t/total"
                if [ -n "$runs" ] && [ "$done_execs" -ge "$runs" ]; then
                        echo "$t $done_execs - $(ls "$corpus" | wc -l) - 0 $done_secs" >"$dir/result"
                        return
                fi
                [ -n "$runs" ] && left=$((runs - done_execs))
        fi
        [ -d "$top/tests/fuzz/regress/$t" ] &&
                find "$top/tests/fuzz/regress/$t" -maxdepth 1 -type f ! -name '.*' -exec cp {} "$corpus/" \;
        if [ -z "$campaign" ] && [ -d "$top/tests/fuzz/corpus/$t" ]; then
                find "$top/tests/fuzz/corpus/$t" -maxdepth 1 -type f ! -name '.*' -exec cp {} "$corpus/" \;
        fi
        set -- ${left:+-runs=$left} ${time_limit:+-max_total_time=$time_limit} -max_len="$(max_len "$t")" -timeout=25 -rss_limit_mb=2048 -print_final_stats=1 \
                -artifact_prefix="$dir/artifacts/"
        [ -f "$top/tests/fuzz/dict/$t.dict" ] && set -- "$@" -dict="$top/tests/fuzz/dict/$t.dict"
        start=$(date +%s)
        # A 32 MB quarantine (256 MB by default): freed memory is still poisoned for the next
        # 32 MB of frees, and the allocator does not walk fresh pages all the time (faster by a third).
        (cd "$dir" && ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1:quarantine_size_mb=32" \
                UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
                "$build/tests/fuzz/fuzz-$t" "$@" "$corpus") >"$dir/log" 2>&1
        status=$?
        end=$(date +%s)
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -n 1)
        speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/log" | tail -n 1)
        last=$(grep -a '^#[0-9][0-9]*[[:space:]].* cov: ' "$dir/log" | tail -n 1)
        cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
        corp=$(echo "$last" | sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p')
        found=$(find "$dir/artifacts" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
                -o -name 'oom-*' \) | wc -l)
        # A run that stopped for another reason (it would not start) is a finding too.
        [ "$status" -ne 0 ] && [ "$found" -eq 0 ] && found=1
        secs=$((end - start))
        if [ -n "$campaign" ] && [ -n "$execs" ]; then
                execs=$((done_execs + execs))
                secs=$((done_secs + secs))
                echo "$execs $secs" >"$campaign/$t/total.new" && mv "$campaign/$t/total.new" "$campaign/$t/total"
        fi
        echo "$t ${execs:--} ${speed:--} ${corp:--} ${cov:--} $found $secs" >"$dir/result"
}

echo "fuzz.sh: running$(for t in $targets; do printf ' %s' "$t"; done)" \
        "(${runs:+$runs runs}${runs:+${time_limit:+ or }}${time_limit:+$time_limit s} each, $jobs at a time)"
rm -rf "$work"
mkdir -p "$work"
k=0
while [ "$k" -lt "$jobs" ]; do
        (
                i=0
                for t in $targets; do
                        [ $((i % jobs)) -eq "$k" ] && run_one "$t"
                        i=$((i + 1))
                done
        ) &
        k=$((k + 1))
done
wait

# ---- Report ----
clean=0
dirty=0
printf '%-20s %12s %8s %8s %8s %9s %8s\n' target executions exec/s corpus cov findings seconds
for t in $targets; do
        if [ -f "$work/$t/result" ]; then
                set -- $(cat "$work/$t/result")
        else
                set -- "$t" - - - - 1 -
        fi
        printf '%-20s %12s %8s %8s %8s %9s %8s\n' "$@"
        if [ "$6" -eq 0 ]; then clean=$((clean + 1)); else dirty=$((dirty + 1)); fi
done
for t in $targets; do
        for f in $(find "$work/$t/artifacts" -type f 2>/dev/null | sort); do
                echo "$t: $(basename "$f" | cut -d- -f1): $f"
                echo "    reproduce: $build/tests/fuzz/fuzz-$t $f"
                echo "    keep it:   cp $f $top/tests/fuzz/regress/$t/"
        done
        if [ -f "$work/$t/result" ] && [ "$(cut -d' ' -f6 "$work/$t/result")" -ne 0 ] &&
                [ -z "$(find "$work/$t/artifacts" -type f 2>/dev/null)" ]; then
                echo "$t: libFuzzer failed without a reproducer; see $work/$t/log"
        fi
done
echo "fuzz.sh: $clean targets clean, $dirty with findings (logs in $work)"
[ "$dirty" -eq 0 ] || exit 1
exit 0

#!/usr/bin/env bash
# Fuzz the model parser and the command loop under ASan + UBSan (libFuzzer).
#
#   scripts/fuzz.sh [SECONDS]     (default 60; split evenly between the targets)
#
# Env: BUILD (default firmware/build), FUZZ_JOBS (parallel jobs per target,
# default 1), FUZZ_NICE (nice level, default 0), FUZZ_TARGETS (default
# "parser cmdloop"), PYTHON (default python3), FUZZ_COVERAGE (1: also replay the corpus through a
# coverage build and print line coverage of firmware/src; needs llvm-cov).  Runs the committed regression inputs
# (tests/fuzz/regressions/<target>/) first, then fuzzes from the generated seeds
# plus the persistent corpus in $BUILD/fuzz/corpus/<target>.  Prints executions,
# crashes and coverage per target; exits non-zero on any crash, sanitizer report
# or leak.  Crash inputs land in $BUILD/fuzz/artifacts/: copy each one into
# tests/fuzz/regressions/<target>/ once fixed.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TOTAL=${1:-60}
BUILD=$(realpath -m "${BUILD:-$PWD/firmware/build}")
JOBS=${FUZZ_JOBS:-1}
NICE=${FUZZ_NICE:-0}
TARGETS=${FUZZ_TARGETS:-parser cmdloop}
FUZZ=$BUILD/fuzz
n_targets=$(wc -w <<<"$TARGETS")
per_target=$(( SECONDS_TOTAL / n_targets ))
(( per_target >= 1 )) || per_target=1

make -s -C firmware BUILD="$BUILD" fuzz
"${PYTHON:-python3}" tests/fuzz/make_seeds.py "$FUZZ/seeds" >/dev/null
mkdir -p "$FUZZ/artifacts" "$FUZZ/logs"

export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
total_execs=0
printf '%-8s %12s %10s %8s %8s %8s %s\n' target executions exec/s cov ft corpus result
for t in $TARGETS; do
    bin=$FUZZ/fuzz_$t
    corpus=$FUZZ/corpus/$t
    mkdir -p "$corpus"
    log=$FUZZ/logs/$t.log
    reg=(tests/fuzz/regressions/$t/*)
    result=ok
    if [[ -e ${reg[0]} ]] && ! "$bin" "${reg[@]}" >"$FUZZ/logs/$t-regressions.log" 2>&1; then
        result="REGRESSION (see $FUZZ/logs/$t-regressions.log)"
        status=1
    fi
    before=$(find "$FUZZ/artifacts" -name "$t-*" | wc -l)
    rc=0
    opts=(-max_total_time="$per_target" -print_final_stats=1 -use_value_profile=1
          -max_len=16384 -timeout=10 -dict="$PWD/tests/fuzz/bnm.dict"
          -artifact_prefix="$FUZZ/artifacts/$t-")
    (( JOBS > 1 )) && opts+=(-jobs="$JOBS" -workers="$JOBS")
    # -jobs writes fuzz-N.log into the working directory: keep it in the build tree
    (cd "$FUZZ/logs" && rm -f fuzz-*.log &&
     nice -n "$NICE" "$bin" "${opts[@]}" "$corpus" "$FUZZ/seeds/$t" >"$log" 2>&1) || rc=$?
    if (( JOBS > 1 )); then cat "$FUZZ"/logs/fuzz-*.log >>"$log" 2>/dev/null || true; fi
    after=$(find "$FUZZ/artifacts" -name "$t-*" | wc -l)
    execs=$(grep -h 'stat::number_of_executed_units' "$log" | awk '{s += $2} END {print s + 0}')
    speed=$(grep -h 'stat::average_exec_per_sec' "$log" | awk '{s += $2} END {print s + 0}')
    last=$(grep -hE '^#[0-9]+.*cov: ' "$log" | tail -n 1 || true)
    cov=$(sed -nE 's/.*cov: ([0-9]+).*/\1/p' <<<"$last")
    ft=$(sed -nE 's/.*ft: ([0-9]+).*/\1/p' <<<"$last")
    csize=$(find "$corpus" -type f | wc -l)
    crashes=$(( after - before ))
    if (( rc != 0 || crashes > 0 )) || grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:' "$log"; then
        result="CRASH rc=$rc, $crashes new artifact(s), log $log"
        status=1
    fi
    total_execs=$(( total_execs + execs ))
    printf '%-8s %12s %10s %8s %8s %8s %s\n' "$t" "$execs" "$speed" "${cov:-?}" "${ft:-?}" "$csize" "$result"
done
if [[ ${FUZZ_COVERAGE:-0} == 1 ]]; then
    make -s -C firmware BUILD="$BUILD" fuzz-cov
    for t in $TARGETS; do
        prof=$FUZZ/cov/$t
        rm -f "$prof".profraw
        LLVM_PROFILE_FILE="$prof.profraw" "$FUZZ/cov/fuzz_$t" -runs=0 "$FUZZ/corpus/$t" "$FUZZ/seeds/$t" \
            >"$FUZZ/logs/$t-cov.log" 2>&1
        llvm-profdata merge -sparse "$prof.profraw" -o "$prof.profdata"
        read -r -a srcs <<<"$(make -s -C firmware BUILD="$BUILD" fuzz-srcs | sed -n "s/^$t //p")"
        echo "line coverage, $t target (llvm-cov, corpus replay):"
        llvm-cov report "$FUZZ/cov/fuzz_$t" -instr-profile="$prof.profdata" "${srcs[@]}" |
            awk 'NR > 2 && $1 != "" && $1 !~ /^-/ {printf "  %-30s lines %s\n", $1, $(NF-3)}'
    done
fi
echo "total executions: $total_execs; crashes: $( (( status == 0 )) && echo 0 || echo 'see above')"
exit $status

#!/usr/bin/env bash
# Long fuzzing runs for RELIABILITY.md, outside the test command: every target (or those named)
# for 10 million executions or 2 hours, whichever ends first, from and into its corpus under
# fuzz/corpus/<target> (kept in the repository, minimised afterwards). Prints one line per
# target: executions, time, crashes (0: none; a crash leaves its input in fuzz/artifacts).
#   fuzz/run-long.sh [--runs N] [--seconds N] [target ...]
set -uo pipefail
cd "$(dirname "$0")"
runs=10000000
seconds=7200
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    *) break ;;
  esac
done
targets=("$@")
[ ${#targets[@]} -eq 0 ] && mapfile -t targets < <(cargo fuzz list)
mkdir -p corpus logs
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  start=$(date +%s)
  RUSTC_BOOTSTRAP=1 cargo fuzz run "$t" "corpus/$t" -- -runs="$runs" -max_total_time="$seconds" \
    -max_len=4096 -print_final_stats=1 >"logs/$t.log" 2>&1
  rc=$?
  took=$(( $(date +%s) - start ))
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "logs/$t.log" | grep -o '[0-9]*$' | tail -n 1)
  crashes=$(ls artifacts/"$t"/crash-* artifacts/"$t"/leak-* artifacts/"$t"/oom-* artifacts/"$t"/timeout-* 2>/dev/null | wc -l)
  # Keep the corpus small: only inputs that add coverage.
  RUSTC_BOOTSTRAP=1 cargo fuzz cmin "$t" "corpus/$t" >/dev/null 2>&1 || true
  printf '%s\texecutions=%s\tseconds=%s\texit=%s\tcrashes=%s\tcorpus=%s\n' \
    "$t" "${execs:-?}" "$took" "$rc" "$crashes" "$(ls "corpus/$t" | wc -l)"
done

#!/usr/bin/env bash
# Long fuzzing runs for RELIABILITY.md, outside the test command: every target (or those named)
# for 10 million executions or 2 hours, whichever ends first, from and into its corpus under
# fuzz/corpus/<target> (kept in the repository, minimised afterwards). The executions run in
# processes of at most 1 million each: under AddressSanitizer a fuzzing process's memory grows
# with its executions (about 0.5-1 KB each here, even in targets that keep no state), and a
# single 10-million run would end on libFuzzer's 2 GB limit rather than on a finding. Prints one line
# per target: executions, seconds, crashes (0: none; a crash leaves its input in
# fuzz/artifacts/<target>).
#   fuzz/run-long.sh [--runs N] [--seconds N] [target ...]
set -uo pipefail
cd "$(dirname "$0")"
runs=10000000
seconds=7200
chunk=1000000
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
  done_runs=0
  rc=0
  : >"logs/$t.log"
  while [ "$done_runs" -lt "$runs" ]; do
    left=$(( seconds - ($(date +%s) - start) ))
    [ "$left" -le 0 ] && break
    this=$(( runs - done_runs < chunk ? runs - done_runs : chunk ))
    RUSTC_BOOTSTRAP=1 cargo fuzz run "$t" "corpus/$t" -- -runs="$this" -max_total_time="$left" \
      -max_len=4096 -print_final_stats=1 >>"logs/$t.log" 2>&1
    rc=$?
    got=$(grep -a -o 'stat::number_of_executed_units: *[0-9]*' "logs/$t.log" | tail -n 1 | grep -o '[0-9]*$')
    done_runs=$(( done_runs + ${got:-0} ))
    [ "$rc" -ne 0 ] && break
  done
  took=$(( $(date +%s) - start ))
  crashes=$(ls artifacts/"$t"/crash-* artifacts/"$t"/leak-* artifacts/"$t"/oom-* artifacts/"$t"/timeout-* 2>/dev/null | wc -l)
  # Keep the corpus small: only inputs that add coverage.
  RUSTC_BOOTSTRAP=1 cargo fuzz cmin "$t" "corpus/$t" >/dev/null 2>&1 || true
  printf '%s\texecutions=%s\tseconds=%s\texit=%s\tartifacts=%s\tcorpus=%s\n' \
    "$t" "$done_runs" "$took" "$rc" "$crashes" "$(ls "corpus/$t" | wc -l)"
done

#!/usr/bin/env bash
# Demonstrate the performance gate (benchmarks/README.md):
#   1. RUNS (default 10) consecutive `bench.py check` runs on unchanged code must all pass;
#   2. each deliberately slowed run must fail:
#        battery_dispatch:python  - the numba battery kernel swapped for its pure-Python loop
#        household_load_kw:3      - the household kernel doing its work three times per call
#      (switched on by the pytest option --bench-slowdown, which only this script passes).
# Exit status 0 when the gate behaved as it must in every run. Logs go to $LOG_DIR.
# Usage: benchmarks/demonstrate_gate.sh            (from the repository root; ~15-25 min)
#        RUNS=3 benchmarks/demonstrate_gate.sh     (shorter)
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
RUNS=${RUNS:-10}
SLOWED=${SLOWED-"battery_dispatch:python household_load_kw:3"}   # SLOWED="" skips part 2
LOG_DIR=${LOG_DIR:-$(mktemp -d /tmp/demonstrate-gate-XXXX)}
mkdir -p "$LOG_DIR"
ok=1

echo "logs: $LOG_DIR"
for i in $(seq 1 "$RUNS"); do
  start=$(date +%s)
  if "$PY" benchmarks/bench.py check >"$LOG_DIR/unchanged-$i.log" 2>&1; then
    verdict=passed
  else
    verdict="FAILED (must pass)"; ok=0
  fi
  worst=$(grep -E '^ +[0-9.]+x ' "$LOG_DIR/unchanged-$i.log" | head -1 | sed -E 's/ +/ /g')
  echo "unchanged run $i/$RUNS: $verdict in $(( $(date +%s) - start )) s; worst case:$worst"
done

for slow in $SLOWED; do
  start=$(date +%s)
  log="$LOG_DIR/slowed-${slow%%:*}.log"
  if "$PY" benchmarks/bench.py check -- --bench-slowdown "$slow" >"$log" 2>&1; then
    failed=0
  else
    failed=1
  fi
  line=$(grep -E "^ +[0-9.]+x +test_${slow%%:*} " "$log" | sed -E 's/ +/ /g')
  # a failure counts only when the slowed case itself was measured above the threshold
  ratio=$(printf '%s' "$line" | sed -E 's/^ ?([0-9.]+)x .*/\1/')
  if [ "$failed" = 0 ]; then
    verdict="PASSED (must fail)"; ok=0
  elif [ -n "$ratio" ] && awk -v r="$ratio" 'BEGIN { exit !(r > 2.0) }'; then
    verdict="failed, as it must"
  else
    verdict="FAILED for another reason (the slowed case was not measured above 2x)"; ok=0
  fi
  echo "slowed run ($slow): $verdict in $(( $(date +%s) - start )) s;$line"
done

if [ "$ok" = 1 ]; then
  echo "demonstrate_gate: the gate behaved as required"
else
  echo "demonstrate_gate: the gate did NOT behave as required; see $LOG_DIR"
fi
[ "$ok" = 1 ]

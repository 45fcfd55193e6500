#!/usr/bin/env bash
# The capacity benchmark of docs/benchmarks.md: two capacity searches on the same broker, then
# steady 60 s runs at the rate found and at 1.25x that rate, with pulsarload and pulsar-perf.
# Usage: [P99_MS=50] [CAPACITY_FLAGS='--step-window 30'] bench/capacity_check.sh [extra
#        capacity/produce flags, e.g. -t 2]  (CAPACITY_FLAGS go to the searches only)
#        (producers over a Dask cluster: bench/capacity_check.sh --cluster local --workers 2)
# Outputs go to bench/results/capacity-<UTC time>/ (the console of every run, and its report);
# at the end it prints the Markdown rows of docs/benchmarks.md's capacity tables
# (bench/capacity_rows.py, which can print them again from that directory).
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD/src"
PL=.venv/bin/pulsarload
OUT="bench/results/capacity-$(date -u +%Y%m%d-%H%M)"
mkdir -p "$OUT"
BASE="persistent://public/default/capbench-$(date -u +%H%M%S)"
P99="${P99_MS:-50}"  # the latency SLO; a busy machine may need a looser one
SLO=(--slo "p99_ms<$P99" --slo 'error_rate<0.001')
EXTRA=("$@")
read -r -a SEARCH <<< "${CAPACITY_FLAGS:-}"  # search-only flags (step window, start rate)
ADMIN="${ADMIN_URL:-http://localhost:8080}"
log() { echo "[$(date -u +%H:%M:%S)] $*" | tee -a "$OUT/log.txt"; }
# A run's topic is deleted with its data once the run is over: at these rates a search writes
# tens of GB, which the bookie reclaims only for deleted ledgers (a full disk ends the check).
drop() {
  .venv/bin/python - "$ADMIN/admin/v2/persistent/${1#persistent://}" <<'PY' || true
import sys, httpx
got = httpx.delete(sys.argv[1], params={"force": "true"}, timeout=120)
print(f"deleted {sys.argv[1].rsplit('/', 1)[-1]}: HTTP {got.status_code}")
PY
  log "disk free: $(df -h --output=avail "$HOME" | tail -1 | tr -d ' ')"
}

for i in 1 2; do
  log "load average before capacity run $i: $(cut -d' ' -f1-3 /proc/loadavg)"
  $PL capacity "$BASE-cap$i" --headless -s 1024 "${SLO[@]}" "${SEARCH[@]}" "${EXTRA[@]}" \
      --report "$OUT/capacity-$i.json" | tee "$OUT/capacity-$i.txt"
  drop "$BASE-cap$i"
  log "load average after capacity run $i: $(cut -d' ' -f1-3 /proc/loadavg)"
done
RATE=$(.venv/bin/python - "$OUT" <<'PY'
import json, sys
found = [json.load(open(f"{sys.argv[1]}/capacity-{i}.json"))["meta"]["capacity"]["capacity_msg_s"]
         for i in (1, 2)]
print(round(min(found)))
PY
)
HIGH=$(( RATE * 125 / 100 ))
log "steady checks at $RATE and $HIGH msg/s"
for r in "$RATE" "$HIGH"; do
  log "load average before pulsarload at $r: $(cut -d' ' -f1-3 /proc/loadavg)"
  $PL produce "$BASE-steady-$r" --headless -s 1024 -r "$r" -d 60 --warmup 10 "${EXTRA[@]}" \
      --threshold "p99_ms<$P99" --threshold 'error_rate<0.001' \
      --report "$OUT/steady-$r.json" > "$OUT/steady-$r.txt" 2>&1 || true
  drop "$BASE-steady-$r"
  tail -12 "$OUT/steady-$r.txt"
  log "load average before pulsar-perf at $r: $(cut -d' ' -f1-3 /proc/loadavg)"
  $PL perf produce -r "$r" -time 60 -s 1024 "$BASE-perf-$r" > "$OUT/perf-$r.txt" 2>&1 || true
  grep "Aggregated" "$OUT/perf-$r.txt" || tail -5 "$OUT/perf-$r.txt"
  drop "$BASE-perf-$r"
done
log "done: $OUT"
echo
.venv/bin/python bench/capacity_rows.py "$OUT" "$P99"

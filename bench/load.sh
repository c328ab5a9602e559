#!/usr/bin/env bash
# Load benchmark of one Kaifang instance on 127.0.0.1, on the full flights file
# (336,776 rows). Prints: import rows/s, requests/s of a filtered 100-row page,
# full CSV export rows/s with the server's peak RSS during the export.
#
#   bench/load.sh [seconds per load run, default 15]
#
# Needs wrk (apt-get install wrk) and ../shared/datasets. Not part of CI.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${1:-15}"
DATA="${KAIFANG_SHARED_DATASETS:-../shared/datasets}/bts_nyc_flights_2013.csv.gz"
PORT="${PORT:-18099}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/kaifang-release}"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }

cargo build --release --quiet
BIN="$CARGO_TARGET_DIR/release/kaifang"
WORK="$(mktemp -d)"
trap 'kill "${SERVER:-}" 2>/dev/null || true; rm -rf "$WORK"' EXIT
export KAIFANG_DATABASE_URL="$WORK/bench.db"

echo "== machine: $(nproc) cores, $(uname -r)"
echo "== import ($DATA)"
start=$(date +%s.%N)
"$BIN" import "$DATA" --dataset flights --title "NYC flights 2013" --org us-dot-bts 2>&1 | grep -E "loaded|dataset" || true
end=$(date +%s.%N)
rows=336776
echo "import: $rows rows in $(echo "$end - $start" | bc) s = $(echo "$rows / ($end - $start)" | bc) rows/s (both passes, indexes included)"

KAIFANG_LOG=warn "$BIN" serve --bind "127.0.0.1:$PORT" > "$WORK/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$PORT/v1/datasets" >/dev/null && break; sleep 0.2; done

PAGE="http://127.0.0.1:$PORT/v1/datasets/flights/rows?filter=carrier%20%3D%20%27UA%27&limit=100"
echo "== page: 100 rows filtered on carrier ($(curl -s "$PAGE" | wc -c) bytes)"
wrk -t2 -c32 -d"${DURATION}s" --latency "$PAGE" | grep -E "Requests/sec|Latency|50%|99%"

echo "== full CSV export"
echo 5 > "/proc/$SERVER/clear_refs" 2>/dev/null || true
start=$(date +%s.%N)
lines=$(curl -s "http://127.0.0.1:$PORT/v1/datasets/flights/export?format=csv" | wc -l)
end=$(date +%s.%N)
hwm=$(grep VmHWM "/proc/$SERVER/status" | awk '{print $2}')
echo "export: $((lines - 1)) rows in $(echo "$end - $start" | bc) s = $(echo "($lines - 1) / ($end - $start)" | bc) rows/s; server peak RSS during export $((hwm / 1024)) MiB"

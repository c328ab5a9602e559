#!/usr/bin/env bash
# What fair use costs on the hot path: requests/s of the filtered 100-row flights page
# (anonymous, so every request hits one bucket) on three servers over copies of one
# database, measured back to back in rounds: limits off, a rate limit far above the load,
# and the same rate plus daily row and byte quotas far above it (the quota check and the
# charge after each page).
#
#   bench/fair_use.sh [seconds per run, default 10] [rounds, default 2]
#
# Needs wrk and ../shared/datasets. Not part of CI.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${1:-10}"
ROUNDS="${2:-2}"
DATA="${KAIFANG_SHARED_DATASETS:-../shared/datasets}/bts_nyc_flights_2013.csv.gz"
PORT="${PORT:-18199}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/kaifang-release}"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }

cargo build --release --quiet
BIN="$CARGO_TARGET_DIR/release/kaifang"
WORK="$(mktemp -d)"
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$WORK"' EXIT

echo "== machine: $(nproc) cores, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
KAIFANG_DATABASE_URL="$WORK/off.db" "$BIN" import "$DATA" --dataset flights --org us-dot-bts >/dev/null 2>&1
for name in rate quota; do
    sqlite3 "$WORK/off.db" ".backup '$WORK/$name.db'"
    sqlite3 "$WORK/off.audit.db" ".backup '$WORK/$name.audit.db'"
done

start() { # name port env...
    local name=$1 port=$2; shift 2
    env "$@" KAIFANG_DATABASE_URL="$WORK/$name.db" KAIFANG_LOG=warn \
        "$BIN" serve --bind "127.0.0.1:$port" > "$WORK/$name.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && return; sleep 0.2; done
    echo "$name did not start"; cat "$WORK/$name.log"; exit 1
}
start off $PORT
start rate $((PORT + 1)) KAIFANG_RATE_LIMIT_PER_SECOND=1000000 KAIFANG_RATE_LIMIT_BURST=1000000
start quota $((PORT + 2)) KAIFANG_RATE_LIMIT_PER_SECOND=1000000 KAIFANG_RATE_LIMIT_BURST=1000000 \
    KAIFANG_DAILY_ROW_QUOTA=1000000000000 KAIFANG_DAILY_BYTE_QUOTA=1000000000000000

page() { echo "http://127.0.0.1:$1/v1/datasets/flights/rows?filter=carrier%20%3D%20%27UA%27&limit=100"; }
curl -sI "$(page $((PORT + 2)))" | grep -i '^ratelimit' || true
run() { wrk -t2 -c32 -d"${DURATION}s" --latency "$(page "$1")" | awk '/Requests\/sec/ {r=$2} / 99%/ {p=$2} END {print r, p}'; }
for round in $(seq 1 "$ROUNDS"); do
    read -r off_rps off_p99 <<< "$(run $PORT)"
    read -r rate_rps rate_p99 <<< "$(run $((PORT + 1)))"
    read -r quota_rps quota_p99 <<< "$(run $((PORT + 2)))"
    echo "round $round: off $off_rps req/s (p99 $off_p99) | rate $rate_rps req/s (p99 $rate_p99), $(echo "scale=3; $rate_rps / $off_rps" | bc) of off | rate+quotas $quota_rps req/s (p99 $quota_p99), $(echo "scale=3; $quota_rps / $off_rps" | bc) of off"
done

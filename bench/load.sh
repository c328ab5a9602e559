#!/usr/bin/env bash
# Load benchmark of one Kaifang instance on 127.0.0.1, on the full flights file
# (336,776 rows). Prints: import rows/s, requests/s of a filtered 100-row page,
# full CSV export rows/s with the server's peak RSS during the export, the same
# page on a build without audit (cargo feature audit-off, made only here) run
# back to back with the audited one, and the records/s the audit writer commits.
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
# The unaudited build lives in its own target folder so neither rebuilds the other.
CARGO_TARGET_DIR="$CARGO_TARGET_DIR-audit-off" cargo build --release --quiet --features audit-off
BIN_OFF="$CARGO_TARGET_DIR-audit-off/release/kaifang"
WORK="$(mktemp -d)"
trap 'kill "${SERVER:-}" "${SERVER_OFF:-}" 2>/dev/null || true; rm -rf "$WORK"' EXIT
export KAIFANG_DATABASE_URL="$WORK/bench.db"

echo "== machine: $(nproc) cores, $(uname -r)"
echo "== import ($DATA)"
start=$(date +%s.%N)
"$BIN" import "$DATA" --dataset flights --title "NYC flights 2013" --org us-dot-bts 2>&1 | grep -E "loaded|dataset" || true
end=$(date +%s.%N)
rows=336776
echo "import: $rows rows in $(echo "$end - $start" | bc) s = $(echo "$rows / ($end - $start)" | bc) rows/s (both passes, indexes included)"

# Tokens signed with a secret made for this run, for the case with a JWT.
export KAIFANG_JWT_HS256_SECRET="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
TOKEN="$("$BIN" token --sub bench-user --ttl 1h)"
KAIFANG_LOG=warn "$BIN" serve --bind "127.0.0.1:$PORT" > "$WORK/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$PORT/v1/datasets" >/dev/null && break; sleep 0.2; done

PAGE="http://127.0.0.1:$PORT/v1/datasets/flights/rows?filter=carrier%20%3D%20%27UA%27&limit=100"
echo "== page: 100 rows filtered on carrier ($(curl -s "$PAGE" | wc -c) bytes)"
wrk -t2 -c32 -d"${DURATION}s" --latency "$PAGE" | grep -E "Requests/sec|Latency|50%|99%"
echo "== the same page with a JWT (verified on every request)"
wrk -t2 -c32 -d"${DURATION}s" --latency -H "Authorization: Bearer $TOKEN" "$PAGE" | grep -E "Requests/sec|50%|99%"

echo "== full CSV export"
echo 5 > "/proc/$SERVER/clear_refs" 2>/dev/null || true
start=$(date +%s.%N)
lines=$(curl -s "http://127.0.0.1:$PORT/v1/datasets/flights/export?format=csv" | wc -l)
end=$(date +%s.%N)
hwm=$(grep VmHWM "/proc/$SERVER/status" | awk '{print $2}')
echo "export: $((lines - 1)) rows in $(echo "$end - $start" | bc) s = $(echo "($lines - 1) / ($end - $start)" | bc) rows/s; server peak RSS during export $((hwm / 1024)) MiB"

echo "== audit on versus off (same page, back to back, twice)"
# A consistent copy of a live WAL database (cp of the main file alone can miss pages).
sqlite3 "$WORK/bench.db" ".backup '$WORK/off.db'"
KAIFANG_DATABASE_URL="$WORK/off.db" KAIFANG_LOG=warn "$BIN_OFF" serve --bind "127.0.0.1:$((PORT + 1))" > "$WORK/off.log" 2>&1 &
SERVER_OFF=$!
for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$((PORT + 1))/healthz" >/dev/null && break; sleep 0.2; done
curl -sf "http://127.0.0.1:$((PORT + 1))/healthz" >/dev/null || { echo "the audit-off server did not start:"; cat "$WORK/off.log"; exit 1; }
PAGE_OFF="${PAGE/:$PORT\//:$((PORT + 1))/}"
for round in 1 2; do
    on=$(wrk -t2 -c32 -d"${DURATION}s" --latency "$PAGE" | awk '/Requests\/sec/ {print $2} / 99%/ {print $2}' | paste -sd' ')
    off=$(wrk -t2 -c32 -d"${DURATION}s" --latency "$PAGE_OFF" | awk '/Requests\/sec/ {print $2} / 99%/ {print $2}' | paste -sd' ')
    read -r on_p99 on_rps <<< "$on"
    read -r off_p99 off_rps <<< "$off"
    echo "round $round: audit on $on_rps req/s (p99 $on_p99), audit off $off_rps req/s (p99 $off_p99): on/off = $(echo "scale=3; $on_rps / $off_rps" | bc)"
done
kill "$SERVER_OFF"

echo "== audit writer: records committed per second under 64 connections"
before=$(sqlite3 "$WORK/bench.db" "SELECT COUNT(*) FROM audit_records")
start=$(date +%s.%N)
wrk -t2 -c64 -d"${DURATION}s" "http://127.0.0.1:$PORT/v1/organizations" > /dev/null
end=$(date +%s.%N)
after=$(sqlite3 "$WORK/bench.db" "SELECT COUNT(*) FROM audit_records")
echo "writer: $((after - before)) records in $(echo "$end - $start" | bc) s = $(echo "($after - $before) / ($end - $start)" | bc) records/s (synchronous=FULL, one fsync per batch)"

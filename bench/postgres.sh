#!/usr/bin/env bash
# PostgreSQL against SQLite, in one run on the full flights file (336,776 rows):
#   import rows/s on each backend (`kaifang import`, both passes and indexes);
#   requests/s of the 100-row JSON page filtered carrier = 'UA' (anonymous, audit on) on
#   each backend, one instance;
#   the same page on PostgreSQL served by two instances on one database, each loaded by
#   its own wrk with half the connections, against one instance with all of them.
#
#   bench/postgres.sh [seconds per load run, default 15]
#
# Uses the PostgreSQL server at KAIFANG_BENCH_POSTGRES_URL (default
# postgres://postgres@127.0.0.1:5432/postgres): creates a database of its own and drops it
# at the end. Needs wrk, psql and ../shared/datasets. Not part of CI.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${1:-15}"
DATA="${KAIFANG_SHARED_DATASETS:-../shared/datasets}/bts_nyc_flights_2013.csv.gz"
ROWS=336776
PORT="${PORT:-18299}"
SERVER_URL="${KAIFANG_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
DB_NAME="kaifang_bench_$$"
PG_URL="${SERVER_URL%/*}/$DB_NAME"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/kaifang-release}"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }

cargo build --release --quiet --bin kaifang
BIN="$CARGO_TARGET_DIR/release/kaifang"
WORK="$(mktemp -d)"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    psql -X -q -d "$SERVER_URL" -c "DROP DATABASE IF EXISTS $DB_NAME" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
psql -X -q -d "$SERVER_URL" -c "CREATE DATABASE $DB_NAME" >/dev/null

wait_http() {
    for _ in $(seq 1 300); do curl -sf "$1" >/dev/null && return 0; sleep 0.2; done
    echo "no answer from $1" >&2
    return 1
}

# import NAME URL: prints rows/s.
import() {
    local start end
    start=$(date +%s.%N)
    KAIFANG_DATABASE_URL="$2" KAIFANG_AUDIT_KEY_FILE="$WORK/$1.key" \
        KAIFANG_AUDIT_CHECKPOINT_LOG="$WORK/$1.log" \
        "$BIN" import "$DATA" --dataset flights --title "NYC flights 2013" --org us-dot-bts \
        > "$WORK/import-$1.log" 2>&1
    end=$(date +%s.%N)
    awk -v s="$start" -v e="$end" -v n="$ROWS" 'BEGIN {printf "%.0f", n / (e - s)}'
}

# serve NAME URL PORT INSTANCE: starts a gateway, waits for it. Instances of one
# deployment share the signing key and the checkpoint log, so that `audit verify`
# finds every chain's checkpoints in one file.
serve() {
    KAIFANG_DATABASE_URL="$2" KAIFANG_INSTANCE_ID="$4" KAIFANG_LOG=warn \
        KAIFANG_AUDIT_KEY_FILE="$WORK/$1.key" KAIFANG_AUDIT_CHECKPOINT_LOG="$WORK/$1.log" \
        "$BIN" serve --bind "127.0.0.1:$3" > "$WORK/serve-$1-$4.log" 2>&1 &
    PIDS+=("$!")
    wait_http "http://127.0.0.1:$3/healthz"
}

page() { echo "http://127.0.0.1:$1/v1/datasets/flights/rows?filter=carrier%20%3D%20%27UA%27&limit=100"; }

# rate PORT CONNECTIONS: requests/s of one wrk run; errors fail the run.
rate() {
    local out
    out=$(wrk -t1 -c"$2" -d"${DURATION}s" "$(page "$1")")
    if grep -q "Non-2xx\|Socket errors" <<< "$out"; then
        echo "errors on port $1: $out" >&2
        exit 1
    fi
    awk '/Requests\/sec/ {printf "%.0f", $2}' <<< "$out"
}

echo "== machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== import"
SQLITE_IMPORT=$(import sqlite "$WORK/bench.db")
echo "   SQLite:     $SQLITE_IMPORT rows/s"
PG_IMPORT=$(import pg "$PG_URL")
echo "   PostgreSQL: $PG_IMPORT rows/s"

echo "== page (a), one instance, wrk 32 connections, ${DURATION}s"
serve sqlite "$WORK/bench.db" "$PORT" main
SQLITE_RPS=$(rate "$PORT" 32)
echo "   SQLite:     $SQLITE_RPS req/s"
kill "${PIDS[-1]}"
wait "${PIDS[-1]}" 2>/dev/null || true

serve pg "$PG_URL" $((PORT + 1)) a
PG_RPS=$(rate $((PORT + 1)) 32)
echo "   PostgreSQL: $PG_RPS req/s"

echo "== page (a) on PostgreSQL, two instances, 16 connections each, at once"
serve pg "$PG_URL" $((PORT + 2)) b
rate $((PORT + 1)) 16 > "$WORK/a.rps" &
WA=$!
rate $((PORT + 2)) 16 > "$WORK/b.rps" &
WB=$!
wait "$WA" "$WB"
TWO_RPS=$(( $(cat "$WORK/a.rps") + $(cat "$WORK/b.rps") ))
echo "   two instances: $(cat "$WORK/a.rps") + $(cat "$WORK/b.rps") = $TWO_RPS req/s"

echo "== audit verify on PostgreSQL (both chains)"
KAIFANG_DATABASE_URL="$PG_URL" KAIFANG_AUDIT_KEY_FILE="$WORK/pg.key" \
    KAIFANG_AUDIT_CHECKPOINT_LOG="$WORK/pg.log" "$BIN" audit verify | tail -3 || true

echo
printf '%-44s %12s\n' "case" "figure"
printf '%-44s %12s\n' "import, SQLite (rows/s)" "$SQLITE_IMPORT"
printf '%-44s %12s\n' "import, PostgreSQL (rows/s)" "$PG_IMPORT"
printf '%-44s %12s\n' "page (a), SQLite, 1 instance (req/s)" "$SQLITE_RPS"
printf '%-44s %12s\n' "page (a), PostgreSQL, 1 instance (req/s)" "$PG_RPS"
printf '%-44s %12s\n' "page (a), PostgreSQL, 2 instances (req/s)" "$TWO_RPS"
awk -v p="$PG_RPS" -v s="$SQLITE_RPS" -v t="$TWO_RPS" 'BEGIN {
    printf "%-44s %12.2f\n", "PostgreSQL / SQLite, page", p / s
    printf "%-44s %12.2f\n", "2 instances / 1 instance, PostgreSQL", t / p }'

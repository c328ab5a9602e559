#!/usr/bin/env bash
# What the audit costs a request: the filtered 100-row flights page (anonymous) on the
# release build and on the same code built without audit (cargo feature `audit-off`, only
# for this measurement), each serving a fresh copy of one database, in turn, for a number
# of rounds. Each run prints requests/s, the server's CPU time per request (user and
# system, from /proc/PID/stat around the wrk run, after a 2-second warm-up) and the share
# of the machine's CPU time left idle (/proc/stat): requests waiting for their group commit
# leave cores idle that the build without audit keeps busy. The last line gives audit on /
# off over all rounds and the CPU the audit adds per request.
#
#   bench/audit_cost.sh [seconds per run, default 8] [rounds, default 2]
#
# Settings in the environment reach both servers, e.g. KAIFANG_AUDIT_SYNCHRONOUS=normal to
# see what the audit costs without an fsync per commit. CONNECTIONS (default 32, as in
# bench/run.sh) sets wrk's connections: with more of them, fewer cores wait idle.
#
# Needs wrk, sqlite3 and ../shared/datasets. Not part of CI.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${1:-8}"
ROUNDS="${2:-2}"
DATA="${KAIFANG_SHARED_DATASETS:-../shared/datasets}/bts_nyc_flights_2013.csv.gz"
PORT="${PORT:-18299}"
PAGE="/v1/datasets/flights/rows?filter=carrier%20%3D%20%27UA%27&limit=100"
CONNECTIONS="${CONNECTIONS:-32}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/kaifang-release}"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }

WORK="$(mktemp -d)"
PID=""
trap '[ -z "$PID" ] || kill "$PID" 2>/dev/null || true; wait 2>/dev/null; rm -rf "$WORK"' EXIT

cargo build --release --quiet --bin kaifang --features audit-off
cp "$CARGO_TARGET_DIR/release/kaifang" "$WORK/kaifang-audit-off"
cargo build --release --quiet --bin kaifang
cp "$CARGO_TARGET_DIR/release/kaifang" "$WORK/kaifang"

echo "== machine: $(nproc) cores, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg); wrk -t2 -c$CONNECTIONS"
KAIFANG_DATABASE_URL="$WORK/base.db" "$WORK/kaifang" import "$DATA" --dataset flights \
    --org us-dot-bts > /dev/null 2>&1

TICK=$(getconf CLK_TCK)
# Busy and idle (with iowait) clock ticks of the whole machine so far.
ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6}' /proc/stat; }
# run BINARY: serves a fresh copy of the database; prints
# "req/s cpu-us-per-request idle-percent".
run() {
    rm -rf "$WORK/run"
    mkdir "$WORK/run"
    sqlite3 "$WORK/base.db" ".backup '$WORK/run/k.db'"
    sqlite3 "$WORK/base.audit.db" ".backup '$WORK/run/k.audit.db'"
    KAIFANG_DATABASE_URL="$WORK/run/k.db" KAIFANG_LOG=warn "$1" serve \
        --bind "127.0.0.1:$PORT" > "$WORK/run/log" 2>&1 &
    PID=$!
    for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$PORT/healthz" > /dev/null && break; sleep 0.1; done
    wrk -t2 -c"$CONNECTIONS" -d2s "http://127.0.0.1:$PORT$PAGE" > /dev/null
    local before after out n rps busy0 idle0 busy1 idle1
    before=$(awk '{print $14 + $15}' "/proc/$PID/stat")
    read -r busy0 idle0 < <(ticks)
    out=$(wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" "http://127.0.0.1:$PORT$PAGE")
    read -r busy1 idle1 < <(ticks)
    after=$(awk '{print $14 + $15}' "/proc/$PID/stat")
    kill "$PID"
    wait "$PID" 2> /dev/null || true
    PID=""
    n=$(awk '/requests in/ {print $1}' <<< "$out")
    rps=$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<< "$out")
    awk -v r="$rps" -v t=$((after - before)) -v n="$n" -v k="$TICK" \
        -v b=$((busy1 - busy0)) -v i=$((idle1 - idle0)) \
        'BEGIN {printf "%s %.1f %.0f\n", r, t / k * 1e6 / n, 100 * i / (b + i)}'
}

ON_RPS=0 OFF_RPS=0 ON_CPU=0 OFF_CPU=0
for round in $(seq 1 "$ROUNDS"); do
    read -r on_rps on_cpu on_idle < <(run "$WORK/kaifang")
    read -r off_rps off_cpu off_idle < <(run "$WORK/kaifang-audit-off")
    echo "   round $round: audit on $on_rps req/s, $on_cpu µs CPU a request, $on_idle % idle;" \
        "audit off $off_rps req/s, $off_cpu µs, $off_idle % idle"
    ON_RPS=$((ON_RPS + on_rps)) OFF_RPS=$((OFF_RPS + off_rps))
    ON_CPU=$(awk -v a="$ON_CPU" -v b="$on_cpu" 'BEGIN {print a + b}')
    OFF_CPU=$(awk -v a="$OFF_CPU" -v b="$off_cpu" 'BEGIN {print a + b}')
done
awk -v on="$ON_RPS" -v off="$OFF_RPS" -v con="$ON_CPU" -v coff="$OFF_CPU" -v r="$ROUNDS" \
    'BEGIN {printf "audit on / off: %.3f (target >= 0.80); the audit adds %.1f µs of server CPU a request\n",
        on / off, (con - coff) / r}'

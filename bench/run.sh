#!/usr/bin/env bash
# Load benchmark: Kaifang side by side with Datasette and with the ceilings of this
# machine, on 127.0.0.1 only, on the full flights file (336,776 rows). One run prints one
# table (requests/s or rows/s, p50/p99 latency, the server's peak RSS during each case, the
# 1-minute load average when the case started) and the ratios of issue 8 with their
# targets, PASS or MISS.
#
#   bench/run.sh [seconds per load run, default 15]
#
# Cases (every load run: wrk -t2 -c32 for the same number of seconds, whatever the server):
#   (a)  100-row JSON page, filter carrier = 'UA', anonymous
#   (b)  the same page with a JWT (verified on every request)
#   (c)  a 100-row page past row 300,000, by the cursor a walk of the data returned
#   (d)  the full CSV export: rows/s and the server's peak RSS (VmHWM after clear_refs)
#   (e)  import of the gzipped CSV: rows/s (both passes, indexes included)
#   audit on/off: page (a) on this build and on a build without audit (cargo feature
#        `audit-off`, built only here), two new servers on copies of the same files,
#        back to back, two rounds
#   result cache off: (b), and (a) with audit on and off, on servers started with
#        KAIFANG_RESULT_CACHE_MB=0, so that every page is read from the table
#   writer: audit records committed per second with 64 connections on /v1/organizations
#   Datasette (pinned, from PyPI, in a venv outside the clone) on (a) and (d), serving the
#        same rows from a SQLite file typed as Kaifang types them, with an index on carrier
#   ceiling: examples/ceiling.rs, a bare actix-web responder answering (a)'s exact bytes
#   audit ceiling: examples/audit_ceiling.rs, Kaifang's audit store committing batches of 32
#        sealed records, one transaction each, WAL + synchronous=FULL
#   policy: benches/policy.rs, p99 of one decision with 100,000 role links and grants
#
# Needs wrk, sqlite3, python3 (with venv) and ../shared/datasets (or
# KAIFANG_SHARED_DATASETS); installs wrk and Datasette when missing. Not part of CI.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${1:-15}"
WRK=(wrk -t2 -c32 -d"${DURATION}s" --latency)
DATA="${KAIFANG_SHARED_DATASETS:-../shared/datasets}/bts_nyc_flights_2013.csv.gz"
ROWS=336776
PORT="${PORT:-18099}"
PORT_OFF=$((PORT + 1))
PORT_DS=$((PORT + 2))
PORT_CEIL=$((PORT + 3))
PORT_NC=$((PORT + 4))
PORT_NC_OFF=$((PORT + 5))
PORT_ON=$((PORT + 6))
DATASETTE_VERSION=0.65.5
VENV="${KAIFANG_BENCH_VENV:-$HOME/.cache/kaifang-bench-venv}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/kaifang-release}"

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
if [ "$("$VENV/bin/datasette" --version 2>/dev/null)" != "datasette, version $DATASETTE_VERSION" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q "datasette==$DATASETTE_VERSION"
fi

echo "== building (release)"
# The unaudited build first, copied aside: cargo keeps the artefacts of both feature sets,
# so switching between them relinks at most, and the dependencies are built once.
cargo build --release --quiet --bin kaifang --features audit-off
BIN_OFF="$CARGO_TARGET_DIR/release/kaifang-audit-off"
cp "$CARGO_TARGET_DIR/release/kaifang" "$BIN_OFF"
cargo build --release --quiet --bin kaifang --example ceiling --example audit_ceiling
BIN="$CARGO_TARGET_DIR/release/kaifang"
# benches/policy.rs, built now so that its compilation does not load the machine later.
cargo bench --bench policy --no-run --quiet

WORK="$(mktemp -d)"
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT
export KAIFANG_DATABASE_URL="$WORK/bench.db"

# Results, one row per case: name|server|rate|unit|p50 ms|p99 ms|peak RSS MiB|load
TABLE=()
load1() { cut -d' ' -f1 /proc/loadavg; }
row() { TABLE+=("$1|$2|$3|$4|$5|$6|$7|$8"); }

wait_http() {
    for _ in $(seq 1 300); do curl -sf "$1" >/dev/null && return 0; sleep 0.2; done
    echo "no answer from $1" >&2
    return 1
}

# copy_db NAME: $WORK/NAME.db, a consistent copy of the live WAL database and of its audit
# log (cp of the main file alone can miss pages).
copy_db() {
    sqlite3 "$WORK/bench.db" ".backup '$WORK/$1.db'"
    sqlite3 "$WORK/bench.audit.db" ".backup '$WORK/$1.audit.db'"
}

reset_hwm() { echo 5 > "/proc/$1/clear_refs"; }
hwm_mib() { awk '/VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }

# wrk's latency as milliseconds.
to_ms() {
    awk -v v="$1" 'BEGIN {
        if (v ~ /us$/) { sub(/us$/, "", v); printf "%.2f", v / 1000 }
        else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.2f", v }
        else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.2f", v * 1000 }
        else printf "?" }'
}

# load NAME SERVER PID URL [wrk args...]: one wrk run, one table row; sets RPS, P50, P99.
load() {
    local name="$1" server="$2" pid="$3" url="$4"
    shift 4
    local l out bad
    l=$(load1)
    reset_hwm "$pid"
    out=$("${WRK[@]}" "$@" "$url")
    RPS=$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<< "$out")
    P50=$(to_ms "$(awk '$1 == "50%" {print $2}' <<< "$out")")
    P99=$(to_ms "$(awk '$1 == "99%" {print $2}' <<< "$out")")
    bad=$(awk '/Non-2xx|Socket errors/' <<< "$out")
    [ -z "$bad" ] || { echo "   $name ($server): $bad" >&2; name="$name [ERRORS]"; }
    row "$name" "$server" "$RPS" "req/s" "$P50" "$P99" "$(hwm_mib "$pid")" "$l"
    echo "   $name ($server): $RPS req/s, p50 $P50 ms, p99 $P99 ms"
}

# export_best NAME SERVER PID URL: the faster of two full downloads; sets EXP_RPS, EXP_RSS.
export_best() {
    local name="$1" server="$2" pid="$3" url="$4" l start end lines rate rss before best=0 best_rss=0
    l=$(load1)
    for _ in 1 2; do
        reset_hwm "$pid"
        before=$(awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$pid/status")
        start=$(date +%s.%N)
        lines=$(curl -sf "$url" | wc -l)
        end=$(date +%s.%N)
        rss=$(hwm_mib "$pid")
        rate=$(awk -v n="$((lines - 1))" -v s="$start" -v e="$end" 'BEGIN {printf "%.0f", n / (e - s)}')
        echo "   $name ($server): $((lines - 1)) rows in $(awk -v s="$start" -v e="$end" 'BEGIN {printf "%.2f", e - s}') s = $rate rows/s, peak RSS $rss MiB (RSS before: $before MiB)"
        [ "$((lines - 1))" -eq "$ROWS" ] || { echo "   expected $ROWS rows" >&2; name="$name [SHORT]"; }
        if [ "$rate" -gt "$best" ]; then best=$rate; best_rss=$rss; fi
    done
    EXP_RPS=$best
    EXP_RSS=$best_rss
    row "$name" "$server" "$best" "rows/s" "-" "-" "$best_rss" "$l"
}

echo "== machine: $(nproc) cores, $(uname -r); load $(cut -d' ' -f1-3 /proc/loadavg)"

echo "== (e) import into Kaifang ($DATA)"
l=$(load1)
start=$(date +%s.%N)
"$BIN" import "$DATA" --dataset flights --title "NYC flights 2013" --org us-dot-bts > "$WORK/import.log" 2>&1
end=$(date +%s.%N)
IMPORT_RPS=$(awk -v s="$start" -v e="$end" -v n="$ROWS" 'BEGIN {printf "%.0f", n / (e - s)}')
echo "   $ROWS rows in $(awk -v s="$start" -v e="$end" 'BEGIN {printf "%.2f", e - s}') s = $IMPORT_RPS rows/s"
row "(e) import, both passes + indexes" kaifang "$IMPORT_RPS" "rows/s" "-" "-" "-" "$l"

echo "== the same rows for Datasette $DATASETTE_VERSION: typed as Kaifang types them, index on carrier"
python3 - "$DATA" "$WORK/flights.db" <<'EOF'
import csv, gzip, sqlite3, sys
src, dst = sys.argv[1], sys.argv[2]
# The types Kaifang's import infers for the flights columns.
text = {"carrier", "tailnum", "origin", "dest", "time_hour"}
with gzip.open(src, "rt", newline="") as f:
    rows = csv.reader(f)
    names = next(rows)
    db = sqlite3.connect(dst)
    cols = ", ".join(f'"{n}" {"TEXT" if n in text else "INTEGER"}' for n in names)
    db.execute(f"CREATE TABLE flights ({cols})")
    def typed(r):
        return [None if v == "" else (v if n in text else int(v)) for n, v in zip(names, r)]
    db.executemany(f"INSERT INTO flights VALUES ({', '.join('?' * len(names))})", map(typed, rows))
    db.execute('CREATE INDEX flights_carrier ON flights ("carrier")')
    db.commit()
    print("  ", db.execute("SELECT COUNT(*) FROM flights").fetchone()[0], "rows in", dst)
EOF
# Its 50 MB on their way to the disk would share the disk with the first audited cases.
sync

# Tokens signed with a secret made for this run, for the case with a JWT.
export KAIFANG_JWT_HS256_SECRET="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
TOKEN="$("$BIN" token --sub bench-user --ttl 1h)"
KAIFANG_LOG=warn "$BIN" serve --bind "127.0.0.1:$PORT" > "$WORK/server.log" 2>&1 &
SERVER=$!
PIDS+=("$SERVER")
wait_http "http://127.0.0.1:$PORT/healthz"
B="http://127.0.0.1:$PORT"
PAGE="$B/v1/datasets/flights/rows?filter=carrier%20%3D%20%27UA%27&limit=100"
curl -sf -o "$WORK/page.json" "$PAGE"
echo "== Kaifang (audit on, synchronous=FULL); page (a) is $(wc -c < "$WORK/page.json") bytes"
load "(a) page carrier=UA, anonymous" kaifang "$SERVER" "$PAGE"
A_P50=$P50 A_P99=$P99
load "(b) page carrier=UA, JWT" kaifang "$SERVER" "$PAGE" -H "Authorization: Bearer $TOKEN"
B_RPS=$RPS

# (d) before the walk of (c): its 10,000-row pages are setup, not a case, and grow the heap.
export_best "(d) full CSV export" kaifang "$SERVER" "$B/v1/datasets/flights/export?format=csv"
D_RPS=$EXP_RPS D_RSS=$EXP_RSS

# (c) Walk the data in pages of 10,000 (the cursor does not depend on the page size) until
# past row 300,000, then ask for 100 rows there.
CURSOR=$(python3 - "$B" <<'EOF'
import json, sys, urllib.request
base, seen, cursor = sys.argv[1], 0, None
while seen < 300_000:
    url = base + "/v1/datasets/flights/rows?limit=10000" + (f"&cursor={cursor}" if cursor else "")
    page = json.load(urllib.request.urlopen(url))
    seen += len(page["data"])
    cursor = page["next_cursor"]
print(cursor)
EOF
)
DEEP="$B/v1/datasets/flights/rows?limit=100&cursor=$CURSOR"
curl -sf "$DEEP" | python3 -c 'import json,sys; p=json.load(sys.stdin); assert len(p["data"]) == 100, p' \
    || { echo "the deep page did not answer 100 rows" >&2; exit 1; }
load "(c) page past row 300,000 by cursor, anon" kaifang "$SERVER" "$DEEP"
C_P50=$P50 C_P99=$P99


echo "== Datasette $DATASETTE_VERSION (immutable file, index on carrier)"
"$VENV/bin/datasette" serve --immutable "$WORK/flights.db" -h 127.0.0.1 -p "$PORT_DS" \
    > "$WORK/datasette.log" 2>&1 &
DS=$!
PIDS+=("$DS")
wait_http "http://127.0.0.1:$PORT_DS/flights.json"
# Its cheapest form of the same page: objects like Kaifang's, no count, facets or suggestions.
DS_PAGE="http://127.0.0.1:$PORT_DS/flights/flights.json?carrier=UA&_size=100&_shape=array&_nocount=1&_nofacet=1&_nosuggest=1"
curl -sf "$DS_PAGE" | python3 -c 'import json,sys; p=json.load(sys.stdin); assert len(p) == 100 and p[0]["carrier"] == "UA", p[:1]'
load "(a) page carrier=UA" datasette "$DS" "$DS_PAGE"
DS_RPS=$RPS
export_best "(d) full CSV export (_stream=on)" datasette "$DS" \
    "http://127.0.0.1:$PORT_DS/flights/flights.csv?_stream=on&_size=max"
DS_EXP=$EXP_RPS
kill "$DS"

echo "== ceiling: bare actix-web answering page (a)'s bytes"
"$CARGO_TARGET_DIR/release/examples/ceiling" "$WORK/page.json" "127.0.0.1:$PORT_CEIL" > "$WORK/ceiling.log" 2>&1 &
CEIL=$!
PIDS+=("$CEIL")
wait_http "http://127.0.0.1:$PORT_CEIL/"
cmp -s "$WORK/page.json" <(curl -sf "http://127.0.0.1:$PORT_CEIL/") || { echo "ceiling body differs" >&2; exit 1; }
load "(a) same bytes, no work" "bare actix" "$CEIL" "http://127.0.0.1:$PORT_CEIL/${PAGE#"$B"/}"
CEIL_RPS=$RPS
kill "$CEIL"

echo "== audit ceiling: Kaifang's audit store, batches of 32 sealed records, synchronous=FULL"
l=$(load1)
read -r AC_RPS AC_BPS AC_P50 AC_P99 < <("$CARGO_TARGET_DIR/release/examples/audit_ceiling" "$WORK/audit-ceiling.db" 32 "$DURATION")
echo "   $AC_RPS records/s ($AC_BPS commits/s), commit p50 $AC_P50 ms, p99 $AC_P99 ms"
row "audit store, batches of 32" "audit_ceiling" "$AC_RPS" "rec/s" "$AC_P50" "$AC_P99" "-" "$l"

echo "== audit on versus off (page (a), back to back, twice)"
# Two new servers on copies of the same files, so that they differ by the audit alone (the
# first server's heap and result cache carry the 10,000-row pages of (c)'s walk).
copy_db on
copy_db off
KAIFANG_DATABASE_URL="$WORK/on.db" KAIFANG_LOG=warn "$BIN" serve --bind "127.0.0.1:$PORT_ON" > "$WORK/on.log" 2>&1 &
ON=$!
PIDS+=("$ON")
KAIFANG_DATABASE_URL="$WORK/off.db" KAIFANG_LOG=warn "$BIN_OFF" serve --bind "127.0.0.1:$PORT_OFF" > "$WORK/off.log" 2>&1 &
OFF=$!
PIDS+=("$OFF")
wait_http "http://127.0.0.1:$PORT_ON/healthz" || { cat "$WORK/on.log"; exit 1; }
wait_http "http://127.0.0.1:$PORT_OFF/healthz" || { cat "$WORK/off.log"; exit 1; }
PAGE_ON="${PAGE/:$PORT\//:$PORT_ON/}"
PAGE_OFF="${PAGE/:$PORT\//:$PORT_OFF/}"
ON_SUM=0 OFF_SUM=0
for round in 1 2; do
    load "(a) audit on, round $round" kaifang "$ON" "$PAGE_ON"
    ON_SUM=$((ON_SUM + RPS))
    load "(a) audit-off build, round $round" kaifang-audit-off "$OFF" "$PAGE_OFF"
    OFF_SUM=$((OFF_SUM + RPS))
done
kill "$ON" "$OFF"

echo "== result cache off (KAIFANG_RESULT_CACHE_MB=0): every page read from the table"
# The same cases with nothing kept in memory: what a page costs when it is not a repeat.
copy_db nc
copy_db ncoff
KAIFANG_RESULT_CACHE_MB=0 KAIFANG_DATABASE_URL="$WORK/nc.db" KAIFANG_LOG=warn "$BIN" serve \
    --bind "127.0.0.1:$PORT_NC" > "$WORK/nc.log" 2>&1 &
NC=$!
PIDS+=("$NC")
KAIFANG_RESULT_CACHE_MB=0 KAIFANG_DATABASE_URL="$WORK/ncoff.db" KAIFANG_LOG=warn "$BIN_OFF" serve \
    --bind "127.0.0.1:$PORT_NC_OFF" > "$WORK/ncoff.log" 2>&1 &
NC_OFF=$!
PIDS+=("$NC_OFF")
wait_http "http://127.0.0.1:$PORT_NC/healthz" || { cat "$WORK/nc.log"; exit 1; }
wait_http "http://127.0.0.1:$PORT_NC_OFF/healthz" || { cat "$WORK/ncoff.log"; exit 1; }
load "(b) JWT, result cache off" kaifang "$NC" "${PAGE/:$PORT\//:$PORT_NC/}" \
    -H "Authorization: Bearer $TOKEN"
NC_B_RPS=$RPS
load "(a) result cache off, audit on" kaifang "$NC" "${PAGE/:$PORT\//:$PORT_NC/}"
NC_ON=$RPS
load "(a) result cache off, audit-off build" kaifang-audit-off "$NC_OFF" "${PAGE/:$PORT\//:$PORT_NC_OFF/}"
NC_OFF_RPS=$RPS
kill "$NC" "$NC_OFF"

echo "== audit writer: records committed per second under 64 connections"
l=$(load1)
before=$(sqlite3 "$WORK/bench.audit.db" "SELECT COUNT(*) FROM audit_records")
start=$(date +%s.%N)
wrk -t2 -c64 -d"${DURATION}s" "$B/v1/organizations" > /dev/null
end=$(date +%s.%N)
after=$(sqlite3 "$WORK/bench.audit.db" "SELECT COUNT(*) FROM audit_records")
WRITER=$(awk -v n="$((after - before))" -v s="$start" -v e="$end" 'BEGIN {printf "%.0f", n / (e - s)}')
echo "   $((after - before)) records = $WRITER records/s"
row "writer, 64 conns on /v1/organizations" kaifang "$WRITER" "rec/s" "-" "-" "-" "$l"

echo "== policy: one decision, 100,000 role links and grants (benches/policy.rs)"
l=$(load1)
cargo bench --bench policy --quiet -- --warm-up-time 1 --measurement-time 3 g_links \
    > "$WORK/policy.log" 2>/dev/null
grep -E "^ +[a-z_0-9]+: p50" "$WORK/policy.log" | sed 's/^/  /'
# "g_links_100k: p50 1.2µs  p99 3.4µs  max …": p99 in microseconds.
POL_P99=$(awk '/g_links_100k: p50/ {
    for (i = 1; i <= NF; i++) if ($i == "p99") { v = $(i + 1); break }
    if (v ~ /ns$/) { sub(/ns$/, "", v); v /= 1000 }
    else if (v ~ /µs$/) { sub(/µs$/, "", v) }
    else if (v ~ /ms$/) { sub(/ms$/, "", v); v *= 1000 }
    else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000000 }
    printf "%.1f", v }' "$WORK/policy.log")
POL_P50=$(awk '/g_links_100k: p50/ {print $3}' "$WORK/policy.log")
row "policy decision, 100k links (g_links)" benches/policy "-" "-" "${POL_P50:-?}" "${POL_P99:-?}µs" "-" "$l"

echo
echo "== results: wrk -t2 -c32 -d${DURATION}s, $(nproc) cores, load at end $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-44s %-17s %10s %-7s %9s %9s %9s %6s\n' case server rate unit "p50 ms" "p99 ms" "RSS MiB" load1
for r in "${TABLE[@]}"; do
    IFS='|' read -r c s v u p50 p99 rss l <<< "$r"
    printf '%-44s %-17s %10s %-7s %9s %9s %9s %6s\n' "$c" "$s" "$v" "$u" "$p50" "$p99" "$rss" "$l"
done

echo
printf '%-62s %9s %-9s %s\n' ratio value target verdict
# ratio NAME VALUE OP TARGET
ratio() {
    local verdict
    verdict=$(awk -v v="$2" -v t="$4" -v op="$3" 'BEGIN {
        if (v == "" || v == "?") { print "MISS (not measured)"; exit }
        ok = (op == ">=") ? (v >= t) : (op == "<=") ? (v <= t) : (v < t)
        print ok ? "PASS" : "MISS" }')
    printf '%-62s %9s %-9s %s\n' "$1" "$2" "$3 $4" "$verdict"
}
div() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "?" }'; }
LOWER=$(( CEIL_RPS < AC_RPS ? CEIL_RPS : AC_RPS ))
ratio "(b) Kaifang with JWT / Datasette (a), req/s" "$(div "$B_RPS" "$DS_RPS")" ">=" 20
ratio "lower ceiling ($LOWER: bare $CEIL_RPS, audit $AC_RPS) / (b) req/s" "$(div "$LOWER" "$B_RPS")" "<=" 2
ratio "(c) deep page p50 / (a) p50" "$(div "$C_P50" "$A_P50")" "<=" 1.2
printf '%-62s %9s %-9s %s\n' "(c) deep page p99 / (a) p99 (no target)" "$(div "$C_P99" "$A_P99")" "-" "-"
ratio "(d) Kaifang / Datasette CSV export, rows/s" "$(div "$D_RPS" "$DS_EXP")" ">=" 10
ratio "(d) Kaifang export peak RSS, MiB" "$D_RSS" "<" 64
ratio "audit on / audit-off build, req/s (two rounds summed)" "$(div "$ON_SUM" "$OFF_SUM")" ">=" 0.80
ratio "policy decision p99, µs, 100k links and grants" "${POL_P99:-?}" "<" 50
printf '%-62s %9s %-9s %s\n' "result cache off: (b) / Datasette (a) (no target)" "$(div "$NC_B_RPS" "$DS_RPS")" "-" "-"
printf '%-62s %9s %-9s %s\n' "result cache off: audit on / off (one round, no target)" "$(div "$NC_ON" "$NC_OFF_RPS")" "-" "-"

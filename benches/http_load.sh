#!/usr/bin/env bash
# HTTP load test of the example server (release build) with wrk: the five counted list requests
# of issue 16 (each a page of 20 with its total), 16 connections, 20 s each, after one single
# request each for its latency alone.
#
#   bash benches/http_load.sh [users]
#
# Data: the example server's own demo data set (`--demo-users N`, default 1000000), created
# once in target/bench-data/demo-<N>.db (loading a million demo users takes several minutes)
# and reused; with USERMGMT_BENCH_DATABASE_URL=postgres://… the server runs on that PostgreSQL
# database instead (demo users added when its tenant is empty). Needs wrk (apt-get install wrk).
set -euo pipefail
cd "$(dirname "$0")/.."
users="${1:-1000000}"
db="target/bench-data/demo-${users}.db"
learning="target/bench-data/demo-learning-${users}.db"
mkdir -p target/bench-data
features=()
[ -n "${USERMGMT_BENCH_DATABASE_URL:-}" ] && features=(--features postgres)
cargo build --release --example server "${features[@]}" >/dev/null 2>&1
port=18080
demo=()
[ -f "$db" ] || demo=(--demo-users "$users")
if [ -n "${USERMGMT_BENCH_DATABASE_URL:-}" ]; then
  db="$USERMGMT_BENCH_DATABASE_URL"
  learning="target/bench-data/demo-learning-pg-${users}.db"
  demo=(--demo-users "$users")
fi
started=$(date +%s)
USERMGMT_DATABASE_URL="$db" USERMGMT_ADDR="127.0.0.1:$port" \
  USERMGMT_ADMIN_EMAIL=admin@bench.test USERMGMT_ADMIN_PASSWORD=bench-password \
  USERMGMT_LEARNING_DB="$learning" RUST_LOG=warn \
  target/release/examples/server "${demo[@]}" > target/bench-data/server.log 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
until curl -s "127.0.0.1:$port/v1/openapi.json" >/dev/null; do
  kill -0 $server 2>/dev/null || { cat target/bench-data/server.log; exit 1; }
  sleep 1
done
echo "server up after $(( $(date +%s) - started )) s"
token=$(curl -s -X POST "127.0.0.1:$port/v1/auth/login" -H 'content-type: application/json' \
  -d '{"identifier":"admin@bench.test","password":"bench-password"}' | sed 's/.*"token":"\([^"]*\)".*/\1/')
# The first counted request waits for the counting index the server builds at start-up.
t0=$(date +%s.%N)
curl -s -o /dev/null -H "Authorization: Bearer $token" "127.0.0.1:$port/v1/users?page_size=1"
echo "first counted request answered after $(echo "$(date +%s.%N) - $t0" | bc) s"
grep -E "counting index" target/bench-data/server.log || true
for query in "status=active&country=US&is_learner=true" "search=ali" "search=user4108" \
  "status=suspended&is_learner=true&sort_by=name&sort_order=asc" ""; do
  url="http://127.0.0.1:$port/v1/users?${query}${query:+&}page_size=20&include_total=true"
  total=$(curl -s -H "Authorization: Bearer $token" "$url" | sed 's/.*"total":\([0-9]*\).*/\1/')
  single=$(for _ in 1 2 3 4 5 6 7 8 9; do
    curl -s -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer $token" "$url"
  done | sort -n | sed -n 5p)
  echo "== GET /v1/users?${query:-(no filter)} — total $total, single request p50 ${single} s"
  wrk -t2 -c16 -d20s --timeout 30s --latency -H "Authorization: Bearer $token" "$url" \
    | grep -E "Requests/sec|^ +50%|^ +99%|Socket errors|Non-2xx"
done

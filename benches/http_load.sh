#!/usr/bin/env bash
# HTTP load test of `GET /v1/users` with three filters on the example server (release build)
# over the SQLite million-user data set of `benches/million.rs` (run that bench first), with
# wrk, 20 s per run, without and with the total.
#
#   bash benches/http_load.sh [users]       (default 1000000; needs wrk: apt-get install wrk)
set -euo pipefail
cd "$(dirname "$0")/.."
users="${1:-1000000}"
db="target/bench-data/million-${users}-v1.db"
[ -f "$db" ] || { echo "no data set at $db: run cargo bench --bench million first" >&2; exit 1; }
cargo build --release --example server >/dev/null 2>&1
port=18080
USERMGMT_DATABASE_URL="$db" USERMGMT_TENANT=bench USERMGMT_ADDR="127.0.0.1:$port" \
  USERMGMT_ADMIN_EMAIL=admin@bench.test USERMGMT_ADMIN_PASSWORD=bench-password \
  USERMGMT_LEARNING_DB="target/bench-data/million-learning-${users}-v1.db" RUST_LOG=warn \
  target/release/examples/server >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -s "127.0.0.1:$port/v1/openapi.json" >/dev/null && break; sleep 0.2; done
token=$(curl -s -X POST "127.0.0.1:$port/v1/auth/login" -H 'content-type: application/json' \
  -d '{"identifier":"admin@bench.test","password":"bench-password"}' | sed 's/.*"token":"\([^"]*\)".*/\1/')
query="status=active&is_learner=true&country=US,IN"
# Pages without the total are light: 16 connections. With the total every request counts
# hundreds of thousands of rows (~0.5 s of CPU at 1M users): 2 connections, 30 s time-out.
for run in "false 16" "true 2"; do
  set -- $run
  echo "== GET /v1/users?$query&include_total=$1 ($2 connections)"
  wrk -t2 -c"$2" -d20s --timeout 30s --latency -H "Authorization: Bearer $token" \
    "http://127.0.0.1:$port/v1/users?$query&include_total=$1" | grep -E "Requests/sec|Latency|99%|50%|requests in|Socket errors"
done

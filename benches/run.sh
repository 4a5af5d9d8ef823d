#!/usr/bin/env bash
# Runs every benchmark of BENCHMARKS.md and keeps the output under target/bench-results/.
#
#   bash benches/run.sh            # 1,000,000 users (USERMGMT_BENCH_USERS to change)
#
# PostgreSQL: the server named by USERMGMT_BENCH_POSTGRES_URL, or else a cluster of Debian's
# PostgreSQL kept under target/bench-pg/ (installed with apt-get when missing, as CI does),
# so the loaded data sets survive between runs. Needs the sqlite3 CLI and wrk (installed with
# apt-get when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/bench-results
mkdir -p "$out"

need() { command -v "$1" >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null; }; }
need sqlite3 sqlite3
need wrk wrk

if [ -z "${USERMGMT_BENCH_POSTGRES_URL:-}" ]; then
    if ! ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    fi
    pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
    pgdir="$PWD/target/bench-pg"
    if [ ! -d "$pgdir/data" ]; then
        mkdir -p "$pgdir"
        chown postgres:postgres "$pgdir"
        su postgres -c "$pgbin/initdb -D $pgdir/data -U postgres --auth=trust -E UTF8 >/dev/null"
    fi
    su postgres -c "$pgbin/pg_ctl -D $pgdir/data -o '-p 55433 -k $pgdir -c listen_addresses=127.0.0.1 -c shared_buffers=512MB' -l $pgdir/log -w start" >/dev/null
    trap 'su postgres -c "$pgbin/pg_ctl -D $pgdir/data -m fast stop" >/dev/null 2>&1 || true' EXIT
    export USERMGMT_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:55433/postgres
fi

cargo bench --bench million --features postgres 2>&1 | grep -v '^\s*Compiling' | tee "$out/million.md"
for backend in sqlite postgres; do
    USERMGMT_BENCH_BACKEND=$backend cargo bench --bench counting --features postgres 2>&1 \
        | grep -v '^\s*Compiling' | tee "$out/counting-$backend.md"
done
cargo bench --bench million_ops --features postgres 2>&1 | grep -v '^\s*Compiling' | tee "$out/million_ops.md"
cargo bench --bench login 2>&1 | grep -v '^\s*Compiling' | tee "$out/login.txt"
cargo bench --bench guard --features postgres 2>&1 | grep -v '^\s*Compiling' | tee "$out/guard.md"
bash benches/http_load.sh "${USERMGMT_BENCH_USERS:-1000000}" | tee "$out/http_load.txt"

#!/usr/bin/env bash
# Schemathesis (property-based OpenAPI testing) against the example server.
#
#   .ci/schemathesis.sh target/debug/examples/server
#
# Starts the server on a fresh SQLite file and a free loopback port, logs in as its bootstrap
# super-admin, and runs schemathesis with the checks, auth and exceptions of
# .ci/schemathesis.toml (hooks: .ci/schemathesis_hooks.py), a fixed seed and a bounded example
# count. Prints the test-case count and every failure, then exits non-zero on any failure.
#
# Environment (all optional):
#   VENV             virtualenv holding schemathesis (default .ci/.venv; created when missing)
#   ST_VERSION       schemathesis version installed into a new venv (default 4.32.5)
#   ST_SEED          seed (default 1)
#   ST_MAX_EXAMPLES  examples per operation and phase (default 100)
#   ST_TIMEOUT       seconds before the run is interrupted (default 420: 62 operations)
#   ST_REPORT_DIR    JSON and JUnit reports (default target/schemathesis)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

if [ $# -ne 1 ] || [ ! -x "$1" ]; then
    echo "usage: $0 PATH/TO/server (an executable build of examples/server.rs)" >&2
    exit 2
fi
SERVER=$(realpath "$1")
VENV=${VENV:-.ci/.venv}
case "$VENV" in /*) ;; *) VENV=$ROOT/$VENV ;; esac
ST_VERSION=${ST_VERSION:-4.32.5}
SEED=${ST_SEED:-1}
MAX_EXAMPLES=${ST_MAX_EXAMPLES:-100}
TIMEOUT=${ST_TIMEOUT:-420}
REPORT_DIR=${ST_REPORT_DIR:-$ROOT/target/schemathesis}

echo "== schemathesis: virtualenv $VENV"
if [ ! -x "$VENV/bin/st" ]; then
    if ! python3 -m venv "$VENV" >/dev/null 2>&1; then
        rm -rf "$VENV"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
        python3 -m venv "$VENV"
    fi
    "$VENV/bin/pip" install -q --disable-pip-version-check "schemathesis==$ST_VERSION"
fi
"$VENV/bin/st" --version

WORK=$(mktemp -d /tmp/usermgmt-st.XXXXXX)
SERVER_PID=
cleanup() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE=http://127.0.0.1:$PORT
export ST_ADMIN_EMAIL=admin@example.com
ST_ADMIN_PASSWORD=st-$(python3 -c 'import secrets; print(secrets.token_hex(12))')
USERMGMT_SYSTEM_TOKEN=st-system-$(python3 -c 'import secrets; print(secrets.token_hex(16))')
export ST_ADMIN_PASSWORD USERMGMT_SYSTEM_TOKEN

echo "== schemathesis: server $SERVER on $BASE (database $WORK/st.db)"
(
    cd "$WORK"
    # Every request comes from 127.0.0.1 and the fuzzer calls the login route thousands of
    # times: a per-client budget that large keeps its own re-logins from being throttled.
    # Webhook deliveries stay queued: the fuzzer's endpoints are made-up public URLs.
    USERMGMT_WEBHOOK_DELIVERY=off \
    USERMGMT_DATABASE_URL=$WORK/st.db USERMGMT_BIND=127.0.0.1:$PORT \
        USERMGMT_LEARNING_DB=$WORK/no-learning.db USERMGMT_LOGIN_CLIENT_BURST=1000000 \
        USERMGMT_ADMIN_EMAIL=$ST_ADMIN_EMAIL USERMGMT_ADMIN_PASSWORD=$ST_ADMIN_PASSWORD \
        RUST_LOG=${RUST_LOG:-warn} exec "$SERVER"
) >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 150); do
    if curl -sf -o /dev/null "$BASE/v1/openapi.json"; then break; fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "the server exited:" >&2
        cat "$WORK/server.log" >&2
        exit 1
    fi
    sleep 0.2
done
curl -sf -o /dev/null "$BASE/v1/openapi.json" || { echo "the server did not answer in 30 s" >&2; exit 1; }

# Logs in once up front: checks the credentials, and gives the hooks the account's own id.
login() {
    curl -s -X POST "$BASE/v1/auth/login" -H 'content-type: application/json' \
        -d "{\"identifier\":\"$ST_ADMIN_EMAIL\",\"password\":\"$ST_ADMIN_PASSWORD\"}"
}
ST_ADMIN_ID=$(login | python3 -c 'import json, sys; print(json.load(sys.stdin)["user"]["id"])') || {
    echo "login as $ST_ADMIN_EMAIL failed" >&2
    exit 1
}
export ST_ADMIN_ID
export SCHEMATHESIS_HOOKS=$ROOT/.ci/schemathesis_hooks.py

echo "== schemathesis: st run (seed $SEED, $MAX_EXAMPLES examples per operation, at most ${TIMEOUT}s)"
mkdir -p "$REPORT_DIR"
rm -f "$REPORT_DIR/schemathesis.json" "$REPORT_DIR/schemathesis.xml"
STATUS=0
(
    cd "$WORK"
    timeout --signal=INT --kill-after=30 "$TIMEOUT" \
        "$VENV/bin/st" --config-file "$ROOT/.ci/schemathesis.toml" run "$BASE/v1/openapi.json" \
        --seed "$SEED" --max-examples "$MAX_EXAMPLES" --workers 1 --no-color \
        --report json,junit --report-dir "$REPORT_DIR" \
        --report-json-path "$REPORT_DIR/schemathesis.json" \
        --report-junit-path "$REPORT_DIR/schemathesis.xml"
) || STATUS=$?

echo "== schemathesis: summary"
if [ -f "$REPORT_DIR/schemathesis.json" ]; then
    python3 - "$REPORT_DIR/schemathesis.json" <<'EOF'
import json, sys
report = json.load(open(sys.argv[1]))
cases = report["test_cases"]
print(f"test cases: {cases['generated']} generated, {cases['unique_failures']} distinct failures, "
      f"{cases['errored']} errored, {report['running_time']:.0f} s ({report['stop_reason']})")
for failure in report["failures"]:
    print(f"{failure['code']} {failure['title']} ({failure['count']}):")
    for operation in failure["operations"]:
        print(f"    {operation}")
for error in report["errors"]:
    print(f"error: {json.dumps(error)[:300]}")
EOF
else
    echo "no JSON report (schemathesis exit status $STATUS)"
fi

# A run whose account was locked out mid-way answered mostly 401 after that point. The login
# route's per-client budget may still be spent by the fuzzed logins: wait once if it says so.
final_login() {
    curl -s -o /dev/null -D "$WORK/login.headers" -w '%{http_code}' -X POST "$BASE/v1/auth/login" \
        -H 'content-type: application/json' \
        -d "{\"identifier\":\"$ST_ADMIN_EMAIL\",\"password\":\"$ST_ADMIN_PASSWORD\"}" || true
}
FINAL_LOGIN=$(final_login)
if [ "$FINAL_LOGIN" = 429 ] || [ "$FINAL_LOGIN" = 503 ]; then
    WAIT=$(tr -d '\r' <"$WORK/login.headers" | awk -F': *' 'tolower($1) == "retry-after" { print $2 }')
    case "$WAIT" in '' | *[!0-9]*) WAIT=5 ;; esac
    [ "$WAIT" -le 30 ] || WAIT=30
    sleep "$WAIT"
    FINAL_LOGIN=$(final_login)
fi
case "$FINAL_LOGIN" in
    200) ;;
    429 | 503) echo "note: the closing login check was still rate-limited ($FINAL_LOGIN)" ;;
    *)
        echo "the run's own account ($ST_ADMIN_EMAIL) could no longer log in at the end" \
            "(HTTP $FINAL_LOGIN): results after that point are not meaningful" >&2
        [ "$STATUS" -ne 0 ] || STATUS=1
        ;;
esac
if [ "$STATUS" -ne 0 ]; then
    echo "schemathesis: FAILED (exit status $STATUS; reports in $REPORT_DIR)"
else
    echo "schemathesis: no failures (reports in $REPORT_DIR)"
fi
exit "$STATUS"

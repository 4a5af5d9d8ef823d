#!/usr/bin/env bash
# The scim2-tester checker (PyPI) against the example server's /scim/v2.
#
#   .ci/scim2-tester.sh target/debug/examples/server
#
# Starts the server on a fresh SQLite file and a free loopback port, logs in as its bootstrap
# super-admin, creates a provisioning token, and runs .ci/scim_check.py with it: every check
# must pass except the known skips listed (with their reasons) in that script.
#
# Environment (optional): SCIM_VENV, the virtualenv holding the checker (default
# .ci/.scim-venv; created when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

if [ $# -ne 1 ] || [ ! -x "$1" ]; then
    echo "usage: $0 PATH/TO/server (an executable build of examples/server.rs)" >&2
    exit 2
fi
SERVER=$(realpath "$1")
VENV=${SCIM_VENV:-.ci/.scim-venv}
case "$VENV" in /*) ;; *) VENV=$ROOT/$VENV ;; esac

echo "== scim2-tester: virtualenv $VENV"
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import scim2_tester, httpx2' 2>/dev/null; then
    rm -rf "$VENV"
    if ! python3 -m venv "$VENV" >/dev/null 2>&1; then
        rm -rf "$VENV"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
        python3 -m venv "$VENV"
    fi
    "$VENV/bin/pip" install -q --disable-pip-version-check \
        "scim2-tester==0.5.2" "scim2-client[httpx2]==0.13.2" "scim2-models==0.12.3"
fi

WORK=$(mktemp -d /tmp/usermgmt-scim.XXXXXX)
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
EMAIL=admin@example.com
PASSWORD=scim-$(python3 -c 'import secrets; print(secrets.token_hex(12))')
(
    cd "$WORK"
    USERMGMT_DATABASE_URL=$WORK/scim.db USERMGMT_BIND=127.0.0.1:$PORT \
        USERMGMT_LEARNING_DB=$WORK/no-learning.db \
        USERMGMT_ADMIN_EMAIL=$EMAIL USERMGMT_ADMIN_PASSWORD=$PASSWORD \
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

SESSION=$(curl -sf -X POST "$BASE/v1/auth/login" -H 'content-type: application/json' \
    -d "{\"identifier\":\"$EMAIL\",\"password\":\"$PASSWORD\"}" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')
TOKEN=$(curl -sf -X POST "$BASE/v1/provisioning-tokens" -H "authorization: Bearer $SESSION" \
    -H 'content-type: application/json' -d '{"name":"scim2-tester"}' |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["secret"])')

echo "== scim2-tester: $BASE/scim/v2"
"$VENV/bin/python" "$ROOT/.ci/scim_check.py" "$BASE/scim/v2" "$TOKEN"

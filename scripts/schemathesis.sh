#!/usr/bin/env bash
# Fuzzes the running server against its own OpenAPI document with schemathesis (from PyPI): fails on
# any 5xx and on any response that does not match the document. Bounded: a few examples per
# operation and a hard time limit. Also checks that `?format=yaml` is the same document as the JSON.
#
#   bash scripts/schemathesis.sh            # MAX_EXAMPLES=50 TIME_LIMIT=300 SEED=<random> by default
set -euo pipefail
cd "$(dirname "$0")/.."

MAX_EXAMPLES="${MAX_EXAMPLES:-50}"
TIME_LIMIT="${TIME_LIMIT:-300}"
VENV="${SCHEMATHESIS_VENV:-target/schemathesis-venv}"
case "$VENV" in /*) ;; *) VENV="$PWD/$VENV" ;; esac

if [ ! -x "$VENV/bin/schemathesis" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check 'schemathesis>=4,<5'
fi
cargo build --locked --quiet --bin imhotep

WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

PORT="$("$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
BASE="http://127.0.0.1:$PORT"
# Mail goes to a closed port: the fuzzer reads no e-mail, and the console backend is refused with DEBUG=false.
export HOST=127.0.0.1 PORT DEBUG=false EMAIL_BACKEND=smtp EMAIL_HOST=127.0.0.1 EMAIL_PORT=1 RUST_LOG=warn IMHOTEP_METRICS__BIND=
export SECRET_KEY="schemathesis-$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export DATABASE_URL="sqlite://$WORK/fuzz.sqlite3?mode=rwc"

# A staff account, so that the protected operations are exercised past authentication.
PASSWORD="Fuzz-Horse-Battery-$RANDOM"
./target/debug/imhotep migrate >/dev/null
echo "$PASSWORD" | ./target/debug/imhotep createsuperuser --email fuzz@example.com --password-stdin >/dev/null

./target/debug/imhotep serve >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 50); do
  "$VENV/bin/python" -c "import urllib.request; urllib.request.urlopen('$BASE/healthz', timeout=1)" 2>/dev/null && break
  sleep 0.2
done

ACCESS="$("$VENV/bin/python" - "$BASE" "$PASSWORD" <<'EOF'
import json, sys, urllib.request
base, password = sys.argv[1], sys.argv[2]
request = urllib.request.Request(f"{base}/api/auth/jwt/create/", method="POST",
    data=json.dumps({"email": "fuzz@example.com", "password": password}).encode(),
    headers={"Content-Type": "application/json"})
print(json.load(urllib.request.urlopen(request))["access"])
EOF
)"

"$VENV/bin/python" - "$BASE" <<'EOF'
import json, sys, urllib.request, yaml
base = sys.argv[1]
as_json = json.load(urllib.request.urlopen(f"{base}/api/schema/"))
as_yaml = yaml.safe_load(urllib.request.urlopen(f"{base}/api/schema/?format=yaml"))
assert as_json == as_yaml, "the YAML document differs from the JSON one"
print(f"schema: {len(as_json['paths'])} paths; the YAML form matches the JSON one")
EOF

# Twice: as the staff account (deep into the protected operations), then anonymously (their 401s).
fuzz() {
  (cd "$WORK" && timeout "$TIME_LIMIT" "$VENV/bin/schemathesis" run "$BASE/api/schema/" \
    --checks not_a_server_error,response_schema_conformance \
    --seed "$SEED" --request-timeout 10 --no-color "$@")
}
SEED="${SEED:-$RANDOM}"
status=0
fuzz --max-examples "$MAX_EXAMPLES" --header "Authorization: Bearer $ACCESS" || status=$?
if [ "$status" -eq 0 ]; then
  fuzz --max-examples 10 --phases coverage,fuzzing || status=$?
fi

if [ "$status" -ne 0 ]; then
  echo "schemathesis failed (exit $status); server log:" >&2
  tail -n 50 "$WORK/server.log" >&2
fi
exit "$status"

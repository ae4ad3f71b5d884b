#!/usr/bin/env bash
# t0063-log-secrets: the paths that used to write secrets into logs, taken on purpose, so
# the scan of every log at the end of scripts/test (scripts/scan-logs) would catch a leak:
# an event stream opened with access_token whose request nginx warns about (its error log
# quotes the request line), and a unique violation on an account number in PostgreSQL
# (whose log quoted the key in a DETAIL line).  The checks here look at the logs directly.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
: "${DATABASE_URL:?DATABASE_URL is needed}"
VAR="${SMARTIMPORT_TEST_VAR:-}"
[[ -n $VAR && -d $VAR/log ]] || { echo "SKIP: SMARTIMPORT_TEST_VAR is not set"; exit 77; }
TOKEN_BIN="${SMARTIMPORT_BUILD:-.}/modules/token/smartimport-token"
[[ -x $TOKEN_BIN ]] || TOKEN_BIN=./modules/token/smartimport-token
USER_ID="$(cat /proc/sys/kernel/random/uuid)"
TOKEN="$("$TOKEN_BIN" "$USER_ID")"
NGINX_LOG="$VAR/log/nginx-error.log" PG_LOG="$VAR/pg/log/postgresql.log"

# An EventSource-style request (token in the query) with a 2 MB body: nginx spools the body
# to a temporary file and warns, quoting the request line.
head -c 2000000 /dev/zero | tr '\0' 'a' > "$T/body2m"
curl -sS -o /dev/null -D "$T/head2m" --max-time 3 -X GET -H 'Accept: text/event-stream' -H 'Expect:' \
  --data-binary @"$T/body2m" "$BASE/.netlify/functions/import-events?access_token=$TOKEN&account=NL91ABNA0417164300" \
  2>/dev/null || true
REQ_ID="$(tr -d '\r' < "$T/head2m" | awk -F': ' 'tolower($1) == "x-request-id" { print $2 }')"
[[ -n $REQ_ID ]] || REQ_ID=no-request-id
for _ in $(seq 1 20); do grep -q 'buffered to a temporary file' "$NGINX_LOG" 2>/dev/null && break; sleep 0.25; done
check "nginx warned about the spooled body (the request line is in its error log)" \
  grep -q 'buffered to a temporary file.*import-events' "$NGINX_LOG"
check "the warning keeps the path but not the query" grep -q 'import-events?\[scrubbed\]' "$NGINX_LOG"
check "nginx's error log holds no token" bash -c "! grep -q -e '${TOKEN:0:20}' -e 'access_token=ey' '$NGINX_LOG'"
check "nginx's error log holds no account number" bash -c "! grep -q NL91ABNA0417164300 '$NGINX_LOG'"
# nginx writes its access log in buffers (flush=1s): wait for this request's line.
for _ in $(seq 1 20); do grep -q "\"req\":\"$REQ_ID\"" "$VAR/log/nginx-access.log" 2>/dev/null && break; sleep 0.25; done
check "the access log has this request's line" grep -q "\"req\":\"$REQ_ID\"" "$VAR/log/nginx-access.log"
check "the access log has the path only" bash -c "! grep -q -e 'access_token' -e NL91ABNA '$VAR/log/nginx-access.log'"

# A unique violation whose key is an account number.
err="$(psql -X -q -v ON_ERROR_STOP=1 "$DATABASE_URL" 2>&1 <<'SQL' || true
CREATE TEMP TABLE log_probe (account text UNIQUE);
INSERT INTO log_probe VALUES ('DE89370400440532013000');
INSERT INTO log_probe VALUES ('DE89370400440532013000');
SQL
)"
check "PostgreSQL refused the duplicate key" grep -q 'duplicate key' <<<"$err"
if [[ -f $PG_LOG ]]; then
  check "PostgreSQL's log does not quote the key" bash -c "! grep -q -e DE89370400440532013000 -e 'Key (' '$PG_LOG'"
  check "nor the statement" bash -c "! grep -q 'INSERT INTO log_probe' '$PG_LOG'"
fi
finish

#!/usr/bin/env bash
# t0096-reload: an nginx reload never cuts a request that a route promises to wait for.
# A commit-import is held for 13 s by a row lock taken in psql (longer than nginx's
# former 10 s worker_shutdown_timeout); nginx is reloaded while it waits; the client
# must still get the commit's full 200 answer, and the rows must be committed once.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
: "${DATABASE_URL:?DATABASE_URL is needed}"
: "${SMARTIMPORT_TEST_VAR:?SMARTIMPORT_TEST_VAR (the var dir of the stack) is needed}"
VAR="$SMARTIMPORT_TEST_VAR"
PATH="$PATH:/usr/sbin:/sbin"
TOKEN_BIN="${SMARTIMPORT_BUILD:-.}/modules/token/smartimport-token"
[[ -x $TOKEN_BIN ]] || TOKEN_BIN=./modules/token/smartimport-token
USER_ID="$(cat /proc/sys/kernel/random/uuid)"
AUTH=(-H "Authorization: Bearer $("$TOKEN_BIN" "$USER_ID")")
HOLD_S=13
sql() { psql -X -q -t -A -v ON_ERROR_STOP=1 "$DATABASE_URL" -c "$1"; }
nginx_workers() { pgrep -P "$(tr -dc '0-9' < "$VAR/run/nginx.pid")" | sort | paste -sd, -; }

request POST "/.netlify/functions/ingest-statement?fileName=reload.csv&currency=USD" "${AUTH[@]}" -H 'Content-Type: text/csv' \
  --data-binary $'Date,Description,Amount\n2024-04-01,Held across a reload,-12.34\n2024-04-02,Second row,-1.00\n'
check "the statement is staged (got $STATUS)" test "$STATUS" = 200
IMPORT="$(jq -r .importId "$T/body")"

# The lock: commit-import locks the import's row first, so it waits for this transaction.
psql -X -q -v ON_ERROR_STOP=1 "$DATABASE_URL" >/dev/null 2>&1 <<SQL &
BEGIN;
SELECT id FROM imports WHERE id = '$IMPORT' FOR UPDATE;
SELECT pg_sleep($HOLD_S);
COMMIT;
SQL
LOCKER=$!
for _ in $(seq 1 50); do
  [[ $(sql "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep($HOLD_S)%' AND pid <> pg_backend_pid()") == 1 ]] && break
  sleep 0.1
done

start="$(date +%s%3N)"
curl -sS -o "$T/commit" -w '%{http_code}' --max-time 60 "${AUTH[@]}" -H 'Content-Type: application/json' \
  --data-binary "{\"userId\":\"$USER_ID\",\"importId\":\"$IMPORT\"}" "$BASE/.netlify/functions/commit-import" \
  > "$T/commit.status" 2>"$T/commit.err" &
CLIENT=$!
sleep 1
before="$(nginx_workers)"
nginx -p "$VAR/nginx" -c "$VAR/nginx/nginx.conf" -e "$VAR/log/nginx-error.log" -s reload
for _ in $(seq 1 50); do [[ $(nginx_workers) != "$before" ]] && break; sleep 0.1; done
check "nginx reloaded while the commit waited (workers $before -> $(nginx_workers))" test "$(nginx_workers)" != "$before"
wait "$CLIENT" || true
wait "$LOCKER" || true
took=$(( $(date +%s%3N) - start ))
echo "# the commit answered after $took ms, across the reload"
check "the client got the commit's answer, not a cut connection (HTTP $(cat "$T/commit.status"), $(head -c 80 "$T/commit.err"))" \
  test "$(cat "$T/commit.status")" = 200
check "the answer is the whole commit" jqf '.ok == true and .committed == 2' "$T/commit"
check "it waited for the lock (> ${HOLD_S}s minus the head start)" test "$took" -ge $(( (HOLD_S - 2) * 1000 ))
check "the rows are in the ledger once" test "$(sql "SELECT count(*) FROM transactions WHERE user_id = '$USER_ID'")" = 2
request GET /health
check "the stack is healthy after the reload (got $STATUS)" test "$STATUS" = 200
finish

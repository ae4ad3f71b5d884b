#!/usr/bin/env bash
# t0020-commit: commit-import and revert-import through nginx: all rows or none,
# deduplication across overlapping statements, idempotent re-commit, 8 concurrent
# commits of one import, 404 for other users' imports, a database connection lost
# mid-commit (503, nothing written, retry succeeds), and the undo.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
: "${DATABASE_URL:?DATABASE_URL is needed to look at the database}"
D="$(cd "$(dirname "$0")" && pwd)/data"
TOKEN_BIN=./modules/token/smartimport-token
USER_ID="$(cat /proc/sys/kernel/random/uuid)" OTHER_ID="$(cat /proc/sys/kernel/random/uuid)"
AUTH=(-H "Authorization: Bearer $("$TOKEN_BIN" "$USER_ID")")
OTHER=(-H "Authorization: Bearer $("$TOKEN_BIN" "$OTHER_ID")")
default_currency "$USER_ID" USD; default_currency "$OTHER_ID" USD
sql() { psql -X -q -t -A -v ON_ERROR_STOP=1 "$DATABASE_URL" -c "$1"; }
ingest() {  # ingest FILE [query] -> IMPORT
  request POST "/.netlify/functions/ingest-statement?fileName=$(basename "$1")${2:-}" "${AUTH[@]}" \
    -H 'Content-Type: text/csv' --data-binary @"$1"
  IMPORT="$(jq -r '.importId // empty' "$T/body")"
}
commit() { request POST /.netlify/functions/commit-import "${AUTH[@]}" -H 'Content-Type: application/json' \
             --data-binary "{\"userId\":\"$USER_ID\",\"importId\":\"$1\"}"; }
revert() { request POST /.netlify/functions/revert-import "${AUTH[@]}" -H 'Content-Type: application/json' \
             --data-binary "{\"importId\":\"$1\"}"; }
txns() { sql "SELECT count(*) FROM transactions WHERE user_id = '$USER_ID'${1:+ AND $1}"; }

ingest "$D/basic.csv"; FIRST="$IMPORT"
commit "$FIRST"
check "commit-import is 200 (got $STATUS)" test "$STATUS" = 200
check "it commits all 5 rows, none duplicate" body_jq '.ok and .committed == 5 and .duplicates == 0 and .status == "committed" and .alreadyCommitted == false'
check "5 transactions exist for the user" test "$(txns)" = 5
check "both identical coffees are kept" test "$(txns "description = 'Coffee Corner'")" = 2
check "the staging rows are gone" test "$(sql "SELECT count(*) FROM transactions_staging WHERE import_id = '$FIRST'")" = 0
check "commit start and complete events were recorded" test \
  "$(sql "SELECT string_agg(event_type, ',' ORDER BY id) FROM import_events WHERE import_id = '$FIRST' AND event_type LIKE 'import:commit:%'")" = \
  "import:commit:start,import:commit:complete"

commit "$FIRST"
check "committing again is 200 with committed 0 and says so" body_jq '.committed == 0 and .alreadyCommitted == true and .previouslyCommitted == 5'
check "and adds nothing" test "$(txns)" = 5

ingest "$D/overlap.csv"; OVERLAP="$IMPORT"
commit "$OVERLAP"
check "an overlapping statement commits only its new row" body_jq '.committed == 1 and .duplicates == 1'
check "6 transactions now" test "$(txns)" = 6

# --- 8 concurrent commits of one import ------------------------------------------
printf 'Date,Description,Amount\n' > "$T/c.csv"
for i in $(seq 1 40); do printf '2024-03-%02d,Concurrent shop %d,-%d.00\n' $(( i % 28 + 1 )) "$i" "$i" >> "$T/c.csv"; done
ingest "$T/c.csv"; CONC="$IMPORT"
for i in $(seq 1 8); do
  curl -sS -o "$T/c$i.json" -w '%{http_code}\n' "${AUTH[@]}" -H 'Content-Type: application/json' \
    --data-binary "{\"importId\":\"$CONC\"}" "$BASE/.netlify/functions/commit-import" > "$T/c$i.status" &
done
wait
check "8 concurrent commits all answer 200" test "$(cat "$T"/c*.status | sort -u)" = 200
check "exactly one of them inserted the 40 rows" test \
  "$(jq -s '[.[] | select(.committed == 40)] | length' "$T"/c[1-8].json)/$(jq -s '[.[] | select(.alreadyCommitted)] | length' "$T"/c[1-8].json)" = "1/7"
check "the import's 40 rows exist once" test "$(txns "import_id = '$CONC'")" = 40

# --- not yours, not there, not valid ----------------------------------------------
request POST /.netlify/functions/commit-import "${OTHER[@]}" -H 'Content-Type: application/json' --data-binary "{\"importId\":\"$CONC\"}"
check "another user's import is 404 (got $STATUS)" test "$STATUS" = 404
check "the 404 does not say it exists" body_jq '.code == "import_not_found"'
commit "$(cat /proc/sys/kernel/random/uuid)"
check "an unknown import is 404 (got $STATUS)" test "$STATUS" = 404
commit "not-a-uuid"
check "a malformed importId is 400 (got $STATUS)" test "$STATUS" = 400

# --- the connection is lost mid-commit ----------------------------------------------
printf 'Date,Description,Amount\n2024-04-01,Lost connection test,-1.00\n2024-04-02,Lost connection test 2,-2.00\n' > "$T/lost.csv"
ingest "$T/lost.csv"; LOST="$IMPORT"
psql -X -q "$DATABASE_URL" -c "BEGIN; LOCK TABLE transactions IN SHARE ROW EXCLUSIVE MODE; SELECT pg_sleep(20); COMMIT;" >/dev/null 2>&1 &
LOCKER=$!
sleep 0.5
curl -sS -o "$T/lost.json" -w '%{http_code}' "${AUTH[@]}" -H 'Content-Type: application/json' \
  --data-binary "{\"importId\":\"$LOST\"}" "$BASE/.netlify/functions/commit-import" > "$T/lost.status" &
COMMITTER=$!
for _ in $(seq 1 50); do
  pid="$(sql "SELECT pid FROM pg_stat_activity WHERE application_name = 'smartimport-commit-import' AND wait_event_type = 'Lock' LIMIT 1")"
  [[ -n $pid ]] && break; sleep 0.1
done
check "the commit is waiting inside its transaction" test -n "$pid"
sql "SELECT pg_terminate_backend($pid)" >/dev/null
wait "$COMMITTER" || true
kill "$LOCKER" 2>/dev/null; wait "$LOCKER" 2>/dev/null || true
sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(20)%' AND pid <> pg_backend_pid()" >/dev/null
check "a connection lost mid-commit is a 503 (got $(cat "$T/lost.status"))" test "$(cat "$T/lost.status")" = 503
check "the 503 is the JSON error shape" jq -e '.ok == false and .code == "db_unavailable"' "$T/lost.json"
check "nothing of it was written" test "$(txns "import_id = '$LOST'")" = 0
check "the import is still parsed with its rows staged" test \
  "$(sql "SELECT status || '/' || (SELECT count(*) FROM transactions_staging WHERE import_id = '$LOST') FROM imports WHERE id = '$LOST'")" = "parsed/2"
check "no commit event claims otherwise" test "$(sql "SELECT count(*) FROM import_events WHERE import_id = '$LOST' AND event_type = 'import:commit:complete'")" = 0
commit "$LOST"
check "a retry then commits both rows" body_jq '.committed == 2'

# --- undo ---------------------------------------------------------------------------
revert "$OVERLAP"
check "revert-import is 200 and removes only the row the import added" body_jq '.ok and .removed == 1 and .status == "reverted"'
check "the older import's Netflix row stays" test "$(txns "description = 'NETFLIX.COM'")" = 1
check "the overlap's own row is gone" test "$(txns "description = 'Uber Trip'")" = 0
check "a revert event was recorded" test "$(sql "SELECT count(*) FROM import_events WHERE import_id = '$OVERLAP' AND event_type = 'import:revert:complete'")" = 1
revert "$OVERLAP"
check "reverting again is 200 and says so" body_jq '.removed == 0 and .alreadyReverted == true'
commit "$OVERLAP"
check "a reverted import cannot be committed (409, got $STATUS)" test "$STATUS" = 409
ingest "$D/overlap.csv"
check "the same file can be imported again after the undo" test -n "$IMPORT" -a "$IMPORT" != "$OVERLAP"
AGAIN="$IMPORT"
revert "$AGAIN"
check "an import that is only parsed cannot be reverted (409, got $STATUS)" test "$STATUS" = 409
commit "$AGAIN"
check "and committing it adds the row back" body_jq '.committed == 1 and .duplicates == 1'
# No foreign key checks every inserted row any more (sql/0030): a trigger keeps what it kept.
sql_refused() { ! psql -X -q -v ON_ERROR_STOP=1 "$DATABASE_URL" -c "$1" >/dev/null 2>&1; }
check "an import its committed rows point at cannot be deleted" sql_refused "DELETE FROM imports WHERE id = '$AGAIN'"
check "  nor its id changed" sql_refused "UPDATE imports SET id = gen_random_uuid() WHERE id = '$AGAIN'"
check "  and it is still there with its row" test "$(sql "SELECT count(*) FROM transactions t JOIN imports i ON i.id = t.import_id WHERE i.id = '$AGAIN'")" = 1
finish

#!/usr/bin/env bash
# t0097-staging-crash: transactions_staging is UNLOGGED (sql/0007), so a PostgreSQL
# crash empties it.  Staged imports must then fail loudly, never commit nothing
# in silence: commit-import answers 409 staging_lost and marks the import failed,
# the same file uploaded again becomes a new import, and that one commits every row.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if [[ -z ${SMARTIMPORT_TEST_PG:-} || -z ${SMARTIMPORT_TEST_VAR:-} || -z ${DATABASE_URL:-} ]]; then
  echo "SKIP: SMARTIMPORT_TEST_PG / SMARTIMPORT_TEST_VAR / DATABASE_URL not set"; exit 77
fi
export SMARTIMPORT_VAR="${SMARTIMPORT_VAR:-$SMARTIMPORT_TEST_VAR}"
D="$(cd "$(dirname "$0")" && pwd)/data"
TOKEN_BIN=./modules/token/smartimport-token
USER_ID="$(cat /proc/sys/kernel/random/uuid)"
AUTH=(-H "Authorization: Bearer $("$TOKEN_BIN" "$USER_ID")")
sql() { psql -X -q -t -A -v ON_ERROR_STOP=1 "$DATABASE_URL" -c "$1"; }
ingest() {
  request POST "/.netlify/functions/ingest-statement?fileName=basic.csv&currency=USD" "${AUTH[@]}" \
    -H 'Content-Type: text/csv' --data-binary @"$D/basic.csv"
  IMPORT="$(jq -r '.importId // empty' "$T/body")"
}
commit() { request POST /.netlify/functions/commit-import "${AUTH[@]}" -H 'Content-Type: application/json' \
             --data-binary "{\"userId\":\"$USER_ID\",\"importId\":\"$1\"}"; }
# The responders reconnect before their next statement; the first request after
# the restart may still meet the old connection and answer 503, as documented.
until_not_503() { local i; for i in $(seq 1 20); do "$@"; [[ $STATUS != 503 ]] && return 0; sleep 0.25; done; }

ingest; LOST="$IMPORT"
check "a statement is staged (got $STATUS)" test "$STATUS" = 200
check "5 rows are staged" test "$(sql "SELECT count(*) FROM transactions_staging WHERE import_id = '$LOST' AND user_id = '$USER_ID'")" = 5
check "the staging table is unlogged" test "$(sql "SELECT relpersistence FROM pg_class WHERE relname = 'transactions_staging'")" = u

pg_down=0
restart_pg() { if (( pg_down )); then echo "# restarting PostgreSQL"; "$SMARTIMPORT_TEST_PG" start; fi; }
at_exit restart_pg
pg_down=1
"$SMARTIMPORT_TEST_PG" crash
"$SMARTIMPORT_TEST_PG" start
pg_down=0
check "after the crash the staged rows are gone" test \
  "$(sql "SELECT count(*) FROM transactions_staging WHERE import_id = '$LOST' AND user_id = '$USER_ID'")" = 0
check "and the import row itself survived (it is logged)" test "$(sql "SELECT status FROM imports WHERE id = '$LOST' AND user_id = '$USER_ID'")" = parsed

until_not_503 commit "$LOST"
check "commit-import of the lost import is 409 (got $STATUS)" test "$STATUS" = 409
check "with the code staging_lost and a message to upload again" body_jq '.ok == false and .code == "staging_lost" and (.error | test("upload"))'
check "nothing was committed" test "$(sql "SELECT count(*) FROM transactions WHERE user_id = '$USER_ID'")" = 0
check "the import is failed with the reason" test \
  "$(sql "SELECT status || '/' || failure_reason FROM imports WHERE id = '$LOST' AND user_id = '$USER_ID'")" = failed/staging_lost
check "an import:commit:error event says so" test \
  "$(sql "SELECT count(*) FROM import_events WHERE import_id = '$LOST' AND event_type = 'import:commit:error' AND payload->>'code' = 'staging_lost'")" = 1

ingest; AGAIN="$IMPORT"
check "the same file uploaded again is 200 (got $STATUS)" test "$STATUS" = 200
check "as a new import, not the lost one" body_jq ".importId != \"$LOST\" and (.duplicateUpload // false) == false and .rowsTotal == 5"
commit "$AGAIN"
check "and it commits all 5 rows (got $STATUS)" body_jq '.ok and .committed == 5 and .duplicates == 0'

# A staged import whose rows are lost is also replaced when the same bytes come
# back before anyone tried to commit it (the duplicate-upload answer would
# otherwise show an empty preview of rows that no longer exist).
OTHER_FILE="$T/other.csv"
printf 'Date,Description,Amount\n2024-03-01,RENT MARCH,-900.00\n2024-03-02,GROCER,-12.34\n' > "$OTHER_FILE"
request POST "/.netlify/functions/ingest-statement?fileName=other.csv&currency=USD" "${AUTH[@]}" -H 'Content-Type: text/csv' --data-binary @"$OTHER_FILE"
SECOND="$(jq -r '.importId // empty' "$T/body")"
sql "DELETE FROM transactions_staging WHERE import_id = '$SECOND' AND user_id = '$USER_ID'"   # what a crash does to it
request POST "/.netlify/functions/ingest-statement?fileName=other.csv&currency=USD" "${AUTH[@]}" -H 'Content-Type: text/csv' --data-binary @"$OTHER_FILE"
check "re-uploading a file whose staged rows are gone is 200 (got $STATUS)" test "$STATUS" = 200
check "with a new import and a full preview" body_jq ".importId != \"$SECOND\" and (.duplicateUpload // false) == false and (.preview | length) == 2"
check "the emptied import is failed/staging_lost" test \
  "$(sql "SELECT status || '/' || failure_reason FROM imports WHERE id = '$SECOND' AND user_id = '$USER_ID'")" = failed/staging_lost
finish

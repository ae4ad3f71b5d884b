#!/usr/bin/env bash
# t0112-retention: the task retention.purge (modules/retention) run by the stack's worker.
# Rows of each kind are written in SQL and aged by setting their times back: staged rows of
# parsed imports (old, young, another user's, a committed import's ledger rows), staged rows
# of bulk batches (failed old, failed young, pending old, another merchant's), finished and
# unfinished jobs with their audit rows (and one a workflow rejection points at), events.
# A purge run (enqueued with a fresh key, waited for) must delete exactly the old ones; a
# second run deletes nothing; the next hour's run is queued exactly once; a second worker
# starting adds no run; a bad SMARTIMPORT_RETAIN_* value stops the worker, naming it.
#
# Jobs and events are purged by walking their ids from the oldest and stopping at the first
# young row (ids follow time), so "aging" here sets back every row up to the test's old ones,
# as time would (earlier tests' rows included: the stack is a throwaway).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
: "${DATABASE_URL:?DATABASE_URL is needed}"
WORKER_BIN=./modules/jobs/smartimport-worker
# A worker of our own needs what scripts/up gives the stack's (the bank tokens' key in jwt mode).
TOKEN_KEY="${SMARTIMPORT_TOKEN_KEY:-$(tr -dc '0-9a-fA-F' < "${SMARTIMPORT_TEST_VAR:-/nonexistent}/token.key" 2>/dev/null || true)}"
U="$(cat /proc/sys/kernel/random/uuid)" OTHER="$(cat /proc/sys/kernel/random/uuid)"
sql() { psql -X -q -t -A -v ON_ERROR_STOP=1 "$DATABASE_URL" -c "$1"; }
uuid() { cat /proc/sys/kernel/random/uuid; }
sha() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
RUN_KEY="retention:' || to_char(date_trunc('hour', now() AT TIME ZONE 'UTC') + interval '1 hour', 'YYYY-MM-DD\"T\"HH24\"Z\"') || '"
purge() { retention_purge; }

# --- the worker's own scheduling ---------------------------------------------------------------
check "the running worker enqueued an hourly purge when it started" \
  test "$(sql "SELECT count(*) > 0 FROM jobs WHERE task = 'retention.purge' AND job_key ~ '^retention:\d{4}-\d\d-\d\dT\d\dZ$'")" = t
# A second worker started twice (SIGTERM after 5 s): the current hour's run exists once.
if [[ -x $WORKER_BIN ]]; then
  timeout -s TERM 5 env -u SMARTIMPORT_LOG_FILE SMARTIMPORT_TOKEN_KEY="$TOKEN_KEY" "$WORKER_BIN" > "$T/w1.log" 2>&1 || true
  BEFORE="$(sql "SELECT count(*) FROM jobs WHERE task = 'retention.purge'")"
  timeout -s TERM 5 env -u SMARTIMPORT_LOG_FILE SMARTIMPORT_TOKEN_KEY="$TOKEN_KEY" "$WORKER_BIN" > "$T/w2.log" 2>&1 || true
  check "a worker starting enqueues this hour's purge (the log says so)" grep -q 'retention purge scheduled' "$T/w2.log"
  check "a worker starting again adds no purge job (job key kept)" \
    test "$(sql "SELECT count(*) FROM jobs WHERE task = 'retention.purge'")" = "$BEFORE"
  check "this hour's purge job exists exactly once" test "$(sql "SELECT count(*) FROM jobs WHERE task = 'retention.purge'
    AND job_key = 'retention:' || to_char(date_trunc('hour', now() AT TIME ZONE 'UTC'), 'YYYY-MM-DD\"T\"HH24\"Z\"')")" = 1
  worker_refuses "$TOKEN_KEY" SMARTIMPORT_RETAIN_STAGED_DAYS=0 SMARTIMPORT_RETAIN_JOBS_DAYS=3651 \
    SMARTIMPORT_RETAIN_EVENTS_DAYS=9x SMARTIMPORT_RETAIN_BULK_STAGED_DAYS=-1
else
  not_ok "the worker binary $WORKER_BIN is there"
fi

# --- staged rows of statement imports ------------------------------------------------------------
# import ID USER STATUS AGE_DAYS ROWS: an import row and ROWS staged rows.
import() {
  sql "INSERT INTO imports (id, user_id, file_name, file_size, file_sha256, format, currency, status, rows_total, created_at)
       VALUES ('$1', '$2', 'f.csv', 10, '$(sha "$1")', 'csv', 'EUR', '$3', $5, now() - interval '$4 days');
       INSERT INTO transactions_staging (import_id, user_id, row_no, line, tx_date, amount_minor, currency, description, category, dedup_hash)
       SELECT '$1', '$2', g, g + 1, date '2026-01-01', -g, 'EUR', 'row ' || g, 'Other', md5('$1' || g)
       FROM generate_series(1, $5) g"
}
staged() { sql "SELECT count(*) FROM transactions_staging WHERE import_id = '$1'"; }
IA="$(uuid)" IB="$(uuid)" IC="$(uuid)" ID="$(uuid)" IE="$(uuid)"
import "$IA" "$U" parsed 8 12000        # old, never committed: goes
import "$IB" "$U" parsed 6 100          # young: stays
import "$IC" "$U" committed 40 0        # committed long ago: its ledger rows stay
import "$ID" "$OTHER" parsed 6 50       # another user's young one: stays
import "$IE" "$OTHER" parsed 8 30       # another user's old one: goes
sql "INSERT INTO transactions (user_id, import_id, tx_date, amount_minor, currency, description, category, dedup_hash)
     SELECT '$U', '$IC', date '2026-01-01', g, 'EUR', 'kept ' || g, 'Other', md5('$IC' || g) FROM generate_series(1, 3) g"

# --- staged rows of bulk batches ------------------------------------------------------------------
M1="$(uuid)" M2="$(uuid)"
sql "INSERT INTO merchants (id, name, currency) VALUES ('$M1', 'retention 1', 'EUR'), ('$M2', 'retention 2', 'EUR')"
# batch ID MERCHANT STATUS AGE_DAYS ROWS
batch() {
  sql "INSERT INTO bulk_import_batches (id, merchant_id, created_by, status, file_sha256, rows_total, error_code,
         error_message, errors, created_at, completed_at)
       VALUES ('$1', '$2', '$U', '$3', '$(sha "$1")', $5, CASE WHEN '$3' = 'failed' THEN 'validation_failed' END,
         CASE WHEN '$3' = 'failed' THEN '2 problems' END, CASE WHEN '$3' = 'failed' THEN '[{\"line\":2}]'::jsonb END,
         now() - interval '$4 days', CASE WHEN '$3' = 'failed' THEN now() - interval '$4 days' END);
       INSERT INTO bulk_import_staging (batch_id, merchant_id, line, transaction_number, quantity)
       SELECT '$1', '$2', g + 1, 'T' || g, 1 FROM generate_series(1, $5) g"
}
bstaged() { sql "SELECT count(*) FROM bulk_import_staging WHERE batch_id = '$1'"; }
BA="$(uuid)" BB="$(uuid)" BC="$(uuid)" BD="$(uuid)"
batch "$BA" "$M1" failed 8 7000      # failed long ago: goes
batch "$BB" "$M1" failed 6 100       # failed lately: stays (a retry may want it)
batch "$BC" "$M1" pending 8 50       # not finished: stays
batch "$BD" "$M2" failed 6 20        # another merchant's young one: stays

# --- jobs and their audit rows ------------------------------------------------------------------
# job USER STATE: a job row (times now; aged below); prints its id.  Unfinished ones are due
# only in a year, so the stack's worker leaves them alone.
job() {
  sql "INSERT INTO jobs (task, user_id, state, attempts, run_at, locked_by, locked_until, started_at, finished_at)
       VALUES ('test.noop', '$1', '$2', 1, now() + interval '1 year',
               CASE WHEN '$2' = 'running' THEN 'elsewhere:1:x' END,
               CASE WHEN '$2' = 'running' THEN now() + interval '1 year' END, now(),
               CASE WHEN '$2' IN ('succeeded', 'dead') THEN now() END) RETURNING id"
}
audit() { sql "INSERT INTO job_audit (job_id, user_id, task, to_state) SELECT $1, '$2', 'test.noop', 'succeeded' FROM generate_series(1, $3)"; }
J1="$(job "$U" succeeded)"; audit "$J1" "$U" 2
J2="$(job "$U" dead)"; audit "$J2" "$U" 1
J3="$(job "$U" running)"; J4="$(job "$U" queued)"; J5="$(job "$U" failed)"
J6="$(job "$U" succeeded)"
sql "INSERT INTO workflow_rejections (job_id, user_id, claim_id, reason) VALUES ($J6, '$U', 'c-$J6', 'kept for learning')"
J7="$(job "$OTHER" succeeded)"; audit "$J7" "$OTHER" 1

# --- events ----------------------------------------------------------------------------------------
ev() { sql "INSERT INTO import_events (user_id, event_type, payload) SELECT '$1', 'test:retention', '{}' FROM generate_series(1, $2) RETURNING id" | tail -n 1; }
ev "$U" 3 >/dev/null
E_OLD_MAX="$(ev "$OTHER" 2)"

# --- time passes: everything so far is old; then the young rows come -----------------------------
sql "UPDATE jobs SET created_at = created_at - interval '40 days', finished_at = finished_at - interval '40 days'
     WHERE id <= $J7"
sql "UPDATE import_events SET created_at = created_at - interval '100 days' WHERE id <= $E_OLD_MAX"
J8="$(job "$U" succeeded)"; audit "$J8" "$U" 1
sql "UPDATE jobs SET created_at = now() - interval '29 days', finished_at = now() - interval '29 days' WHERE id = $J8"
J9="$(job "$OTHER" dead)"
sql "INSERT INTO import_events (user_id, event_type, payload, created_at) VALUES
       ('$U', 'test:retention', '{}', now() - interval '89 days'), ('$OTHER', 'test:retention', '{}', now())"
events() { sql "SELECT count(*) FROM import_events WHERE user_id = '$1' AND event_type = 'test:retention'"; }

# --- the first run -----------------------------------------------------------------------------------
R1="$(purge)" || R1='{}'
echo "# first run: $R1"
rj() { jq -r "$1" <<< "$R1"; }
check "the run counts 2 imports expired and their 12,030 staged rows" test "$(rj '[.imports_expired, .staged_rows] | @csv')" = "2,12030"
check "the run counts 1 bulk batch and its 7,000 staged rows" test "$(rj '[.bulk_batches_expired, .bulk_staged_rows] | @csv')" = "1,7000"
check "old staged rows are gone (both users)" test "$(staged "$IA"),$(staged "$IE")" = "0,0"
check "young staged rows stay (both users)" test "$(staged "$IB"),$(staged "$ID")" = "100,50"
check "the expired imports are failed/expired, the young ones still parsed" test "$(sql "SELECT string_agg(status || '/' || coalesce(failure_reason, '-'), ',' ORDER BY created_at, user_id = '$U' DESC)
  FROM imports WHERE id IN ('$IA', '$IB', '$ID', '$IE')")" = "failed/expired,failed/expired,parsed/-,parsed/-"
check "the committed import and its 3 ledger rows stay" test "$(sql "SELECT i.status || ':' || count(t.id) FROM imports i
  LEFT JOIN transactions t ON t.import_id = i.id AND t.user_id = i.user_id WHERE i.id = '$IC' GROUP BY i.status")" = "committed:3"
check "the expired import's file can be uploaded again (its place is free)" \
  sql "INSERT INTO imports (user_id, file_name, file_size, file_sha256, format, currency, status)
       VALUES ('$U', 'f.csv', 10, '$(sha "$IA")', 'csv', 'EUR', 'parsed')"
check "the old failed batch's staged rows are gone, the others stay" \
  test "$(bstaged "$BA"),$(bstaged "$BB"),$(bstaged "$BC"),$(bstaged "$BD")" = "0,100,50,20"
check "the old failed batch says staging_lost, its file is free, its problems are kept" \
  test "$(sql "SELECT error_code || ':' || (file_sha256 IS NULL) || ':' || errors::text FROM bulk_import_batches WHERE id = '$BA'")" = 'staging_lost:true:[{"line": 2}]'
check "the other batches are untouched" test "$(sql "SELECT string_agg(status || ':' || coalesce(error_code, '-') || ':' || (file_sha256 IS NOT NULL), ',' ORDER BY status, completed_at)
  FROM bulk_import_batches WHERE id IN ('$BB', '$BC', '$BD')")" = "failed:validation_failed:true,failed:validation_failed:true,pending:-:true"
kept() { sql "SELECT string_agg(id::text, ',' ORDER BY id) FROM jobs WHERE id IN ($J1, $J2, $J3, $J4, $J5, $J6, $J7, $J8, $J9)"; }
check "old finished jobs go; running, queued, failed, a workflow-referenced one and young ones stay" \
  test "$(kept)" = "$J3,$J4,$J5,$J6,$J8,$J9"
check "the gone jobs' audit rows went with them; the young one's stays" \
  test "$(sql "SELECT count(*) FILTER (WHERE job_id IN ($J1, $J2, $J7)) || ',' || count(*) FILTER (WHERE job_id = $J8) FROM job_audit")" = "0,1"
check "the workflow rejection is kept" test "$(sql "SELECT count(*) FROM workflow_rejections WHERE job_id = $J6")" = 1
check "old events go, young ones stay (both users)" test "$(events "$U"),$(events "$OTHER")" = "1,1"
check "the run counts at least the test's 3 jobs, 4 audit rows and 5 events" \
  jqf '.jobs >= 3 and .job_audit >= 4 and .events >= 5 and .more == false' <<< "$R1"

# --- the second run deletes nothing -----------------------------------------------------------------
R2="$(purge)" || R2='{}'
echo "# second run: $R2"
check "a second run deletes nothing more" \
  jqf '[.imports_expired, .staged_rows, .bulk_batches_expired, .bulk_staged_rows, .jobs, .job_audit, .events] == [0,0,0,0,0,0,0]' <<< "$R2"
check "and the rows kept are the same" test "$(kept)|$(staged "$IB")|$(bstaged "$BB")|$(events "$U")" = "$J3,$J4,$J5,$J6,$J8,$J9|100|100|1"

# --- the next run is scheduled exactly once -------------------------------------------------------
check "the next hour's run is queued exactly once, at the start of that hour, in the retention lane" \
  test "$(sql "SELECT count(*) || ':' || bool_and(run_at = date_trunc('hour', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' + interval '1 hour')
    || ':' || bool_and(queue = 'retention') FROM jobs WHERE task = 'retention.purge' AND state = 'queued' AND job_key = '$RUN_KEY'")" = "1:true:true"
check "no other retention run is waiting" \
  test "$(sql "SELECT count(*) FROM jobs WHERE task = 'retention.purge' AND state IN ('queued', 'failed')")" = 1
check "each run wrote its log line with counts and times" bash -c "
  [[ \$(grep -c '\"retention purge\"' '${SMARTIMPORT_TEST_VAR:-/nonexistent}/log/worker.log' 2>/dev/null) -ge 2 ]]"
finish

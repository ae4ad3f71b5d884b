#!/usr/bin/env bash
# t0120-idempotency: the Idempotency-Key of state-changing requests (modules/runtime/
# si_idempotency.c, sql/0028) through nginx, on ingest-statement, commit-import and
# revert-import: a repeat replays the stored answer (Idempotent-Replayed: true) without
# running the handler (no second import, event or row); another body, query string or
# endpoint with the same key is 422; a repeat while the first runs is 409 (the first held
# on a row lock taken in psql, so it is running for as long as the test wants); a row left
# running past 360 s is taken over; another user's same key runs anew; bad keys are 400;
# 4xx answers are stored, a 503 (the database connection lost mid-commit) is not and its
# retry runs; GETs and requests without the header are untouched; retention
# purges keys older than SMARTIMPORT_RETAIN_IDEMPOTENCY_HOURS (24) and a bad value of it
# stops the worker.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
: "${DATABASE_URL:?DATABASE_URL is needed to look at the database}"
D="$(cd "$(dirname "$0")" && pwd)/data"
WORKER_BIN=./modules/jobs/smartimport-worker
TOKEN_KEY="${SMARTIMPORT_TOKEN_KEY:-$(tr -dc '0-9a-fA-F' < "${SMARTIMPORT_TEST_VAR:-/nonexistent}/token.key" 2>/dev/null || true)}"
uuid() { cat /proc/sys/kernel/random/uuid; }
USER_ID="$(uuid)" OTHER_ID="$(uuid)"
AUTH=(-H "Authorization: Bearer $(fast_token "$USER_ID")")
OTHER=(-H "Authorization: Bearer $(fast_token "$OTHER_ID")")
default_currency "$USER_ID" USD; default_currency "$OTHER_ID" USD
sql() { psql -X -q -t -A -v ON_ERROR_STOP=1 "$DATABASE_URL" -c "$1"; }
FN=/.netlify/functions
key() { printf 'Idempotency-Key: %s' "$1"; }
ingest() {  # ingest KEY FILE [query] [auth...]
  local k=$1 f=$2 q=$3; shift 3; (( $# )) || set -- "${AUTH[@]}"
  request POST "$FN/ingest-statement?fileName=$(basename "$f")$q" "$@" -H "$(key "$k")" \
    -H 'Content-Type: text/csv' --data-binary @"$f"
}
json_post() {  # json_post FUNCTION KEY JSON [auth...]
  local fn=$1 k=$2 body=$3; shift 3; (( $# )) || set -- "${AUTH[@]}"
  request POST "$FN/$fn" "$@" -H "$(key "$k")" -H 'Content-Type: application/json' --data-binary "$body"
}
is_error() { is_json_ct && body_jq ".ok == false and .code == \"$1\" and (.error | type) == \"string\""; }
replayed() { [[ $(header idempotent-replayed) == true ]]; }
imports() { sql "SELECT count(*) FROM imports WHERE user_id = '$1'"; }
events() { sql "SELECT count(*) FROM import_events WHERE user_id = '$1'"; }
txns() { sql "SELECT count(*) FROM transactions WHERE user_id = '$USER_ID'${1:+ AND $1}"; }
row() { sql "SELECT state || '/' || coalesce(status::text, '-') FROM idempotency_keys WHERE user_id = '$1' AND key = '$2'"; }

printf '%s\n' 'Date,Description,Amount' '2024-05-01,IDEM SHOP 1,-10.00' '2024-05-02,IDEM SHOP 2,-20.00' \
  '2024-05-03,IDEM PAYROLL,1000.00' > "$T/a.csv"
printf '%s\n' 'Date,Description,Amount' '2024-06-01,OTHER SHOP,-30.00' > "$T/b.csv"

# --- ingest-statement: the first request runs, the repeat replays ------------------------------
K1="$(uuid)"
ingest "$K1" "$T/a.csv" "&currency=USD"
check "a first ingest with a key is 200 (got $STATUS)" test "$STATUS" = 200
check "  and is not marked as a replay" test -z "$(header idempotent-replayed)"
IMPORT="$(jq -r '.importId // empty' "$T/body")"; cp "$T/body" "$T/first.json"
check "  its row is done with the status" test "$(row "$USER_ID" "$K1")" = done/200
check "  stored with the function, the request and the query string's hash" test "$(sql "SELECT function || ' ' || request || ' '
  || (query_sha256 = sha256('fileName=a.csv&currency=USD'::bytea)) FROM idempotency_keys WHERE user_id = '$USER_ID' AND key = '$K1'")" \
  = "ingest-statement POST /.netlify/functions/ingest-statement true"
check "  the body hash is the file's SHA-256" test "$(sql "SELECT encode(body_sha256, 'hex') FROM idempotency_keys
  WHERE user_id = '$USER_ID' AND key = '$K1'")" = "$(sha256sum < "$T/a.csv" | cut -d' ' -f1)"
N_IMPORTS="$(imports "$USER_ID")" N_EVENTS="$(events "$USER_ID")"
ingest "$K1" "$T/a.csv" "&currency=USD"
check "the repeat answers the same status (got $STATUS)" test "$STATUS" = 200
check "  with Idempotent-Replayed: true" replayed
check "  and the very same body" cmp -s "$T/body" "$T/first.json"
check "  and a JSON content type" is_json_ct
check "  the handler did not run: no second import, no new event" \
  test "$(imports "$USER_ID")/$(events "$USER_ID")" = "$N_IMPORTS/$N_EVENTS"
check "  one row for the key" test "$(sql "SELECT count(*) FROM idempotency_keys WHERE user_id = '$USER_ID' AND key = '$K1'")" = 1

# --- the same key for something else: 422 ------------------------------------------------------
ingest "$K1" "$T/b.csv" "&currency=USD"
check "the same key with another body is 422 (got $STATUS)" test "$STATUS" = 422
check "  idempotency_key_reused" is_error idempotency_key_reused
request POST "$FN/ingest-statement?fileName=a.csv&currency=EUR" "${AUTH[@]}" -H "$(key "$K1")" \
  -H 'Content-Type: text/csv' --data-binary @"$T/a.csv"
check "the same key and body with another query string is 422 (got $STATUS)" test "$STATUS" = 422
json_post commit-import "$K1" "{\"importId\":\"$IMPORT\"}"
check "the same key on another endpoint is 422 (got $STATUS)" test "$STATUS" = 422
check "  idempotency_key_reused" is_error idempotency_key_reused
check "  none of them ran: no import, no event, nothing committed" \
  test "$(imports "$USER_ID")/$(events "$USER_ID")/$(txns)" = "$N_IMPORTS/$N_EVENTS/0"
check "  and the stored answer is unchanged" test "$(row "$USER_ID" "$K1")" = done/200

# --- another user's same key runs anew ---------------------------------------------------------
ingest "$K1" "$T/a.csv" "&currency=USD" "${OTHER[@]}"
check "another user's request with the same key runs (200, got $STATUS)" test "$STATUS" = 200
check "  not as a replay, with an import of its own" bash -c "[[ -z '$(header idempotent-replayed)' ]] && \
  [[ $(imports "$OTHER_ID") == 1 ]] && [[ '$(jq -r .importId "$T/body")' != '$IMPORT' ]]"

# --- bad keys: 400, nothing runs --------------------------------------------------------------
LONG="$(printf 'k%.0s' $(seq 1 256))"
ingest "$LONG" "$T/b.csv" "&currency=USD"
check "a key of 256 characters is 400 bad_idempotency_key (got $STATUS)" bash -c "[[ $STATUS == 400 ]]"
check "  with the error shape" is_error bad_idempotency_key
ingest "$(printf 'caf\xc3\xa9')" "$T/b.csv" "&currency=USD"
check "a key with a non-ASCII byte is 400 bad_idempotency_key (got $STATUS)" bash -c "[[ $STATUS == 400 ]] && jq -e '.code == \"bad_idempotency_key\"' '$T/body' >/dev/null"
request POST "$FN/ingest-statement?fileName=b.csv&currency=USD" "${AUTH[@]}" -H 'Idempotency-Key;' \
  -H 'Content-Type: text/csv' --data-binary @"$T/b.csv"
check "an empty key is 400 bad_idempotency_key (got $STATUS)" bash -c "[[ $STATUS == 400 ]] && jq -e '.code == \"bad_idempotency_key\"' '$T/body' >/dev/null"
check "  none of the bad keys ran" test "$(imports "$USER_ID")" = "$N_IMPORTS"
K255="$(printf 'x%.0s' $(seq 1 254))!"
ingest "$K255" "$T/b.csv" "&currency=USD"
check "a key of 255 printable characters is taken (200, got $STATUS)" test "$STATUS" = 200
B_IMPORT="$(jq -r '.importId // empty' "$T/body")"
request POST "$FN/ingest-statement?fileName=b.csv&currency=USD" -H "$(key "$(uuid)")" \
  -H 'Content-Type: text/csv' --data-binary @"$T/b.csv"
check "a key without a token is refused like the request itself (401, got $STATUS)" test "$STATUS" = 401

# --- no header: as before; GET ignores the header ----------------------------------------------
printf '%s\n' 'Date,Description,Amount' '2024-07-01,NO KEY SHOP,-5.00' > "$T/c.csv"
request POST "$FN/ingest-statement?fileName=c.csv&currency=USD" "${AUTH[@]}" -H 'Content-Type: text/csv' --data-binary @"$T/c.csv"
check "without the header an ingest runs as before (200, got $STATUS)" test "$STATUS" = 200
request POST "$FN/ingest-statement?fileName=c.csv&currency=USD" "${AUTH[@]}" -H 'Content-Type: text/csv' --data-binary @"$T/c.csv"
check "  and its repeat runs too (the handler answers, not a replay; got $STATUS)" bash -c "[[ $STATUS == 200 ]] && [[ -z '$(header idempotent-replayed)' ]]"
KG="$(uuid)"
request GET "$FN/import-preview?importId=$IMPORT" "${AUTH[@]}" -H "$(key "$KG")"
check "a GET with a key answers as always (200, got $STATUS)" test "$STATUS" = 200
check "  and stores no key" test "$(sql "SELECT count(*) FROM idempotency_keys WHERE key = '$KG'")" = 0

# --- 4xx answers are stored ---------------------------------------------------------------------
K4="$(uuid)" NOPE="$(uuid)"
json_post commit-import "$K4" "{\"importId\":\"$NOPE\"}"
check "commit-import of an unknown import with a key is 404 (got $STATUS)" test "$STATUS" = 404
cp "$T/body" "$T/404.json"
check "  stored (done/404)" test "$(row "$USER_ID" "$K4")" = done/404
json_post commit-import "$K4" "{\"importId\":\"$NOPE\"}"
check "  its repeat replays the 404" bash -c "[[ $STATUS == 404 && '$(header idempotent-replayed)' == true ]] && cmp -s '$T/body' '$T/404.json'"

# --- 409 while the first is running --------------------------------------------------------------
# The first commit waits on the import's row, locked by a psql session that holds it until
# the test writes to its fifo: it is running for exactly as long as the test wants.
mkfifo "$T/lock.fifo"
psql -X -q -v ON_ERROR_STOP=1 "$DATABASE_URL" < "$T/lock.fifo" > "$T/lock.out" 2>&1 &
LOCK_PID=$!
exec 7> "$T/lock.fifo"
release() { if [[ -n ${LOCK_PID:-} ]]; then echo 'COMMIT;' >&7 || true; exec 7>&- || true; wait "$LOCK_PID" 2>/dev/null || true; LOCK_PID=""; fi; }
at_exit release
echo "BEGIN; SELECT id FROM imports WHERE id = '$IMPORT' FOR UPDATE; SELECT 'locked';" >&7
for _ in $(seq 1 100); do grep -q locked "$T/lock.out" && break; sleep 0.1; done
check "psql holds the import's row" grep -q locked "$T/lock.out"
K3="$(uuid)"
curl -sS -o "$T/slow.json" -D "$T/slow.headers" -w '%{http_code}' --max-time 60 "${AUTH[@]}" -H "$(key "$K3")" \
  -H 'Content-Type: application/json' --data-binary "{\"importId\":\"$IMPORT\"}" "$BASE$FN/commit-import" > "$T/slow.status" &
SLOW_PID=$!
for _ in $(seq 1 200); do [[ $(row "$USER_ID" "$K3") == running/- ]] && break; sleep 0.05; done
check "the first commit's key is running while it waits for the row" test "$(row "$USER_ID" "$K3")" = running/-
json_post commit-import "$K3" "{\"importId\":\"$IMPORT\"}"
check "a repeat meanwhile is 409 (got $STATUS)" test "$STATUS" = 409
check "  idempotency_in_progress, with Retry-After" bash -c "jq -e '.code == \"idempotency_in_progress\"' '$T/body' >/dev/null && [[ -n '$(header retry-after)' ]]"
json_post commit-import "$K3" "{\"importId\":\"$B_IMPORT\"}"
check "  another body meanwhile is 409 too (its body cannot be compared yet; got $STATUS)" test "$STATUS" = 409
check "  nothing committed yet" test "$(txns)" = 0
release
wait "$SLOW_PID" || true
check "the first commit then answers 200 (got $(cat "$T/slow.status"))" test "$(cat "$T/slow.status")" = 200
check "  3 rows committed" bash -c "[[ $(txns) == 3 ]] && jq -e '.committed == 3' '$T/slow.json' >/dev/null"
N_EVENTS="$(events "$USER_ID")"
json_post commit-import "$K3" "{\"importId\":\"$IMPORT\"}"
check "its repeat now replays the 200 (got $STATUS)" bash -c "[[ $STATUS == 200 && '$(header idempotent-replayed)' == true ]] && cmp -s '$T/body' '$T/slow.json'"
check "  no second commit: the rows and events are unchanged" test "$(txns)/$(events "$USER_ID")" = "3/$N_EVENTS"

# --- a 5xx is not stored: the retry runs ----------------------------------------------------------
# The commit of the second file waits on its import's row (locked in psql as above); its database
# connection is then terminated: a 503.  The key must be gone, and the retry must commit.
mkfifo "$T/lock2.fifo"
psql -X -q -v ON_ERROR_STOP=1 "$DATABASE_URL" < "$T/lock2.fifo" > "$T/lock2.out" 2>&1 &
LOCK_PID=$!
exec 7> "$T/lock2.fifo"
echo "BEGIN; SELECT id FROM imports WHERE id = '$B_IMPORT' FOR UPDATE; SELECT 'locked';" >&7
for _ in $(seq 1 100); do grep -q locked "$T/lock2.out" && break; sleep 0.1; done
K7="$(uuid)"
curl -sS -o "$T/lost.json" -w '%{http_code}' --max-time 60 "${AUTH[@]}" -H "$(key "$K7")" \
  -H 'Content-Type: application/json' --data-binary "{\"importId\":\"$B_IMPORT\"}" "$BASE$FN/commit-import" > "$T/lost.status" &
LOST_PID=$!
pid=""
for _ in $(seq 1 100); do
  pid="$(sql "SELECT pid FROM pg_stat_activity WHERE application_name = 'smartimport-commit-import' AND wait_event_type = 'Lock' LIMIT 1")"
  [[ -n $pid && $(row "$USER_ID" "$K7") == running/- ]] && break; sleep 0.1
done
check "the commit with a key waits on the row, its key running" bash -c "[[ -n '$pid' && '$(row "$USER_ID" "$K7")' == running/- ]]"
[[ -n $pid ]] && sql "SELECT pg_terminate_backend($pid)" >/dev/null
wait "$LOST_PID" || true
release
check "its connection lost, it answers 503 (got $(cat "$T/lost.status"))" test "$(cat "$T/lost.status")" = 503
check "  and the key is deleted, not stored" test -z "$(row "$USER_ID" "$K7")"
json_post commit-import "$K7" "{\"importId\":\"$B_IMPORT\"}"
check "the retry with the same key runs (200, not a replay; got $STATUS)" \
  bash -c "[[ $STATUS == 200 && -z '$(header idempotent-replayed)' ]] && jq -e '.committed == 1' '$T/body' >/dev/null"
check "  and is stored" test "$(row "$USER_ID" "$K7")" = done/200

# --- a row left running by a crash ------------------------------------------------------------
# Their holder: a database session of ours that is alive (the oldest, a responder's), or one that has ended.
K5="$(uuid)" K6="$(uuid)" K8="$(uuid)"
for k in "$K5" "$K6" "$K8"; do
  sql "INSERT INTO idempotency_keys (user_id, key, function, request, query_sha256, state, created_at, updated_at,
                                     holder_pid, holder_start)
       SELECT '$USER_ID', '$k', 'revert-import', 'POST $FN/revert-import', sha256(''::bytea), 'running',
              now() - interval '$([[ $k == "$K5" ]] && echo 400 || echo 10) seconds',
              now() - interval '$([[ $k == "$K5" ]] && echo 400 || echo 10) seconds',
              a.pid, a.backend_start - interval '$([[ $k == "$K8" ]] && echo 1 || echo 0) second'
       FROM pg_stat_activity a WHERE a.usename = current_user AND a.pid <> pg_backend_pid()
         AND a.backend_type = 'client backend' ORDER BY a.backend_start LIMIT 1"
done
json_post revert-import "$K6" "{\"importId\":\"$IMPORT\"}"
check "a key running for 10 s is still in progress (409, got $STATUS)" bash -c "[[ $STATUS == 409 ]] && jq -e '.code == \"idempotency_in_progress\"' '$T/body' >/dev/null"
json_post revert-import "$K5" "{\"importId\":\"$IMPORT\"}"
check "a key running for 400 s (past 360 s) is taken over: the revert runs (200, got $STATUS)" test "$STATUS" = 200
check "  the rows are reverted and the key is done" test "$(txns "import_id = '$IMPORT'")/$(row "$USER_ID" "$K5")" = 0/done/200
cp "$T/body" "$T/revert.json"; N_EVENTS="$(events "$USER_ID")"
json_post revert-import "$K5" "{\"importId\":\"$IMPORT\"}"
check "  its repeat replays the revert without running it" bash -c "[[ $STATUS == 200 && '$(header idempotent-replayed)' == true ]] && cmp -s '$T/body' '$T/revert.json' && [[ $(events "$USER_ID") == $N_EVENTS ]]"
json_post revert-import "$K8" "{\"importId\":\"$IMPORT\"}"
check "a key running for 10 s whose database session has ended (a lost host) is taken over (got $STATUS)" \
  test "$STATUS/$(row "$USER_ID" "$K8")" = 200/done/200

# --- retention ----------------------------------------------------------------------------------
RU="$(uuid)"
sql "INSERT INTO idempotency_keys (user_id, key, function, request, query_sha256, body_sha256, state, status, body_stored, created_at)
     SELECT '$RU', 'old-' || g, 'commit-import', 'POST x', sha256(''::bytea), sha256(''::bytea), 'done', 200, true,
            now() - interval '25 hours' FROM generate_series(1, 6000) g;
     INSERT INTO idempotency_keys (user_id, key, function, request, query_sha256, state, created_at)
     VALUES ('$RU', 'old-running', 'commit-import', 'POST x', sha256(''::bytea), 'running', now() - interval '25 hours'),
            ('$RU', 'young', 'commit-import', 'POST x', sha256(''::bytea), 'running', now() - interval '23 hours')"
RESULT="$(retention_purge || true)"
check "retention deletes the keys older than 24 h (6001 in two batches and more), keeps the young one" \
  test "$(sql "SELECT string_agg(key, ',') FROM idempotency_keys WHERE user_id = '$RU'")" = young
check "  and counts them in its result" jqf '.idempotency_keys >= 6001 and (.kind_ms.idempotency | type) == "number"' <<< "$RESULT"
check "  the keys of this test (minutes old) stay" test "$(sql "SELECT count(*) FROM idempotency_keys WHERE user_id = '$USER_ID'")" -ge 5
if [[ -x $WORKER_BIN ]]; then
  worker_refuses "$TOKEN_KEY" SMARTIMPORT_RETAIN_IDEMPOTENCY_HOURS=0 SMARTIMPORT_RETAIN_IDEMPOTENCY_HOURS=87601 \
    SMARTIMPORT_RETAIN_IDEMPOTENCY_HOURS=24h
else
  not_ok "the worker binary $WORKER_BIN is there"
fi
finish

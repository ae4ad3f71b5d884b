#!/usr/bin/env bash
# t0071-bank-import: the bank import jobs through nginx against the stand-in bank
# (tests/truelayer-stub): plan (estimates, every bad input a 400 JSON that writes nothing,
# another user's connection 404), start (202; "wait": true the completed shape), status,
# history; exact minor units (0.1, 0.29, 1234567.89, a 3-decimal currency); dedup on a
# re-sync, an overlapping range and a statement import of the same account; a pending
# transaction replaced by its booked one; a 429 pausing one account (shown in status) while
# the others go on; a failing account giving a partial result with its reason; kill -9 of
# the worker mid-sync (the job completes once, counts exact, no page fetched twice);
# auto_enrich; the bank:sync:* events on the SSE stream; reauth_required ending a job (409).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
: "${DATABASE_URL:?DATABASE_URL is needed to look at the database}"
: "${SMARTIMPORT_TEST_TRUELAYER:?the stand-in bank is not running (scripts/test starts it)}"
STUB="$SMARTIMPORT_TEST_TRUELAYER"
API=/api/truelayer/import
USER_ID="$(cat /proc/sys/kernel/random/uuid)" OTHER_ID="$(cat /proc/sys/kernel/random/uuid)"
AUTH=(-H "Authorization: Bearer $(fast_token "$USER_ID")")
OTHER=(-H "Authorization: Bearer $(fast_token "$OTHER_ID")")
JSON=(-H 'Content-Type: application/json')
sql() { psql -X -q -t -A -v ON_ERROR_STOP=1 "$DATABASE_URL" -c "$1"; }
stub() { curl -fsS -X POST -H 'Content-Type: application/json' --data-binary "$2" "$STUB/_stub/$1" >/dev/null; }
stub_count() { curl -fsS "$STUB/_stub/stats" | jq -r --arg k "$1" '.counts[$k] // 0'; }
post() { local path=$1 body=$2; shift 2; request POST "$path" "$@" "${JSON[@]}" --data-binary "$body"; }
plan() { post "$API/plan" "$1" "${AUTH[@]}"; JOB="$(jq -r '.job_id // empty' "$T/body")"; }
start_wait() { MAX_TIME=90 post "$API/start" "{\"job_id\":\"$1\",\"wait\":true}" "${AUTH[@]}"; }
status() { request GET "$API/status/$1" "${AUTH[@]}"; }
# wait_job JOB SECONDS: until the job is completed or failed.
wait_job() {
  local i
  for (( i = 0; i < $2 * 5; i++ )); do
    [[ $(sql "SELECT status FROM truelayer_import_jobs WHERE id = '$1'") == @(completed|failed) ]] && return 0
    sleep 0.2
  done
  return 1
}
job_rows() { sql "SELECT count(*) FROM transactions WHERE user_id = '$USER_ID' AND import_job_id = '$1'"; }
user_rows() { sql "SELECT count(*) FROM transactions WHERE user_id = '$USER_ID'${1:+ AND $1}"; }
stub reset '{}'
at_exit reset_stub
reset_stub() { curl -fsS -X POST -d '{}' "$STUB/_stub/reset" >/dev/null 2>&1; }
stub script '{"accounts":3,"tx_per_day":1}'

connect() {   # connect AUTH... -> CONN
  post /api/truelayer/connect "{\"code\":\"code-$RANDOM$RANDOM\",\"redirect_uri\":\"http://localhost/cb\"}" "$@"
  CONN="$(jq -r '.connection_id // empty' "$T/body")"
}
connect "${AUTH[@]}"
check "setup: a connection to the stand-in bank ($STATUS, 3 accounts)" \
  bash -c "[[ $STATUS == 201 && -n '$CONN' ]] && jq -e '.accounts | length == 3' '$T/body' >/dev/null"
connect "${OTHER[@]}"; OTHER_CONN="$CONN"
connect "${AUTH[@]}"

# --- plan: every bad input is a 400 JSON and writes nothing ------------------------------
RANGE='"from_date":"2024-01-01","to_date":"2024-03-31"'
bad_plan() {   # bad_plan STATUS CODE BODY
  post "$API/plan" "$3" "${AUTH[@]}"
  check "plan $3 -> $1 $2" bash -c "[[ $STATUS == $1 ]] && jq -e '.ok == false and .code == \"$2\" and (.error | length > 0)' '$T/body' >/dev/null"
}
bad_plan 400 invalid_id '{"connection_id":"42",'"$RANGE"'}'
bad_plan 400 invalid_id '{"connection_id":"not-a-uuid",'"$RANGE"'}'
bad_plan 400 missing_field '{'"$RANGE"'}'
bad_plan 400 invalid_date_range '{"connection_id":"'"$CONN"'","from_date":"2024-03-31","to_date":"2024-01-01"}'
bad_plan 400 date_range_too_long '{"connection_id":"'"$CONN"'","from_date":"2022-01-01","to_date":"2024-03-31"}'
bad_plan 400 invalid_date '{"connection_id":"'"$CONN"'","from_date":"01/01/2024","to_date":"2024-03-31"}'
bad_plan 400 invalid_date '{"connection_id":"'"$CONN"'","from_date":"2024-02-30","to_date":"2024-03-31"}'
bad_plan 400 invalid_date '{"connection_id":"'"$CONN"'","from_date":20240101,"to_date":"2024-03-31"}'
bad_plan 400 unknown_account '{"connection_id":"'"$CONN"'",'"$RANGE"',"account_ids":["stub-acc-01","no-such-account"]}'
bad_plan 400 invalid_field '{"connection_id":"'"$CONN"'",'"$RANGE"',"batch_size":0}'
bad_plan 404 not_found '{"connection_id":"'"$OTHER_CONN"'",'"$RANGE"'}'
bad_plan 404 not_found '{"connection_id":"'"$(cat /proc/sys/kernel/random/uuid)"'",'"$RANGE"'}'
request POST "$API/plan" "${JSON[@]}" --data-binary '{}'
check "plan without a token -> 401 JSON ($STATUS)" bash -c "[[ $STATUS == 401 ]] && jq -e '.ok == false' '$T/body' >/dev/null"
check "the bad plans wrote nothing" test "$(sql "SELECT count(*) FROM truelayer_import_jobs WHERE user_id = '$USER_ID'")" = 0

# --- plan, status before start -------------------------------------------------------------
plan '{"connection_id":"'"$CONN"'",'"$RANGE"',"account_ids":["stub-acc-01","stub-acc-03"],"batch_size":40}'
J1="$JOB"
check "plan -> 200 planned with its estimates" jqf --arg c "$CONN" '.status == "planned" and .estimated_accounts == 2
  and .estimated_transactions == 124 and .estimated_duration_seconds >= 1 and .estimated_cost > 0
  and .estimated_api_calls == 6 and .estimated_cost_micros == 1500
  and .date_range == {"from_date":"2024-01-01","to_date":"2024-03-31","days":91}
  and (.accounts | map(.account_id) == ["stub-acc-01","stub-acc-03"]) and .accounts[1].currency == "BHD"
  and (.job_id | test("^[0-9a-f-]{36}$"))' "$T/body"
status "$J1"
check "status of a planned job: every account pending, 0%" jqf '.status == "planned" and .progress ==
  {"completed_accounts":0,"total_accounts":2,"percent":0} and (.accounts | all(.status == "pending"))
  and .estimated_completion == null' "$T/body"
request GET "$API/status/$J1" "${OTHER[@]}"
check "another user's job -> 404 not_found ($STATUS)" bash -c "[[ $STATUS == 404 ]] && jq -e '.code == \"not_found\"' '$T/body' >/dev/null"
request GET "$API/status/12345" "${AUTH[@]}"
check "a non-UUID job id -> 400 invalid_id ($STATUS)" bash -c "[[ $STATUS == 400 ]] && jq -e '.code == \"invalid_id\"' '$T/body' >/dev/null"
post "$API/start" "{\"job_id\":\"$J1\"}" "${OTHER[@]}"
check "starting another user's job -> 404 ($STATUS), and it stays planned" \
  bash -c "[[ $STATUS == 404 && \$(psql -X -q -t -A '$DATABASE_URL' -c \"SELECT status FROM truelayer_import_jobs WHERE id = '$J1'\") == planned ]]"
post "$API/start" '{"job_id":"123"}' "${AUTH[@]}"
check "start with a non-UUID job id -> 400 invalid_id ($STATUS)" bash -c "[[ $STATUS == 400 ]] && jq -e '.code == \"invalid_id\"' '$T/body' >/dev/null"

# --- start with wait: the completed shape, exact amounts --------------------------------------
CALLS0="$(curl -fsS "$STUB/_stub/stats" | jq '.total')"
start_wait "$J1"
check "start with wait -> 200 completed with the seed's summary (91 booked + 1 pending per account)" \
  jqf --arg j "$J1" '.job_id == $j and .status == "completed" and .summary ==
  {"total_synced":184,"total_duplicates":0,"total_errors":0} and (.results | length == 2)
  and (.results | all(.status == "completed" and .synced == 92 and .error == null))' "$T/body"
check "the ledger holds the job's 184 rows" test "$(job_rows "$J1")" = 184
check "0.1, 0.29 and 1234567.89 GBP are exactly -10, -29 and 123456789 minor units" test \
  "$(sql "SELECT string_agg(DISTINCT amount_minor::text, ',' ORDER BY amount_minor::text) FROM transactions WHERE import_job_id = '$J1' AND account = 'stub-acc-01' AND NOT pending AND amount_minor IN (-10, -29, 123456789)")" = "-10,-29,123456789"
check "no GBP amount drifted (every booked amount is one of the bank's)" test \
  "$(sql "SELECT count(*) FROM transactions WHERE import_job_id = '$J1' AND account = 'stub-acc-01' AND NOT pending AND amount_minor NOT IN (-10, -29, -1250, -4599, 123456789, -899, -32000, 250000, -1, -7)")" = 0
check "BHD (3 decimals): 0.001, 12.345 and 1234567.89 are -1, -12345 and 1234567890 fils" test \
  "$(sql "SELECT count(*) FROM transactions WHERE import_job_id = '$J1' AND account = 'stub-acc-03' AND currency = 'BHD' AND NOT pending AND amount_minor NOT IN (-1, -12345, -100, 1234567890, -5250, 75000, -999, -3)"),$(sql "SELECT count(DISTINCT amount_minor) FROM transactions WHERE import_job_id = '$J1' AND account = 'stub-acc-03' AND amount_minor IN (-1, -12345, 1234567890)")" = "0,3"
check "rows carry the provider id, the dedup key of its bank-id form and the job" test \
  "$(sql "SELECT count(*) FROM transactions WHERE import_job_id = '$J1' AND provider_transaction_id IS NOT NULL AND bank_id = provider_transaction_id AND dedup_hash ~ '^[0-9a-f]{64}\$'")" = 184
check "one pending row per account" test "$(sql "SELECT count(*) FROM transactions WHERE import_job_id = '$J1' AND pending")" = 2
CALLS1="$(curl -fsS "$STUB/_stub/stats" | jq '.total')"
check "the job made 6 API calls (a token, then 1 window + pending per account) ($(( CALLS1 - CALLS0 )))" \
  bash -c "(( $CALLS1 - $CALLS0 >= 6 && $CALLS1 - $CALLS0 <= 8 ))"
status "$J1"
check "status afterwards: completed, 100%, total_so_far exact" jqf '.status == "completed" and .progress ==
  {"completed_accounts":2,"total_accounts":2,"percent":100} and .total_so_far == {"synced":184,"duplicates":0,"errors":0}
  and (.accounts | all(.status == "completed")) and (.estimated_completion | type) == "string"' "$T/body"
post "$API/start" "{\"job_id\":\"$J1\"}" "${AUTH[@]}"
check "starting it again changes nothing (202, completed)" bash -c "[[ $STATUS == 202 ]] && jq -e '.status == \"completed\"' '$T/body' >/dev/null && [[ \$(psql -X -q -t -A '$DATABASE_URL' -c \"SELECT count(*) FROM jobs WHERE task = 'bank.sync_account' AND payload->>'import_job_id' = '$J1'\") == 2 ]]"
check "accounts remember their sync and observed rate" test \
  "$(sql "SELECT count(*) FROM truelayer_accounts WHERE connection_id = '$CONN' AND last_synced_at IS NOT NULL AND observed_tx_per_day = 1 AND last_synced_at_incremental::date = '2024-03-31'")" = 2

# --- re-sync and an overlapping range add nothing twice ------------------------------------
plan '{"connection_id":"'"$CONN"'",'"$RANGE"',"account_ids":["stub-acc-01","stub-acc-03"]}'
check "the next plan estimates from the observed rate (91 a day-rate of 1: 182)" jqf '.estimated_transactions == 182' "$T/body"
start_wait "$JOB"
check "the same range again: 0 synced, 184 duplicates" jqf '.status == "completed" and .summary ==
  {"total_synced":0,"total_duplicates":184,"total_errors":0}' "$T/body"
plan '{"connection_id":"'"$CONN"'","from_date":"2024-03-01","to_date":"2024-04-30","account_ids":["stub-acc-01"]}'
start_wait "$JOB"
check "an overlapping range: April's 30 new, March's 31 + the pending one duplicates" jqf '.summary ==
  {"total_synced":30,"total_duplicates":32,"total_errors":0}' "$T/body"
check "the user's ledger: 184 + 30 rows, no duplicate provider id" test \
  "$(user_rows),$(sql "SELECT count(DISTINCT (account, provider_transaction_id)) FROM transactions WHERE user_id = '$USER_ID'")" = "214,214"

# --- a statement import of the same account dedups against the synced rows ---------------------
cat > "$T/acc01.ofx" <<'OFX'
OFXHEADER:100
DATA:OFXSGML
VERSION:102
SECURITY:NONE
ENCODING:USASCII
CHARSET:1252
COMPRESSION:NONE
OLDFILEUID:NONE
NEWFILEUID:NONE

<OFX><BANKMSGSRSV1><STMTTRNRS><TRNUID>1<STMTRS><CURDEF>GBP<BANKACCTFROM><BANKID>040072<ACCTID>stub-acc-01<ACCTTYPE>CHECKING</BANKACCTFROM>
<BANKTRANLIST><DTSTART>20240115<DTEND>20240116
<STMTTRN><TRNTYPE>DEBIT<DTPOSTED>20240115<TRNAMT>-1.00<FITID>tx-stub-acc-01-2024-01-15-0<NAME>FROM A STATEMENT</STMTTRN>
<STMTTRN><TRNTYPE>DEBIT<DTPOSTED>20240116<TRNAMT>-2.00<FITID>statement-only-1<NAME>ONLY IN THE STATEMENT</STMTTRN>
</BANKTRANLIST><LEDGERBAL><BALAMT>0<DTASOF>20240116</LEDGERBAL></STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>
OFX
request POST "/.netlify/functions/ingest-statement?fileName=acc01.ofx" "${AUTH[@]}" -H 'Content-Type: application/x-ofx' --data-binary @"$T/acc01.ofx"
IMPORT="$(jq -r '.importId // empty' "$T/body")"
check "a statement of stub-acc-01 sees the synced transaction as a duplicate ($STATUS)" \
  jqf '[.preview[] | .verdict] | sort == ["duplicate","new"]' "$T/body"
request POST /.netlify/functions/commit-import "${AUTH[@]}" "${JSON[@]}" --data-binary "{\"importId\":\"$IMPORT\"}"
check "committing it adds only the statement's own row" test "$STATUS,$(user_rows)" = "200,215"

# --- a statement's row that a bank sync also contains survives the statement's revert ---------
sed -e 's/tx-stub-acc-01-2024-01-15-0/tx-stub-acc-01-2024-06-15-0/; s/statement-only-1/statement-only-2/' \
    -e 's/20240115/20240615/g; s/20240116/20240616/g' "$T/acc01.ofx" > "$T/acc01-june.ofx"
request POST "/.netlify/functions/ingest-statement?fileName=acc01-june.ofx" "${AUTH[@]}" -H 'Content-Type: application/x-ofx' --data-binary @"$T/acc01-june.ofx"
IMPORT2="$(jq -r '.importId // empty' "$T/body")"
request POST /.netlify/functions/commit-import "${AUTH[@]}" "${JSON[@]}" --data-binary "{\"importId\":\"$IMPORT2\"}"
check "setup: a June statement of stub-acc-01 committed first ($STATUS)" test "$STATUS,$(user_rows)" = "200,217"
plan '{"connection_id":"'"$CONN"'","from_date":"2024-06-01","to_date":"2024-06-30","account_ids":["stub-acc-01"]}'
start_wait "$JOB"
check "the June sync finds the statement's row (29 new, 1 + pending duplicates)" jqf '.summary ==
  {"total_synced":29,"total_duplicates":2,"total_errors":0}' "$T/body"
request POST /.netlify/functions/revert-import "${AUTH[@]}" "${JSON[@]}" --data-binary "{\"importId\":\"$IMPORT2\"}"
check "reverting the statement removes only its own row and hands the synced one over" \
  jqf '.removed == 1 and .handedOver == 1' "$T/body"
check "the row the bank sync contains is still in the ledger, once" test \
  "$(user_rows "(provider_transaction_id = 'tx-stub-acc-01-2024-06-15-0' OR bank_id = 'tx-stub-acc-01-2024-06-15-0')"),$(user_rows)" = "1,245"

# --- pending -> booked ---------------------------------------------------------------------
TODAY="$(date -u +%F)" FROM5="$(date -u -d '5 days ago' +%F)"
PENDING_AMOUNT="$(sql "SELECT amount_minor FROM transactions WHERE user_id = '$USER_ID' AND account = 'stub-acc-01' AND pending")"
stub script '{"account_id":"stub-acc-01","book_pending":true}'
plan '{"connection_id":"'"$CONN"'","from_date":"'"$FROM5"'","to_date":"'"$TODAY"'","account_ids":["stub-acc-01"]}'
start_wait "$JOB"
check "the booked transaction replaced its pending row (pending_replaced 1)" jqf '.status == "completed" and .results[0].pending_replaced == 1' "$T/body"
check "no pending row is left and the booked one has its amount, once" test \
  "$(sql "SELECT count(*) FILTER (WHERE pending) || ',' || count(*) FILTER (WHERE provider_transaction_id = 'tx-stub-acc-01-booked-pending' AND amount_minor = $PENDING_AMOUNT) FROM transactions WHERE user_id = '$USER_ID' AND account = 'stub-acc-01'")" = "0,1"
check "the ledger grew only by the new days, not by the booked twin" test \
  "$(user_rows "account = 'stub-acc-01' AND tx_date BETWEEN '$FROM5' AND '$TODAY' AND provider_transaction_id LIKE 'tx-stub-acc-01-2%'")" = \
  "$(jq '.results[0].synced' "$T/body")"
stub script '{"account_id":"stub-acc-01","book_pending":false}'

# --- a 429 pauses one account; a failing account is a partial result ------------------------------
stub script '{"account_id":"stub-acc-02","status_429":1,"retry_after":2}'
stub script '{"account_id":"stub-acc-03","status_5xx":100,"status":503}'
plan '{"connection_id":"'"$CONN"'","from_date":"2024-05-01","to_date":"2024-05-31"}'
J2="$JOB"
post "$API/start" "{\"job_id\":\"$J2\"}" "${AUTH[@]}"
check "start -> 202 running" bash -c "[[ $STATUS == 202 ]] && jq -e '.status == \"running\"' '$T/body' >/dev/null"
PAUSED=""
for (( i = 0; i < 50; i++ )); do
  status "$J2"
  if jq -e '.accounts[] | select(.account_id == "stub-acc-02") | .rate_limited_until != null' "$T/body" >/dev/null; then
    PAUSED="$(jq -c '.accounts' "$T/body")"; break
  fi
  sleep 0.1
done
check "status shows stub-acc-02 paused by the rate limit ($PAUSED)" test -n "$PAUSED"
check "... while stub-acc-01 is not paused" jqf -n --argjson a "${PAUSED:-[]}" '$a | map(select(.account_id == "stub-acc-01")) | .[0].rate_limited_until == null'
check "the job ends" wait_job "$J2" 120
status "$J2"
# stub-acc-01's pending transaction is pending again (book_pending false): it comes back as a new row.
check "a partial result: stub-acc-01 and -02 completed, stub-acc-03 failed with bank_unavailable" jqf '.status == "completed"
  and ([.accounts[] | [.account_id, .status, .error]] == [["stub-acc-01","completed",null],["stub-acc-02","completed",null],["stub-acc-03","failed","bank_unavailable"]])
  and .total_so_far == {"synced":64,"duplicates":0,"errors":0}' "$T/body"
check "the bank saw exactly one 429 for stub-acc-02" test "$(stub_count stub-acc-02/429)" = 1
stub reset '{}'; stub script '{"accounts":3,"tx_per_day":1}'

# --- kill -9 of the worker mid-sync: completes once, counts exact, no page fetched twice ----------
PIDFILE="$SMARTIMPORT_TEST_VAR/run/worker.pid"
stub script '{"latency_ms":400}'
plan '{"connection_id":"'"$CONN"'","from_date":"2023-01-01","to_date":"2023-06-29"}'
J3="$JOB"      # 180 days: 2 windows + pending = 3 calls per account
BEFORE="$(sql "SELECT count(*) FROM transactions WHERE user_id = '$USER_ID'")"
post "$API/start" "{\"job_id\":\"$J3\"}" "${AUTH[@]}"
for (( i = 0; i < 100; i++ )); do
  [[ $(sql "SELECT count(*) FROM truelayer_page_cache WHERE job_id = '$J3'") -ge 1 ]] && break
  sleep 0.05
done
OLD_PID="$(cat "$PIDFILE")"
echo "$OLD_PID" >> "$SMARTIMPORT_TEST_VAR/log/expected-crashes"
kill -9 "$OLD_PID"
# The stand-in counts a call when its latency (400 ms) is over, so calls the killed worker
# had in flight are counted just after the kill: wait them out before counting.  The
# restarted worker cannot take the jobs over before their 2 s leases run out (the last
# heartbeat was at most 2/3 s before the kill), so it makes no call in this pause.
sleep 0.7
CACHED="$(sql "SELECT count(*) FROM truelayer_page_cache WHERE job_id = '$J3'")"
CALLS_AT_KILL="$(curl -fsS "$STUB/_stub/stats" | jq '[.counts | to_entries[] | select(.key | test("^stub-acc-0[123]/(transactions|pending)$")) | .value] | add // 0')"
check "the worker was killed with $CACHED of 9 pages cached" bash -c "(( $CACHED >= 1 && $CACHED < 9 ))"
check "the job completes after the worker's restart" wait_job "$J3" 60
status "$J3"
check "once, with exact counts: 3 x 180 synced, the 3 pending ones duplicates" jqf '.status == "completed" and
  .total_so_far == {"synced":540,"duplicates":3,"errors":0}' "$T/body"
check "the ledger grew by exactly 540" test "$(( $(user_rows) - BEFORE ))" = 540
CALLS_END="$(curl -fsS "$STUB/_stub/stats" | jq '[.counts | to_entries[] | select(.key | test("^stub-acc-0[123]/(transactions|pending)$")) | .value] | add // 0')"
check "the retried accounts fetched only the pages not cached ($(( CALLS_END - CALLS_AT_KILL )) = 9 - $CACHED)" \
  test "$(( CALLS_END - CALLS_AT_KILL ))" = "$(( 9 - CACHED ))"
check "one bank:sync:complete event for the job" test \
  "$(sql "SELECT count(*) FROM import_events WHERE user_id = '$USER_ID' AND event_type = 'bank:sync:complete' AND payload->>'jobId' = '$J3'")" = 1
check "the job's page cache is dropped once it ended" test "$(sql "SELECT count(*) FROM truelayer_page_cache WHERE job_id = '$J3'")" = 0
stub script '{"latency_ms":0}'

# --- auto_enrich categorises the new rows with the statement rules ---------------------------------
sql "INSERT INTO category_rules (user_id, keyword, category) VALUES ('$USER_ID', 'card payment', 'Card Payments')"
plan '{"connection_id":"'"$CONN"'","from_date":"2022-01-01","to_date":"2022-01-31","account_ids":["stub-acc-02"],"auto_enrich":true}'
J4="$JOB"
start_wait "$J4"
for (( i = 0; i < 50; i++ )); do
  [[ $(sql "SELECT status FROM truelayer_enrichment_jobs WHERE import_job_id = '$J4'") == completed ]] && break
  sleep 0.2
done
check "a bank.enrich job ran: truelayer_enrichment_jobs completed, 31 categorised" test \
  "$(sql "SELECT status || ',' || transactions_total || ',' || categorized FROM truelayer_enrichment_jobs WHERE import_job_id = '$J4' AND user_id = '$USER_ID'")" = "completed,31,31"
check "the job's rows carry the rule's category" test "$(sql "SELECT count(*) FROM transactions WHERE import_job_id = '$J4' AND category = 'Card Payments'")" = 31
status "$J4"
check "status shows the enrichment" jqf '.enrichment == {"status":"completed","categorized":31}' "$T/body"

# --- history ------------------------------------------------------------------------------------
request GET "$API/history?limit=50" "${AUTH[@]}"
check "history: the caller's jobs, newest first, in the seed's shape" jqf --arg u "$USER_ID" --arg j1 "$J1" --arg j4 "$J4" '
  .user_id == $u and (.imports | length) == 8 and .imports[0].job_id == $j4
  and (.imports | map(.created_at) | . == (sort | reverse))
  and (.imports[] | select(.job_id == $j1) | .status == "completed" and .accounts_synced == 2
       and .transactions_imported == 184 and .job_type == "date_range"
       and .date_range == {"from_date":"2024-01-01","to_date":"2024-03-31"})' "$T/body"
request GET "$API/history?limit=2" "${AUTH[@]}"
check "limit=2 gives two" jqf '.imports | length == 2' "$T/body"
request GET "$API/history?limit=0" "${AUTH[@]}"
check "limit=0 -> 400 invalid_limit ($STATUS)" bash -c "[[ $STATUS == 400 ]] && jq -e '.code == \"invalid_limit\"' '$T/body' >/dev/null"
request GET "$API/history" "${OTHER[@]}"
check "another user sees none of them" jqf '.imports == []' "$T/body"

# --- the bank events on the SSE stream (ids and counts only) --------------------------------------
curl -sS -N --max-time 3 -H 'Accept: text/event-stream' "${AUTH[@]}" -o "$T/sse" "$BASE/.netlify/functions/import-events" 2>/dev/null || true
check "the SSE stream shows bank:sync:start, progress and complete for a job" bash -c "
  grep -q '^event: bank:sync:start' '$T/sse' && grep -q '^event: bank:sync:progress' '$T/sse' &&
  grep -q '^event: bank:sync:complete' '$T/sse' && grep -q '^event: bank:sync:error' '$T/sse' &&
  grep '^data: ' '$T/sse' | grep -qE '\"jobId\": ?\"$J1\"'"
check "bank events carry no description, merchant or account text" bash -c "! grep -qiE 'TLSTUB|GB[0-9]{2}TLSB|9911[0-9]{4}|access_token' '$T/sse'"

# --- reauth_required ends the job with that reason: 409 ---------------------------------------------
stub script '{"expire_tokens":true,"refresh_invalid_grant":-1}'
plan '{"connection_id":"'"$CONN"'",'"$RANGE"',"account_ids":["stub-acc-01"]}'
J5="$JOB"
start_wait "$J5"
check "start with wait -> 409 reauth_required ($STATUS)" bash -c "[[ $STATUS == 409 ]] && jq -e '.ok == false and .code == \"reauth_required\"' '$T/body' >/dev/null"
status "$J5"
check "the job failed with reason reauth_required, and its account too" jqf '.status == "failed" and .error == "reauth_required"
  and .accounts[0].error == "reauth_required"' "$T/body"
plan '{"connection_id":"'"$CONN"'",'"$RANGE"'}'
check "a plan on that connection -> 409 reauth_required ($STATUS)" bash -c "[[ $STATUS == 409 ]] && jq -e '.code == \"reauth_required\"' '$T/body' >/dev/null"
check "no row was added by the failed job" test "$(job_rows "$J5")" = 0

finish

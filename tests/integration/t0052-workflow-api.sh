#!/usr/bin/env bash
# t0052-workflow-api: the workflow's read API for the web page (issue 16): GET jobs (filters
# by phase and status, keyset paging, bad parameters) and GET jobs/:id/audit (oldest first,
# the API's words, the failure's code), each filtered by the caller: another user's job is
# neither listed nor audited (404).  Retries and a dead job need the stand-in service
# (tests/workflow-stub, started by scripts/test).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
: "${DATABASE_URL:?DATABASE_URL is needed to look at the database}"
STUB="${SMARTIMPORT_TEST_WORKFLOW_STUB:-}"
USER_ID="$(cat /proc/sys/kernel/random/uuid)" OTHER_ID="$(cat /proc/sys/kernel/random/uuid)"
AUTH=(-H "Authorization: Bearer $(fast_token "$USER_ID")")
OTHER=(-H "Authorization: Bearer $(fast_token "$OTHER_ID")")
JSON=(-H 'Content-Type: application/json')
sql() { psql -X -q -t -A -v ON_ERROR_STOP=1 "$DATABASE_URL" -c "$1"; }
stub() { curl -fsS -X "$1" "$STUB$2"; }
# post AUTH-ARRAY-NAME PHASE SYNC_ID [extra JSON fields]: sets JOB.
post() {
  local -n a=$1; local uid=$USER_ID; [[ $1 == OTHER ]] && uid=$OTHER_ID
  request POST "/api/v1/workflow/phase/$2" "${a[@]}" "${JSON[@]}" --data-binary "{\"user_id\":\"$uid\",\"sync_id\":\"$3\"${4:+,$4}}"
  JOB="$(jq -r '.job_id // empty' "$T/body")"
}
list() { request GET "/api/v1/workflow/jobs${1:+?$1}" "${AUTH[@]}"; }
# wait_status ID STATUS: until GET jobs/:id says STATUS (20 s).
wait_status() {
  local deadline=$(( $(date +%s) + 20 ))
  while :; do
    request GET "/api/v1/workflow/jobs/$1" "${AUTH[@]}"
    [[ $(jq -r .status "$T/body" 2>/dev/null) == "$2" ]] && return 0
    (( $(date +%s) < deadline )) || return 1
    sleep 0.1
  done
}
[[ -n $STUB ]] && stub POST /_reset >/dev/null

# --- a few jobs of the user, one of another user ----------------------------------------------
IDS=()
for s in a b c; do post AUTH 1 "p1_$s" '"seller_id":"s"'; IDS+=("$JOB"); done
for s in a b; do post AUTH 2 "p2_$s"; IDS+=("$JOB"); done
post AUTH 6 p6_a '"claim_id":"cl1","reason":"r"'; IDS+=("$JOB")
post OTHER 1 other_1; OTHER_JOB="$JOB"
check "6 jobs of the user and one of another enqueued" test "${#IDS[@]}" = 6 -a -n "$OTHER_JOB"
ALL="$(IFS=,; echo "${IDS[*]}")"
for id in "${IDS[@]}"; do wait_status "$id" completed || not_ok "job $id completes"; done
# A queued job that will not run for an hour (added from SQL, without a wake-up).
LATER="$(sql "SELECT id FROM jobs_add('workflow.phase5', '{\"claim_id\":\"later\"}'::jsonb, p_user => '$USER_ID', p_job_key => 'later_1', p_run_at => now() + interval '1 hour', p_wake => false)")"
at_exit cleanup_later
cleanup_later() { sql "DELETE FROM jobs WHERE id = $LATER" >/dev/null; }

# --- the list ---------------------------------------------------------------------------------
list
check "GET jobs is 200 JSON (got $STATUS)" eval 'test "$STATUS" = 200 && is_json_ct && body_jq .ok'
check "it lists the user's 7 jobs, newest first" body_jq "[.jobs[].job_id] == ([$ALL,$LATER] | sort | reverse)"
check "and not the other user's" body_jq "[.jobs[].job_id] | index($OTHER_JOB) == null"
check "one page: next_cursor is null" body_jq '.next_cursor == null'
check "each job has its fields" body_jq 'all(.jobs[]; (.job_id|type) == "number" and (.phase|type) == "number" and (.status|type) == "string" and (.attempts|type) == "number" and .max_attempts >= 1 and (.created_at|test("Z$")) and (.updated_at|test("Z$")))'
check "a completed job: status completed, attempts 1, sync_id, no run_at, no last_error" \
  body_jq ".jobs[] | select(.job_id == ${IDS[0]}) | .status == \"completed\" and .attempts == 1 and .sync_id == \"p1_a\" and .phase == 1 and (has(\"run_at\") | not) and (has(\"last_error\") | not) and .updated_at >= .created_at"
check "the queued job has run_at in the future" \
  body_jq ".jobs[0].job_id == $LATER and .jobs[0].status == \"queued\" and .jobs[0].run_at > .jobs[0].created_at and .jobs[0].updated_at == .jobs[0].created_at"
list "phase=1"
check "phase=1: the three phase-1 jobs" body_jq "[.jobs[].job_id] == [${IDS[2]},${IDS[1]},${IDS[0]}] and all(.jobs[]; .phase == 1)"
list "status=queued"
check "status=queued: the queued one" body_jq "[.jobs[].job_id] == [$LATER]"
list "status=completed&phase=2"
check "status=completed&phase=2: the two phase-2 jobs" body_jq "[.jobs[].job_id] == [${IDS[4]},${IDS[3]}]"
list "phase=3"
check "a phase without jobs: an empty list" body_jq '.jobs == [] and .next_cursor == null'
list "phase=&status=&limit=&cursor="
check "empty parameters are absent ones" body_jq '(.jobs | length) == 7'

# --- paging -----------------------------------------------------------------------------------
PAGES="" CURSOR="" N=0
while :; do
  list "limit=3${CURSOR:+&cursor=$CURSOR}"
  [[ $STATUS == 200 ]] || { not_ok "page $N is 200 (got $STATUS)"; break; }
  N=$(( N + 1 )); PAGES="$PAGES$(jq -c '[.jobs[].job_id]' "$T/body")"
  CURSOR="$(jq -r '.next_cursor // empty' "$T/body")"
  [[ -z $CURSOR || $N -gt 5 ]] && break
done
check "limit=3 over 7 jobs: 3 pages (got $N)" test "$N" = 3
check "the pages hold every job once, newest first" test "$(echo "$PAGES" | jq -s -c 'add')" = "$(jq -n -c "[$ALL,$LATER] | sort | reverse")"
list "limit=2&phase=1"
C="$(jq -r .next_cursor "$T/body")"
check "a filtered page's next_cursor is its last job id" test "$C" = "${IDS[1]}"
list "limit=2&phase=1&cursor=$C"
check "the next filtered page: the rest, no cursor" body_jq "[.jobs[].job_id] == [${IDS[0]}] and .next_cursor == null"

# --- bad parameters: 400 bad_param, nothing listed -----------------------------------------------
for q in phase=0 phase=8 phase=x status=succeeded status=done limit=0 limit=201 limit=1.5 cursor=abc cursor=-1 cursor=1x; do
  list "$q"
  check "$q is 400 bad_param (got $STATUS)" eval 'test "$STATUS" = 400 && body_jq ".ok == false and .code == \"bad_param\" and (.jobs == null)"'
done
request POST /api/v1/workflow/jobs "${AUTH[@]}" "${JSON[@]}" --data-binary '{}'
check "POST jobs is 405 (got $STATUS)" test "$STATUS" = 405
request GET /api/v1/workflow/jobs
check "no token is 401 (got $STATUS)" test "$STATUS" = 401
request GET /api/v1/workflow/jobs "${OTHER[@]}"
check "the other user sees only their job" body_jq "[.jobs[].job_id] == [$OTHER_JOB]"

# --- the audit ------------------------------------------------------------------------------------
request GET "/api/v1/workflow/jobs/${IDS[0]}/audit" "${AUTH[@]}"
check "GET jobs/:id/audit is 200 (got $STATUS)" eval 'test "$STATUS" = 200 && body_jq ".ok and .job_id == ${IDS[0]} and .truncated == false"'
check "a completed job: null -> queued -> running -> completed, oldest first" \
  body_jq '[.audit[] | "\(.from)>\(.to)"] == ["null>queued","queued>running","running>completed"] and ([.audit[].at] == ([.audit[].at] | sort))'
check "attempts 0, 1, 1; ms on the worker's rows; no code" \
  body_jq '[.audit[].attempt] == [0,1,1] and (.audit[0] | has("ms") | not) and (.audit[1].ms | type) == "number" and (.audit[2].ms | type) == "number" and all(.audit[]; has("code") | not)'
check "as many rows as job_audit holds" test "$(jq '.audit | length' "$T/body")" = "$(sql "SELECT count(*) FROM job_audit WHERE job_id = ${IDS[0]}")"
request GET "/api/v1/workflow/jobs/$LATER/audit" "${AUTH[@]}"
check "the queued job's audit: its enqueue only" body_jq '[.audit[] | "\(.from)>\(.to)"] == ["null>queued"]'
request GET "/api/v1/workflow/jobs/$OTHER_JOB/audit" "${AUTH[@]}"
check "another user's job's audit is 404 job_not_found (got $STATUS)" eval 'test "$STATUS" = 404 && body_jq ".code == \"job_not_found\" and (.audit == null)"'
request GET "/api/v1/workflow/jobs/999999999999/audit" "${AUTH[@]}"
check "an unknown job's audit is 404 (got $STATUS)" test "$STATUS" = 404
request GET "/api/v1/workflow/jobs/abc/audit" "${AUTH[@]}"
check "a malformed id is 400 (got $STATUS)" test "$STATUS" = 400
request POST "/api/v1/workflow/jobs/${IDS[0]}/audit" "${AUTH[@]}" "${JSON[@]}" --data-binary '{}'
check "POST on an audit is 405 (got $STATUS)" test "$STATUS" = 405
BANK_JOB="$(sql "SELECT id FROM jobs_add('test.noop', '{}'::jsonb, p_user => '$USER_ID', p_run_at => now() + interval '1 hour', p_wake => false)" 2>/dev/null || true)"
if [[ -n $BANK_JOB ]]; then
  request GET "/api/v1/workflow/jobs/$BANK_JOB/audit" "${AUTH[@]}"
  check "the user's job of another task is no workflow job: 404 (got $STATUS)" test "$STATUS" = 404
  list; check "nor listed" body_jq "[.jobs[].job_id] | index($BANK_JOB) == null"
  sql "DELETE FROM jobs WHERE id = $BANK_JOB" >/dev/null
fi

if [[ -z $STUB ]]; then
  ok "# SKIP a retried and a dead job (no SMARTIMPORT_TEST_WORKFLOW_STUB)"
  finish
fi

# --- a retry, a dead job ------------------------------------------------------------------------
stub POST "/_fail?n=1&status=503" >/dev/null
post AUTH 3 retry_1; JR="$JOB"
check "a job whose service fails once completes" wait_status "$JR" completed
request GET "/api/v1/workflow/jobs/$JR/audit" "${AUTH[@]}"
check "its audit: queued, running, failed (code trigger_http_error), running, completed" \
  body_jq '[.audit[] | "\(.from)>\(.to)"] == ["null>queued","queued>running","running>failed","failed>running","running>completed"] and .audit[2].code == "trigger_http_error" and [.audit[].attempt] == [0,1,1,2,2]'
stub POST "/_fail?n=1000&status=500" >/dev/null
post AUTH 3 dead_1; JD="$JOB"
check "a job that always fails ends dead" wait_status "$JD" dead
MAX="$(jq .max_attempts "$T/body")"
stub POST /_reset >/dev/null
list "status=dead"
check "status=dead lists it with its last_error and no run_at" \
  body_jq "[.jobs[].job_id] == [$JD] and (.jobs[0].last_error | startswith(\"trigger_http_error\")) and .jobs[0].attempts == $MAX and (.jobs[0] | has(\"run_at\") | not)"
request GET "/api/v1/workflow/jobs/$JD/audit" "${AUTH[@]}"
check "its audit ends running -> dead with the code" body_jq '.audit[-1].from == "running" and .audit[-1].to == "dead" and .audit[-1].code == "trigger_http_error"'
check "one failed row per retry ($(( MAX - 1 )))" body_jq "[.audit[] | select(.to == \"failed\")] | length == $(( MAX - 1 ))"
finish

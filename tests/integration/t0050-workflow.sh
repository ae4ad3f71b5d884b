#!/usr/bin/env bash
# t0050-workflow: the workflow queue through nginx and the worker: validation, idempotent
# enqueue, every phase's effects (phase 4 routing, phase 7 fee + proof packet), the audit
# log and events, other users' jobs (404) and stats, and with the stand-in service
# (tests/workflow-stub, started by scripts/test): retries with backoff, dead-lettering,
# and a worker killed with -9 mid-job whose job another worker takes over and runs once.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
: "${DATABASE_URL:?DATABASE_URL is needed to look at the database}"
: "${SMARTIMPORT_TEST_VAR:?SMARTIMPORT_TEST_VAR (the var dir of the stack) is needed to find the worker}"
TOKEN_BIN=./modules/token/smartimport-token
STUB="${SMARTIMPORT_TEST_WORKFLOW_STUB:-}"
USER_ID="$(cat /proc/sys/kernel/random/uuid)" OTHER_ID="$(cat /proc/sys/kernel/random/uuid)"
AUTH=(-H "Authorization: Bearer $("$TOKEN_BIN" "$USER_ID")")
OTHER=(-H "Authorization: Bearer $("$TOKEN_BIN" "$OTHER_ID")")
JSON=(-H 'Content-Type: application/json')
sql() { psql -X -q -t -A -v ON_ERROR_STOP=1 "$DATABASE_URL" -c "$1"; }
post() { request POST "/api/v1/workflow/phase/$1" "${AUTH[@]}" "${JSON[@]}" --data-binary "$2"; JOB="$(jq -r '.job_id // empty' "$T/body")"; }
get_job() { request GET "/api/v1/workflow/jobs/$1" "${AUTH[@]}"; }
# wait_job ID STATUS [SECONDS]: until the job has STATUS (the last GET's body stays in $T/body).
wait_job() {
  local deadline=$(( $(date +%s) + ${3:-20} ))
  while :; do
    get_job "$1"
    [[ $(jq -r .status "$T/body" 2>/dev/null) == "$2" ]] && return 0
    (( $(date +%s) < deadline )) || return 1
    sleep 0.1
  done
}
stub() { curl -fsS -X "$1" "$STUB$2"; }
events() { sql "SELECT string_agg(event_type, ',' ORDER BY id) FROM import_events WHERE user_id = '$USER_ID' AND payload->>'jobId' = '$1'"; }
audit() { sql "SELECT string_agg(coalesce(from_state, '-') || '>' || to_state, ',' ORDER BY id) FROM job_audit WHERE job_id = $1 AND user_id = '$USER_ID'"; }
PIDFILE="$SMARTIMPORT_TEST_VAR/run/worker.pid"
check "a job worker is running" test -n "$(pid="$(cat "$PIDFILE" 2>/dev/null)"; [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && echo y)"
[[ -n $STUB ]] && stub POST /_reset >/dev/null

# --- validation ---------------------------------------------------------------------------
for bad in 0 8 abc 1.5 -1 01 "1/x"; do
  request POST "/api/v1/workflow/phase/$bad" "${AUTH[@]}" "${JSON[@]}" --data-binary "{\"user_id\":\"$USER_ID\"}"
  check "phase '$bad' is 400 invalid_phase JSON (got $STATUS)" test "$STATUS" = 400 -a "$(jq -r .code "$T/body")" = invalid_phase
done
request GET /api/v1/workflow/phase/1 "${AUTH[@]}"
check "GET on a phase is 405 (got $STATUS)" test "$STATUS" = 405
post 1 '{"seller_id":"s1"}'
check "no user_id is 400 (got $STATUS)" body_jq '.code == "missing_field"'
post 1 "{\"user_id\":\"$OTHER_ID\"}"
check "someone else's user_id is 403 (got $STATUS)" test "$STATUS" = 403
request POST /api/v1/workflow/phase/1 "${JSON[@]}" --data-binary "{\"user_id\":\"$USER_ID\"}"
check "no token is 401 (got $STATUS)" test "$STATUS" = 401
post 1 '{"user_id":'
check "malformed JSON is 400 (got $STATUS)" test "$STATUS" = 400
post 4 "{\"user_id\":\"$USER_ID\"}"
check "phase 4 without matches is 400 (got $STATUS)" test "$STATUS" = 400
post 4 "{\"user_id\":\"$USER_ID\",\"matches\":[{\"claim_id\":\"x\",\"confidence\":2}]}"
check "a confidence above 1 is 400 (got $STATUS)" test "$STATUS" = 400
post 7 "{\"user_id\":\"$USER_ID\",\"claim_id\":\"c\",\"amount_minor\":10.5,\"currency\":\"USD\"}"
check "a fractional amount_minor is 400 (got $STATUS)" test "$STATUS" = 400
post 7 "{\"user_id\":\"$USER_ID\",\"claim_id\":\"c\",\"amount_minor\":100,\"currency\":\"usd\"}"
check "a lower-case currency is 400 (got $STATUS)" test "$STATUS" = 400
post 1 "{\"user_id\":\"$USER_ID\",\"sync_id\":7}"
check "a numeric sync_id is 400 (got $STATUS)" test "$STATUS" = 400
check "nothing was enqueued by the refused requests" test "$(sql "SELECT count(*) FROM jobs WHERE user_id = '$USER_ID'")" = 0

# --- phase 1 and idempotent enqueue --------------------------------------------------------
post 1 "{\"user_id\":\"$USER_ID\",\"seller_id\":\"seller_456\",\"sync_id\":\"oauth_1\"}"
check "phase 1 is 202 queued (got $STATUS)" test "$STATUS" = 202
check "the answer has ok, job_id, phase, status" body_jq '.ok and (.job_id | type) == "number" and .phase == 1 and .status == "queued" and .existing == false'
J1="$JOB"
post 1 "{\"user_id\":\"$USER_ID\",\"seller_id\":\"seller_456\",\"sync_id\":\"oauth_1\"}"
check "the same (phase, sync_id) again is 202 with the same job (got $STATUS)" body_jq ".job_id == $J1 and .existing == true"
for i in 1 2 3 4 5 6; do
  curl -sS -o "$T/dup$i.json" "${AUTH[@]}" "${JSON[@]}" --data-binary "{\"user_id\":\"$USER_ID\",\"sync_id\":\"race\"}" \
    "$BASE/api/v1/workflow/phase/2" &
done
wait
check "6 concurrent posts of one (phase, sync_id) give one job" test "$(jq -s '[.[].job_id] | unique | length' "$T"/dup[1-6].json)" = 1
check "and one row" test "$(sql "SELECT count(*) FROM jobs WHERE user_id = '$USER_ID' AND job_key IN ('oauth_1', 'race')")" = 2
check "phase 1 completes" wait_job "$J1" completed
check "its result records the sync trigger" body_jq '.result.trigger.service == "sync" and (.result.trigger.status == "sent" or .result.trigger.status == "skipped") and .attempts == 1 and .finished_at != null and .error == null'
if [[ -n $STUB ]]; then
  check "with the stub configured the sync was sent (HTTP 200)" body_jq '.result.trigger.status == "sent" and .result.trigger.http_status == 200'
  check "once, with Idempotency-Key = job id" test "$(stub GET "/_count?key=$J1" | jq .key)" = 1
fi
check "the connection is recorded" test "$(sql "SELECT job_id FROM workflow_connections WHERE user_id = '$USER_ID' AND seller_id = 'seller_456'")" = "$J1"
check "audit: null>queued, queued>running, running>succeeded" test "$(audit "$J1")" = "->queued,queued>running,running>succeeded"
check "audit rows carry the worker and timings" test "$(sql "SELECT count(*) FROM job_audit WHERE job_id = $J1 AND to_state <> 'queued' AND worker IS NOT NULL AND duration_ms >= 0")" = 2
check "events: workflow:phase:queued then workflow:phase:complete" test "$(events "$J1")" = "workflow:phase:queued,workflow:phase:complete"
check "events have no import_id" test "$(sql "SELECT count(*) FROM import_events WHERE user_id = '$USER_ID' AND import_id IS NOT NULL")" = 0

# --- phases 2, 3, 5, 6 ----------------------------------------------------------------------
post 3 "{\"user_id\":\"$USER_ID\",\"sync_id\":\"det_1\"}"; J3="$JOB"
post 5 "{\"user_id\":\"$USER_ID\",\"claim_id\":\"claim_a\"}"; J5="$JOB"
post 6 "{\"user_id\":\"$USER_ID\",\"claim_id\":\"claim_b\",\"reason\":\"missing_invoice\"}"; J6="$JOB"
J2="$(jq -r .job_id "$T/dup1.json")"
check "phase 2 completes and triggered detection" eval 'wait_job "$J2" completed && body_jq ".result.trigger.service == \"detection\""'
check "phase 3 completes and triggered matching" eval 'wait_job "$J3" completed && body_jq ".result.trigger.service == \"matching\""'
check "phase 5 completes and starts payout monitoring" eval 'wait_job "$J5" completed && body_jq ".result.monitoring == true and .result.trigger.service == \"payout_monitor\""'
check "the claim is monitored" test "$(sql "SELECT status FROM workflow_payout_monitors WHERE user_id = '$USER_ID' AND claim_id = 'claim_a'")" = monitoring
check "phase 6 completes and logs the rejection" eval 'wait_job "$J6" completed && body_jq ".result.logged_for_learning == true"'
check "the rejection is kept for learning" test "$(sql "SELECT reason FROM workflow_rejections WHERE job_id = $J6 AND user_id = '$USER_ID'")" = missing_invoice
check "one trigger row per triggering job" test "$(sql "SELECT count(*) FROM workflow_triggers WHERE user_id = '$USER_ID'")" = 5

# --- phase 4: routing by confidence ---------------------------------------------------------
post 4 "{\"user_id\":\"$USER_ID\",\"sync_id\":\"match_1\",\"matches\":[{\"claim_id\":\"c1\",\"confidence\":0.95},{\"claim_id\":\"c2\",\"confidence\":0.85},{\"claim_id\":\"c3\",\"confidence\":0.8499},{\"claim_id\":\"c4\",\"confidence\":0.5},{\"claim_id\":\"c5\",\"confidence\":0.4999},{\"claim_id\":\"c6\",\"confidence\":0}]}"
J4="$JOB"
check "phase 4 completes" wait_job "$J4" completed
check ">= 0.85 auto_submit, 0.50..0.85 smart_prompt, below hold" \
  body_jq '.result.auto_submit == ["c1","c2"] and .result.smart_prompt == ["c3","c4"] and .result.hold == ["c5","c6"] and .result.counts == {"auto_submit":2,"smart_prompt":2,"hold":2}'
check "the routes are stored" test "$(sql "SELECT string_agg(claim_id || '=' || route, ',' ORDER BY claim_id) FROM workflow_claim_routes WHERE user_id = '$USER_ID'")" = \
  "c1=auto_submit,c2=auto_submit,c3=smart_prompt,c4=smart_prompt,c5=hold,c6=hold"

# --- phase 7: fee and proof packet ----------------------------------------------------------
post 7 "{\"user_id\":\"$USER_ID\",\"sync_id\":\"payout_1\",\"claim_id\":\"claim_a\",\"amount_minor\":12348,\"currency\":\"USD\"}"
J7="$JOB"
check "phase 7 completes" wait_job "$J7" completed
check "fee 20% half up: 12348 -> fee 2470, net 9878" body_jq '.result.fee_minor == 2470 and .result.net_minor == 9878 and .result.amount_minor == 12348 and .result.currency == "USD" and .result.rounding == "half_up"'
SHA="$(jq -r .result.proof_sha256 "$T/body")"
check "the proof packet's sha256 is over its stored canonical form" test \
  "$(sql "SELECT encode(sha256(convert_to(proof_canonical, 'UTF8')), 'hex') FROM workflow_payouts WHERE user_id = '$USER_ID' AND claim_id = 'claim_a'")" = "$SHA"
check "the canonical form is the stored document with sorted keys" test \
  "$(sql "SELECT proof = proof_canonical::jsonb AND proof->>'kind' = 'payout_proof' AND (proof->>'fee_minor')::bigint = 2470 FROM workflow_payouts WHERE user_id = '$USER_ID' AND claim_id = 'claim_a'")" = t
check "the monitored claim is now paid" test "$(sql "SELECT status FROM workflow_payout_monitors WHERE user_id = '$USER_ID' AND claim_id = 'claim_a'")" = paid
post 7 "{\"user_id\":\"$USER_ID\",\"sync_id\":\"payout_2\",\"claim_id\":\"claim_a\",\"amount_minor\":99999,\"currency\":\"USD\"}"
check "a second payout job for the same claim reports the first payout" eval \
  'wait_job "$JOB" completed && body_jq ".result.payout_job_id == $J7 and .result.amount_minor == 12348"'
check "one payout row for the claim" test "$(sql "SELECT count(*) FROM workflow_payouts WHERE user_id = '$USER_ID' AND claim_id = 'claim_a'")" = 1

# --- other users, unknown jobs, stats -------------------------------------------------------
request GET "/api/v1/workflow/jobs/$J7" "${OTHER[@]}"
check "another user's job is 404 (got $STATUS)" test "$STATUS" = 404 -a "$(jq -r .code "$T/body")" = job_not_found
get_job 999999999999
check "an unknown job is 404 (got $STATUS)" test "$STATUS" = 404
get_job abc
check "a malformed job id is 400 (got $STATUS)" test "$STATUS" = 400
request GET /api/v1/workflow/stats "${AUTH[@]}"
check "stats: 200 with counts by phase and status" body_jq '.ok and .phases["4"].completed == 1 and .phases["7"].completed == 2 and .totals.completed == 8 and .totals.queued == 0 and .oldest_queued_age_ms == null and .finished_last_minute == 8'
request GET /api/v1/workflow/stats "${OTHER[@]}"
check "another user's stats see none of these jobs" body_jq '.totals.completed == 0 and .finished_last_minute == 0'
request GET /api/v1/workflow/nope "${AUTH[@]}"
check "an unknown workflow path is a JSON 404 (got $STATUS)" test "$STATUS" = 404 -a "$(jq -r .ok "$T/body")" = false

if [[ -z $STUB ]]; then
  ok "# SKIP retries, dead-lettering and the kill -9 takeover (no SMARTIMPORT_TEST_WORKFLOW_STUB)"
  finish
fi

# --- retries with backoff, then dead -----------------------------------------------------------
MAX="$(sql "SELECT max_attempts FROM jobs WHERE id = $J1")"
stub POST "/_fail?n=$(( MAX - 1 ))&status=503" >/dev/null
post 2 "{\"user_id\":\"$USER_ID\",\"sync_id\":\"retry_1\"}"; JR="$JOB"
check "a job whose service fails $(( MAX - 1 )) times completes on attempt $MAX" eval 'wait_job "$JR" completed 30 && body_jq ".attempts == $MAX"'
check "its audit shows the failures and retries" test "$(sql "SELECT count(*) FROM job_audit WHERE job_id = $JR AND to_state = 'failed' AND error LIKE 'trigger_http_error%'")" = $(( MAX - 1 ))
check "retry events carry the growing delay" test "$(sql "SELECT string_agg(payload->>'delayMs', ',' ORDER BY id) FROM import_events WHERE user_id = '$USER_ID' AND event_type = 'workflow:phase:retry' AND payload->>'jobId' = '$JR'")" = \
  "$(sql "SELECT string_agg((least(${WORKFLOW_BACKOFF_MS:-100}::bigint * (2 ^ (n - 1))::bigint, ${WORKFLOW_BACKOFF_MAX_MS:-300000}))::text, ',' ORDER BY n) FROM generate_series(1, $(( MAX - 1 ))) n")"
check "the retries waited for the backoff" test "$(sql "SELECT bool_and(d >= ${WORKFLOW_BACKOFF_MS:-100} * 0.9) FROM (SELECT extract(epoch FROM at - lag(at) OVER (ORDER BY id)) * 1000 AS d, from_state FROM job_audit WHERE job_id = $JR) x WHERE from_state = 'failed'")" = t
stub POST "/_fail?n=1000&status=500" >/dev/null
post 3 "{\"user_id\":\"$USER_ID\",\"sync_id\":\"dead_1\"}"; JD="$JOB"
check "a job that always fails ends dead after $MAX attempts" eval 'wait_job "$JD" dead 30 && body_jq ".attempts == $MAX and (.error | startswith(\"trigger_http_error\")) and .finished_at != null"'
check "a workflow:phase:dead event was recorded" test "$(sql "SELECT count(*) FROM import_events WHERE user_id = '$USER_ID' AND event_type = 'workflow:phase:dead' AND payload->>'jobId' = '$JD'")" = 1
check "the dead job changed nothing" test "$(sql "SELECT count(*) FROM workflow_triggers WHERE job_id = $JD")" = 0
stub POST /_reset >/dev/null

# --- kill -9 mid-job: another worker takes over, effects stay single -------------------------
OLD_PID="$(tr -dc '0-9' < "$PIDFILE")"
stub POST "/_delay?ms=4000" >/dev/null
post 3 "{\"user_id\":\"$USER_ID\",\"sync_id\":\"kill_1\"}"; JK="$JOB"
for _ in $(seq 1 100); do
  [[ $(stub GET "/_count?key=$JK" | jq .key) == 1 ]] && break; sleep 0.1
done
check "the job is running (its service call in flight)" test "$(sql "SELECT state FROM jobs WHERE id = $JK")" = running
echo "$OLD_PID" >> "$SMARTIMPORT_TEST_VAR/log/expected-crashes"   # scripts/test: a kill on purpose
kill -9 "$OLD_PID"
stub POST "/_delay?ms=0" >/dev/null
# The supervisor starts a new worker at once; it takes the job over once the lease expires.
check "after the lease expires the restarted worker completes it" wait_job "$JK" completed 30
check "the supervisor started a new worker (pid $OLD_PID -> $(cat "$PIDFILE" 2>/dev/null))" \
  test "$(tr -dc '0-9' < "$PIDFILE" 2>/dev/null)" != "$OLD_PID"
check "on its second attempt" body_jq '.attempts == 2'
check "the audit records the takeover (lease_expired)" test "$(sql "SELECT count(*) FROM job_audit WHERE job_id = $JK AND from_state = 'running' AND to_state = 'running' AND error = 'lease_expired'")" = 1
check "the service saw the same Idempotency-Key twice" test "$(stub GET "/_count?key=$JK" | jq .key)" = 2
check "the job's effects exist once" test "$(sql "SELECT count(*) FROM workflow_triggers WHERE job_id = $JK")" = 1
check "and one workflow:phase:complete event" test "$(sql "SELECT count(*) FROM import_events WHERE user_id = '$USER_ID' AND event_type = 'workflow:phase:complete' AND payload->>'jobId' = '$JK'")" = 1
finish

#!/usr/bin/env bash
# t0113-metrics: GET /metrics (modules/metrics) through nginx: the token (none: 401 JSON, a wrong
# one: 401), the Prometheus text format 0.0.4 (every line a comment or a sample, each family once,
# its samples together, no user id anywhere), requests counted per function and status code by
# exactly as many as were made (and the latency histogram's count likewise), a queued job in the
# queue depth and its age, job runs per task, a job that dies in the dead jobs per task, an open SSE stream in the streams gauge (and an event
# sent on it in the sent counter and the delivery lag histogram), and a
# responder restarted without its counters going backwards (its file folded into <fn>.retired).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
: "${DATABASE_URL:?DATABASE_URL is needed to enqueue jobs}"
: "${SMARTIMPORT_TEST_VAR:?SMARTIMPORT_TEST_VAR (the var dir of the stack) is needed for the metrics token}"
TOKEN="${SMARTIMPORT_METRICS_TOKEN:-$(cat "$SMARTIMPORT_TEST_VAR/metrics.token" 2>/dev/null || true)}"
[[ -n $TOKEN ]] || { echo "not ok - the stack's metrics token ($SMARTIMPORT_TEST_VAR/metrics.token)"; exit 1; }
sql() { psql -X -q -t -A -v ON_ERROR_STOP=1 "$DATABASE_URL" -c "$1"; }
U="$(cat /proc/sys/kernel/random/uuid)"
TASK="metrics_probe.t$(date +%s%N)"   # no worker runs it: it stays queued
cleanup_jobs() { sql "DELETE FROM jobs WHERE user_id = '$U'" >/dev/null 2>&1 || true; }
at_exit cleanup_jobs

# scrape FILE: GET /metrics with the token into FILE; fails unless 200.
scrape() {
  request GET /metrics -H "Authorization: Bearer $TOKEN"
  cp "$T/body" "$1"
  [[ $STATUS == 200 ]]
}
# value FILE SAMPLE: the sample's value (0 when absent).
value() { awk -v k="$2" '$1 == k { v = $2; f = 1 } END { print f ? v : 0 }' "$1"; }
# parses FILE: every line a comment (HELP/TYPE) or `name{labels} value`; each family's TYPE once and
# before its samples, which come together; histograms end with +Inf = _count.
parses() {
  awk '
    function fail(why) { print "#   line " NR ": " why ": " $0; bad = 1 }
    /^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* / { next }
    /^# TYPE / {
      if (NF != 4 || $4 !~ /^(counter|gauge|histogram|summary|untyped)$/) { fail("bad TYPE"); next }
      if ($3 in typed) fail("family typed twice")
      typed[$3] = $4; fam = $3; next
    }
    /^#/ { fail("unknown comment"); next }
    {
      if ($0 !~ /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*"(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*")*\})? -?([0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?|\+Inf|NaN)$/) {
        fail("not a sample"); next
      }
      name = $0; sub(/[{ ].*/, "", name)
      base = name
      if (typed[fam] == "histogram") sub(/_(bucket|sum|count)$/, "", base)
      if (base != fam) fail("sample outside its family " fam)
      n++
    }
    END { if (n == 0) { print "#   no samples"; bad = 1 } exit bad }' "$1"
}

# --- protection -----------------------------------------------------------------------------
request GET /metrics
check "no token: 401" [ "$STATUS" = 401 ]
check "no token: JSON error" is_json_ct
check "no token: code unauthorized" body_jq '.ok == false and .code == "unauthorized"'
check "no token: WWW-Authenticate Bearer" bash -c '[[ $0 == Bearer* ]]' "$(header www-authenticate)"
request GET /metrics -H "Authorization: Bearer ${TOKEN}x"
check "a wrong token: 401" [ "$STATUS" = 401 ]
request GET /metrics -H "Authorization: Bearer $(fast_token "$U")"
check "a user's access token is not a metrics token: 401" [ "$STATUS" = 401 ]

# --- the format -----------------------------------------------------------------------------
check "with the token: 200" scrape "$T/m0"
check "Content-Type text/plain; version=0.0.4" bash -c '[[ $0 == "text/plain; version=0.0.4"* ]]' "$(header content-type)"
check "the output parses (comments and samples, families whole)" parses "$T/m0"
check "no uuid (user, import, account) in the output" bash -c '! grep -qiE "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-" "$0"' "$T/m0"
check "the SQL figures were read" [ "$(value "$T/m0" smartimport_metrics_sql_up)" = 1 ]

# --- requests: exactly as many as were made ---------------------------------------------------
H200='smartimport_requests_total{function="health",code="200"}'
H405='smartimport_requests_total{function="health",code="405"}'
HCOUNT='smartimport_request_duration_seconds_count{function="health"}'
HINF='smartimport_request_duration_seconds_bucket{function="health",le="+Inf"}'
scrape "$T/m1" || true
for _ in 1 2 3 4 5 6 7; do curl -sS -o /dev/null "$BASE/health"; done
for _ in 1 2 3; do curl -sS -o /dev/null -X POST --data '{}' -H 'Content-Type: application/json' "$BASE/health"; done
scrape "$T/m2" || true
d200=$(( $(value "$T/m2" "$H200") - $(value "$T/m1" "$H200") ))
d405=$(( $(value "$T/m2" "$H405") - $(value "$T/m1" "$H405") ))
dcount=$(( $(value "$T/m2" "$HCOUNT") - $(value "$T/m1" "$HCOUNT") ))
check "7 GET /health: health's 200 counter moved by exactly 7 (moved $d200)" [ "$d200" = 7 ]
check "3 POST /health: health's 405 counter moved by exactly 3 (moved $d405)" [ "$d405" = 3 ]
check "health's latency histogram count moved by exactly 10 (moved $dcount)" [ "$dcount" = 10 ]
check "health's +Inf bucket equals its count" [ "$(value "$T/m2" "$HINF")" = "$(value "$T/m2" "$HCOUNT")" ]
check "health has one live process" [ "$(value "$T/m2" 'smartimport_processes{function="health"}')" = 1 ]
check "the scrape itself is in flight in the metrics function" \
  [ "$(value "$T/m2" 'smartimport_requests_in_flight{function="metrics"}')" = 1 ]

# --- the queue ------------------------------------------------------------------------------
sql "SELECT jobs_add('$TASK', '{}'::jsonb, p_user => '$U', p_run_at => now() - interval '5 minutes')" >/dev/null
sql "SELECT jobs_add('$TASK', '{}'::jsonb, p_user => '$U', p_run_at => now() + interval '1 hour')" >/dev/null
scrape "$T/m3" || true
check "a due job shows in the queue depth (ready 1)" \
  [ "$(value "$T/m3" "smartimport_jobs{task=\"$TASK\",state=\"ready\"}")" = 1 ]
check "a later job shows as scheduled (1)" \
  [ "$(value "$T/m3" "smartimport_jobs{task=\"$TASK\",state=\"scheduled\"}")" = 1 ]
age="$(value "$T/m3" "smartimport_jobs_oldest_ready_age_seconds{task=\"$TASK\"}")"
check "the oldest due job's age is about 5 minutes ($age s)" awk -v a="$age" 'BEGIN { exit !(a >= 299 && a < 400) }'
cleanup_jobs

# --- job runs (the worker's counters; scripts/test registers the test.* tasks) ----------------------
if [[ ${SMARTIMPORT_WORKER_TEST_TASKS:-0} == 1 ]]; then
  RUNS='smartimport_job_runs_total{task="test.noop",result="succeeded"}'
  scrape "$T/m4" || true
  before="$(value "$T/m4" "$RUNS")"
  sql "SELECT jobs_add('test.noop', '{}'::jsonb, p_user => '$U') FROM generate_series(1, 4)" >/dev/null
  deadline=$(( $(date +%s) + 20 ))
  until [[ $(sql "SELECT count(*) FROM jobs WHERE user_id = '$U' AND state <> 'succeeded'") == 0 ]]; do
    (( $(date +%s) < deadline )) || break; sleep 0.1
  done
  scrape "$T/m5" || true
  d=$(( $(value "$T/m5" "$RUNS") - before ))
  check "4 test.noop jobs: their succeeded runs moved by exactly 4 (moved $d)" [ "$d" = 4 ]
  check "and their duration histogram has them" \
    [ "$(value "$T/m5" 'smartimport_job_duration_seconds_count{task="test.noop"}')" -ge 4 ]
  cleanup_jobs

  # A job that dies (test.fail, one attempt: t0051's way) moves smartimport_jobs_dead by exactly 1.
  DEAD='smartimport_jobs_dead{task="test.fail"}'
  scrape "$T/m6" || true
  before="$(value "$T/m6" "$DEAD")"
  jd="$(sql "SELECT id FROM jobs_add('test.fail', '{\"fail\":true}'::jsonb, p_user => '$U', p_max_attempts => 1)")"
  deadline=$(( $(date +%s) + 20 ))
  until [[ $(sql "SELECT state FROM jobs WHERE id = ${jd:-0}") == dead ]]; do
    (( $(date +%s) < deadline )) || break; sleep 0.1
  done
  scrape "$T/m7" || true
  d=$(( $(value "$T/m7" "$DEAD") - before ))
  check "a test.fail job that died (job $jd): smartimport_jobs_dead{task=\"test.fail\"} moved by exactly 1 (moved $d)" [ "$d" = 1 ]
  check "smartimport_jobs_dead is typed once, as a gauge" [ "$(grep -c '^# TYPE smartimport_jobs_dead gauge$' "$T/m7")" = 1 ]
  cleanup_jobs
  scrape "$T/m8" || true
  check "the dead job deleted: the gauge is back where it was ($(value "$T/m8" "$DEAD") = $before)" \
    [ "$(value "$T/m8" "$DEAD")" = "$before" ]
else
  ok "# SKIP job runs: SMARTIMPORT_WORKER_TEST_TASKS is not 1"
fi

# --- an open SSE stream ---------------------------------------------------------------------------
STREAMS='smartimport_sse_streams_open{function="import-events"}'
scrape "$T/m6" || true
open_before="$(value "$T/m6" "$STREAMS")"
curl -sS -N --max-time 30 -H 'Accept: text/event-stream' -H "Authorization: Bearer $(fast_token "$U")" \
  "$BASE/.netlify/functions/import-events" > "$T/stream" 2>/dev/null &
SSE_PID=$!
stop_sse() { kill "$SSE_PID" 2>/dev/null || true; wait "$SSE_PID" 2>/dev/null || true; }
at_exit stop_sse
wait_for_line "$T/stream" '^retry:' 5000 || true
scrape "$T/m7" || true
check "an open stream: the streams gauge is one more ($open_before -> $(value "$T/m7" "$STREAMS"))" \
  [ "$(value "$T/m7" "$STREAMS")" = $(( open_before + 1 )) ]
SENT='smartimport_sse_events_sent_total{function="import-events",kind="stored"}'
LAGN='smartimport_sse_delivery_lag_seconds_count{function="import-events"}'
sql "INSERT INTO import_events (user_id, event_type, payload) VALUES ('$U', 'import:metrics:probe', '{}')" >/dev/null
wait_for_line "$T/stream" '^event: import:metrics:probe' 5000 || true
scrape "$T/m7b" || true
check "an event sent live: the stored-events counter moved by 1" \
  [ $(( $(value "$T/m7b" "$SENT") - $(value "$T/m7" "$SENT") )) = 1 ]
check "and the delivery lag histogram counted it" [ $(( $(value "$T/m7b" "$LAGN") - $(value "$T/m7" "$LAGN") )) = 1 ]
sql "DELETE FROM import_events WHERE user_id = '$U'" >/dev/null
stop_sse
deadline=$(( $(date +%s) + 5 ))
while scrape "$T/m8" && [[ $(value "$T/m8" "$STREAMS") != "$open_before" ]] && (( $(date +%s) < deadline )); do sleep 0.1; done
check "the stream closed: the gauge is back to $open_before" [ "$(value "$T/m8" "$STREAMS")" = "$open_before" ]

# --- a restarted responder does not make its counters go backwards ------------------------------------
scrape "$T/m9" || true
before="$(value "$T/m9" "$H200")"
pidfile="$SMARTIMPORT_TEST_VAR/run/health.pid"
old_pid="$(cat "$pidfile")"
kill -TERM "$old_pid"
deadline=$(( $(date +%s) + 15 ))
until [[ -s $pidfile && $(cat "$pidfile") != "$old_pid" ]] && curl -fsS -o /dev/null "$BASE/health"; do
  (( $(date +%s) < deadline )) || break; sleep 0.1
done
scrape "$T/m10" || true
after="$(value "$T/m10" "$H200")"
check "after health's restart its 200 counter did not go backwards ($before -> $after)" [ "$after" -gt "$before" ]
check "the ended process's file was folded into health.retired" [ -s "$SMARTIMPORT_TEST_VAR/run/metrics/health.retired" ]
check "no file of the ended process is left" [ ! -e "$SMARTIMPORT_TEST_VAR/run/metrics/health.$old_pid" ]
check "health has one live process again" [ "$(value "$T/m10" 'smartimport_processes{function="health"}')" = 1 ]
check "the output still parses" parses "$T/m10"

finish

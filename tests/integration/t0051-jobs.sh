#!/usr/bin/env bash
# t0051-jobs: the job engine (modules/jobs) through the real stack: jobs enqueued in SQL
# (jobs_add) and run by the stack's smartimport-worker, with its test.* tasks
# (SMARTIMPORT_WORKER_TEST_TASKS=1, set by scripts/test): job_key keep vs replace, priority
# order, run_at in the future, retries then dead, requeue of a dead job, serial queues next to
# parallel ones, the per-task concurrency limit, and a lease taken over after kill -9.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
: "${DATABASE_URL:?DATABASE_URL is needed to enqueue jobs}"
: "${SMARTIMPORT_TEST_VAR:?SMARTIMPORT_TEST_VAR (the var dir of the stack) is needed to find the worker}"
WORKER_BIN=./modules/jobs/smartimport-worker
PIDFILE="$SMARTIMPORT_TEST_VAR/run/worker.pid"
U="$(cat /proc/sys/kernel/random/uuid)" OTHER="$(cat /proc/sys/kernel/random/uuid)"
sql() { psql -X -q -t -A -v ON_ERROR_STOP=1 "$DATABASE_URL" -c "$1"; }
# add TASK PAYLOAD [NAMED ARGS...]: jobs_add for user U; prints id|state|existing|replaced.
add() {
  local task=$1 payload=$2 extra="" a; shift 2
  for a in "$@"; do extra+=", $a"; done
  sql "SELECT id, state, existing, replaced FROM jobs_add('$task', '$payload'::jsonb, p_user => '$U'$extra)"
}
# add_all TASK PAYLOAD "NAMED ARGS" ...: one job per NAMED ARGS, all in one transaction (so they are
# there together, however slow psql is to start on a busy machine).
add_all() {
  local task=$1 payload=$2 q="" a; shift 2
  for a in "$@"; do q+="SELECT jobs_add('$task', '$payload'::jsonb, p_user => '$U'${a:+, $a}); "; done
  sql "$q" >/dev/null
}
state() { sql "SELECT state FROM jobs WHERE id = $1"; }
# wait_state ID STATE [SECONDS]
wait_state() {
  local deadline=$(( $(date +%s) + ${3:-20} ))
  until [[ $(state "$1") == "$2" ]]; do (( $(date +%s) < deadline )) || return 1; sleep 0.1; done
}
# wait_all WHERE STATE [SECONDS]: every job of U matching WHERE has STATE.
wait_all() {
  local deadline=$(( $(date +%s) + ${3:-30} ))
  until [[ $(sql "SELECT count(*) FROM jobs WHERE user_id = '$U' AND ($1) AND state <> '$2'") == 0 ]]; do
    (( $(date +%s) < deadline )) || return 1; sleep 0.1
  done
}
# overlap WHERE: the most jobs of U matching WHERE that were running at one moment.
overlap() {
  sql "WITH s AS (SELECT started_at, finished_at FROM jobs WHERE user_id = '$U' AND ($1))
       SELECT max((SELECT count(*) FROM s b WHERE b.started_at <= a.started_at AND b.finished_at > a.started_at)) FROM s a"
}
check "a job worker is running" test -n "$(pid="$(cat "$PIDFILE" 2>/dev/null)"; [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && echo y)"
if ! grep -q '"test.noop"' "$SMARTIMPORT_TEST_VAR/log/worker.log" 2>/dev/null; then
  ok "# SKIP the worker has no test tasks (SMARTIMPORT_WORKER_TEST_TASKS=1 is not set)"
  finish
fi

# --- job_key: keep vs replace ------------------------------------------------------------------
IFS='|' read -r K1 st ex rp <<< "$(add test.noop '{"v":1}' "p_job_key => 'k1'" "p_run_at => now() + interval '1 hour'")"
check "a new key makes a new queued job" test "$st $ex $rp" = "queued f f"
IFS='|' read -r id st ex rp <<< "$(add test.noop '{"v":2}' "p_job_key => 'k1'" "p_key_mode => 'keep'" "p_run_at => now()")"
check "keep: the same key returns that job unchanged" test "$id $ex $rp" = "$K1 t f"
check "keep: its payload and run_at stay" test "$(sql "SELECT payload->>'v', run_at > now() + interval '50 minutes' FROM jobs WHERE id = $K1")" = "1|t"
IFS='|' read -r id st ex rp <<< "$(add test.noop '{"v":3}' "p_job_key => 'k1'" "p_key_mode => 'replace'" "p_run_at => now()")"
check "replace: a still-queued job gets the new payload and run_at" test "$id $ex $rp" = "$K1 t t"
check "replace: and then it runs" wait_state "$K1" succeeded
check "replace: with the new payload" test "$(sql "SELECT payload->>'v' FROM jobs WHERE id = $K1")" = 3
IFS='|' read -r id st ex rp <<< "$(add test.noop '{"v":4}' "p_job_key => 'k1'" "p_key_mode => 'replace'")"
check "replace: a job that already ran is returned unchanged" test "$id $st $ex $rp $(sql "SELECT payload->>'v' FROM jobs WHERE id = $K1")" = "$K1 succeeded t f 3"
check "the key is per owner: another user's k1 is another job" test \
  "$(sql "SELECT id FROM jobs_add('test.noop', '{}', p_user => '$OTHER', p_job_key => 'k1')")" != "$K1"
check "one job with key k1 for this user" test "$(sql "SELECT count(*) FROM jobs WHERE user_id = '$U' AND job_key = 'k1'")" = 1
check "a bad key mode is refused" bash -c "! psql -X -q -t -A -v ON_ERROR_STOP=1 '$DATABASE_URL' -c \"SELECT jobs_add('test.noop', p_job_key => 'x', p_key_mode => 'merge')\" 2>/dev/null"
check "the audit has one null>queued row per new job and none for keep/replace" test \
  "$(sql "SELECT string_agg(coalesce(from_state, '-') || '>' || to_state, ',' ORDER BY id) FROM job_audit WHERE job_id = $K1")" = \
  "->queued,queued>running,running>succeeded"

# --- run_at in the future: not run early -----------------------------------------------------
IFS='|' read -r JF _ <<< "$(add test.noop '{}' "p_run_at => now() + interval '3 seconds'")"
sleep 1.5
check "a job due in 3 s is still queued after 1.5 s" test "$(state "$JF")" = queued
check "it runs once due" wait_state "$JF" succeeded 20
check "and not before its run_at" test "$(sql "SELECT started_at >= created_at + interval '3 seconds' FROM jobs WHERE id = $JF")" = t

# --- priority: lower runs first ----------------------------------------------------------------
args=()
for p in 5 1 3 2 4; do args+=("p_queue => 'prio-$U', p_priority => $p, p_run_at => now() + interval '1 second'"); done
add_all test.serial '{"ms":30}' "${args[@]}"   # one transaction: one now(), one run_at for all
check "the prioritised jobs finish" wait_all "queue = 'prio-$U'" succeeded
check "they started in priority order (1 first)" test \
  "$(sql "SELECT string_agg(priority::text, ',' ORDER BY started_at) FROM jobs WHERE user_id = '$U' AND queue = 'prio-$U'")" = "1,2,3,4,5"

# --- retries with backoff and jitter, then dead; requeue ------------------------------------------
IFS='|' read -r JD _ <<< "$(add test.fail '{"fail":true}' "p_max_attempts => 3")"
check "a job that always fails ends dead" wait_state "$JD" dead 20
check "after max_attempts (3) attempts" test "$(sql "SELECT attempts FROM jobs WHERE id = $JD")" = 3
check "its audit: two failures with a retry scheduled, then dead" test \
  "$(sql "SELECT string_agg(from_state || '>' || to_state, ',' ORDER BY id) FROM job_audit WHERE job_id = $JD AND from_state IS NOT NULL")" = \
  "queued>running,running>failed,failed>running,running>failed,failed>running,running>dead"
check "each retry waited at least the jittered backoff's lower bound (50 ms, then 100 ms)" test "$(sql "
  SELECT bool_and(gap >= lower_ms * 0.9) FROM (
    SELECT extract(epoch FROM at - lag(at) OVER (ORDER BY id)) * 1000 AS gap, from_state,
           50 * 2 ^ (attempt - 2) AS lower_ms
    FROM job_audit WHERE job_id = $JD) x WHERE from_state = 'failed'")" = t
check "the error is kept" test "$(sql "SELECT error LIKE 'test_failure:%' FROM jobs WHERE id = $JD")" = t
out="$("$WORKER_BIN" --requeue "$K1" || true)"
check "requeue refuses a job that succeeded ($out)" jq -e '.ok and .requeued == false' <<< "$out"
sql "UPDATE jobs SET payload = '{\"fail\":false}' WHERE id = $JD"
out="$("$WORKER_BIN" --requeue "$JD")"
check "smartimport-worker --requeue queues the dead job again ($out)" jq -e ".ok and .requeued == true and .job_id == $JD" <<< "$out"
check "the requeued job runs and succeeds" wait_state "$JD" succeeded 20
check "with a fresh set of attempts" test "$(sql "SELECT attempts FROM jobs WHERE id = $JD")" = 1
check "the audit records the requeue" test "$(sql "SELECT count(*) FROM job_audit WHERE job_id = $JD AND from_state = 'dead' AND to_state = 'queued' AND error = 'requeued'")" = 1
IFS='|' read -r JD2 _ <<< "$(add test.fail '{"fail":true}' "p_max_attempts => 1")"
check "a second dead job" wait_state "$JD2" dead 20
check "jobs_requeue(id) in SQL does the same" test "$(sql "SELECT jobs_requeue($JD2)")" = t
check "and it runs again" eval 'wait_state "$JD2" dead 20 && test "$(sql "SELECT count(*) FROM job_audit WHERE job_id = $JD2 AND to_state = '"'dead'"'")" = 2'

# --- serial queues next to parallel work -----------------------------------------------------
args=()
for i in 1 2 3 4; do args+=("p_queue => 'lane-a-$U'" "p_queue => 'lane-b-$U'"); done
add_all test.serial '{"ms":300}' "${args[@]}"
check "the serial jobs finish" wait_all "task = 'test.serial' AND queue LIKE 'lane-_-%'" succeeded 30
check "lane a never ran two of its jobs at once" test "$(overlap "queue = 'lane-a-$U'")" = 1
check "lane b never ran two of its jobs at once" test "$(overlap "queue = 'lane-b-$U'")" = 1
check "while the two lanes ran side by side" test "$(overlap "queue LIKE 'lane-_-$U'")" = 2

# --- the per-task concurrency limit (test.sleep: 2 at once) -----------------------------------
add_all test.sleep '{"ms":400}' "" "" "" "" "" ""
check "the limited jobs finish" wait_all "task = 'test.sleep'" succeeded 30
check "at most 2 test.sleep jobs ran at once, and 2 did" test "$(overlap "task = 'test.sleep'")" = 2

# --- kill -9 mid-job: the restarted worker takes the lease over -----------------------------
OLD_PID="$(tr -dc '0-9' < "$PIDFILE")"
IFS='|' read -r JK _ <<< "$(add test.sleep '{"ms":3000}')"
check "the long job is running" wait_state "$JK" running 10
sleep 0.3
echo "$OLD_PID" >> "$SMARTIMPORT_TEST_VAR/log/expected-crashes"   # scripts/test: a kill on purpose
kill -9 "$OLD_PID"
check "after its lease expired the restarted worker ran it to the end" wait_state "$JK" succeeded 30
check "the supervisor started a new worker" test "$(tr -dc '0-9' < "$PIDFILE" 2>/dev/null)" != "$OLD_PID"
check "on a second attempt" test "$(sql "SELECT attempts FROM jobs WHERE id = $JK")" = 2
check "the audit records the takeover (lease_expired)" test \
  "$(sql "SELECT count(*) FROM job_audit WHERE job_id = $JK AND from_state = 'running' AND to_state = 'running' AND error = 'lease_expired'")" = 1
finish

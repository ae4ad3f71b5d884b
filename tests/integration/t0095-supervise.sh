#!/usr/bin/env bash
# t0095-supervise: every process of the stack runs under smartimport-supervise.
# A FastCGI responder killed with SIGKILL or SIGSEGV under load is restarted at
# once and only the requests it was serving fail (as 502 JSON); the SSE
# responder and the job worker (smartimport-worker) come back the same way; /health reports
# every process's state; the supervisor logs each exit with its signal; a
# process that keeps crashing is restarted with a growing delay.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
: "${DATABASE_URL:?DATABASE_URL is needed}"
: "${SMARTIMPORT_TEST_VAR:?SMARTIMPORT_TEST_VAR (the var dir of the stack) is needed}"
VAR="$SMARTIMPORT_TEST_VAR"
STATE="$VAR/run/supervise.json"
SVLOG="$VAR/log/supervise.log"
TOKEN_BIN="${SMARTIMPORT_BUILD:-.}/modules/token/smartimport-token"
[[ -x $TOKEN_BIN ]] || TOKEN_BIN=./modules/token/smartimport-token
SUPERVISE_BIN=./modules/supervise/smartimport-supervise
USER_ID="$(cat /proc/sys/kernel/random/uuid)"
AUTH=(-H "Authorization: Bearer $("$TOKEN_BIN" "$USER_ID")")
THREADS="${SMARTIMPORT_THREADS:-4}"
pid_of() { jq -r --arg p "$1" '.processes[$p].pid // 0' "$STATE" 2>/dev/null || echo 0; }
state_of() { jq -r --arg p "$1" '.processes[$p].state // "none"' "$STATE" 2>/dev/null || echo none; }
# restart_ms NAME OLD_PID: from the supervisor's log, ms between OLD_PID's end and the next start.
restart_ms() {
  local ended started
  ended="$(jq -rR --argjson pid "$2" 'fromjson? | select(.msg == "process ended: restarting" and .pid == $pid) | .ts' "$SVLOG" | head -n 1)"
  started="$(jq -rR --arg p "$1" --arg t "$ended" 'fromjson? | select(.msg == "started" and .process == $p and .ts >= $t) | .ts' "$SVLOG" | head -n 1)"
  [[ -n $ended && -n $started ]] || { echo -1; return; }
  echo $(( $(date -d "$started" +%s%3N) - $(date -d "$ended" +%s%3N) ))
}
# killed PID: the pid is killed on purpose (scripts/test fails on any other crash).
killed() { echo "$1" >> "$VAR/log/expected-crashes"; }
# wait_restart NAME OLD_PID: until the supervisor reports a new pid, up; prints the ms it took.
wait_restart() {
  local start; start="$(now_ms)"
  while (( $(now_ms) - start < 10000 )); do
    local pid; pid="$(pid_of "$1")"
    if [[ $pid != 0 && $pid != "$2" && $(state_of "$1") == up ]] && kill -0 "$pid" 2>/dev/null; then
      echo $(( $(now_ms) - start )); return 0
    fi
    sleep 0.02
  done
  echo -1; return 1
}

check "the supervisor publishes its state" test -s "$STATE"
request GET /health
check "/health is 200 with every process up (got $STATUS)" eval \
  'test "$STATUS" = 200 && body_jq ".ok == true and (.functions | length) >= 5 and all(.functions[]; .state == \"up\")"'
for p in ingest-statement commit-import import-events worker nginx; do
  check "/health lists $p" body_jq ".functions[\"$p\"].state == \"up\""
done

# kill_and_check NAME SIGNAL: kill NAME's process on purpose, wait for its restart and check it
# came within a second of the exit (the supervisor's own timestamps); sets old, ms, sv_ms.
kill_and_check() {
  old="$(pid_of "$1")"
  killed "$old"
  kill -"$2" "$old"
  ms="$(wait_restart "$1" "$old")" || true
  sv_ms="$(restart_ms "$1" "$old")"
  check "$1 (SIG$2) was restarted within a second of its exit ($sv_ms ms; answering $ms ms after the kill)" \
    test "$sv_ms" -ge 0 -a "$sv_ms" -le 1000
}

# --- a FastCGI responder killed under load ------------------------------------------------
# load N: 4 clients (4 users: one user may run SMARTIMPORT_UPLOADS_PER_USER uploads at once) each
# upload N small statements (distinct files) one after another; each answer's status and first
# bytes go to $T/load.*.
LOAD_AUTH=()
for c in 1 2 3 4; do LOAD_AUTH[c]="Authorization: Bearer $("$TOKEN_BIN" "$(cat /proc/sys/kernel/random/uuid)")"; done
load() {
  local n=$1 c i
  for c in 1 2 3 4; do
    ( for i in $(seq 1 "$n"); do
        printf 'Date,Description,Amount\n2024-02-%02d,Supervised load %s %s,-%d.%02d\n' \
          $(( i % 28 + 1 )) "$c" "$RANDOM" $(( i + 1 )) $(( RANDOM % 100 )) > "$T/up.$c.csv"
        out="$(curl -sS -o "$T/lb.$c" -w '%{http_code}' --max-time 30 -H "${LOAD_AUTH[c]}" -H 'Content-Type: text/csv' \
                 --data-binary @"$T/up.$c.csv" "$BASE/.netlify/functions/ingest-statement?fileName=load.csv&currency=USD" 2>/dev/null)" || out="000"
        echo "$out $(head -c 60 "$T/lb.$c" | tr -d '\n')" >> "$T/load.$c"
      done ) &
  done
}

for sig in KILL SEGV; do
  rm -f "$T"/load.*
  old="$(pid_of ingest-statement)"
  load 40
  sleep 1
  killed "$old"
  kill -"$sig" "$old"
  ms="$(wait_restart ingest-statement "$old")" || true
  wait
  total="$(cat "$T"/load.* | wc -l)"
  ok200="$(cat "$T"/load.* | grep -c '^200 ' || true)"
  bad502="$(cat "$T"/load.* | grep -c '^502 {"ok":false' || true)"
  other=$(( total - ok200 - bad502 ))
  (( other == 0 )) || { echo "# other answers:"; grep -hv -e '^200 ' -e '^502 {"ok":false' "$T"/load.* | sort | uniq -c | head -5; }
  sv_ms="$(restart_ms ingest-statement "$old")"
  echo "# SIG$sig: $total requests: $ok200 answered 200, $bad502 lost in flight (502 JSON), $other other;" \
       "restarted $sv_ms ms after the exit (answering again $ms ms after the kill, as seen by this test)"
  check "SIG$sig: the responder was restarted within a second of its exit ($sv_ms ms)" test "$sv_ms" -ge 0 -a "$sv_ms" -le 1000
  check "SIG$sig: every request was answered ($total of 160)" test "$total" = 160
  check "SIG$sig: only requests in flight failed ($bad502 <= $THREADS), each as 502 JSON, nothing else ($other)" \
    test "$bad502" -le "$THREADS" -a "$other" = 0
  check "SIG$sig: the supervisor logged the exit with its signal" bash -c \
    "grep '\"msg\":\"process ended: restarting\"' '$SVLOG' | grep '\"pid\":$old,' | grep -q '\"status\":\"signal SIG$sig'"
done
request GET /health
check "/health counts the restarts and names the last exit" \
  body_jq '.functions["ingest-statement"].restarts >= 2 and (.functions["ingest-statement"].lastExit | startswith("signal SIGSEGV"))'
request POST "/.netlify/functions/ingest-statement?fileName=after.csv&currency=USD" "${AUTH[@]}" -H 'Content-Type: text/csv' \
  --data-binary $'Date,Description,Amount\n2024-03-01,After the crash,-1.00\n'
check "the restarted responder answers (got $STATUS)" test "$STATUS" = 200

# --- the SSE responder ---------------------------------------------------------------------
for sig in KILL SEGV; do
  curl -sS -N --max-time 20 "${AUTH[@]}" -H 'Accept: text/event-stream' "$BASE/.netlify/functions/import-events" \
    > "$T/stream1" 2>/dev/null &
  STREAM=$!
  sleep 0.5
  kill_and_check import-events "$sig"
  start="$(now_ms)"
  while kill -0 "$STREAM" 2>/dev/null && (( $(now_ms) - start < 5000 )); do sleep 0.05; done
  check "SIG$sig of import-events ends its open stream (the client sees the end at once)" bash -c "! kill -0 $STREAM 2>/dev/null"
  wait "$STREAM" 2>/dev/null || true
  request GET "/.netlify/functions/import-events?limit=5" "${AUTH[@]}"
  check "the restarted import-events answers (got $STATUS)" test "$STATUS" = 200
done

# --- the job worker: workflow jobs enqueued before and after the kill all run ---------------------
if [[ -n ${SMARTIMPORT_TEST_WORKFLOW_STUB:-} ]]; then
  enqueue() {
    request POST /api/v1/workflow/phase/3 "${AUTH[@]}" -H 'Content-Type: application/json' \
      --data-binary "{\"user_id\":\"$USER_ID\",\"sync_id\":\"supervised_$1\"}"
    jq -r '.job_id // empty' "$T/body"
  }
  for sig in KILL SEGV; do
    jobs=()
    for i in 1 2 3 4 5; do jobs+=("$(enqueue "$sig-before-$i")"); done
    kill_and_check worker "$sig"
    jobs+=("$(enqueue "$sig-after")")
    done_jobs=0
    for job in "${jobs[@]}"; do
      for _ in $(seq 1 150); do
        request GET "/api/v1/workflow/jobs/$job" "${AUTH[@]}"
        [[ $(jq -r .status "$T/body" 2>/dev/null) == completed ]] && { done_jobs=$(( done_jobs + 1 )); break; }
        sleep 0.1
      done
    done
    check "SIG$sig: every job enqueued before and after the kill completed ($done_jobs of ${#jobs[@]})" \
      test "$done_jobs" = "${#jobs[@]}"
  done
else
  ok "# SKIP the job worker (no SMARTIMPORT_TEST_WORKFLOW_STUB)"
fi

# --- a crash loop is restarted with a growing delay -------------------------------------------
# A supervisor of its own, over a program that exits at once, for 4 s.
mkdir -p "$T/sv/run" "$T/sv/log"
printf 'crasher 1 TERM 1 - /bin/false\nfcgi-like 1 TERM 1 %s /bin/sleep 60\n' "$T/sv/run/x.sock" > "$T/sv/spec"
"$SUPERVISE_BIN" "$T/sv/spec" "$T/sv/run/state.json" "$T/sv/run" "$T/sv/log" 2> "$T/sv/log/supervise.log" &
SV=$!
sleep 4
check "the test supervisor made the function's socket" test -S "$T/sv/run/x.sock"
check "its state file says the crasher is restarting or up" bash -c \
  "jq -e '.processes.crasher.restarts >= 3' '$T/sv/run/state.json' >/dev/null"
kill -TERM "$SV"
wait "$SV"; rc=$?
delays="$(jq -rR 'fromjson? | select(.msg == "process ended: restarting" and .process == "crasher") | .restart_in_ms' \
            "$T/sv/log/supervise.log" | paste -sd, -)"
starts="$(grep -c '"msg":"started".*"process":"crasher"' "$T/sv/log/supervise.log" || true)"
echo "# crash loop: $starts starts in 4 s, delays (ms): $delays"
check "the first restart is immediate and the delays grow (0,250,500,1000,...)" \
  bash -c "[[ '$delays' == 0,250,500,1000* ]]"
check "so a crash loop costs a handful of starts, not hundreds ($starts)" test "$starts" -le 8
check "SIGTERM stops the supervisor cleanly (exit $rc)" test "$rc" = 0
check "and it removed its socket and state file" bash -c "[[ ! -e '$T/sv/run/x.sock' && ! -e '$T/sv/run/state.json' ]]"
check "and the process it ran is gone" bash -c "! pgrep -f '^/bin/sleep 60$' >/dev/null"

# --- nginx itself: its workers go with a killed master, so the new one gets the port -----------
kill_and_check nginx KILL
up=no
for _ in $(seq 1 100); do
  request GET /health
  [[ $STATUS == 200 ]] && { up=yes; break; }
  sleep 0.1
done
check "the new nginx answers on the same port" test "$up" = yes
check "no worker of the killed master is left" bash -c "! pgrep -P 1 -f 'nginx: worker process' >/dev/null"

request GET /health
check "/health is 200 again with every process up (got $STATUS)" eval \
  'test "$STATUS" = 200 && body_jq "all(.functions[]; .state == \"up\")"'
finish

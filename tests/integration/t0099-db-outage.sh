#!/usr/bin/env bash
# t0099-db-outage (runs last): with PostgreSQL stopped, /health answers 503 JSON fast;
# after PostgreSQL comes back, /health recovers without restarting the responder.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if [[ -z ${SMARTIMPORT_TEST_PG:-} || -z ${SMARTIMPORT_TEST_VAR:-} ]]; then
  echo "SKIP: SMARTIMPORT_TEST_PG / SMARTIMPORT_TEST_VAR not set"; exit 77
fi
export SMARTIMPORT_VAR="${SMARTIMPORT_VAR:-$SMARTIMPORT_TEST_VAR}"

pidfile="$SMARTIMPORT_TEST_VAR/run/health.pid"
pid_before="$(tr -dc '0-9' < "$pidfile")"
check "health responder is running (pid $pid_before)" kill -0 "$pid_before"

# Whatever happens below, leave PostgreSQL running for whoever comes next.
pg_down=0
restart_pg() { if (( pg_down )); then echo "# restarting PostgreSQL"; "$SMARTIMPORT_TEST_PG" start; fi; }
at_exit restart_pg

pg_down=1
"$SMARTIMPORT_TEST_PG" stop
for i in 1 2; do
  MAX_TIME=5 request GET /health
  check "PostgreSQL down, GET /health #$i answers 503 (got $STATUS)" test "$STATUS" = 503
  check "PostgreSQL down, GET /health #$i answers in under 2 s (took ${TIME}s)" less_than "$TIME" 2
  check "PostgreSQL down, GET /health #$i is JSON with ok:false" body_jq '.ok == false'
done

"$SMARTIMPORT_TEST_PG" start
pg_down=0
start_ns="$(date +%s%N)" healthy=0
while (( $(date +%s%N) - start_ns < 15000000000 )); do
  request GET /health
  if [[ $STATUS == 200 ]]; then healthy=1; break; fi
  sleep 0.2
done
ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
check "GET /health is 200 again after PostgreSQL restart (took ${ms} ms)" test "$healthy" = 1

pid_after="$(tr -dc '0-9' < "$pidfile")"
check "health responder pid unchanged ($pid_before -> $pid_after)" test "$pid_before" = "$pid_after"
check "health responder still alive" kill -0 "$pid_before"
finish

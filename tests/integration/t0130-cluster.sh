#!/usr/bin/env bash
# t0130-cluster: scripts/cluster (README "Scaling out"): a cluster of its own, next to the test
# stack (own var dir, names, private /24, ports and PostgreSQL): 2 responder hosts in network
# namespaces behind one nginx, FastCGI over TCP.  Requests spread over both hosts; host 2 is
# lost (every process SIGKILLed, its namespace removed) while clients ingest and commit small
# statements and read, retrying a 502/503/504 or a cut connection with the same Idempotency-Key:
# afterwards every acknowledged import is committed exactly once (none lost, none doubled), the
# lost host's upstreams are marked failed, host 1 answers everything, and host 1's CDC daemon takes
# the replication slot over from host 2's.  scripts/cluster down then leaves nothing behind.  SKIP when network namespaces cannot be made here (exit 77).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
SRC="$(cd "$(dirname "$0")/../.." && pwd)"
: "${SMARTIMPORT_JWT_SECRET:?the cluster runs in jwt mode with the secret of the test stack}"

# The cluster's own settings (nothing shared with the test stack but the build and the secret).
CT="$(mktemp -d /tmp/si-t0130.XXXXXX)"
chmod 755 "$CT"
free() { bash -c '. "$1/scripts/lib.sh"; free_port' _ "$SRC"; }
export SMARTIMPORT_VAR="$CT" SMARTIMPORT_CLUSTER_NAME="t$(( $$ % 100000 ))" \
       SMARTIMPORT_CLUSTER_NET="10.79.$(( RANDOM % 250 + 1 ))" SMARTIMPORT_SKIP_BUILD=1 \
       SMARTIMPORT_BUILD="${SMARTIMPORT_BUILD:-$PWD}" SMARTIMPORT_AUTH=jwt
unset SMARTIMPORT_SPOOL_DIR SMARTIMPORT_PG_PORT
PORT="$(free)"
CLUSTER="$SRC/scripts/cluster"
FNS="health auth-check ingest-statement commit-import transactions import-events"
H1="$SMARTIMPORT_CLUSTER_NET.11" H2="$SMARTIMPORT_CLUSTER_NET.12"
CV="$CT/cluster"

LOCKER=""
down() {
  [[ -z $LOCKER ]] || kill "$LOCKER" 2>/dev/null || true
  "$CLUSTER" down >/dev/null 2>&1 || true; rm -rf "$CT"
}

set +e
"$CLUSTER" up 2 --port "$PORT" --functions "$FNS" > "$T/up.out" 2>&1
rc=$?
set -e
if (( rc == 77 )); then
  echo "SKIP: $(grep -m1 SKIP "$T/up.out" || echo 'network namespaces are not allowed here')"
  "$CLUSTER" down >/dev/null 2>&1 || true
  rm -rf "$CT"; exit 77
fi
at_exit down
if (( rc != 0 )); then
  tail -n 30 "$T/up.out"; echo "not ok - scripts/cluster up 2 (exit $rc)"; exit 1
fi
ok "scripts/cluster up 2 (own net $SMARTIMPORT_CLUSTER_NET.0/24, nginx on $PORT)"
C="http://127.0.0.1:$PORT"
export PGPASSFILE="$CV/pgpass"
DB="postgresql://smartimport@$SMARTIMPORT_CLUSTER_NET.1:5432/smartimport"
sql() { psql -X -q -t -A -v ON_ERROR_STOP=1 "$DB" -c "$1"; }
check "each host is its own namespace with its own address" \
  bash -c "ip netns list | grep -q '^$SMARTIMPORT_CLUSTER_NAME-h1' && ip netns exec $SMARTIMPORT_CLUSTER_NAME-h2 ip -4 addr show eth0 | grep -q '$H2/24'"
check "each function listens on TCP on its host's address (health on $H1)" \
  bash -c "ip netns exec $SMARTIMPORT_CLUSTER_NAME-h1 ss -ltnH | grep -q '$H1:'"
check "the front nginx's upstream lists both hosts, with passive checks and keepalive" \
  bash -c "grep -E 'upstream si_commit_import' '$CV/front/nginx/nginx.conf' | grep -q 'server $H1:[0-9]* max_fails=2 fail_timeout=10s.*server $H2:[0-9]* max_fails=2.*keepalive'"
check "nginx retries only error and timeout (never non_idempotent)" \
  bash -c "grep -q '^ *fastcgi_next_upstream error timeout;' '$CV/front/nginx/nginx.conf' &&
           ! grep -E '^ *fastcgi_next_upstream ' '$CV/front/nginx/nginx.conf' | grep -q non_idempotent"

# --- requests spread over the hosts -------------------------------------------------------
for _ in $(seq 1 12); do curl -fsS -o /dev/null --max-time 10 "$C/health" || true; done
sleep 1.5   # the access log is flushed every second
check "the access log names both hosts as upstreams of /health" \
  bash -c "grep '\"path\":\"/health\"' '$CV/front/log/nginx-access.log' | grep -q '$H1:' &&
           grep '\"path\":\"/health\"' '$CV/front/log/nginx-access.log' | grep -q '$H2:'"
check "each host's own health log shows requests" \
  bash -c "grep -q '\"path\":\"/health\"' '$CV/h1/log/health.log' && grep -q '\"path\":\"/health\"' '$CV/h2/log/health.log'"

# --- the CDC slot on host 2 ------------------------------------------------------------------
# Both hosts run the CDC daemon; one reads the replication slot, the other retries (back-off up to
# 5 s).  Host 2's is made the reader (host 1's held still while its walsender is ended), so that
# losing host 2 below makes host 1's take the slot over.
slot_host="SELECT coalesce(max(host(r.client_addr)), '') FROM pg_replication_slots s
             JOIN pg_stat_replication r ON r.pid = s.active_pid WHERE s.slot_name = 'smartimport_cdc'"
for _ in $(seq 1 150); do [[ -n $(sql "$slot_host") ]] && break; sleep 0.2; done
if [[ $(sql "$slot_host") == "$H1" ]]; then
  h1cdc="$(tr -dc '0-9' < "$CV/h1/run/cdc.pid")"
  kill -STOP "$h1cdc"
  sql "SELECT count(pg_terminate_backend(active_pid)) FROM pg_replication_slots WHERE slot_name = 'smartimport_cdc' AND active_pid IS NOT NULL" >/dev/null
  for _ in $(seq 1 100); do [[ $(sql "$slot_host") == "$H2" ]] && break; sleep 0.2; done
  kill -CONT "$h1cdc"
fi
check "host 2's CDC daemon reads the replication slot" test "$(sql "$slot_host")" = "$H2"

# --- clients under load while host 2 is lost ------------------------------------------------
# USERS clients each ingest, commit and read STATEMENTS statements of ROWS rows, one after the
# other; the first half before host 2 is lost (some are in flight when it goes), the rest after.
# And one user V whose STATEMENTS imports are committed at once while the test holds the
# ledger lock those commits take (pg_advisory_xact_lock per user, modules/commit/import_lock.c):
# host 2 is lost while one of V's commits waits inside its transaction there, so that request is
# cut after nginx sent it (a 502 nginx may not retry: a POST), and V's client retries it.
USERS=6 STATEMENTS=4 ROWS=3
# call OUT KEY METHOD PATH [curl args]: one request, retried with the same Idempotency-Key on a
# cut connection (000), 409 (a repeat while the first runs: the lost host's key is taken over
# once its database session has ended, ~30 s by the server's TCP keepalives), 429, 502, 503
# or 504, for up to 90 s; CODE is the last status.  Every retry is one line in $T/retries.
call() {
  local out=$1 key=$2 method=$3 path=$4 tries=0 until=$(( SECONDS + 90 )); shift 4
  while :; do
    CODE="$(curl -sS -o "$out" -D "$out.h" -w '%{http_code}' -X "$method" --max-time 60 \
              -H "Idempotency-Key: $key" "$@" "$C$path" 2>/dev/null)" || CODE=000
    case $CODE in
      000|409|429|502|503|504)
        tries=$(( tries + 1 )); (( SECONDS < until )) || return 0
        echo "$method $path $CODE" >> "$T/retries"; sleep 0.2 ;;
      *) grep -qi '^Idempotent-Replayed: *true' "$out.h" && echo "$path" >> "$T/replayed"; return 0 ;;
    esac
  done
}
statement() {   # statement FILE U S: ROWS rows no other statement has
  { printf 'Date,Description,Amount,Currency\n'
    seq 1 "$ROWS" | awk -v u="$1" -v s="$2" '{ printf "2024-05-%02d,Cluster shop u%s s%d r%d,-%d.%02d,USD\n", $1, u, s, $1, s, $1 }'
  } > "$3"
}
ingest() {      # ingest U USER S -> IMP
  local f="$T/u$1-s$3.csv"
  statement "$1" "$3" "$f"
  call "$T/u$1-i$3.json" "ingest-$2-$3" POST "/.netlify/functions/ingest-statement?fileName=s$3.csv" \
    -H "Authorization: Bearer $(fast_token "$2")" -H 'Content-Type: text/csv' --data-binary @"$f"
  IMP="$(jq -r '.importId // empty' "$T/u$1-i$3.json" 2>/dev/null || true)"
  [[ $CODE == 200 && -n $IMP ]] || { echo "$2 - ingest $CODE" >> "$T/failed"; IMP=""; }
}
commit() {      # commit U USER S IMP
  call "$T/u$1-c$3.json" "commit-$2-$3" POST /.netlify/functions/commit-import \
    -H "Authorization: Bearer $(fast_token "$2")" -H 'Content-Type: application/json' --data-binary "{\"importId\":\"$4\"}"
  if [[ $CODE == 200 ]] && jq -e '.ok' "$T/u$1-c$3.json" >/dev/null 2>&1; then
    echo "$2 $4 $(date +%s%N)" >> "$T/acked"
  else
    echo "$2 $4 commit $CODE" >> "$T/failed"
  fi
}
client() {      # client U USER
  local s
  for s in $(seq 1 "$STATEMENTS"); do
    (( s <= STATEMENTS / 2 )) || while [[ ! -e $T/killed ]]; do sleep 0.05; done
    ingest "$1" "$2" "$s"; [[ -n $IMP ]] || continue
    commit "$1" "$2" "$s" "$IMP"
    call "$T/u$1-r$s.json" "read-$2-$s" GET "/.netlify/functions/transactions?limit=50" -H "Authorization: Bearer $(fast_token "$2")"
    [[ $CODE == 200 ]] || echo "$2 - read $CODE" >> "$T/failed"
  done
}
: > "$T/acked"; : > "$T/failed"; : > "$T/retries"; : > "$T/replayed"
users=()
for u in $(seq 0 "$USERS"); do
  users+=("$(cat /proc/sys/kernel/random/uuid)")
done
V="${users[0]}"
v_imports=()
for s in $(seq 1 "$STATEMENTS"); do ingest V "$V" "$s"; v_imports+=("$IMP"); done
check "user V's $STATEMENTS statements are ingested" test -z "$(cat "$T/failed")"
# The lock V's commits wait for: a session of the test's own, ended by pg_terminate_backend.
PGAPPNAME=t0130-locker psql -X -q "$DB" -c "SELECT pg_advisory_lock(1397293057, hashtext('$V'))" -c "SELECT pg_sleep(120)" \
  >/dev/null 2>&1 &
LOCKER=$!
unlock() { sql "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 't0130-locker'" >/dev/null || true; }
for _ in $(seq 1 100); do
  [[ $(sql "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 't0130-locker' AND l.locktype = 'advisory' AND l.granted") == 1 ]] && break
  sleep 0.1
done
pids=()
for u in $(seq 1 "$USERS"); do client "$u" "${users[$u]}" & pids+=($!); done
for s in $(seq 1 "$STATEMENTS"); do commit V "$V" "$s" "${v_imports[$(( s - 1 ))]}" & pids+=($!); done
# Lose host 2 while one of V's commits waits for the lock there, and once clients have commits acknowledged.
waiting="SELECT count(*) FROM pg_stat_activity WHERE application_name = 'smartimport-commit-import'
           AND client_addr = '$H2' AND wait_event_type = 'Lock' AND wait_event = 'advisory'"
inside=0
for _ in $(seq 1 400); do
  if (( $(wc -l < "$T/acked") >= USERS / 2 )) && (( $(sql "$waiting") > 0 )); then inside=1; break; fi
  sleep 0.05
done
check "host 2 is lost while one of V's commits waits inside its transaction there, and others were acknowledged" test "$inside" = 1
KILLED_AT="$(date +%s%N)"
"$CLUSTER" kill-host 2 > "$T/kill.out" 2>&1
touch "$T/killed"
unlock
wait "$LOCKER" 2>/dev/null || true
LOCKER=""
check "scripts/cluster kill-host 2 removed host 2's namespace" \
  bash -c "! ip netns list | grep -q '^$SMARTIMPORT_CLUSTER_NAME-h2\\b'"
for p in "${pids[@]}"; do wait "$p" || true; done

# Host 2's walsender ended with its connection: host 1's CDC daemon takes the slot over.
for _ in $(seq 1 150); do [[ $(sql "$slot_host") == "$H1" ]] && break; sleep 0.2; done
check "after the loss host 1's CDC daemon took the replication slot over" test "$(sql "$slot_host")" = "$H1"

total=$(( ( USERS + 1 ) * STATEMENTS ))
acked="$(wc -l < "$T/acked")"
check "every ingest, commit and read was answered in the end ($acked of $total commits acknowledged)" \
  test "$acked" = "$total" -a ! -s "$T/failed"
[[ ! -s $T/failed ]] || { echo "#   failed:"; sed 's/^/#   /' "$T/failed" | head; }
check "commits were acknowledged after host 2 was lost" \
  test "$(awk -v k="$KILLED_AT" '$3 > k' "$T/acked" | wc -l)" -ge "$(( USERS * STATEMENTS / 2 ))"
check "the cut commit was retried with its key (retries: $(cut -d' ' -f1,3 "$T/retries" | sort | uniq -c | tr -s ' ' | paste -sd, -))" \
  grep -q '^POST /.netlify/functions/commit-import ' "$T/retries"
echo "# answers replayed by Idempotency-Key (Idempotent-Replayed: true): $(wc -l < "$T/replayed")"

ulist="$(printf "'%s'," "${users[@]}")"; ulist="${ulist%,}"
check "each user has exactly $(( STATEMENTS * ROWS )) transactions: none lost, none doubled" \
  test "$(sql "SELECT count(*) FROM (SELECT user_id FROM transactions WHERE user_id IN ($ulist) GROUP BY user_id HAVING count(*) = $(( STATEMENTS * ROWS ))) t")" = $(( USERS + 1 ))
values="$(awk -v q="'" '{ printf "%s(%s%s%s, %s%s%s)", (NR > 1 ? ", " : ""), q, $1, q, q, $2, q }' "$T/acked")"
check "every acknowledged import holds its $ROWS rows once" \
  test "$(sql "SELECT count(*) FROM (VALUES $values) v(u, i) WHERE (SELECT count(*) FROM transactions t
               WHERE t.user_id::text = v.u AND t.import_id::text = v.i) <> $ROWS")" = 0
check "no other import was committed for these users" \
  test "$(sql "SELECT count(DISTINCT import_id) FROM transactions WHERE user_id IN ($ulist)")" = "$acked"

# --- the lost host is marked failed; host 1 answers -----------------------------------------
sleep 1.1   # the access log is flushed every second: count its lines before these requests
n0="$(wc -l < "$CV/front/log/nginx-access.log")"
codes=""
for _ in $(seq 1 10); do codes+="$(curl -sS -o /dev/null -w '%{http_code} ' --max-time 10 "$C/health" || echo 000)"; done
check "after the loss every /health is answered (got: $codes)" test "$(tr ' ' '\n' <<<"$codes" | grep -v '^$' | sort -u)" = 200
BASE="$C" request GET "/.netlify/functions/import-events?importId=$(awk 'NR == 1 { print $2 }' "$T/acked")" \
  -H "Authorization: Bearer $(fast_token "$(awk 'NR == 1 { print $1 }' "$T/acked")")"
check "the event replay (import-events) answers through host 1 (got $STATUS)" test "$STATUS" = 200
sleep 1.5
tail -n +"$(( n0 + 1 ))" "$CV/front/log/nginx-access.log" > "$T/after"
check "those requests were answered by host 1 (host 2 at most tried first, and skipped)" \
  test "$(grep -c . "$T/after")/$(grep -c "\"upstream\":\"\\([^\"]*, \\)\\?$H1:[0-9]*\"" "$T/after")" = "11/11"
check "nginx marked host 2's upstreams failed (error log: temporarily disabled)" \
  grep -q "upstream server temporarily disabled.*$H2:" "$CV/front/log/nginx-error.log"
check "host 1 lost no process (no unexpected end in its supervisor's log)" \
  bash -c "! grep -q 'process ended' '$CV/h1/log/supervise.log'"
check "no sanitizer report in the cluster's logs" \
  bash -c "! grep -l -E 'AddressSanitizer|LeakSanitizer|runtime error:' '$CV'/h*/log/*.log '$CV'/front/log/*.log"

# --- down leaves nothing --------------------------------------------------------------------
"$CLUSTER" down > "$T/down.out" 2>&1
check "scripts/cluster down: no namespace, bridge or var dir of the cluster left" \
  bash -c "! ip netns list | grep -q '^$SMARTIMPORT_CLUSTER_NAME-' && ! ip link show $SMARTIMPORT_CLUSTER_NAME-br >/dev/null 2>&1 && test ! -e '$CV'"
check "scripts/cluster down again is a no-op" "$CLUSTER" down
exit $(( FAILS > 0 ))

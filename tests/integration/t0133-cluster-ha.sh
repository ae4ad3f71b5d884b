#!/usr/bin/env bash
# t0133-cluster-ha: `scripts/cluster up 2 --ha` end to end (README "Scaling out"): 2 responder hosts
# in network namespaces behind one nginx, the database tier scripts/pg-ha (etcd and three Patroni
# members) listening on the cluster's bridge; a cluster of its own next to the test stack (own var
# dir, names, private /24, ports).  A client commits small imports through the front nginx, each
# request with an Idempotency-Key and retried with it on a 502/503/504 or a cut connection; the
# primary is SIGKILLed mid-load (scripts/pg-ha kill-primary).  Then writes through nginx succeed
# again on the new primary (the seconds it took are printed), every acknowledged import is there
# exactly once and nothing is doubled, and scripts/cluster down leaves no namespace, bridge,
# process or var dir behind.  SKIP when network namespaces cannot be made here (exit 77) or when
# Patroni or etcd cannot be installed (scripts/deps --ha).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
SRC="$(cd "$(dirname "$0")/../.." && pwd)"
: "${SMARTIMPORT_JWT_SECRET:?the cluster runs in jwt mode with the secret of the test stack}"
if ! command -v patroni >/dev/null || ! command -v etcd >/dev/null; then
  "$SRC/scripts/deps" --ha >/dev/null 2>&1 || true
fi
if ! command -v patroni >/dev/null || ! command -v etcd >/dev/null; then
  echo "SKIP: patroni and etcd are not installed and could not be (scripts/deps --ha)"; exit 77
fi

# The cluster's own settings (nothing shared with the test stack but the build and the secret).
CT="$(mktemp -d /tmp/si-t0133.XXXXXX)"
chmod 755 "$CT"
free() { bash -c '. "$1/scripts/lib.sh"; free_port' _ "$SRC"; }
export SMARTIMPORT_VAR="$CT" SMARTIMPORT_CLUSTER_NAME="h$(( $$ % 100000 ))" \
       SMARTIMPORT_CLUSTER_NET="10.81.$(( RANDOM % 250 + 1 ))" SMARTIMPORT_SKIP_BUILD=1 \
       SMARTIMPORT_BUILD="${SMARTIMPORT_BUILD:-$PWD}" SMARTIMPORT_AUTH=jwt
unset SMARTIMPORT_SPOOL_DIR SMARTIMPORT_PG_PORT SMARTIMPORT_PGHA_PORT SMARTIMPORT_PGHA_LISTEN SMARTIMPORT_PGHA_TRUST
PORT="$(free)"
CLUSTER="$SRC/scripts/cluster"
FNS="health ingest-statement commit-import"
CV="$CT/cluster"
PGHA=(env SMARTIMPORT_VAR="$CV" "$SRC/scripts/pg-ha")   # the cluster's tier ($CV/pgha)

down() { "$CLUSTER" down >/dev/null 2>&1 || true; rm -rf "$CT"; }
set +e
"$CLUSTER" up 2 --ha --port "$PORT" --functions "$FNS" > "$T/up.out" 2>&1
rc=$?
set -e
if (( rc == 77 )); then
  echo "SKIP: $(grep -m1 SKIP "$T/up.out" || echo 'network namespaces are not allowed here')"
  down; exit 77
fi
at_exit down
if (( rc != 0 )); then
  tail -n 30 "$T/up.out" | sed 's/^/#   /'; echo "not ok - scripts/cluster up 2 --ha (exit $rc)"; exit 1
fi
ok "scripts/cluster up 2 --ha (own net $SMARTIMPORT_CLUSTER_NET.0/24, nginx on $PORT)"
sed -n '/^m[0-9]/s/^/#   /p' "$T/up.out"
C="http://127.0.0.1:$PORT"
URL="$("${PGHA[@]}" url)"
sql() { psql -X -q -t -A -v ON_ERROR_STOP=1 "$URL" -c "$1"; }
check "the hosts' database is the tier's multi-host URL on the bridge (every member, read-write)" \
  bash -c "grep -q 'database: *postgresql://smartimport@$SMARTIMPORT_CLUSTER_NET.1:[0-9]*,$SMARTIMPORT_CLUSTER_NET.1:[0-9]*,$SMARTIMPORT_CLUSTER_NET.1:[0-9]*/smartimport?target_session_attrs=read-write' '$T/up.out'"
check "the tier takes the hosts' connections: max_connections 400, as the cluster's own scripts/pg" \
  test "$(sql "SHOW max_connections")" = 400
check "scripts/cluster status names the tier and its primary" \
  bash -c "'$CLUSTER' status | grep -q 'leader'"
on_bridge="SELECT count(DISTINCT host(client_addr)) FROM pg_stat_activity
             WHERE application_name LIKE 'smartimport-%' AND host(client_addr) IN ('$SMARTIMPORT_CLUSTER_NET.11', '$SMARTIMPORT_CLUSTER_NET.12')"
for _ in $(seq 1 100); do [[ $(sql "$on_bridge") == 2 ]] && break; sleep 0.2; done
check "both hosts are connected to the primary from their namespaces" test "$(sql "$on_bridge")" = 2

# --- the write load through nginx: each request with its Idempotency-Key ---------------------------
U="$(cat /proc/sys/kernel/random/uuid)"
AUTH=(-H "Authorization: Bearer $(fast_token "$U")")
RUNID="$(cut -c1-8 /proc/sys/kernel/random/uuid)"
# call OUT KEY METHOD PATH [curl args]: one request, retried with the same Idempotency-Key on a cut
# connection (000), 409 idempotency_in_progress, 429, 502, 503 or 504 (no primary yet), until
# $LT/stop or 90 s; CODE is the last status.
call() {
  local out=$1 key=$2 method=$3 path=$4 until=$(( SECONDS + 90 )); shift 4
  while :; do
    CODE="$(curl -sS -o "$out" -w '%{http_code}' -X "$method" --max-time 30 -H "Idempotency-Key: $key" "$@" "$C$path" 2>/dev/null)" ||
      CODE=000
    if [[ $CODE == 409 ]] && [[ $(jq -r '.code // empty' "$out" 2>/dev/null) != idempotency_in_progress ]]; then return 0; fi
    [[ $CODE == @(000|409|429|502|503|504) ]] || return 0
    (( SECONDS < until )) && [[ ! -f $LT/stop ]] || return 0
    sleep 0.25
  done
}
# one_import I: a one-row statement ingested and committed.  Staged rows are UNLOGGED (sql/0002): an
# import ingested before the failover and committed after answers 409 staging_lost, and the client
# uploads the file again under new keys (the old ones replay the old answers).  An acknowledged
# commit is "I IMPORT STARTED_MS ACKED_MS" in $LT/acked.
one_import() {
  local i=$1 round imp started
  started="$(now_ms)"
  printf 'Date,Description,Amount,Currency\n2024-05-01,HA-%s-%s,-1.00,EUR\n' "$RUNID" "$i" > "$LT/s$i.csv"
  for (( round = 0; round < 5; round++ )); do
    call "$LT/i.json" "ingest-$RUNID-$i-$round" POST "/.netlify/functions/ingest-statement?fileName=s$i.csv" \
      "${AUTH[@]}" -H 'Content-Type: text/csv' --data-binary "@$LT/s$i.csv"
    imp="$(jq -r '.importId // empty' "$LT/i.json" 2>/dev/null || true)"
    [[ $CODE == 200 && -n $imp ]] || return 1
    call "$LT/c.json" "commit-$RUNID-$i-$round" POST /.netlify/functions/commit-import \
      "${AUTH[@]}" -H 'Content-Type: application/json' --data-binary "{\"importId\":\"$imp\"}"
    if [[ $CODE == 200 ]] && jq -e '.ok' "$LT/c.json" >/dev/null 2>&1; then echo "$i $imp $started $(now_ms)" >> "$LT/acked"; return 0; fi
    [[ $CODE == 409 && $(jq -r '.code // empty' "$LT/c.json" 2>/dev/null) == @(staging_lost|import_not_parsed) ]] || return 1
    echo "$i $imp" >> "$LT/reuploads"
  done
  return 1
}
LT="$T/l"
mkdir -p "$LT" && : > "$LT/acked" && : > "$LT/reuploads"
( trap - EXIT; i=0; while [[ ! -f $LT/stop ]]; do i=$(( i + 1 )); one_import "$i" || echo "$i" >> "$LT/failed"; done ) &
LOAD=$!
acked() { wc -l < "$LT/acked"; }
acked_at_least() { (( $(acked) >= $1 )); }
within 60 acked_at_least 3 || true
check "the load commits imports through nginx before the failover ($(acked))" test "$(acked)" -ge 3

OLD="$("${PGHA[@]}" primary)"
timeline() { sql "SELECT substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)"; }
TL_BEFORE="$(timeline)"
"${PGHA[@]}" kill-primary > "$T/kill.out" 2>&1
KILLED_MS="$(now_ms)"
check "kill-primary killed the primary ($OLD)" grep -qx "$OLD" "$T/kill.out"
back_ms() { awk -v k="$KILLED_MS" 'NF >= 4 && $3 > k { print $4; exit }' "$LT/acked"; }   # begun after the kill
writes_back() { [[ -n $(back_ms) ]]; }
within 90 writes_back || true
back="$(back_ms)"
[[ -z $back ]] || echo "# writes through nginx succeeded again $(awk -v a="$back" -v b="$KILLED_MS" 'BEGIN { printf "%.1f", (a - b) / 1000 }') s after the primary was killed"
check "writes through nginx succeed again after the failover (within 90 s)" test -n "$back"
[[ -n $back ]] || "${PGHA[@]}" status | sed 's/^/#   /' || true
n="$(acked)"
within 30 acked_at_least $(( n + 2 )) || true
touch "$LT/stop"
wait "$LOAD" || true
NEW="$("${PGHA[@]}" primary || true)"
"${PGHA[@]}" status | sed 's/^/#   /' || true
check "a new primary ($NEW) replaced $OLD" bash -c "[[ -n '$NEW' && '$NEW' != '$OLD' ]]"
check "the timeline moved ($TL_BEFORE -> $(timeline))" test "$(timeline)" != "$TL_BEFORE"
# The hosts' other long-lived clients followed the primary too: a CDC daemon streams from the slot
# Patroni kept on the new primary, and the workers run a job enqueued there (test.noop: scripts/test
# sets SMARTIMPORT_WORKER_TEST_TASKS, which reaches every host).
slot_host="SELECT coalesce(max(host(r.client_addr)), '') FROM pg_replication_slots s
             JOIN pg_stat_replication r ON r.pid = s.active_pid WHERE s.slot_name = 'smartimport_cdc'"
cdc_streams() { [[ $(sql "$slot_host" 2>/dev/null) == "$SMARTIMPORT_CLUSTER_NET".1[12] ]]; }
check "a host's CDC daemon streams from the slot on the new primary" within 60 cdc_streams
if [[ ${SMARTIMPORT_WORKER_TEST_TASKS:-0} == 1 ]]; then
  JOB="$(sql "SELECT id FROM jobs_add('test.noop', '{}', p_job_key => 't0133-$RUNID')")"
  job_done() { [[ $(sql "SELECT state FROM jobs WHERE id = $JOB") == succeeded ]]; }
  check "the hosts' workers run a job enqueued on the new primary" within 30 job_done
fi

# --- every acknowledged import exactly once ------------------------------------------------------
NACK="$(acked)"
echo "# $NACK imports acknowledged, $(awk -v k="$KILLED_MS" '$3 > k' "$LT/acked" | wc -l) begun after the kill;" \
     "$(wc -l < "$LT/reuploads") uploaded again (staging_lost), $(cat "$LT/failed" 2>/dev/null | wc -l) not acknowledged (cut by the stop)"
imports_once "$U" "$RUNID" "$LT/acked"
echo "# keys whose request the failover cut, taken over on the new primary (the hosts' logs): $(cat "$CV"/h*/log/*.log 2>/dev/null | grep -c 'idempotency key abandoned while running' || true)"
check "no sanitizer report in the cluster's logs" \
  bash -c "! grep -l -E 'AddressSanitizer|LeakSanitizer|runtime error:' '$CV'/h*/log/*.log '$CV'/front/log/*.log"

# --- down leaves nothing -------------------------------------------------------------------------
"$CLUSTER" down > "$T/down.out" 2>&1
check "scripts/cluster down: no namespace, bridge or var dir of the cluster left" \
  bash -c "! ip netns list | grep -q '^$SMARTIMPORT_CLUSTER_NAME-' && ! ip link show $SMARTIMPORT_CLUSTER_NAME-br >/dev/null 2>&1 && test ! -e '$CV'"
left="$(pgrep -af -- "$CT" || true)"
check "... and no process of it (etcd, Patroni, PostgreSQL, supervisors, nginx)" test -z "$left"
[[ -z $left ]] || sed 's/^/#   /' <<< "$left"
check "scripts/cluster down again is a no-op" "$CLUSTER" down
finish

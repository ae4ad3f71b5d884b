#!/usr/bin/env bash
# t0131-failover: the database survives its primary. A tier of its own (scripts/pg-ha: etcd and three
# Patroni members, synchronous mode) and a stack of its own on it (scripts/up with
# SMARTIMPORT_DATABASE_URL, own var dir and port, next to scripts/test's stack, which it never
# touches). A client commits small imports (ingest + commit-import, retried until answered 200; each
# acknowledged commit recorded); the primary is SIGKILLed mid-load (Patroni and every PostgreSQL
# process: a lost machine). Then: writes succeed again (the seconds it took are printed), every
# acknowledged commit is there exactly once and nothing is doubled, the timeline moved, the CDC slot is
# on the new primary and streaming, the loyalty consumers applied every purchase of a bulk import made
# before and one made after exactly once, and an SSE client resumes with Last-Event-ID with no gap and
# no repeat.  Workflow jobs enqueued before the kill, while there is no primary and after (each
# triggering its service at the stand-in, tests/workflow-stub, mid-call at the kill): every
# acknowledged job completes, one succeeded run each, the job id the client got, an audit trail
# with no doubled transition, its effects once, and one effect per job at the stand-in (one
# Idempotency-Key each, whatever the repeats). Skips (77) when Patroni or etcd cannot be installed
# (scripts/deps --ha).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
pgha_tier ha
ok "scripts/pg-ha up: a primary, a synchronous standby, the CDC slot on every member"
sed -n '/^m[0-9]/s/^/#   /p' "$T/pgha-up.out"
URL="$("${HA[@]}" "$S/pg-ha" url)"
check "url lists the three members, read-write" bash -c "[[ '$URL' == *,*,*'target_session_attrs=read-write'* ]]"
READ_URL="$("${HA[@]}" "$S/pg-ha" url --read)"
check "url --read prefers a standby" bash -c "[[ '$READ_URL' == *,*,*'target_session_attrs=prefer-standby'* ]]"
pgha_stack SMARTIMPORT_DATABASE_URL="$URL" SMARTIMPORT_CDC_RETRY_MAX_MS=1000
check "scripts/up took the external database and did not start scripts/pg" \
  bash -c "grep -q 'external database' '$T/up.out' && [[ ! -e '$HAVAR/pg' ]]"

sql() { psql -X -q -t -A -v ON_ERROR_STOP=1 "$URL" -c "$1"; }
timeline() { sql "SELECT substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)"; }
uuid() { cat /proc/sys/kernel/random/uuid; }
now_ms() { date +%s%3N; }
U="$(uuid)"
AUTH=(-H "Authorization: Bearer $(fast_token "$U")")
default_currency "$U" EUR

# --- loyalty: a merchant and a bulk purchase import before the failover ------------------------------
request POST /api/merchants "${AUTH[@]}" -H 'Content-Type: application/json' \
  --data-binary '{"name":"t0131","currency":"EUR","points_per_unit":1}'
M="$(jq -r '.id // empty' "$T/body")"
check "a merchant (points: 1 per euro)" bash -c "[[ $STATUS == 201 && -n '$M' ]]"
request PUT "/api/merchants/$M/skus" "${AUTH[@]}" -H 'Content-Type: application/json' \
  --data-binary '[{"sku_id":"S1","name":"Coffee","price_minor":1000}]'
check "its SKU ($STATUS)" test "$STATUS" = 200
request PUT "/api/merchants/$M/customers" "${AUTH[@]}" -H 'Content-Type: application/json' \
  --data-binary '{"items":[{"customer_id":"c0"},{"customer_id":"c1"},{"customer_id":"c2"},{"customer_id":"c3"},{"customer_id":"c4"}]}'
check "its five customers ($STATUS)" test "$STATUS" = 200
HEAD="transaction_number,customer_id,purchased_at,currency,sku_id,quantity,unit_price,discount,store,note"
# bulk NAME N: N purchases of 10.00 EUR (10 points each) for customers c0..c4; the batch completed.
bulk() {
  local name=$1 n=$2 i batch
  { echo "$HEAD"; for (( i = 1; i <= n; i++ )); do echo "$name-$i,c$(( i % 5 )),2024-01-15,EUR,S1,1,10.00,,,"; done; } > "$T/$name.csv"
  for i in $(seq 1 20); do
    MAX_TIME=30 request POST /api/import/purchases "${AUTH[@]}" -F "file=@$T/$name.csv;type=text/csv" -F "merchant_id=$M"
    [[ $STATUS == 202 ]] && break
    sleep 1
  done
  batch="$(jq -r '.batch_id // empty' "$T/body")"
  [[ -n $batch ]] || return 1
  BATCH_ID="$batch"
  within 120 batch_done || return 1
  [[ $(sql "SELECT status FROM bulk_import_batches WHERE id = '$batch'") == completed ]] ||
    { echo "#   batch $name: $(sql "SELECT error_message FROM bulk_import_batches WHERE id = '$batch'")"; return 1; }
}
batch_done() { [[ $(sql "SELECT status FROM bulk_import_batches WHERE id = '$BATCH_ID'" 2>/dev/null) == @(completed|failed) ]]; }
# applied N: every consumer applied N of the merchant's purchases.
applied_now() {
  [[ $(sql "SELECT string_agg(n::text, ',' ORDER BY c) FROM (SELECT a.consumer c, count(*) n FROM cdc_applied a
              JOIN purchases p ON p.id = a.purchase_id WHERE p.merchant_id = '$M' GROUP BY a.consumer) x" 2>/dev/null) == "$1,$1,$1" ]]
}
applied() { within 120 applied_now "$1"; }
streaming() { [[ $(sql "SELECT active FROM pg_replication_slots WHERE slot_name = 'smartimport_cdc'" 2>/dev/null) == t ]]; }
check "smartimport-cdc streams from the Patroni-kept slot" within 60 streaming
check "a bulk import of 50 purchases before the failover completes" bulk before 50
check "... and every consumer applied its 50 purchases" applied 50

# --- the write load: small imports, each commit acknowledged once --------------------------------------
RUNID="$(uuid | cut -c1-8)"
# one_import I: ingest a one-row statement and commit it, each step retried until it answers 200 (a
# 503 while there is no primary).  Staged rows are UNLOGGED (sql/0002): a failover, like a crash,
# empties them, so an import ingested before it and committed after answers 409 staging_lost (then
# import_not_parsed), and the client uploads the file again, as the API says.  An acknowledged commit
# is recorded "I IMPORT STARTED_MS ACKED_MS" in $T/acked; re-uploads are counted in $T/reuploads.
one_import() {
  local i=$1 imp tries round started code
  started="$(now_ms)"
  printf 'Date,Description,Amount,Balance\n2024-01-15,HA-%s-%s,-1.00,100.00\n' "$RUNID" "$i" > "$T/load-$i.csv"
  for (( round = 0; round < 5; round++ )); do
    imp=""
    for (( tries = 0; tries < 200; tries++ )); do
      request POST "/.netlify/functions/ingest-statement?fileName=load-$i.csv" "${AUTH[@]}" -H 'Content-Type: text/csv' \
        --data-binary "@$T/load-$i.csv"
      imp="$(jq -r '.importId // empty' "$T/body" 2>/dev/null || true)"
      [[ $STATUS == 200 && -n $imp ]] && break
      [[ -f $T/stop ]] && return 1
      sleep 0.25
    done
    [[ -n $imp ]] || return 1
    for (( tries = 0; tries < 200; tries++ )); do
      request POST /.netlify/functions/commit-import "${AUTH[@]}" -H 'Content-Type: application/json' \
        --data-binary "{\"importId\":\"$imp\"}"
      if [[ $STATUS == 200 ]] && jq -e '.ok' "$T/body" >/dev/null 2>&1; then echo "$i $imp $started $(now_ms)" >> "$T/acked"; return 0; fi
      code="$(jq -r '.code // empty' "$T/body" 2>/dev/null || true)"
      if [[ $STATUS == 409 && $code == @(staging_lost|import_not_parsed) ]]; then echo "$i $imp" >> "$T/reuploads"; break; fi
      sleep 0.25
    done
  done
  return 1
}
# The load runs in a subshell with a folder of its own ($T/l: request()'s files, acked, stop).
LT="$T/l"
mkdir -p "$LT" && : > "$LT/acked"
( trap - EXIT; T="$LT"; i=0; while [[ ! -f $T/stop ]]; do i=$(( i + 1 )); one_import "$i" || true; done ) &
LOAD=$!
# The workflow's jobs (modules/jobs, the seven-phase workflow) across the failover: a second client
# enqueues a phase 1, 2 or 3 job (each triggers its service at the stand-in, tests/workflow-stub)
# every 0.3 s, each POST repeated until answered 202 (a 503 while there is no primary; the same
# sync_id, so a repeat is the same job).  An acknowledged job is "I JOB STARTED_MS ACKED_MS" in
# $WT/acked.  The stand-in answers after 600 ms, so jobs are in the middle of their call when the
# primary goes.  The jobs are another user's (W): the worker commits asynchronously (modules/jobs),
# so a job's end, and its event, written just before the kill may be undone by the failover and
# the job run again (same Idempotency-Key); the SSE check below is about the imports' events.
STUB="${SMARTIMPORT_TEST_WORKFLOW_STUB:-}"
W="$(uuid)"
WAUTH=(-H "Authorization: Bearer $(fast_token "$W")")
WT="$T/w"
mkdir -p "$WT" && : > "$WT/acked"
wf_job() {
  local i=$1 p=$(( 1 + $1 % 3 )) tries started job extra=""
  started="$(now_ms)"
  (( p != 1 )) || extra=",\"seller_id\":\"wf-$RUNID-$i\""
  for (( tries = 0; tries < 400; tries++ )); do
    request POST "/api/v1/workflow/phase/$p" "${WAUTH[@]}" -H 'Content-Type: application/json' \
      --data-binary "{\"user_id\":\"$W\",\"sync_id\":\"wf-$RUNID-$i\"$extra}"
    job="$(jq -r '.job_id // empty' "$T/body" 2>/dev/null || true)"
    if [[ $STATUS == 202 && -n $job ]]; then echo "$i $job $started $(now_ms)" >> "$T/acked"; return 0; fi
    [[ -f $T/stop ]] && return 1
    sleep 0.25
  done
  return 1
}
WFLOAD=""
if [[ -n $STUB ]]; then
  curl -fsS -o /dev/null -X POST "$STUB/_reset" && curl -fsS -o /dev/null -X POST "$STUB/_delay?ms=600"
  ( trap - EXIT; T="$WT"; i=0; while [[ ! -f $T/stop ]]; do i=$(( i + 1 )); wf_job "$i" || true; sleep 0.3; done ) &
  WFLOAD=$!
fi
# The SSE client: all of the user's events, held open across the failover.
SSE=(-H 'Accept: text/event-stream')
curl -sS -N --max-time 60 "${SSE[@]}" "${AUTH[@]}" -o "$T/sse1" "$BASE/.netlify/functions/import-events" 2>/dev/null &
SSE1=$!
acked() { wc -l < "$LT/acked"; }
acked_at_least() { (( $(acked) >= $1 )); }
within 60 acked_at_least 3 || true
check "the load commits imports before the failover ($(acked))" test "$(acked)" -ge 3
TL_BEFORE="$(timeline)"
EV_AT_KILL="$(sql "SELECT coalesce(max(id), 0) FROM import_events WHERE user_id = '$U'")"
OLD="$("${HA[@]}" "$S/pg-ha" primary)"
"${HA[@]}" "$S/pg-ha" kill-primary > "$T/kill.out" 2>&1
KILLED_MS="$(now_ms)"   # after the SIGKILL: an import begun later cannot have reached the old primary
check "kill-primary killed the primary ($OLD)" grep -qx "$OLD" "$T/kill.out"
# Writes are back when an import begun after the kill has its commit acknowledged (a generous
# bound: 90 s); the figure printed is the kill to that acknowledgement.
n_after() { awk -v k="$KILLED_MS" 'NF >= 4 && $3 > k' "$LT/acked" | wc -l; }   # begun after the kill
after_at_least() { (( $(n_after) >= $1 )); }
back_ms() { awk -v k="$KILLED_MS" 'NF >= 4 && $3 > k { print $4; exit }' "$LT/acked"; }
writes_back() { [[ -n $(back_ms) ]]; }
within 90 writes_back || true
back="$(back_ms)"
if [[ -n $back ]]; then
  echo "# writes succeeded again $(awk -v a="$back" -v b="$KILLED_MS" 'BEGIN { printf "%.1f", (a - b) / 1000 }') s after the primary was killed"
fi
check "writes succeed again after the failover (within 90 s)" test -n "$back"
[[ -n $back ]] || { echo "#   status now:"; "${HA[@]}" "$S/pg-ha" status | sed 's/^/#   /' || true; }
within 60 after_at_least 3 || true
# The SSE client goes away now (as a browser tab that closes); the load goes on for two more
# imports, whose events only the resumed stream (Last-Event-ID) can bring.
kill "$SSE1" 2>/dev/null || true
wait "$SSE1" 2>/dev/null || true
n="$(acked)"
within 60 acked_at_least $(( n + 2 )) || true
touch "$LT/stop" "$WT/stop"
wait "$LOAD" || true
[[ -z $WFLOAD ]] || wait "$WFLOAD" || true
[[ -z $STUB ]] || curl -fsS -o /dev/null -X POST "$STUB/_delay?ms=0" || true
NEW="$("${HA[@]}" "$S/pg-ha" primary || true)"
"${HA[@]}" "$S/pg-ha" status | sed 's/^/#   /' || true
check "a new primary ($NEW) replaced $OLD" bash -c "[[ -n '$NEW' && '$NEW' != '$OLD' ]]"
check "the timeline moved ($TL_BEFORE -> $(timeline))" test "$(timeline)" != "$TL_BEFORE"

# --- every acknowledged commit exactly once ------------------------------------------------------------
NACK="$(acked)"
echo "# $NACK imports acknowledged, $(n_after) of them begun after the kill; seconds from the kill to each one's start/acknowledgement:"
awk -v k="$KILLED_MS" '{ printf "#   %s: %+.1f / %+.1f\n", $1, ($3 - k) / 1000, ($4 - k) / 1000 }' "$LT/acked"
imports_once "$U" "$RUNID" "$LT/acked"

# --- every acknowledged workflow job completed once ----------------------------------------------------
if [[ -z $STUB ]]; then
  ok "# SKIP the workflow jobs across the failover (no SMARTIMPORT_TEST_WORKFLOW_STUB)"
else
  NWF="$(wc -l < "$WT/acked")"
  IDS="{$(cut -d' ' -f2 "$WT/acked" | paste -sd,)}"
  # before: acknowledged before the kill; during: begun before writes were back, acknowledged after the
  # kill (repeated while there was no primary); after: begun once writes were back.
  echo "# workflow jobs acknowledged: $NWF; before the kill / across it / after writes were back: $(awk -v k="$KILLED_MS" -v b="${back:-0}" '
    $4 < k { n1++ } $4 >= k && $3 < b { n2++ } $3 >= b { n3++ } END { printf "%d / %d / %d", n1, n2, n3 }' "$WT/acked")"
  check "workflow jobs were acknowledged before the kill and while writes were failing" \
    awk -v k="$KILLED_MS" -v b="${back:-0}" '$4 < k { n1++ } $4 >= k && $3 < b { n2++ } END { exit !(n1 >= 2 && n2 >= 1) }' "$WT/acked"
  wf_done() { [[ $(sql "SELECT count(*) FROM jobs WHERE user_id = '$W' AND id = ANY('$IDS'::bigint[]) AND state = 'succeeded'") == "$NWF" ]]; }
  check "every acknowledged job succeeded (none lost, none stuck running)" within 60 wf_done
  wf_done || sql "SELECT id, state, attempts, locked_until, error FROM jobs WHERE id = ANY('$IDS'::bigint[]) AND state <> 'succeeded'" | sed 's/^/#   /'
  values="$(awk -v q="'" '{ printf "%s(%swf-%s-%s%s, %s)", (NR > 1 ? ", " : ""), q, r, $1, q, $2 }' r="$RUNID" "$WT/acked")"
  check "each acknowledged job is still the one job of its sync_id (the id the client was given)" test \
    "$(sql "SELECT count(*) FROM jobs j JOIN (VALUES $values) v(k, id) ON j.job_key = v.k AND j.id = v.id WHERE j.user_id = '$W'")" = "$NWF"
  completed=0
  while read -r _ job _; do
    request GET "/api/v1/workflow/jobs/$job" "${WAUTH[@]}"
    [[ $STATUS != 200 || $(jq -r .status "$T/body") != completed ]] || completed=$(( completed + 1 ))
  done < "$WT/acked"
  check "the API says completed for each ($completed of $NWF)" test "$completed" = "$NWF"
  check "exactly one succeeded run per job in the audit" test \
    "$(sql "SELECT count(*) FROM unnest('$IDS'::bigint[]) j WHERE (SELECT count(*) FROM job_audit a WHERE a.job_id = j AND a.to_state = 'succeeded') <> 1")" = 0
  # Each audit row starts in the state the one before it ended in, the first one from nothing: no
  # transition doubled (two claims, two completions) and none missing; one enqueue per job.
  check "the audit trail is one chain per job: no doubled transition" test \
    "$(sql "SELECT count(*) FROM (SELECT job_id, from_state, lag(to_state) OVER w prev, row_number() OVER w rn
              FROM job_audit WHERE job_id = ANY('$IDS'::bigint[]) WINDOW w AS (PARTITION BY job_id ORDER BY id)) x
            WHERE from_state IS DISTINCT FROM prev OR (rn = 1) <> (from_state IS NULL)")" = 0
  echo "# their audit: $(sql "SELECT string_agg(t || ' x' || n, ', ' ORDER BY n DESC) FROM (SELECT coalesce(from_state, '-') || '>' || to_state ||
         coalesce(' (' || split_part(error, ':', 1) || ')', '') t, count(*) n FROM job_audit WHERE job_id = ANY('$IDS'::bigint[]) GROUP BY 1) x")"
  check "each job's effects were written once (one trigger row, one complete event)" test \
    "$(sql "SELECT count(*) FROM unnest('$IDS'::bigint[]) j WHERE (SELECT count(*) FROM workflow_triggers t WHERE t.job_id = j) <> 1
              OR (SELECT count(*) FROM import_events e WHERE e.user_id = '$W' AND e.event_type = 'workflow:phase:complete'
                  AND e.payload->>'jobId' = j::text) <> 1")" = 0
  # The stand-in: each job's call carries its Idempotency-Key (the job id); a service that treats a
  # repeated key as the same request did one thing per job ("keys": one per job that ran, acknowledged
  # or not), whatever the repeats (a job whose end the failover lost runs again, same key).
  calls="$(while read -r _ job _; do curl -fsS "$STUB/_count?key=$job" | jq -r --arg j "$job" '"\($j) \(.key)"'; done < "$WT/acked")"
  ran="$(sql "SELECT count(*) FROM jobs WHERE user_id = '$W' AND job_key LIKE 'wf-$RUNID-%' AND state = 'succeeded'")"
  stub_keys="$(curl -fsS "$STUB/_count" | jq .keys)"
  check "the stand-in was called for every acknowledged job, with its key" test "$(awk '$2 >= 1' <<< "$calls" | wc -l)" = "$NWF"
  check "one effect per job at the stand-in: $stub_keys keys for $ran jobs run" test "$stub_keys" = "$ran"
  echo "# the stand-in's calls: $(curl -fsS "$STUB/_count" | jq .total) for $stub_keys keys; called again with the same key: $(awk '$2 > 1 { printf "%s%s x%s", s, $1, $2; s = ", " }' <<< "$calls")"
fi

# --- the CDC slot and the loyalty consumers after the failover -------------------------------------------
check "the CDC slot is on the new primary" test \
  "$(sql "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'smartimport_cdc' AND slot_type = 'logical'")" = 1
check "smartimport-cdc streams from it again" within 60 streaming
check "a bulk import of 50 purchases after the failover completes" bulk after 50
check "every consumer applied all 100 purchases, each once" applied 100
echo "# imports whose staged rows the failover emptied (409 staging_lost), uploaded again: $(cat "$LT/reuploads" 2>/dev/null | wc -l)"
echo "# smartimport-cdc after the failover: $(sql "SELECT jobs_existing FROM cdc_state") enqueue(s) replayed from the slot's copy found their jobs already there"
check "the wallets got each purchase once: 100 x 10 points over 5 customers" test \
  "$(sql "SELECT string_agg(points::text, ',' ORDER BY customer_id) FROM wallets WHERE merchant_id = '$M'")" = "200,200,200,200,200"
check "tiers' spend: each customer 20 purchases x 1000" test \
  "$(sql "SELECT string_agg(spend_minor::text, ',' ORDER BY customer_id) FROM customer_tiers WHERE merchant_id = '$M'")" = "20000,20000,20000,20000,20000"

# --- the SSE client resumes with no gap --------------------------------------------------------------
ids_of() { { grep '^id: ' "$1" || true; } | cut -d' ' -f2 | paste -sd, -; }
LAST="$(ids_of "$T/sse1" | tr ',' '\n' | tail -n 1)"
check "the SSE client got events before the failover" test -n "$LAST"
check "... and, live, after it (the LISTEN connection followed the primary)" test "${LAST:-0}" -gt "$EV_AT_KILL"
curl -sS -N --max-time 4 "${SSE[@]}" "${AUTH[@]}" -H "Last-Event-ID: ${LAST:-0}" -o "$T/sse2" \
  "$BASE/.netlify/functions/import-events" 2>/dev/null || true
GOT="$(ids_of "$T/sse1")${LAST:+,}$(ids_of "$T/sse2")"
GOT="${GOT%,}"
WANT="$(sql "SELECT coalesce(string_agg(id::text, ',' ORDER BY id), '') FROM import_events WHERE user_id = '$U'")"
check "the stream and its resumption (Last-Event-ID) hold every event of the user once, in order ($(tr ',' '\n' <<< "$WANT" | wc -l))" \
  test "$GOT" = "$WANT"
finish

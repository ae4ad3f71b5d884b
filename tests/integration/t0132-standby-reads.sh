#!/usr/bin/env bash
# t0132-standby-reads: reads that tolerate a little lag go to a standby (SMARTIMPORT_DATABASE_READ_URL),
# everything else to the primary. First, on scripts/test's stack (the setting unset): a ledger page opens
# no second connection. Then a tier of its own (scripts/pg-ha, as t0131) and a stack on it with
# DATABASE_URL = the read-write URL and SMARTIMPORT_DATABASE_READ_URL = the standbys
# (target_session_attrs=standby here, so that the fallback below is the responders' and not libpq's;
# the docs recommend prefer-standby). With replay paused on both standbys (Patroni in maintenance mode,
# which would resume it otherwise), an import is ingested and
# committed (the primary: writes and the read right after its own write work), and the ledger page and
# its monthly totals still answer the standbys' older state (proof they read there); pg_stat_activity
# shows the "-read" connections of the ledger, workflow stats and bank import history on the standbys
# only; replay resumed, the answers catch up. Then both standbys are SIGKILLed: the same
# endpoints answer 200 with the current data from the primary, and the fallback is logged once per
# worker, without the URL. Skips (77) when Patroni or etcd cannot be installed (scripts/deps --ha).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
uuid() { cat /proc/sys/kernel/random/uuid; }

# --- the setting unset (scripts/test's stack): no second connection ----------------------------------
U0="$(uuid)"
request GET "/.netlify/functions/transactions?limit=5" -H "Authorization: Bearer $(fast_token "$U0")"
check "without SMARTIMPORT_DATABASE_READ_URL a ledger page answers ($STATUS)" test "$STATUS" = 200
apps() { psql -X -q -t -A -v ON_ERROR_STOP=1 "${DATABASE_URL:?}" -c \
  "SELECT count(*) FILTER (WHERE application_name = 'smartimport-transactions'),
          count(*) FILTER (WHERE application_name LIKE 'smartimport-%-read') FROM pg_stat_activity"; }
A="$(apps)"
check "... on the worker's one connection, and no responder opened a read connection ($A)" \
  bash -c "[[ '$A' == [1-9]*'|0' ]]"
BIN="${SMARTIMPORT_BUILD:?}/modules/ledger/smartimport-transactions"
CC="$(env SMARTIMPORT_DATABASE_READ_URL='postgresql://u:pw-t0132@[::1' "$BIN" --check-config || true)"
check "--check-config refuses a read URL libpq cannot read, naming the variable, not its value" \
  bash -c "jq -e '.ok == false and (.error | test(\"SMARTIMPORT_DATABASE_READ_URL\"))' <<< '$CC' >/dev/null && [[ '$CC' != *pw-t0132* ]]"
CC="$(env SMARTIMPORT_DATABASE_READ_URL='postgresql://u@h1:1,h2:2/db?target_session_attrs=prefer-standby' "$BIN" --check-config || true)"
check "... and takes a multi-host one ($CC)" test "$CC" = '{"ok":true}'

# --- the tier and the stack, ours only -------------------------------------------------------------
pgha_tier ha132
ok "scripts/pg-ha up"
URL="$("${HA[@]}" "$S/pg-ha" url)"
READ_URL="$("${HA[@]}" "$S/pg-ha" url --read)"
pgha_stack SMARTIMPORT_DATABASE_URL="$URL" SMARTIMPORT_DATABASE_READ_URL="${READ_URL/prefer-standby/standby}"
ok "scripts/up with SMARTIMPORT_DATABASE_READ_URL"

# member_sql MEMBER SQL: on that member itself (the superuser, the app's database).
PGBASE="$(cat "$HAVAR/pgha/port")"
member_sql() {
  psql -X -q -t -A -v ON_ERROR_STOP=1 -c "$2" \
    "host=127.0.0.1 port=$(( PGBASE + 10 + ${1#m} - 1 )) user=postgres dbname=smartimport connect_timeout=3"
}
PRIMARY="$("${HA[@]}" "$S/pg-ha" primary)"
STANDBYS=()
for m in m1 m2 m3; do [[ $m == "$PRIMARY" ]] || STANDBYS+=("$m"); done
on_standbys() { local m; for m in "${STANDBYS[@]}"; do member_sql "$m" "$1"; done; }
settled() { [[ $("${HA[@]}" "$S/pg-ha" settled 2>/dev/null) == yes ]]; }
check "two standbys streaming (${STANDBYS[*]}; primary $PRIMARY)" within 60 settled

U="$(uuid)"
AUTH=(-H "Authorization: Bearer $(fast_token "$U")")
default_currency "$U" EUR
# import NAME ROWS: one statement of ROWS rows of -1.00 EUR in 2024-01, ingested and committed.
import() {
  local i
  { echo "Date,Description,Amount,Balance"; for (( i = 1; i <= $2; i++ )); do echo "2024-01-1$(( i % 9 )),$1-$i,-1.00,100.00"; done; } > "$T/$1.csv"
  MAX_TIME=60 request POST "/.netlify/functions/ingest-statement?fileName=$1.csv" "${AUTH[@]}" -H 'Content-Type: text/csv' \
    --data-binary "@$T/$1.csv"
  local imp
  imp="$(jq -r '.importId // empty' "$T/body" 2>/dev/null || true)"
  [[ $STATUS == 200 && -n $imp ]] || { echo "#   ingest $1: $STATUS $(head -c 300 "$T/body")"; return 1; }
  MAX_TIME=60 request POST /.netlify/functions/commit-import "${AUTH[@]}" -H 'Content-Type: application/json' \
    --data-binary "{\"importId\":\"$imp\"}"
  [[ $STATUS == 200 ]] || { echo "#   commit $1: $STATUS $(head -c 300 "$T/body")"; return 1; }
}
# The lag-tolerant reads: the ledger page (no filter: the ledger_totals rollup), the same with a
# date range (the monthly rollup), the workflow stats, the bank import history. page_count PATH:
# the count its totals give.
LEDGER=/.netlify/functions/transactions
count_of() {
  request GET "$1" "${AUTH[@]}"
  [[ $STATUS == 200 ]] || { echo "status $STATUS"; return; }
  jq -r '[.totals[]?.count] | add // 0' "$T/body"
}
counts() { echo "$(count_of "$LEDGER?limit=5")/$(count_of "$LEDGER?limit=5&from=2024-01-01&to=2024-03-31")"; }
others_ok() {
  request GET /api/v1/workflow/stats "${AUTH[@]}"
  if [[ $STATUS != 200 ]] || ! body_jq '.ok'; then echo "#   workflow stats: $STATUS"; return 1; fi
  request GET "/api/truelayer/import/history?limit=5" "${AUTH[@]}"
  if [[ $STATUS != 200 ]] || ! body_jq '.imports == []'; then echo "#   import history: $STATUS"; return 1; fi
}
replicated() { [[ $(on_standbys "SELECT count(*) FROM transactions WHERE user_id = '$U'" | sort -u) == "$1" ]]; }

check "an import of 3 rows (ingest, commit)" import first 3
T0="$(now_ms)"
check "... is replayed on both standbys" within 30 replicated 3
echo "# both standbys had the commit $(( $(now_ms) - T0 )) ms after its answer (a figure, polled every 0.2 s with psql)"
C="$(counts)"
check "the ledger page and its monthly totals answer it ($C)" test "$C" = "3/3"
check "the workflow stats and the bank import history answer 200" others_ok

# --- replay paused on the standbys: writes go on, the lag-tolerant reads show the standbys' state ------
# Patroni resumes a paused replay at its next loop (2 s) unless the cluster is in maintenance mode.
patroni_ctl() { patronictl -c "$HAVAR/pgha/$PRIMARY/patroni.yml" "$@" > "$T/patronictl.out" 2>&1; }
paused() { [[ $(on_standbys "SELECT pg_get_wal_replay_pause_state()" | sort -u) == paused ]]; }
check "maintenance mode on (patronictl pause)" patroni_ctl pause --wait
on_standbys "SELECT pg_wal_replay_pause()" > /dev/null
check "replay paused on both standbys" within 20 paused
check "an import of 4 more rows while the standbys do not replay (writes and the commit right after the ingest: the primary)" \
  import second 4
check "... committed on the primary" test "$(member_sql "$PRIMARY" "SELECT count(*) FROM transactions WHERE user_id = '$U'")" = 7
C="$(counts)"
check "the ledger page and its monthly totals answer the standbys' state, 3 rows, not the primary's 7 ($C)" test "$C" = "3/3"
still_behind() { paused && replicated 3; }
check "... which is what the standbys hold, replay still paused" still_behind
check "the workflow stats and the bank import history still answer 200" others_ok
READS="$(on_standbys "SELECT string_agg(DISTINCT application_name, ',' ORDER BY application_name) FROM pg_stat_activity
                      WHERE application_name LIKE 'smartimport-%-read'" | paste -sd' ')"
check "the standbys hold the read connections: ledger, workflow, bank ($READS)" \
  bash -c "[[ '$READS' == *smartimport-transactions-read* && '$READS' == *smartimport-workflow-read* && '$READS' == *smartimport-truelayer-import-read* ]]"
check "the primary holds none, and ran no ledger page" test \
  "$(member_sql "$PRIMARY" "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE '%-read' OR query LIKE '/* ledger page%'")" = 0
on_standbys "SELECT pg_wal_replay_resume()" > /dev/null
check "maintenance mode off (patronictl resume)" patroni_ctl resume --wait
check "replay resumed: the standbys catch up" within 30 replicated 7
C="$(counts)"
check "... and so do the answers ($C)" test "$C" = "7/7"

# --- the standbys lost: the same reads answer from the primary ----------------------------------------
"${HA[@]}" "$S/pg-ha" kill-standbys > "$T/kill.out" 2>&1
check "kill-standbys killed ${STANDBYS[*]}" test "$(grep -x 'm[0-9]' "$T/kill.out" | sort | paste -sd' ')" = "${STANDBYS[*]}"
answered=0
for _ in 1 2 3 4 5 6 7 8; do [[ $(counts) == 7/7 ]] && answered=$(( answered + 1 )); done
check "8 times in a row the ledger page and its monthly totals answer 200 with the primary's 7 rows ($answered)" test "$answered" = 8
check "the workflow stats and the bank import history answer 200" others_ok
check "an import of 2 more rows commits (the primary alone)" import third 2
C="$(counts)"
check "... and the ledger page shows it at once ($C)" test "$C" = "9/9"
LOG="$HAVAR/log/transactions.log"
W="$(grep -c 'read connection unavailable' "$LOG" || true)"
THREADS="${SMARTIMPORT_THREADS:-4}"
check "the fallback is logged once per worker at most ($W warning(s), $THREADS workers, 9 x 2 pages)" \
  bash -c "(( $W >= 1 && $W <= $THREADS ))"
check "... and never with the URL" bash -c "! grep 'read connection' '$LOG' | grep -q 'postgresql://'"
finish

#!/usr/bin/env bash
# t0098-events-db-restart (runs just before t0099): an open import-events stream survives a
# PostgreSQL restart.  The responder reconnects its LISTEN connection, catches up what was
# committed while it was not listening, and goes on streaming live: same stream, same
# process, no event lost or sent twice.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if [[ -z ${SMARTIMPORT_TEST_PG:-} || -z ${SMARTIMPORT_TEST_VAR:-} || -z ${DATABASE_URL:-} ]]; then
  echo "SKIP: SMARTIMPORT_TEST_PG / SMARTIMPORT_TEST_VAR / DATABASE_URL not set"; exit 77
fi
export SMARTIMPORT_VAR="${SMARTIMPORT_VAR:-$SMARTIMPORT_TEST_VAR}"
pidfile="$SMARTIMPORT_TEST_VAR/run/import-events.pid"
if [[ ! -f $pidfile ]]; then echo "SKIP: import-events is not running"; exit 77; fi
TOKEN_BIN="${SMARTIMPORT_BUILD:-.}/modules/token/smartimport-token"
[[ -x $TOKEN_BIN ]] || TOKEN_BIN=./modules/token/smartimport-token
FN=/.netlify/functions/import-events
USER_ID="$(cat /proc/sys/kernel/random/uuid)"
AUTH=(-H "Authorization: Bearer $("$TOKEN_BIN" "$USER_ID")")
sql() { psql -X -q -t -A -v ON_ERROR_STOP=1 "$DATABASE_URL" -c "$1"; }
insert_event() { sql "INSERT INTO import_events (user_id, event_type, payload) VALUES ('$USER_ID', '$1', '{}')"; }

pid_before="$(tr -dc '0-9' < "$pidfile")"
check "import-events responder is running (pid $pid_before)" kill -0 "$pid_before"

curl -sS -N --max-time 120 -H 'Accept: text/event-stream' "${AUTH[@]}" -o "$T/stream" "$BASE$FN" 2>/dev/null &
STREAM=$!
stop_stream() { kill "$STREAM" 2>/dev/null || true; }
at_exit stop_stream
wait_for_line "$T/stream" '^retry: 2000$' 10000 || true
insert_event restart:test:before
check "before the restart an event arrives" wait_for_line "$T/stream" '^event: restart:test:before$' 3000

pg_down=0
restart_pg() { if (( pg_down )); then echo "# restarting PostgreSQL"; "$SMARTIMPORT_TEST_PG" start; fi; }
at_exit restart_pg
pg_down=1
"$SMARTIMPORT_TEST_PG" stop
MAX_TIME=5 request GET "$FN" "${AUTH[@]}"
check "PostgreSQL down: a JSON page is a 503 JSON error (got $STATUS)" test "$STATUS" = 503
check "PostgreSQL down: the 503 has the error shape" body_jq '.ok == false and .code == "db_unavailable"'
check "PostgreSQL down: the open stream stays open" kill -0 "$STREAM"

"$SMARTIMPORT_TEST_PG" start
pg_down=0
# Written as soon as the server is back, most likely before the responder listens again:
# it reaches the stream through the catch-up.
insert_event restart:test:while_reconnecting
check "an event committed right after the restart arrives (catch-up)" \
  wait_for_line "$T/stream" '^event: restart:test:while_reconnecting$' 15000
insert_event restart:test:after
check "an event committed after the reconnect arrives (live)" wait_for_line "$T/stream" '^event: restart:test:after$' 5000
check "the same stream carried them all" kill -0 "$STREAM"
ids="$(grep '^id: ' "$T/stream" | cut -d' ' -f2)"
check "no event was sent twice and ids increase" test "$ids" = "$(sort -n -u <<< "$ids")"
check "the stream has exactly the user's events" test "$(paste -sd, - <<< "$ids")" = \
  "$(sql "SELECT string_agg(id::text, ',' ORDER BY id) FROM import_events WHERE user_id = '$USER_ID'")"
check "the responder logged that it listens again" \
  grep -q '"msg":"listening for import events","reconnect":true' "$SMARTIMPORT_TEST_VAR/log/import-events.log"
pid_after="$(tr -dc '0-9' < "$pidfile")"
check "import-events pid unchanged ($pid_before -> $pid_after)" test "$pid_before" = "$pid_after"
check "import-events still alive" kill -0 "$pid_before"
finish

#!/usr/bin/env bash
# t0041-events-limits: what one user (or one slow query) may not do to import-events, through
# nginx: a user past SMARTIMPORT_EVENTS_STREAMS_PER_USER streams gets 429 JSON with
# Retry-After while another user still streams, and gets a stream again after closing one;
# a stream ends cleanly when its token expires, and an expired token is 401; a request whose
# query waits on a PostgreSQL lock does not hold up another user's live events; and a token in
# the URL is accepted by import-events only (the functions that identify through the runtime
# answer 400 token_in_url; ingest-statement's own secret_in_url is tested in t0015).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
: "${DATABASE_URL:?DATABASE_URL is needed to look at the database}"
TOKEN_BIN="${SMARTIMPORT_BUILD:-.}/modules/token/smartimport-token"
[[ -x $TOKEN_BIN ]] || TOKEN_BIN=./modules/token/smartimport-token
FN=/.netlify/functions/import-events
CAP="${SMARTIMPORT_EVENTS_STREAMS_PER_USER:-8}"
SSE=(-H 'Accept: text/event-stream')
sql() { psql -X -q -t -A -v ON_ERROR_STOP=1 "$DATABASE_URL" -c "$1"; }
uuid() { cat /proc/sys/kernel/random/uuid; }
# wait_sql QUERY MS: wait until QUERY answers t.
wait_sql() {
  local start; start="$(now_ms)"
  until [[ $(sql "$1") == t ]]; do
    (( $(now_ms) - start > $2 )) && return 1
    sleep 0.05
  done
}
BGS=()
kill_bgs() { local p; for p in "${BGS[@]}"; do kill "$p" 2>/dev/null || true; done; }
at_exit kill_bgs
# stream_bg OUT SECONDS TOKEN [query]: an SSE request in the background; its pid in BG.
stream_bg() {
  curl -sS -N --max-time "$2" "${SSE[@]}" -H "Authorization: Bearer $3" -D "$1.headers" -o "$1" \
    "$BASE$FN${4:-}" 2>/dev/null &
  BG=$!; BGS+=("$BG")
}
insert_event() {  # insert_event USER TYPE
  sql "INSERT INTO import_events (user_id, import_id, event_type, payload) VALUES ('$1', NULL, '$2', '{}')" >/dev/null
}

# --- one user cannot take every stream slot ---------------------------------------------------
A="$(uuid)" B="$(uuid)"
TA="$("$TOKEN_BIN" "$A")" TB="$("$TOKEN_BIN" "$B")"
PIDS=()
for i in $(seq 1 "$CAP"); do stream_bg "$T/a.$i" 60 "$TA"; PIDS+=("$BG"); done
open=0 start="$(now_ms)"
while (( $(now_ms) - start < 10000 )); do
  open="$(grep -l '^retry: 2000' "$T"/a.[0-9]* 2>/dev/null | wc -l || true)"
  (( open == CAP )) && break
  sleep 0.05
done
check "user A holds $CAP streams, the per-user cap ($open open)" test "$open" = "$CAP"
request GET "$FN" "${SSE[@]}" -H "Authorization: Bearer $TA"
check "stream $(( CAP + 1 )) of user A is 429 (got $STATUS)" test "$STATUS" = 429
check "the 429 is application/json, not a stream" is_json_ct
check "with code too_many_streams_for_user" body_jq '.ok == false and .code == "too_many_streams_for_user" and (.error | length) > 0'
check "and a Retry-After header ($(header retry-after))" grep -qiE '^retry-after: [0-9]+' "$T/headers"
request GET "$FN?limit=1" -H "Authorization: Bearer $TA"
check "user A's JSON page still answers 200 (pages are not streams; got $STATUS)" test "$STATUS" = 200
stream_bg "$T/b" 5 "$TB"
rc=0; wait_for_line "$T/b" '^retry: 2000$' 3000 || rc=1
check "user B still gets a stream (in $WAITED ms)" test "$rc" = 0
kill "${PIDS[0]}" 2>/dev/null || true; wait "${PIDS[0]}" 2>/dev/null || true
got=0 start="$(now_ms)"
while (( $(now_ms) - start < 5000 )); do
  stream_bg "$T/again" 3 "$TA"
  if wait_for_line "$T/again" '^retry: 2000$' 1500; then got=1; break; fi
  kill "$BG" 2>/dev/null || true; wait "$BG" 2>/dev/null || true
done
check "after closing one, user A can open a stream again ($(( $(now_ms) - start )) ms)" test "$got" = 1
kill_bgs; for p in "${BGS[@]}"; do wait "$p" 2>/dev/null || true; done; BGS=()

# --- a stream ends when its token expires ---------------------------------------------------
C="$(uuid)"
request GET "$FN" "${SSE[@]}" -H "Authorization: Bearer $("$TOKEN_BIN" "$C" -5)"
check "an expired token is 401 token_expired JSON, not a stream (got $STATUS)" \
  test "$STATUS/$(jq -r .code "$T/body" 2>/dev/null)" = "401/token_expired"
# exp_of TOKEN: the token's exp claim (seconds since the epoch).
exp_of() {
  local p; p="$(cut -d. -f2 <<< "$1" | tr '_-' '/+')"
  while (( ${#p} % 4 )); do p+='='; done
  base64 -d <<< "$p" | jq -r .exp
}
for how in header query; do
  SHORT="$("$TOKEN_BIN" "$C" 3)"
  exp_ms=$(( $(exp_of "$SHORT") * 1000 ))
  args=(-H "Authorization: Bearer $SHORT") q=""
  [[ $how == query ]] && args=() q="?access_token=$SHORT"
  rc=0
  curl -sS -N --max-time 15 "${SSE[@]}" "${args[@]}" -o "$T/exp.$how" "$BASE$FN$q" 2>/dev/null || rc=$?
  late=$(( $(now_ms) - exp_ms ))
  check "$how token: the stream started" grep -q '^retry: 2000$' "$T/exp.$how"
  check "$how token: it ends cleanly when the 3 s token expires (curl status $rc)" test "$rc" = 0
  check "$how token: at its exp, not before and not at curl's 15 s limit ($late ms after exp)" \
    bash -c "(( $late >= -100 && $late < 2000 ))"
done
if [[ -n ${SMARTIMPORT_TEST_VAR:-} ]]; then
  check "the responder logs the close with reason token_expired" \
    grep -q '"msg":"stream close".*"reason":"token_expired"' "$SMARTIMPORT_TEST_VAR/log/import-events.log"
fi

# --- a query waiting on a lock does not freeze other users' streams ------------------------------
# The import check (SELECT ... FROM imports) of user E waits while another transaction holds
# an ACCESS EXCLUSIVE lock on imports (what ALTER TABLE or VACUUM FULL take); user D's stream
# reads only import_events and must keep getting its events meanwhile.
D_="$(uuid)" E="$(uuid)"
TD="$("$TOKEN_BIN" "$D_")" TE="$("$TOKEN_BIN" "$E")"
stream_bg "$T/d" 30 "$TD"
wait_for_line "$T/d" '^retry: 2000$' 5000 || true
insert_event "$D_" import:test:before_lock
rc=0; wait_for_line "$T/d" '^event: import:test:before_lock$' 2000 || rc=1
check "user D's stream receives events ($WAITED ms)" test "$rc" = 0
LOCKER_APP="t0041-locker-$$"
PGAPPNAME="$LOCKER_APP" psql -X -q "$DATABASE_URL" \
  -c "BEGIN; LOCK TABLE imports IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(20); COMMIT;" >/dev/null 2>&1 &
LOCKER=$!; BGS+=("$LOCKER")
unlock() { sql "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = '$LOCKER_APP'" >/dev/null 2>&1 || true; }
at_exit unlock
rc=0; wait_sql "SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
                WHERE c.relname = 'imports' AND l.mode = 'AccessExclusiveLock' AND l.granted)" 5000 || rc=1
check "another transaction holds an ACCESS EXCLUSIVE lock on imports" test "$rc" = 0
E_PIDS=()
for i in 1 2 3; do
  curl -sS --max-time 15 -o "$T/e.$i" -w '%{http_code}' -H "Authorization: Bearer $TE" \
    "$BASE$FN?importId=$(uuid)" > "$T/e.$i.status" 2>/dev/null &
  E_PIDS+=("$!"); BGS+=("$!")
done
WAITING="SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = 'smartimport-import-events'
         AND wait_event_type = 'Lock' AND query LIKE '%FROM imports%')"
rc=0; wait_sql "$WAITING" 3000 || rc=1
check "user E's import check waits on the lock" test "$rc" = 0
# the commit time from the server's clock (the same machine), not from before psql started
t_commit="$(sql "INSERT INTO import_events (user_id, import_id, event_type, payload)
                 VALUES ('$D_', NULL, 'import:test:while_locked', '{}')
                 RETURNING (extract(epoch FROM clock_timestamp()) * 1000)::bigint")"
wait_for_line "$T/d" '^event: import:test:while_locked$' 8000 || true
took=$(( $(now_ms) - t_commit ))
still="$(sql "$WAITING")"
echo "# an event reached user D's stream $took ms after its commit while user E's query waited on the lock"
check "user D's stream gets an event committed meanwhile within 1 s (took $took ms)" test "$took" -lt 1000
check "while user E's query is still waiting on the lock" test "$still" = t
unlock
for p in "${E_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
for i in 1 2 3; do
  st="$(cat "$T/e.$i.status" 2>/dev/null || true)"
  check "user E's request $i got a JSON answer, not a hang ($st $(jq -r .code "$T/e.$i" 2>/dev/null))" \
    bash -c "[[ '$st' =~ ^(404|503|504)$ ]] && jq -e '.ok == false' '$T/e.$i' >/dev/null"
done
insert_event "$D_" import:test:after_lock
rc=0; wait_for_line "$T/d" '^event: import:test:after_lock$' 2000 || rc=1
check "user D's stream carries on after the lock is gone" test "$rc" = 0
kill_bgs; for p in "${BGS[@]}"; do wait "$p" 2>/dev/null || true; done; BGS=()

# --- a token in the URL: import-events only ---------------------------------------------------------
F="$(uuid)" TF="$("$TOKEN_BIN" "$F")"
insert_event "$F" import:test:url_token
request GET "$FN?access_token=$TF"
check "import-events accepts ?access_token= (EventSource; got $STATUS)" \
  body_jq '.ok == true and (.events | length) == 1 and .events[0].type == "import:test:url_token"'
curl -sS -N --max-time 2 "${SSE[@]}" -o "$T/urlstream" "$BASE$FN?access_token=$TF" 2>/dev/null || true
check "and streams with it" grep -q '^event: import:test:url_token$' "$T/urlstream"
json_fn() {  # json_fn METHOD PATH [curl args]: expects 400 token_in_url
  local method=$1 path=$2; shift 2
  request "$method" "$path" "$@"
  check "$method ${path%%\?*} with ?access_token= is 400 (got $STATUS)" test "$STATUS" = 400
  check "$method ${path%%\?*}: code token_in_url, message names the Authorization header" \
    body_jq '.ok == false and .code == "token_in_url" and (.error | test("Authorization header"))'
}
IMPORTS_BEFORE="$(sql "SELECT count(*) FROM imports WHERE user_id = '$F'")"
json_fn POST "/.netlify/functions/commit-import?access_token=$TF" -H 'Content-Type: application/json' \
  --data-binary "{\"importId\":\"$(uuid)\"}"
json_fn POST "/.netlify/functions/revert-import?access_token=$TF" -H 'Content-Type: application/json' \
  --data-binary "{\"importId\":\"$(uuid)\"}"
json_fn POST "/.netlify/functions/prime-handoff?access_token=$TF" -H 'Content-Type: application/json' \
  --data-binary "{\"importId\":\"$(uuid)\"}"
json_fn GET "/api/v1/workflow/stats?access_token=$TF"
json_fn POST "/.netlify/functions/commit-import?access_token=$TF" -H "Authorization: Bearer $TF" \
  -H 'Content-Type: application/json' --data-binary "{\"importId\":\"$(uuid)\"}"
check "nothing was imported for the user" test "$(sql "SELECT count(*) FROM imports WHERE user_id = '$F'")" = "$IMPORTS_BEFORE"
finish

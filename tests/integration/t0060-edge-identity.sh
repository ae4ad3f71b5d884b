#!/usr/bin/env bash
# t0060-edge-identity: identity before work.  nginx asks auth-check (=/_si_auth) who the
# caller is from the headers before it reads a body, so an unauthenticated 60 MB upload is
# a JSON 401 at once and never reaches the ingest responder, and eight such clients at once
# do not slow an authenticated user's small ingest much.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
D="$(cd "$(dirname "$0")" && pwd)/data"
TOKEN_BIN="${SMARTIMPORT_BUILD:-.}/modules/token/smartimport-token"
[[ -x $TOKEN_BIN ]] || TOKEN_BIN=./modules/token/smartimport-token
FN=/.netlify/functions/ingest-statement
LOG="${SMARTIMPORT_TEST_VAR:-}/log/ingest-statement.log"
[[ -f $LOG ]] || { echo "SKIP: the ingest responder's log is not at $LOG"; exit 77; }
if [[ ${SMARTIMPORT_AUTH:-jwt} != jwt ]]; then echo "SKIP: the edge check only refuses in jwt mode"; exit 77; fi
USER_ID="$(cat /proc/sys/kernel/random/uuid)"
AUTH=(-H "Authorization: Bearer $("$TOKEN_BIN" "$USER_ID")")
default_currency "$USER_ID" USD
requests_seen() { grep -c '"msg":"request"' "$LOG" || true; }

head -c 60000000 /dev/zero | tr '\0' 'x' > "$T/big"
# A client that sends its whole body at once (no Expect: 100-continue), as an attacker would.
upload_big() { curl -sS -o "$1" -w '%{http_code} %{time_total}' -H 'Expect:' -H 'Content-Type: text/csv' \
                 --max-time 30 "${@:2}" --data-binary @"$T/big" "$BASE$FN?fileName=big.csv" 2>/dev/null || true; }

before="$(requests_seen)"
out="$(upload_big "$T/body")"; STATUS="${out%% *}" TIME="${out##* }"
check "an unauthenticated 60 MB upload is 401 (got $STATUS)" test "$STATUS" = 401
check "the 401 is JSON with code missing_token" body_jq '.ok == false and .code == "missing_token" and (.error | type) == "string"'
echo "# the 401 came after $TIME s"
check "it comes quickly ($TIME s < 5 s)" less_than "$TIME" 5
out="$(upload_big "$T/body" -H 'Authorization: Bearer not.a.token')"; STATUS="${out%% *}"
check "a bad token is 401 invalid_token (got $STATUS)" test "$STATUS/$(jq -r .code "$T/body" 2>/dev/null)" = "401/invalid_token"
out="$(upload_big "$T/body" -H 'Authorization: Basic dXNlcjpwYXNz')"; STATUS="${out%% *}"
check "another scheme is 401 too (got $STATUS)" test "$STATUS" = 401
# A token in the query never passes the edge check of a POST route.
out="$(curl -sS -o "$T/body" -w '%{http_code}' -H 'Content-Type: text/csv' --data-binary @"$D/basic.csv" \
         "$BASE$FN?fileName=basic.csv&access_token=$("$TOKEN_BIN" "$USER_ID")" 2>/dev/null || true)"
check "an access_token query parameter is not an identity for ingest: 400 token_in_url at the edge (got $out)" \
  eval 'test "$out" = 400 && jq -e ".code == \"token_in_url\"" "$T/body" >/dev/null'
sleep 0.5
check "the ingest responder never saw those requests" test "$(requests_seen)" = "$before"

# Eight unauthenticated 60 MB uploaders, each uploading again and again for 10 s ...
ATTACKERS=()
for i in $(seq 1 8); do
  ( end=$(( SECONDS + 10 )); while (( SECONDS < end )); do upload_big /dev/null >/dev/null; done ) &
  ATTACKERS+=($!)
done
stop_attackers() { kill "${ATTACKERS[@]}" 2>/dev/null || true; wait "${ATTACKERS[@]}" 2>/dev/null || true; }
at_exit stop_attackers
sleep 1
# ... while an authenticated user uploads a small statement three times.
worst=0
for i in 1 2 3; do
  sed "s/Coffee Corner/Coffee Corner $i/" "$D/basic.csv" > "$T/small.csv"
  request POST "$FN?fileName=small-$i.csv" "${AUTH[@]}" -H 'Content-Type: text/csv' --data-binary @"$T/small.csv"
  check "the authenticated small ingest $i is 200 while attacked (got $STATUS)" test "$STATUS" = 200
  echo "# authenticated small ingest $i while 8 unauthenticated 60 MB uploads run: $TIME s"
  awk -v a="$TIME" -v b="$worst" 'BEGIN { exit !(a > b) }' && worst=$TIME
  sleep 1
done
check "the slowest took under 5 s ($worst s)" less_than "$worst" 5
stop_attackers
check "the ingest responder saw only the three authenticated requests" test "$(requests_seen)" = $(( before + 3 ))
finish

#!/usr/bin/env bash
# t0070-bank-connect: bank connections through nginx against the TrueLayer stand-in
# (tests/truelayer-stub, started by scripts/test): connect (code exchange + accounts), tokens
# sealed at rest (no token in the stored bytes; they open only with the key and only for their
# row), connections listed per user, another user's connection 404, bad bodies 400 JSON with
# nothing stored, refresh when the token expires and after a 401 (once, even for concurrent
# requests), the auth link to the bank's consent page (and the stand-in's consent redirect with
# a code that connects), invalid_grant -> 409 reauth_required and the connection's state, 429/5xx from
# the bank, the responder refusing to start in jwt mode without SMARTIMPORT_TOKEN_KEY, and no
# token or account number in any log.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
: "${DATABASE_URL:?DATABASE_URL is needed to look at the stored rows}"
if [[ -z ${SMARTIMPORT_TEST_TRUELAYER:-} ]]; then
  echo "SKIP: the TrueLayer stand-in is not running (SMARTIMPORT_TEST_TRUELAYER)"; exit 77
fi
STUB="$SMARTIMPORT_TEST_TRUELAYER"
BIN=./modules/bank/smartimport-truelayer-connect
OPEN=./tests/integration/open_token
U="$(cat /proc/sys/kernel/random/uuid)" OTHER="$(cat /proc/sys/kernel/random/uuid)"
TOK="$(fast_token "$U")" OTOK="$(fast_token "$OTHER")"
sql() { psql -X -q -t -A -v ON_ERROR_STOP=1 "$DATABASE_URL" -c "$1"; }
stub() { curl -fsS -X POST "$STUB/_stub/$1" -H 'Content-Type: application/json' -d "${2:-{\}}" >/dev/null; }
stat() { curl -fsS "$STUB/_stub/stats" | jq -r --arg k "$1" '.counts[$k] // 0'; }
reset_stub() { stub reset; }
at_exit reset_stub
reset_stub
# connect CODE [BEARER]: POST /api/truelayer/connect with a fresh redirect.
connect() {
  request POST /api/truelayer/connect -H "Authorization: Bearer ${2:-$TOK}" -H 'Content-Type: application/json' \
    -d "{\"code\":\"$1\",\"redirect_uri\":\"https://app.example/bank/callback\"}"
}
refresh() { request POST "/api/truelayer/connections/$1/refresh" -H "Authorization: Bearer ${2:-$TOK}" -H 'Content-Type: application/json' -d '{}'; }
conns() { sql "SELECT count(*) FROM truelayer_connections WHERE user_id = '$U'"; }
is_error() { is_json_ct && body_jq ".ok == false and .code == \"$1\" and (.error | type) == \"string\""; }
RUN="$(date +%s%N)"

# --- connect: the happy path ---------------------------------------------------------------------
connect "code-$RUN-1"
check "connect answers 201 JSON" test "$STATUS" = 201
check "with a connection id, the provider and state active" \
  body_jq '(.connection_id | test("^[0-9a-f-]{36}$")) and .provider == "ob-stub" and .state == "active"'
check "and the three accounts (one in BHD), not yet synced" \
  body_jq '(.accounts | length) == 3 and ([.accounts[].currency] | sort) == ["BHD","GBP","GBP"]
           and all(.accounts[]; .last_synced_at == null and (.account_id | startswith("stub-acc-")) and (.display_name | length) > 0)'
check "the answer holds no account number, IBAN or sort code" \
  test -z "$(grep -E 'iban|sort_code|(^|[^0-9A-Za-z._-])9911[0-9]{4}([^0-9A-Za-z._-]|$)|GB[0-9]{2}TLSB' "$T/body" || true)"
C1="$(jq -r .connection_id "$T/body")"
check "the code was exchanged with the client's credentials and the redirect_uri" \
  jqf '.last_token_request | .grant_type == "authorization_code" and .client_id == "stub-client"
       and .client_secret_matches and .redirect_uri == "https://app.example/bank/callback"' <(curl -fsS "$STUB/_stub/stats")
check "the connection row is the caller's, active, with its token expiry" \
  test "$(sql "SELECT user_id, state, provider, token_expires_at > now() + interval '50 minutes' FROM truelayer_connections WHERE id = '$C1'")" \
       = "$U|active|ob-stub|t"
check "its three accounts are stored with the caller's user_id" \
  test "$(sql "SELECT count(*) FROM truelayer_accounts WHERE connection_id = '$C1' AND user_id = '$U'")" = 3

# --- the auth link: the bank's consent page, and back with a code ------------------------------
RU="http://127.0.0.1:8080/?from=bank"
U3="$(cat /proc/sys/kernel/random/uuid)"; TOK3="$(fast_token "$U3")"   # its own user: U counts its connections below
request GET "/api/truelayer/auth-link?redirect_uri=$(jq -rn --arg v "$RU" '$v|@uri')" -H "Authorization: Bearer $TOK3"
check "auth-link answers 200 JSON" bash -c "[[ $STATUS == 200 ]] && jq -e '.ok == true' '$T/body' >/dev/null"
check "with a state of 32 random bytes in hex" body_jq '.state | test("^[0-9a-f]{64}$")'
LINK="$(jq -r .auth_url "$T/body")" STATE1="$(jq -r .state "$T/body")"
# q NAME: the link's query parameter NAME, URL-decoded.
q() { jq -rn --arg u "$LINK" --arg k "$1" '$u | capture("[?&]" + $k + "=(?<v>[^&]*)").v | @text' |
      sed 's/%20/ /g'; }
check "the link is TRUELAYER_AUTH_URL/? (the stand-in here)" test "${LINK%%\?*}" = "$STUB/"
check "... with response_type=code and the client id" test "$(q response_type) $(q client_id)" = "code stub-client"
check "... the redirect_uri URL-encoded (it comes back whole)" \
  bash -c "[[ '$LINK' == *'redirect_uri=http%3A%2F%2F127.0.0.1%3A8080%2F%3Ffrom%3Dbank&'* ]]"
check "... the scope TrueLayer's data access needs, spaces as %20" \
  bash -c "[[ '$LINK' == *'scope=info%20accounts%20balance%20cards%20transactions%20offline_access&'* ]]"
check "... the state and the providers" test "$(q state)|$(q providers)" = "$STATE1|uk-ob-all uk-oauth-all"
request GET "/api/truelayer/auth-link?redirect_uri=$(jq -rn --arg v "$RU" '$v|@uri')" -H "Authorization: Bearer $TOK3"
check "a second link has another state" bash -c "[[ $STATUS == 200 ]] && [[ \$(jq -r .state '$T/body') != '$STATE1' ]]"
loc="$(curl -sS -o /dev/null -w '%{http_code} %{redirect_url}' "$LINK")"
check "the stand-in's consent page sends the browser back: 302 to redirect_uri&code=&state=" \
  bash -c "[[ '$loc' == '302 http://127.0.0.1:8080/?from=bank&code=stubcode-'*'&state=$STATE1' ]]"
CODE="$(sed -E 's/.*[?&]code=([^&]*).*/\1/' <<<"$loc")"
request POST /api/truelayer/connect -H "Authorization: Bearer $TOK3" -H 'Content-Type: application/json' \
  -d "{\"code\":\"$CODE\",\"redirect_uri\":\"$RU\"}"
check "that code connects (201) with the same redirect_uri" test "$STATUS" = 201
check "... for the caller" test "$(sql "SELECT count(*) FROM truelayer_connections WHERE user_id = '$U3'")" = 1
check "the stand-in refuses a consent link with another client_id (400)" \
  test "$(curl -sS -o /dev/null -w '%{http_code}' "$STUB/?response_type=code&client_id=nobody&redirect_uri=http%3A%2F%2Fx%2F&state=s")" = 400
check "... or without a redirect_uri (400)" \
  test "$(curl -sS -o /dev/null -w '%{http_code}' "$STUB/?response_type=code&client_id=stub-client&state=s")" = 400
request GET /api/truelayer/auth-link -H "Authorization: Bearer $TOK3"
check "auth-link without redirect_uri: 400 missing_field" bash -c "[[ $STATUS == 400 ]] && jq -e '.ok == false and .code == \"missing_field\"' '$T/body' >/dev/null"
request GET "/api/truelayer/auth-link?redirect_uri=ftp%3A%2F%2Fx%2F" -H "Authorization: Bearer $TOK3"
check "a redirect_uri that is not http(s): 400 invalid_field" bash -c "[[ $STATUS == 400 ]] && jq -e '.code == \"invalid_field\"' '$T/body' >/dev/null"
request GET "/api/truelayer/auth-link?redirect_uri=http%3A%2F%2Fx%2F%0A" -H "Authorization: Bearer $TOK3"
check "one with a control character: 400 invalid_field" bash -c "[[ $STATUS == 400 ]] && jq -e '.code == \"invalid_field\"' '$T/body' >/dev/null"
request GET "/api/truelayer/auth-link?redirect_uri=http%3A%2F%2Fx%2F$(printf 'a%.0s' {1..2100})" -H "Authorization: Bearer $TOK3"
check "one over 2048 bytes: 400 invalid_field" bash -c "[[ $STATUS == 400 ]] && jq -e '.code == \"invalid_field\"' '$T/body' >/dev/null"
request GET "/api/truelayer/auth-link?redirect_uri=http%3A%2F%2Fx%2F"
check "auth-link without a token: 401" test "$STATUS" = 401
request POST "/api/truelayer/auth-link" -H "Authorization: Bearer $TOK3" -H 'Content-Type: application/json' -d '{}'
check "POST auth-link: 405" test "$STATUS" = 405

# --- tokens at rest --------------------------------------------------------------------------------
check "the stored access and refresh tokens are not in clear (no tlat_/tlrt_ in the bytes)" \
  test "$(sql "SELECT position('\\x746c61745f'::bytea in access_token_enc) = 0 AND position('\\x746c72745f'::bytea in refresh_token_enc) = 0
               AND length(access_token_enc) = 37 + 28 FROM truelayer_connections WHERE id = '$C1'")" = t
AHEX="$(sql "SELECT encode(access_token_enc, 'hex') FROM truelayer_connections WHERE id = '$C1'")"
ACCESS="$("$OPEN" "$AHEX" "$C1/$U/access" 2>/dev/null || true)"
check "they open with SMARTIMPORT_TOKEN_KEY for their own row" test "${ACCESS:0:5}" = tlat_
check "and the opened token is the one the bank issued (the stand-in accepts it)" \
  curl -fsS -o /dev/null -H "Authorization: Bearer $ACCESS" "$STUB/data/v1/accounts"
check "they do not open with another key" \
  test "$(SMARTIMPORT_TOKEN_KEY="$(openssl rand -hex 32)" "$OPEN" "$AHEX" "$C1/$U/access" >/dev/null 2>&1; echo $?)" = 1
check "nor for another row or user" test "$("$OPEN" "$AHEX" "$C1/$OTHER/access" >/dev/null 2>&1; echo $?)" = 1
check "nor as the refresh token" test "$("$OPEN" "$AHEX" "$C1/$U/refresh" >/dev/null 2>&1; echo $?)" = 1

# --- listing, and other users ------------------------------------------------------------------
request GET /api/truelayer/connections -H "Authorization: Bearer $TOK"
check "GET connections lists the caller's connection with its accounts" \
  body_jq ".ok and (.connections | length) == 1 and .connections[0].connection_id == \"$C1\"
           and .connections[0].state == \"active\" and (.connections[0].accounts | length) == 3"
request GET "/api/truelayer/connections/$C1" -H "Authorization: Bearer $TOK"
check "GET connections/{id} answers that connection" body_jq ".connection_id == \"$C1\" and (.accounts | length) == 3"
request GET /api/truelayer/connections -H "Authorization: Bearer $OTOK"
check "another user lists none of them" body_jq '.ok and .connections == []'
request GET "/api/truelayer/connections/$C1" -H "Authorization: Bearer $OTOK"
check "another user's connection is 404 not_found" test "$STATUS" = 404
check "... as JSON" is_error not_found
refresh "$C1" "$OTOK"
check "and refreshing it as another user is the same 404" test "$STATUS" = 404
request GET "/api/truelayer/connections/$(cat /proc/sys/kernel/random/uuid)" -H "Authorization: Bearer $TOK"
check "an unknown connection is the same 404" test "$STATUS" = 404
request GET /api/truelayer/connections/42 -H "Authorization: Bearer $TOK"
check "a non-UUID connection id is 400 invalid_id" test "$STATUS" = 400
check "... as JSON" is_error invalid_id
request GET /api/truelayer/connections
check "no bearer token: 401" test "$STATUS" = 401

# --- bad bodies: 400 JSON, nothing stored --------------------------------------------------------
before="$(conns)" token_calls="$(stat path:token)"
bad() {  # bad DESCRIPTION CODE BODY
  request POST /api/truelayer/connect -H "Authorization: Bearer $TOK" -H 'Content-Type: application/json' --data-binary "$3"
  check "$1: 400 $2" test "$STATUS" = 400
  check "$1: a JSON error" is_error "$2"
}
bad "no code" missing_field '{"redirect_uri":"https://app.example/cb"}'
bad "no redirect_uri" missing_field '{"code":"abc"}'
bad "a code that is not a string" invalid_field '{"code":42,"redirect_uri":"https://app.example/cb"}'
bad "an empty code" invalid_field '{"code":"","redirect_uri":"https://app.example/cb"}'
bad "a redirect_uri that is not http(s)" invalid_field '{"code":"abc","redirect_uri":"javascript:alert(1)"}'
bad "a code with a control character" invalid_field '{"code":"a\u0001b","redirect_uri":"https://app.example/cb"}'
bad "a body that is not JSON" invalid_json '{"code":'
check "none of them reached the bank" test "$(stat path:token)" = "$token_calls"
connect "code-$RUN-1"
check "a code used already is 400 invalid_grant" test "$STATUS" = 400
check "... as JSON" is_error invalid_grant
stub script '{"account_id":"*","status_5xx":5,"status":503}'
connect "code-$RUN-2"
check "the bank down while reading the accounts: 503 bank_unavailable" test "$STATUS" = 503
check "... as JSON" is_error bank_unavailable
stub reset
check "and none of the failed connects stored anything" test "$(conns)" = "$before"

# --- refresh when the token is about to expire --------------------------------------------------
stub script '{"token_ttl":30}'
connect "code-$RUN-3"
C2="$(jq -r .connection_id "$T/body")"
stub script '{"token_ttl":3600}'
r0="$(stat grant:refresh_token)" a0="$(sql "SELECT encode(access_token_enc, 'hex') FROM truelayer_connections WHERE id = '$C2'")"
refresh "$C2"
check "a token expiring within a minute is refreshed first: the call answers 200" test "$STATUS" = 200
check "... with one refresh grant" test "$(stat grant:refresh_token)" = $(( r0 + 1 ))
check "... and the new tokens stored (sealed again, expiring in an hour)" \
  test "$(sql "SELECT encode(access_token_enc, 'hex') <> '$a0' AND token_expires_at > now() + interval '50 minutes'
               AND position('\\x746c61745f'::bytea in access_token_enc) = 0 FROM truelayer_connections WHERE id = '$C2'")" = t
refresh "$C2"
check "a valid token is not refreshed again" test "$(stat grant:refresh_token)" = $(( r0 + 1 ))

# --- refresh after a 401 ---------------------------------------------------------------------------
stub script '{"expire_tokens":true}'
u0="$(stat status:401)"
refresh "$C2"
check "a 401 from the bank: one refresh and the call again, 200" test "$STATUS" = 200
check "... one 401 and one more refresh grant" test "$(stat status:401) $(stat grant:refresh_token)" = "$(( u0 + 1 )) $(( r0 + 2 ))"
stub script '{"expire_tokens":true}'
for i in 1 2 3 4; do
  curl -sS -o "$T/par$i" -w '%{http_code}\n' -X POST "$BASE/api/truelayer/connections/$C2/refresh" \
       -H "Authorization: Bearer $TOK" -H 'Content-Type: application/json' -d '{}' > "$T/par$i.status" &
done
wait
check "four requests that all meet the expired token all answer 200" \
  test "$(cat "$T"/par?.status | sort -u | tr -d '\n')" = 200
check "... with one refresh between them (the rotated refresh token is spent once)" \
  test "$(stat grant:refresh_token)" = $(( r0 + 3 ))
check "... and the connection stays active" test "$(sql "SELECT state FROM truelayer_connections WHERE id = '$C2'")" = active

# --- invalid_grant: re-consent needed --------------------------------------------------------------
stub script '{"expire_tokens":true,"refresh_invalid_grant":1}'
refresh "$C2"
check "a refresh answered invalid_grant is 409 reauth_required" test "$STATUS" = 409
check "... as JSON that says to connect again" \
  bash -c "jq -e '.ok == false and .code == \"reauth_required\" and (.error | test(\"connect\"))' '$T/body' >/dev/null"
check "... and the connection's state is reauth_required" \
  test "$(sql "SELECT state FROM truelayer_connections WHERE id = '$C2'")" = reauth_required
request GET "/api/truelayer/connections/$C2" -H "Authorization: Bearer $TOK"
check "GET shows the state" body_jq '.state == "reauth_required"'
t0="$(stat path:token)"
refresh "$C2"
check "later calls are 409 at once, without asking the bank" test "$STATUS $(stat path:token)" = "409 $t0"
request GET "/api/truelayer/connections/$C1" -H "Authorization: Bearer $TOK"
check "the user's other connection is untouched" body_jq '.state == "active"'

# --- the bank's pacing: 429 ----------------------------------------------------------------------------
stub script '{"account_id":"*","status_429":1,"retry_after":7}'
refresh "$C1"
check "a 429 from the bank is 429 rate_limited" test "$STATUS" = 429
check "... as JSON with the bank's Retry-After" bash -c "[[ \$(grep -i '^retry-after:' '$T/headers' | tr -dc 0-9) == 7 ]]"
check "... (not slept through: answered at once)" less_than "$TIME" 5
stub script '{"account_id":"*","status_5xx":1,"status":502}'
refresh "$C1"
check "one 5xx is retried by the client: 200" test "$STATUS" = 200
stub reset

# --- start-up: jwt mode without a token key -------------------------------------------------------
out="$(env -u SMARTIMPORT_TOKEN_KEY SMARTIMPORT_AUTH=jwt SMARTIMPORT_LISTEN="$T/connect.sock" \
        timeout 20 "$BIN" 2>&1)" && rc=0 || rc=$?
check "in jwt mode the responder refuses to start without SMARTIMPORT_TOKEN_KEY (exit 2)" test "$rc" = 2
check "... saying which setting is missing" grep -q SMARTIMPORT_TOKEN_KEY <<<"$out"
out="$(SMARTIMPORT_TOKEN_KEY=abcd SMARTIMPORT_AUTH=jwt SMARTIMPORT_LISTEN="$T/connect.sock" \
        timeout 20 "$BIN" 2>&1)" && rc=0 || rc=$?
check "a key that is not 64 hex digits stops it too, without quoting it" \
  bash -c "[[ $rc == 2 ]] && ! grep -q abcd <<<'$out'"

# --- logs ----------------------------------------------------------------------------------------------
if [[ -n ${SMARTIMPORT_TEST_VAR:-} ]]; then
  # Account numbers are 9911nnnn as a word of their own (request ids, timings and sizes may hold those digits).
  leaks="$(grep -rlE "${ACCESS:-tlat_none}|tl(at|rt)_[0-9a-f]{8}|(^|[^0-9A-Za-z._-])9911[0-9]{4}([^0-9A-Za-z._-]|$)|GB[0-9]{2}TLSB" \
             "$SMARTIMPORT_TEST_VAR/log" 2>/dev/null || true)"
  [[ -z $leaks ]] || echo "# in: $leaks"
  check "no log holds the access token, an account number or an IBAN" test -z "$leaks"
fi
finish

#!/usr/bin/env bash
# t0030-advice: prime-handoff, crystal-analyze-import and approve-import through nginx,
# with the fake model server (tests/fake-llm) in every mode: one handoff per import,
# stored advice reused, the rules fallback (500, hang, garbage, wrong keys) still a 200,
# a retried 429, budgets, a prompt with merchant names and no account numbers, the
# whole approval in one call (twice: nothing committed twice), 404 for other users'
# imports and handoffs, 409 for imports that are not committed.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
: "${DATABASE_URL:?DATABASE_URL is needed to look at the database}"
need_fake_llm
TOKEN_BIN=./modules/token/smartimport-token
USER_ID="$(cat /proc/sys/kernel/random/uuid)" OTHER_ID="$(cat /proc/sys/kernel/random/uuid)"
AUTH=(-H "Authorization: Bearer $("$TOKEN_BIN" "$USER_ID")")
OTHER=(-H "Authorization: Bearer $("$TOKEN_BIN" "$OTHER_ID")")
default_currency "$USER_ID" USD; default_currency "$OTHER_ID" USD
FN=/.netlify/functions
sql() { psql -X -q -t -A -v ON_ERROR_STOP=1 "$DATABASE_URL" -c "$1"; }
mode() { llm_mode "$1"; }
llm_count() { curl -fsS --max-time 5 "$LLM/_count"; }
ingest() {  # ingest FILE -> IMPORT
  request POST "$FN/ingest-statement?fileName=$(basename "$1")" "${AUTH[@]}" -H 'Content-Type: text/csv' \
    --data-binary @"$1"
  IMPORT="$(jq -r '.importId // empty' "$T/body")"
}
call() {  # call FUNCTION JSON [auth args...]
  local fn=$1 body=$2; shift 2
  if (( $# == 0 )); then set -- "${AUTH[@]}"; fi
  request POST "$FN/$fn" "$@" -H 'Content-Type: application/json' --data-binary "$body"
}
crystal() { call crystal-analyze-import "{\"userId\":\"$USER_ID\",\"handoffId\":\"$1\"${2:+,$2}}"; }
events() { sql "SELECT string_agg(event_type, ',' ORDER BY id) FROM import_events WHERE user_id = '$USER_ID' AND import_id = '$1' AND event_type NOT LIKE 'import:%'"; }
newest_advice() { sql "SELECT source || '/' || coalesce(fallback_reason, '-') FROM advice_messages WHERE user_id = '$USER_ID' AND handoff_id = '$1' ORDER BY id DESC LIMIT 1"; }
txns() { sql "SELECT count(*) FROM transactions WHERE user_id = '$USER_ID'"; }
mode good
GOOD_SUMMARY="$(jq -r .summary "$(dirname "$0")/../fake-llm/replies/good.json")"

# An earlier month (February) and the month under analysis (March), in USD.
printf '%s\n' 'Date,Description,Amount' '2024-02-03,TESCO STORES 1001,-100.00' '2024-02-10,TESCO STORES 1002,-100.00' \
  '2024-02-12,STARBUCKS 77,-50.00' '2024-02-20,ACME PAYROLL,2500.00' > "$T/feb.csv"
printf '%s\n' 'Date,Description,Amount' '2024-03-02,TESCO STORES 1003,-150.25' '2024-03-09,TESCO STORES 1004,-150.25' \
  '2024-03-16,WHOLE FOODS MARKET,-150.00' '2024-03-05,STARBUCKS 78,-20.00' '2024-03-07,UBER TRIP,-35.50' \
  '2024-03-15,TRANSFER TO 12345678,-500.00' '2024-03-20,ACME PAYROLL,2500.00' '2024-03-31,NETFLIX.COM,-15.99' > "$T/mar.csv"
ingest "$T/feb.csv"; FEB="$IMPORT"
call commit-import "{\"userId\":\"$USER_ID\",\"importId\":\"$FEB\"}"
check "February is committed (got $STATUS)" test "$STATUS" = 200
ingest "$T/mar.csv"; MAR="$IMPORT"
check "March is staged" test -n "$MAR"

# --- prime-handoff -------------------------------------------------------------------
call prime-handoff "{\"userId\":\"$USER_ID\",\"importId\":\"$MAR\"}"
check "prime-handoff on an import that is only parsed is 409 (got $STATUS)" test "$STATUS" = 409
check "  with the error shape" body_jq '.ok == false and .code == "import_not_committed"'
call commit-import "{\"userId\":\"$USER_ID\",\"importId\":\"$MAR\"}"
call prime-handoff "{\"userId\":\"$USER_ID\",\"importId\":\"$MAR\"}"
check "prime-handoff is 200 (got $STATUS)" test "$STATUS" = 200
check "it answers a handoff, Prime's message, 8 transactions and when they were imported" body_jq \
  '.ok and (.handoffId | test("^[0-9a-f-]{36}$")) and (.primeMessage | length > 20) and .transactionCount == 8
   and (.importedAt | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$"))'
HANDOFF="$(jq -r .handoffId "$T/body")" MESSAGE="$(jq -r .primeMessage "$T/body")"
check "the handoff row goes from prime-boss to crystal-analytics, pending" test \
  "$(sql "SELECT from_agent || '>' || to_agent || ':' || status || ':' || transaction_count FROM handoffs WHERE id = '$HANDOFF' AND user_id = '$USER_ID' AND import_id = '$MAR'")" \
  "=" "prime-boss>crystal-analytics:pending:8"
check "Prime's message is stored in chat_messages" test \
  "$(sql "SELECT count(*) FROM chat_messages WHERE user_id = '$USER_ID' AND handoff_id = '$HANDOFF' AND agent = 'prime-boss' AND role = 'assistant' AND content = \$m\$$MESSAGE\$m\$")" = 1
call prime-handoff "{\"userId\":\"$USER_ID\",\"importId\":\"$MAR\"}"
check "calling it again returns the same handoff" body_jq ".handoffId == \"$HANDOFF\" and .primeMessage == $(jq -Rn --arg m "$MESSAGE" '$m')"
check "  and adds no second handoff or message" test \
  "$(sql "SELECT (SELECT count(*) FROM handoffs WHERE user_id = '$USER_ID' AND import_id = '$MAR') || '/' || (SELECT count(*) FROM chat_messages WHERE user_id = '$USER_ID' AND import_id = '$MAR')")" = "1/1"
check "prime events were recorded once, in order" test "$(events "$MAR")" = "prime:handoff:initiated,prime:message"

# --- not yours, not there ---------------------------------------------------------------
call prime-handoff "{\"importId\":\"$MAR\"}" "${OTHER[@]}"
check "another user's import is 404 in prime-handoff (got $STATUS)" test "$STATUS" = 404
check "  and does not say it exists" body_jq '.ok == false and .code == "import_not_found"'
call crystal-analyze-import "{\"handoffId\":\"$HANDOFF\"}" "${OTHER[@]}"
check "another user's handoff is 404 in crystal (got $STATUS)" test "$STATUS" = 404
check "  with handoff_not_found" body_jq '.code == "handoff_not_found"'
crystal "$(cat /proc/sys/kernel/random/uuid)"
check "an unknown handoff is 404 (got $STATUS)" test "$STATUS" = 404
crystal "not-a-uuid"
check "a malformed handoffId is 400 (got $STATUS)" test "$STATUS" = 400

# --- crystal with a good model -----------------------------------------------------------------
n0="$(llm_count)"
crystal "$HANDOFF"
check "crystal-analyze-import is 200 (got $STATUS)" test "$STATUS" = 200
check "the words come from the model" body_jq ".source == \"llm\" and .summary == $(jq -Rn --arg s "$GOOD_SUMMARY" '$s') and (.budgetImpact | length > 0) and (.forecastDelta | length > 0) and .stored == false"
check "topCategories are display strings, largest spend first" body_jq \
  '.topCategories == ["Transfers: $500.00", "Groceries: $450.50", "Transport: $35.50", "Dining: $20.00", "Subscriptions: $15.99"]'
check "categories carry minor units, currency, share and month-over-month change" body_jq \
  '(.categories[] | select(.name == "Groceries")) == {"name":"Groceries","amountMinor":45050,"currency":"USD","share":44.1,"momChangePct":132.8}
   and (.categories[] | select(.name == "Dining")).momChangePct == -58.7
   and (.categories[] | select(.name == "Transfers")).momChangePct == null'
check "exactly one model request was made" test "$(llm_count)" = $(( n0 + 1 ))
check "the advice is stored" test "$(newest_advice "$HANDOFF")" = "llm/-"
check "the handoff is completed and the import analyzed" test \
  "$(sql "SELECT h.status || '/' || i.status FROM handoffs h JOIN imports i ON i.id = h.import_id WHERE h.id = '$HANDOFF' AND h.user_id = '$USER_ID'")" = "completed/analyzed"
check "crystal events were recorded" test "$(events "$MAR")" = \
  "prime:handoff:initiated,prime:message,crystal:analyze:start,crystal:analyze:complete,advisory:ready"
check "event payloads hold ids, counts and timings only" test \
  "$(sql "SELECT count(*) FROM import_events WHERE import_id = '$MAR' AND payload::text ~ '(TESCO|Groceries|12345678)'")" = 0

# --- what the model was told ----------------------------------------------------------------------
curl -fsS --max-time 5 "$LLM/_last" > "$T/prompt.json"
prompt_jq() { jq -e "$1" "$T/prompt.json" >/dev/null; }
check "the request is chat completions in JSON mode" prompt_jq \
  '.model == "gpt-4o-mini" and .response_format.type == "json_object" and (.messages | length) == 2'
# (merchants: the counterparty, which the merchant normaliser fills from the description when
# the file has none: "TESCO STORES 1003" is TESCO; modules/ingest/merchant.c)
check "the prompt names the merchants" grep -q 'TESCO' "$T/prompt.json"
check "  and WHOLE FOODS MARKET" grep -q 'WHOLE FOODS MARKET' "$T/prompt.json"
# (a transfer has no merchant: its description stands in, the account number masked to its last 4)
check "the transfer is in the prompt with its account number masked" \
  bash -c "grep -q 'TRANSFER TO \*\*\*\*5678' '$T/prompt.json' && ! grep -q '12345678' '$T/prompt.json'"
check "no run of 6 or more digits leaves the system" bash -c "! grep -Eq '[0-9]{6}' '$T/prompt.json'"
check "nor the user's id" bash -c "! grep -q '$USER_ID' '$T/prompt.json'"

# --- stored, forced, and the fallbacks ----------------------------------------------------------------
n0="$(llm_count)"
crystal "$HANDOFF"
check "asking again returns the stored advice" body_jq ".stored == true and .source == \"llm\" and .summary == $(jq -Rn --arg s "$GOOD_SUMMARY" '$s')"
check "  without asking the model" test "$(llm_count)" = "$n0"

mode 500
crystal "$HANDOFF" '"force":true'
check "force with a model answering 500 is still 200 (got $STATUS)" test "$STATUS" = 200
check "  from the rules" body_jq '.source == "rules" and .stored == false and (.summary | startswith("You spent $1,021.99 across 7 transactions between Mar 2 and Mar 31, 2024."))'
check "  after one retry" test "$(llm_count)" = $(( n0 + 2 ))
check "  and stored with its reason" test "$(newest_advice "$HANDOFF")" = "rules/http_500"

mode hang; n0="$(llm_count)"
crystal "$HANDOFF" '"force":true'
check "a model that hangs: rules, 200 (got $STATUS)" body_jq '.source == "rules"'
check "  within the timeout plus slack (${TIME}s)" less_than "$TIME" 4
check "  a timeout is not retried" test "$(llm_count)" = $(( n0 + 1 ))
check "  reason timeout" test "$(newest_advice "$HANDOFF")" = "rules/timeout"

mode garbage
crystal "$HANDOFF" '"force":true'
check "a model answering garbage: rules, 200 (got $STATUS)" body_jq '.source == "rules"'
check "  reason bad_envelope" test "$(newest_advice "$HANDOFF")" = "rules/bad_envelope"

mode wrong-keys
crystal "$HANDOFF" '"force":true'
check "a model answering the wrong keys: rules, 200 (got $STATUS)" body_jq '.source == "rules"'
check "  reason wrong_keys" test "$(newest_advice "$HANDOFF")" = "rules/wrong_keys"

mode 429-then-good; n0="$(llm_count)"
crystal "$HANDOFF" '"force":true'
check "a 429 is retried once and then the model answers" body_jq '.source == "llm"'
check "  two requests" test "$(llm_count)" = $(( n0 + 2 ))
mode good

sql "INSERT INTO budgets (user_id, category, amount_minor, currency) VALUES ('$USER_ID', 'Groceries', 40000, 'USD')" >/dev/null
mode 500
crystal "$HANDOFF" '"force":true'
check "with a budget the rules speak of it" body_jq \
  '.budgetImpact | startswith("At this pace Groceries would reach $465.52 a month against its $400.00 budget ($65.52 over)")'
mode good
check "every analysis was stored" test "$(sql "SELECT count(*) FROM advice_messages WHERE user_id = '$USER_ID' AND handoff_id = '$HANDOFF'")" = 7
if [[ -n ${SMARTIMPORT_TEST_VAR:-} ]]; then
  check "the fallback is logged as a warning with its reason code" bash -c \
    "grep -h '\"model not used' '$SMARTIMPORT_TEST_VAR/log/crystal-analyze-import.log' | grep -q '\"reason\":\"http_500\"'"
  check "  and the log never holds the prompt" bash -c "! grep -q 'TESCO' '$SMARTIMPORT_TEST_VAR/log/crystal-analyze-import.log'"
fi

# --- approve-import ----------------------------------------------------------------------------------------
printf '%s\n' 'Date,Description,Amount' '2024-04-02,TESCO STORES 1005,-80.00' '2024-04-03,LIDL 12,-25.10' \
  '2024-04-08,SHELL OIL 4411,-60.00' '2024-04-12,SPOTIFY,-9.99' '2024-04-20,ACME PAYROLL,2500.00' > "$T/apr.csv"
ingest "$T/apr.csv"; APR="$IMPORT"
before="$(txns)" n0="$(llm_count)"
call approve-import "{\"userId\":\"$USER_ID\",\"importId\":\"$APR\"}"
check "approve-import is 200 (got $STATUS)" test "$STATUS" = 200
check "it commits, hands off and analyses in one call" body_jq \
  ".ok and .importId == \"$APR\" and .committed == 5 and (.handoffId | length) == 36 and .source == \"llm\"
   and (.summary | length > 0) and (.budgetImpact | length > 0) and (.forecastDelta | length > 0)
   and .topCategories[0] == \"Groceries: \$105.10\" and (.timestamp | test(\"^[0-9-]{10}T[0-9:.]{12}Z$\"))"
check "with the timings of each step" body_jq \
  '.timings | (.commitMs | type) == "number" and (.primeMs | type) == "number" and (.crystalMs | type) == "number"
   and .totalMs >= .commitMs + .primeMs and .totalMs >= .crystalMs'
APPROVED_HANDOFF="$(jq -r .handoffId "$T/body")"
check "5 transactions were added" test "$(txns)" = $(( before + 5 ))
check "the import is analyzed" test "$(sql "SELECT status FROM imports WHERE id = '$APR'")" = analyzed
check "the whole chain's events" test "$(sql "SELECT string_agg(event_type, ',' ORDER BY id) FROM import_events WHERE import_id = '$APR' AND event_type !~ '^import:(upload|parse)'")" = \
  "import:commit:start,import:commit:complete,prime:handoff:initiated,prime:message,crystal:analyze:start,crystal:analyze:complete,advisory:ready"
call approve-import "{\"userId\":\"$USER_ID\",\"importId\":\"$APR\"}"
check "approving again is 200 (got $STATUS)" test "$STATUS" = 200
check "  reports the original committed count and the same handoff" body_jq ".committed == 5 and .handoffId == \"$APPROVED_HANDOFF\""
check "  commits nothing twice" test "$(txns)" = $(( before + 5 ))
check "  and does not ask the model again" test "$(llm_count)" = $(( n0 + 1 ))

# --- 6 concurrent approvals of one import --------------------------------------------------------------------
printf 'Date,Description,Amount\n' > "$T/may.csv"
for i in $(seq 1 30); do printf '2024-05-%02d,MAY SHOP %d,-%d.25\n' $(( i % 28 + 1 )) "$i" "$i" >> "$T/may.csv"; done
ingest "$T/may.csv"; MAY="$IMPORT" before="$(txns)"
for i in $(seq 1 6); do
  curl -sS -o "$T/a$i.json" -w '%{http_code}\n' "${AUTH[@]}" -H 'Content-Type: application/json' --max-time 20 \
    --data-binary "{\"importId\":\"$MAY\"}" "$BASE$FN/approve-import" > "$T/a$i.status" &
done
wait
check "6 concurrent approvals all answer 200" test "$(cat "$T"/a[1-6].status | sort -u)" = 200
check "  all with committed 30 and one handoff" test \
  "$(jq -s '[.[] | select(.committed == 30)] | length' "$T"/a[1-6].json)/$(jq -r .handoffId "$T"/a[1-6].json | sort -u | wc -l)" = "6/1"
check "  the 30 rows exist once" test "$(txns)" = $(( before + 30 ))
check "  one handoff, one message, one stored advice" test \
  "$(sql "SELECT (SELECT count(*) FROM handoffs WHERE import_id = '$MAY') || '/' || (SELECT count(*) FROM chat_messages WHERE import_id = '$MAY') || '/' || (SELECT count(*) FROM advice_messages WHERE import_id = '$MAY')")" = "1/1/1"

call approve-import "{\"importId\":\"$APR\"}" "${OTHER[@]}"
check "approving another user's import is 404 (got $STATUS)" test "$STATUS" = 404
check "  at the commit stage, without saying it exists" body_jq \
  '.ok == false and .stage == "commit" and .code == "import_not_found" and (.recoverySteps | length) > 0'
call revert-import "{\"userId\":\"$USER_ID\",\"importId\":\"$APR\"}"
call approve-import "{\"userId\":\"$USER_ID\",\"importId\":\"$APR\"}"
check "approving a reverted import is 409 (got $STATUS)" test "$STATUS" = 409
check "  with the commit stage's message and recovery steps" body_jq \
  '.ok == false and .stage == "commit" and .code == "import_not_parsed" and .message == "Failed to commit transactions. Data remains in staging." and (.recoverySteps | type) == "array"'
crystal "$APPROVED_HANDOFF" '"force":true'
check "crystal on a reverted import's handoff is 409 (got $STATUS)" test "$STATUS" = 409
finish

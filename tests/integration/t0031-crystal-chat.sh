#!/usr/bin/env bash
# t0031-crystal-chat: Chat with Crystal (crystal-chat) through nginx with the fake model
# server: the conversation of an analysed import (Prime's acknowledgement first), a question
# and the model's answer stored together, the earlier turns sent with the next question and
# every account number masked before it leaves, a model failure that stores nothing (502),
# 409 before Crystal analysed the import, 404 for another user's handoff, and bad questions
# refused with nothing stored.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
: "${DATABASE_URL:?DATABASE_URL is needed to look at the database}"
need_fake_llm
USER_ID="$(cat /proc/sys/kernel/random/uuid)" OTHER_ID="$(cat /proc/sys/kernel/random/uuid)"
AUTH=(-H "Authorization: Bearer $(fast_token "$USER_ID")")
OTHER=(-H "Authorization: Bearer $(fast_token "$OTHER_ID")")
default_currency "$USER_ID" USD
FN=/.netlify/functions
CHAT_REPLY="$(cat "$(dirname "$0")/../fake-llm/replies/chat.txt")"
sql() { psql -X -q -t -A -v ON_ERROR_STOP=1 "$DATABASE_URL" -c "$1"; }
mode() { llm_mode "$1"; }
call() {  # call FUNCTION JSON [auth args...]
  local fn=$1 body=$2; shift 2
  if (( $# == 0 )); then set -- "${AUTH[@]}"; fi
  request POST "$FN/$fn" "$@" -H 'Content-Type: application/json' --data-binary "$body"
}
ask() { call crystal-chat "{\"handoffId\":\"$1\",\"message\":$(jq -Rn --arg q "$2" '$q')}" "${@:3}"; }
stored() { sql "SELECT count(*) FROM chat_messages WHERE user_id = '$USER_ID' AND handoff_id = '$HANDOFF'"; }
mode good

printf '%s\n' 'Date,Description,Amount' '2024-03-02,TESCO STORES 1003,-150.25' '2024-03-16,WHOLE FOODS MARKET,-150.00' \
  '2024-03-20,ACME PAYROLL,2500.00' > "$T/mar.csv"
request POST "$FN/ingest-statement?fileName=mar.csv" "${AUTH[@]}" -H 'Content-Type: text/csv' --data-binary @"$T/mar.csv"
IMPORT="$(jq -r '.importId // empty' "$T/body")"
call commit-import "{\"importId\":\"$IMPORT\"}"
call prime-handoff "{\"importId\":\"$IMPORT\"}"
HANDOFF="$(jq -r '.handoffId // empty' "$T/body")"
check "set-up: a committed import handed to Crystal" test -n "$HANDOFF"

# --- before Crystal's analysis ----------------------------------------------------------
ask "$HANDOFF" "Where did my money go?"
check "a question before Crystal analysed the import is 409 not_analyzed (got $STATUS)" \
  bash -c "[[ $STATUS == 409 ]] && jq -e '.code == \"not_analyzed\"' '$T/body' >/dev/null"
request GET "$FN/crystal-chat?handoffId=$HANDOFF" "${AUTH[@]}"
check "the conversation so far is Prime's acknowledgement (GET 200, analyzed false)" body_jq \
  '.ok and .analyzed == false and (.messages | length) == 1 and .messages[0].agent == "prime-boss" and .messages[0].role == "assistant"'

call crystal-analyze-import "{\"handoffId\":\"$HANDOFF\"}"
check "set-up: Crystal analysed it (got $STATUS)" test "$STATUS" = 200

# --- a question and its answer ----------------------------------------------------------
before="$(curl -fsS --max-time 5 "$LLM/_count")"
ask "$HANDOFF" "Why is groceries so high? My card is 4111 1111 1111 1111."
check "a question is answered (200, source llm) (got $STATUS)" body_jq '.ok and .source == "llm"'
check "the answer is the model's words" jq -e --arg r "$CHAT_REPLY" '.reply.content == $r and .reply.role == "assistant" and .reply.agent == "crystal-analytics"' "$T/body"
check "the question is returned as stored" body_jq '.message.role == "user" and (.message.content | startswith("Why is groceries"))'
check "the model was asked once" test "$(curl -fsS --max-time 5 "$LLM/_count")" = $(( before + 1 ))
curl -fsS --max-time 5 "$LLM/_last" > "$T/prompt.json"
check "the request starts with Crystal's chat system message and her analysis" jq -e \
  '.messages[0].role == "system" and (.messages[0].content | startswith("You are Crystal, chatting")) and (.messages[0].content | contains("summary"))' "$T/prompt.json"
check "the card number is masked before it leaves (only its last 4 digits)" bash -c \
  "! grep -q '4111 1111 1111 1111' '$T/prompt.json' && grep -q '1111\.' '$T/prompt.json' && ! grep -Eq '[0-9]{4} [0-9]{4} [0-9]{4}' '$T/prompt.json'"
check "two messages more are stored (Prime's + question + answer = 3)" test "$(stored)" = 3

ask "$HANDOFF" "And next month?"
curl -fsS --max-time 5 "$LLM/_last" > "$T/prompt2.json"
check "the next question carries the earlier turn (system, user, assistant, user)" jq -e \
  '[.messages[].role] == ["system", "user", "assistant", "user"] and .messages[3].content == "And next month?"' "$T/prompt2.json"
request GET "$FN/crystal-chat?handoffId=$HANDOFF" "${AUTH[@]}"
check "the conversation reads back in order (Prime, question, answer, question, answer)" body_jq \
  '.analyzed and ([.messages[].role] == ["assistant", "user", "assistant", "user", "assistant"]) and (.messages | map(.id) | . == sort)'

# --- failures store nothing -------------------------------------------------------------
mode 500
ask "$HANDOFF" "Is that a lot?"
check "a model that fails is 502 model_unavailable, in words (got $STATUS)" body_jq '.code == "model_unavailable" and (.error | test("ask again"))'
check "  and nothing is stored" test "$(stored)" = 5
mode good
ask "$HANDOFF" ""
check "an empty question is 400 (got $STATUS)" test "$STATUS" = 400
ask "$HANDOFF" "$(head -c 2001 /dev/zero | tr '\0' a)"
check "a question over 2000 bytes is 400 message_too_long (got $STATUS)" body_jq '.code == "message_too_long"'
call crystal-chat "{\"handoffId\":\"$HANDOFF\",\"message\":\"bell\\u0007\"}"
check "a control character is 400 (got $STATUS)" test "$STATUS" = 400
call crystal-chat "{\"handoffId\":\"not-a-uuid\",\"message\":\"hi\"}"
check "a malformed handoffId is 400 (got $STATUS)" test "$STATUS" = 400
check "  none of them stored anything" test "$(stored)" = 5

# --- the conversation's limit: 50 questions -------------------------------------------------
sql "INSERT INTO chat_messages (user_id, handoff_id, import_id, agent, role, content)
     SELECT '$USER_ID', '$HANDOFF', '$IMPORT', 'user', 'user', 'filler ' || g FROM generate_series(1, 48) g" >/dev/null
ask "$HANDOFF" "One more?"
check "the 51st question is 409 conversation_full (got $STATUS)" body_jq '.code == "conversation_full"'
check "  and nothing is stored" test "$(stored)" = 53
ask "$HANDOFF" "   "
check "a question of blanks only is 400 missing_message (got $STATUS)" body_jq '.code == "missing_message"'

# --- another user -------------------------------------------------------------------------
ask "$HANDOFF" "Whose is this?" "${OTHER[@]}"
check "another user's handoff is 404 handoff_not_found (got $STATUS)" body_jq '.code == "handoff_not_found"'
request GET "$FN/crystal-chat?handoffId=$HANDOFF" "${OTHER[@]}"
check "  and its conversation too (got $STATUS)" test "$STATUS" = 404
request GET "$FN/crystal-chat?handoffId=$HANDOFF"
check "without a token: 401 JSON (got $STATUS)" bash -c "[[ $STATUS == 401 ]]"
check "the chat is stored for its owner only" test "$(sql "SELECT count(*) FROM chat_messages WHERE user_id = '$OTHER_ID'")" = 0
finish

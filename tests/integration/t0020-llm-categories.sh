#!/usr/bin/env bash
# t0020-llm-categories: the merchants the keyword rules leave "Other" are asked of the model
# (tests/fake-llm answers categories requests from replies/categories.tsv) in one request per
# import, digits masked; the answer is validated (an unknown category and a merchant nobody
# asked for are ignored); the answers are cached per user, so a second import of the same
# merchants asks nothing while another user's import asks again; the categories reach the
# preview, staging and, after commit, the ledger; a model that fails, hangs or answers the
# wrong shape leaves the deterministic categories and a warning, never a failed import; the
# log holds counts and codes, no merchant.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
: "${DATABASE_URL:?DATABASE_URL is needed to look at the database}"
need_fake_llm
TOKEN_BIN=./modules/token/smartimport-token
U="$(cat /proc/sys/kernel/random/uuid)" V="$(cat /proc/sys/kernel/random/uuid)"
AUTH_U=(-H "Authorization: Bearer $("$TOKEN_BIN" "$U")")
AUTH_V=(-H "Authorization: Bearer $("$TOKEN_BIN" "$V")")
FN=/.netlify/functions
sql() { psql -X -q -t -A -v ON_ERROR_STOP=1 "$DATABASE_URL" -c "$1"; }
mode() { llm_mode "$1"; }
asked() { curl -fsS --max-time 5 "$LLM/_count?kind=categories"; }
at_exit restore_mode
restore_mode() { mode good; }
ingest() {  # ingest FILE AUTH... -> IMPORT (the answer in $T/body)
  local file=$1; shift
  request POST "$FN/ingest-statement?fileName=$(basename "$file")&currency=USD" "$@" -H 'Content-Type: text/csv' \
    --data-binary @"$file"
  IMPORT="$(jq -r '.importId // empty' "$T/body")"
}
# category DESCRIPTION-PREFIX: the categories of the preview's rows whose description starts so
category() { jq -r --arg d "$1" '[.preview[] | select(.description | startswith($d)) | .category] | unique | join(",")' "$T/body"; }
cache() { sql "SELECT coalesce(string_agg(merchant || '=' || category, ';' ORDER BY merchant), '') FROM merchant_category_cache WHERE user_id = '$1'"; }
model_warning() { jq -e --arg r "$1" '[.warnings[] | select(.line == 0 and (.message | contains("category model did not answer (" + $r + ")")))] | length == 1' "$T/body" >/dev/null; }
LOG="${SMARTIMPORT_TEST_VAR:-}/log/ingest-statement.log"

mode good
printf '%s\n' 'Date,Description,Amount' \
  '2024-03-01,ZORBLAX KNURFEL 4711 BERLIN,-4.50' \
  '2024-03-02,ZORBLAX KNURFEL 4712 BERLIN,-3.20' \
  '2024-03-03,QUUXLEY PET SPA,-60.00' \
  '2024-03-04,FNORD YACHTS,-999.00' \
  '2024-03-05,TESCO STORES 1003,-20.00' \
  '2024-03-06,CARD 4929123456781234 BLORPTON VESK,-80.00' \
  '2024-03-07,WIBBLEFROB,-12.00' > "$T/a.csv"

# --- one request for the import -------------------------------------------------------------------
n0="$(asked)"
ingest "$T/a.csv" "${AUTH_U[@]}"
A="$IMPORT"
check "the import is staged (got $STATUS)" test "$STATUS" = 200
check "exactly one categories request was sent for it" test "$(asked)" = $(( n0 + 1 ))
check "the model's categories are in the preview" test \
  "$(category ZORBLAX)|$(category QUUXLEY)|$(category 'CARD 4929')" = "Dining|Shopping|Health"
check "an answer that is not a category is ignored: the row stays Other" test "$(category FNORD)" = Other
check "a merchant the model does not know stays Other" test "$(category WIBBLEFROB)" = Other
check "the keyword rules still decide first" test "$(category TESCO)" = Groceries
check "  and no warning is given" body_jq '[.warnings[] | select(.message | contains("category model"))] | length == 0'
check "the staged rows carry the categories (both ZORBLAX rows)" test \
  "$(sql "SELECT string_agg(category, ',' ORDER BY row_no) FROM transactions_staging WHERE import_id = '$A' AND user_id = '$U' AND description LIKE 'ZORBLAX%'")" = "Dining,Dining"

# --- what the model was told ---------------------------------------------------------------------------
curl -fsS --max-time 5 "$LLM/_last?kind=categories" > "$T/prompt.json"
jq -r '.messages[1].content' "$T/prompt.json" > "$T/user.json"
echo "# merchants asked: $(jq -c .merchants "$T/user.json")"
check "the request is chat completions in JSON mode" \
  jqf '.response_format.type == "json_object" and (.messages | length) == 2 and .messages[0].role == "system"' "$T/prompt.json"
check "it asked each merchant the rules did not know, once, lower case" \
  jqf '(.merchants | sort) == ["blorpton vesk", "fnord yachts", "quuxley pet spa", "wibblefrob", "zorblax knurfel"]' "$T/user.json"
check "  and not the one they knew" bash -c "! grep -qi tesco '$T/prompt.json'"
check "it listed the categories, Other among them" jqf '(.categories | index("Dining")) != null and (.categories | index("Other")) != null' "$T/user.json"
check "no run of 6 or more digits left (the card number is not there)" bash -c \
  "! grep -Eq '[0-9]{6}' '$T/prompt.json' && ! grep -q '5678' '$T/prompt.json'"
check "nor the user's id or the import's" bash -c "! grep -q '$U' '$T/prompt.json' && ! grep -q '$A' '$T/prompt.json'"

# --- the cache ------------------------------------------------------------------------------------------
echo "# cached: $(cache "$U")"
check "the valid answers are cached for the user (Other included), the invalid one and the unasked one not" test \
  "$(cache "$U")" = "blorpton vesk=Health;quuxley pet spa=Shopping;wibblefrob=Other;zorblax knurfel=Dining"
printf '%s\n' 'Date,Description,Amount' \
  '2024-04-01,ZORBLAX KNURFEL 4799 BERLIN,-5.00' \
  '2024-04-02,QUUXLEY PET SPA,-61.00' \
  '2024-04-03,WIBBLEFROB,-13.00' > "$T/b.csv"
n0="$(asked)"
ingest "$T/b.csv" "${AUTH_U[@]}"
B="$IMPORT"
check "a second import of known merchants is staged (got $STATUS)" test "$STATUS" = 200
check "  without asking the model" test "$(asked)" = "$n0"
check "  with the cached categories" test "$(category ZORBLAX)|$(category QUUXLEY)|$(category WIBBLEFROB)" = "Dining|Shopping|Other"

request POST "$FN/commit-import" "${AUTH_U[@]}" -H 'Content-Type: application/json' --data-binary "{\"importId\":\"$B\"}"
check "committing it works (got $STATUS)" test "$STATUS" = 200
check "the ledger holds the model's categories" test \
  "$(sql "SELECT string_agg(category, ',' ORDER BY tx_date) FROM transactions WHERE user_id = '$U' AND import_id = '$B'")" = "Dining,Shopping,Other"

n0="$(asked)"
ingest "$T/a.csv" "${AUTH_V[@]}"
check "another user's import of the same merchants asks once again (the cache is per user)" test "$(asked)" = $(( n0 + 1 ))
check "  and gets the answers" test "$(category ZORBLAX)|$(category QUUXLEY)" = "Dining|Shopping"
check "  and its own cache rows" test "$(sql "SELECT count(*) FROM merchant_category_cache WHERE user_id = '$V'")" = 4

# --- a model that fails ------------------------------------------------------------------------------------
printf '%s\n' 'Date,Description,Amount' '2024-05-01,GLIMMERWICK CANDLES,-15.00' '2024-05-02,ZORBLAX KNURFEL,-2.00' > "$T/c.csv"
mode 500; n0="$(asked)"
ingest "$T/c.csv" "${AUTH_U[@]}"
C="$IMPORT"
check "a model answering 500: the import is still staged (got $STATUS)" test "$STATUS" = 200
check "  the rules' answer stays, the cached one still applies" test "$(category GLIMMERWICK)|$(category ZORBLAX)" = "Other|Dining"
check "  with a warning (line 0) naming the reason" model_warning http_500
check "  stored with the import too" test \
  "$(sql "SELECT count(*) FROM imports, jsonb_array_elements(warnings) w WHERE id = '$C' AND user_id = '$U' AND w->>'message' LIKE '%category model did not answer (http_500)%'")" = 1
check "  after one request (retried once)" test "$(asked)" = $(( n0 + 2 ))
check "  nothing cached for the merchant" test "$(sql "SELECT count(*) FROM merchant_category_cache WHERE user_id = '$U' AND merchant LIKE 'glimmerwick%'")" = 0

printf '%s\n' 'Date,Description,Amount' '2024-05-03,GLIMMERWICK CANDLES,-16.00' > "$T/d.csv"
mode wrong-keys
ingest "$T/d.csv" "${AUTH_U[@]}"
check "a model answering another shape: staged (got $STATUS), Other, warning no_answers" \
  bash -c "[[ $STATUS == 200 && '$(category GLIMMERWICK)' == Other ]]"
check "  warning no_answers" model_warning no_answers

printf '%s\n' 'Date,Description,Amount' '2024-05-04,GLIMMERWICK CANDLES,-17.00' > "$T/e.csv"
mode hang
MAX_TIME=30 ingest "$T/e.csv" "${AUTH_U[@]}"
check "a model that hangs: staged (got $STATUS) within the 5 s timeout plus slack (${TIME}s)" \
  bash -c "[[ $STATUS == 200 ]] && awk -v t='$TIME' 'BEGIN { exit !(t < 9) }'"
check "  Other, with the warning timeout" bash -c "[[ '$(category GLIMMERWICK)' == Other ]]"
check "  warning timeout" model_warning timeout
mode good

printf '%s\n' 'Date,Description,Amount' '2024-05-05,GLIMMERWICK CANDLES,-18.00' > "$T/f.csv"
n0="$(asked)"
ingest "$T/f.csv" "${AUTH_U[@]}"
check "once the model is back, the merchant is asked and answered" test "$(asked)|$(category GLIMMERWICK)" = "$(( n0 + 1 ))|Shopping"

# --- the log ----------------------------------------------------------------------------------------------
if [[ -n ${SMARTIMPORT_TEST_VAR:-} && -f $LOG ]]; then
  echo "# log: $(jq -cR --arg a "$A" 'fromjson? | select(.msg == "merchant categories" and .importId == $a)' "$LOG")"
  check "the log counts what was asked and answered" test \
    "$(jq -rR --arg a "$A" 'fromjson? | select(.msg == "merchant categories" and .importId == $a) | "\(.asked)/\(.answered)/\(.fromCache)"' "$LOG")" = 5/4/0
  check "the model's failure is a warning with its reason code" bash -c \
    "grep 'the model was not used' '$LOG' | grep -q '\"reason\":\"http_500\"'"
  check "the log holds no merchant" bash -c "! grep -Eqi 'zorblax|quuxley|glimmerwick|blorpton' '$LOG'"
fi
finish

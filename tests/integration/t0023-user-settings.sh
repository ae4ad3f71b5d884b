#!/usr/bin/env bash
# t0023-user-settings: a user's own defaults (user-settings, sql/0022) and how ingest uses
# them (issue 15): GET/PUT/PATCH and their 400s; the currency of a file that names none
# comes from the request, else the account's earlier imports, else the user's default, else
# the deployment's (not set in this stack), else it is a 422 that changes nothing; the
# day/month order of a file whose dates fit both ways follows the user's locale, and the
# warning says whether the locale decided or the order was guessed.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
: "${DATABASE_URL:?DATABASE_URL is needed to look at the database}"
FN=/.netlify/functions/ingest-statement SET=/.netlify/functions/user-settings
USER_ID="$(cat /proc/sys/kernel/random/uuid)" OTHER="$(cat /proc/sys/kernel/random/uuid)"
AUTH=(-H "Authorization: Bearer $(fast_token "$USER_ID")")
OAUTH=(-H "Authorization: Bearer $(fast_token "$OTHER")")
sql() { psql -X -q -t -A -v ON_ERROR_STOP=1 "$DATABASE_URL" -c "$1"; }
counts() { sql "SELECT (SELECT count(*) FROM imports WHERE user_id = '$USER_ID') || '/' || (SELECT count(*) FROM transactions_staging WHERE user_id = '$USER_ID')"; }
csv() { request POST "$FN?fileName=$1" "${AUTH[@]}" -H 'Content-Type: text/csv' "${@:3}" --data-binary "$2"; }
put() { request PUT "$SET" "${AUTH[@]}" -H 'Content-Type: application/json' --data "$1"; }

# --- the settings themselves ---------------------------------------------------------------
request GET "$SET" "${AUTH[@]}"
check "a new user's settings are all null (got $STATUS)" body_jq \
  '.ok == true and .defaultCurrency == null and .locale == null and .dateOrder == null'
put '{"defaultCurrency":"EUR","locale":"de_de"}'
check "PUT sets both; the locale is stored canonical (got $STATUS)" body_jq \
  '.defaultCurrency == "EUR" and .locale == "de-DE" and .dateOrder == "day_first" and (.updatedAt | test("Z$"))'
request PATCH "$SET" "${AUTH[@]}" -H 'Content-Type: application/json' --data '{"locale":"en-US"}'
check "PATCH of one key keeps the other" body_jq '.defaultCurrency == "EUR" and .locale == "en-US" and .dateOrder == "month_first"'
request GET "$SET" "${OAUTH[@]}"
check "another user sees only their own (none)" body_jq '.defaultCurrency == null and .locale == null'
for bad in '{"defaultCurrency":"eur"}' '{"defaultCurrency":"EURO"}' '{"locale":"english"}' '{"locale":"en-US-x"}' \
           '{"locale":7}' '{"theme":"dark"}' '{}' '[1]'; do
  put "$bad"
  check "PUT $bad is a 400 JSON error (got $STATUS)" body_jq '.ok == false and (.code == "bad_field" or .code == "bad_body" or .code == "invalid_json")'
done
check "the bad PUTs changed nothing" test "$(sql "SELECT default_currency || ' ' || locale FROM user_settings WHERE user_id = '$USER_ID'")" = "EUR en-US"
request DELETE "$SET" "${AUTH[@]}"
check "DELETE is not a method of user-settings (got $STATUS)" test "$STATUS" = 405
request GET "$SET"
check "no token: 401" test "$STATUS" = 401

# --- the currency of a file that names none ------------------------------------------------
put '{"defaultCurrency":null}'
check "defaultCurrency null clears it" body_jq '.defaultCurrency == null and .locale == "en-US"'
before="$(counts)"
csv none1.csv $'Date,Description,Amount\n2024-08-01,Corner shop,-3.20\n'
check "no currency anywhere (no request, account, user or service default): 422 (got $STATUS)" test "$STATUS" = 422
check "… currency_required, asking for it" body_jq '.code == "currency_required" and (.error | test("send currency"))'
check "… and nothing was staged or recorded" test "$(counts)" = "$before"
csv none1.csv $'Date,Description,Amount\n2024-08-01,Corner shop,-3.20\n' -H 'X-Account-Id: ACC-7'
check "an account with no history does not help: 422" test "$STATUS" = 422
csv named.csv $'Date,Description,Amount,Currency\n2024-08-01,Corner shop,-3.20,CHF\n'
check "a file that names its currency needs no default (got $STATUS)" body_jq '.totals.currency == "CHF" and has("currencyAssumed") == false'

# the account's currency: from the user's last committed import of that account
csv 'acct-gbp.csv&currency=GBP' $'Date,Description,Amount\n2024-08-02,Tea,-2.10\n' -H 'X-Account-Id: ACC-7'
check "an upload with currency GBP for account ACC-7 (got $STATUS)" body_jq '.currencyAssumed.reason == "request" and .totals.currency == "GBP"'
IMPORT="$(jq -r .importId "$T/body")"
request POST /.netlify/functions/commit-import "${AUTH[@]}" -H 'Content-Type: application/json' \
  --data "{\"userId\":\"$USER_ID\",\"importId\":\"$IMPORT\"}"
check "it is committed (got $STATUS)" test "$STATUS" = 200
csv acct2.csv $'Date,Description,Amount\n2024-08-03,Scones,-3.40\n' -H 'X-Account-Id: ACC-7'
check "the next file of ACC-7 without a currency is read in the account's GBP (got $STATUS)" body_jq \
  '.currencyAssumed == {"currency":"GBP","reason":"account","rows":1} and .totals.currency == "GBP" and (.warnings[0].message | test("this account"))'
csv acct3.csv $'Date,Description,Amount\n2024-08-06,Buns,-3.40\n' -H 'X-Account-Id: ACC-8'
check "another account of the same user still has no currency: 422" test "$STATUS" = 422
request POST "$FN?fileName=o.csv" "${OAUTH[@]}" -H 'Content-Type: text/csv' -H 'X-Account-Id: ACC-7' \
  --data-binary $'Date,Description,Amount\n2024-08-03,Scones,-3.40\n'
check "another user's account of the same name lends nothing: 422" test "$STATUS" = 422

put '{"defaultCurrency":"SEK"}'
csv user-default.csv $'Date,Description,Amount\n2024-08-04,Kaffe,-35.00\n'
check "with a default set, it is assumed and said (got $STATUS)" body_jq \
  '.currencyAssumed == {"currency":"SEK","reason":"user_default","rows":1} and (.warnings[0].message | test("your default currency"))'
csv acct4.csv $'Date,Description,Amount\n2024-08-05,Scones,-1.40\n' -H 'X-Account-Id: ACC-7'
check "the account's currency wins over the user's default" body_jq '.currencyAssumed.reason == "account" and .totals.currency == "GBP"'

# --- day/month order from the locale -------------------------------------------------------
AMB=$'Date,Description,Amount\n01/02/2024,Alpha,-1.00\n03/04/2024,Beta,2.00\n'
csv amb-us.csv "$AMB"
check "en-US: an ambiguous file is read month first, and the locale is named" body_jq \
  '.dateRange == {"from":"2024-01-02","to":"2024-03-04"} and .columns.dateFormat == "MM/DD/YYYY" and ([.warnings[].message] | any(test("order of your locale")))'
put '{"locale":"en-GB"}'
csv amb-gb.csv "$AMB"$'\n'
check "en-GB: the same dates day first" body_jq \
  '.dateRange == {"from":"2024-02-01","to":"2024-04-03"} and .columns.dateFormat == "DD/MM/YYYY" and ([.warnings[].message] | any(test("order of your locale")))'
put '{"locale":null}'
csv amb-none.csv "$AMB"$'\n\n'
check "no locale: guessed (English, month first), and the warning says it was a guess" body_jq \
  '.columns.dateFormat == "MM/DD/YYYY" and ([.warnings[].message] | any(test("guessed MM/DD/YYYY")))'
put '{"locale":"fr-FR"}'
request POST "$FN?fileName=amb-map.csv" "${AUTH[@]}" -F "file=@-;filename=amb-map.csv" \
  -F 'mapping={"dateFormat":"MM/DD/YYYY"}' <<< "$AMB"$'\n\n\n'
check "a dateFormat in the mapping wins over the locale" body_jq '.columns.dateFormat == "MM/DD/YYYY" and .dateRange.from == "2024-01-02"'
finish

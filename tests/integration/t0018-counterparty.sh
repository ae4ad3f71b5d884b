#!/usr/bin/env bash
# t0018-counterparty: the other party and its account through the whole pipeline (issue 15,
# "What a row carries"): CSV exports whose columns name the counterparty (German Partnername +
# IBAN, Dutch Naam tegenpartij + Tegenrekening, Korean 보낸분/받는분 + 상대계좌번호) are
# uploaded through nginx; the ingest answer and import-preview show the counterparty apart
# from the description and its account masked ("****" + the last 4); staging and the ledger
# keep the account as the file gives it without spaces; after commit-import the ledger's
# transactions answer shows counterparty and the masked account.  The raw account is in no
# answer and in no log (responders, nginx, PostgreSQL).  Fixtures: tests/fixtures/stmt.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
: "${DATABASE_URL:?DATABASE_URL is needed to look at the database}"
F="$(cd "$(dirname "$0")/../fixtures/stmt" && pwd)"
TOKEN_BIN="${SMARTIMPORT_BUILD:-.}/modules/token/smartimport-token"
[[ -x $TOKEN_BIN ]] || TOKEN_BIN=./modules/token/smartimport-token
USER_ID="$(cat /proc/sys/kernel/random/uuid)"
TOKEN="$("$TOKEN_BIN" "$USER_ID")"
AUTH=(-H "Authorization: Bearer $TOKEN")
OTHER_ID="$(cat /proc/sys/kernel/random/uuid)"
OTHER=(-H "Authorization: Bearer $("$TOKEN_BIN" "$OTHER_ID")")
sql() { psql -X -q -t -A -v ON_ERROR_STOP=1 "$DATABASE_URL" -c "$1"; }
upload() { request POST /.netlify/functions/ingest-statement "${AUTH[@]}" -F "file=@$F/$1" -F "userId=$USER_ID" "${@:2}"; }
# Every form of the fixtures' raw accounts that must never be shown or logged (these IBANs
# are in no other fixture, so a hit is this test's).
RAW=(DE12500105170648489890 'DE12 5001 0517 0648 4898 90' 0517064848 DE75512108001245126199
     'DE75 5121 0800 1245 1261 99' 3333-01-1234567 3333011234567)
no_raw() { local f=$1 r; for r in "${RAW[@]}"; do if grep -qF -- "$r" "$f"; then return 1; fi; done; }
: > "$T/answers"
keep() { cat "$T/body" >> "$T/answers"; echo >> "$T/answers"; }

# --- German: Partnername + IBAN ------------------------------------------------------------
upload de_partnername_iban.csv
keep
check "a German CSV with Partnername and IBAN is 200 (got $STATUS)" test "$STATUS" = 200
IMPORT="$(jq -r .importId "$T/body")"
check "the mapping names the counterparty and its account columns" body_jq \
  '.columns.counterparty == 3 and .columns.counterpartyAccount == 4 and .columns.description == [2, 5]'
check "the partner is the counterparty, the booking text and purpose the description" body_jq \
  '.preview[0].counterparty == "REWE Markt GmbH" and .preview[0].description == "Lastschrift Einkauf Filiale 4711"
   and .preview[2].counterparty == "Müller, Anna" and .preview[2].description == "Dauerauftrag Miete März"'
check "the preview shows the account masked: **** and its last 4" body_jq \
  '[.preview[].counterpartyAccount] == ["****9890", "****8603", "****6199", null]'
check "staging keeps the account as the file gives it, spaces removed" test \
  "$(sql "SELECT string_agg(coalesce(counterparty_account, '-'), ';' ORDER BY row_no) FROM transactions_staging WHERE import_id = '$IMPORT' AND user_id = '$USER_ID'")" = \
  "DE12500105170648489890;DE02100100109307118603;DE75512108001245126199;-"

request GET "/.netlify/functions/import-preview?importId=$IMPORT&limit=2&cursor=2" "${AUTH[@]}"
keep
check "import-preview's page shows the counterparty and the masked account (got $STATUS)" body_jq \
  '.rows[0].row == 3 and .rows[0].counterparty == "Müller, Anna" and .rows[0].counterpartyAccount == "****6199"
   and .rows[1].counterpartyAccount == null'
request GET "/.netlify/functions/import-preview?importId=$IMPORT" "${OTHER[@]}"
check "another user's preview of it is 404 (got $STATUS)" bash -c "[[ $STATUS == 404 ]] && ! grep -q 9890 '$T/body'"

request POST /.netlify/functions/commit-import "${AUTH[@]}" -H 'Content-Type: application/json' \
  --data-binary "{\"importId\":\"$IMPORT\"}"
keep
check "commit-import is 200 with 4 rows (got $STATUS)" body_jq '.committed == 4'
check "the ledger stores the account without spaces" test \
  "$(sql "SELECT counterparty_account FROM transactions WHERE import_id = '$IMPORT' AND user_id = '$USER_ID' AND amount_minor = -85000")" = \
  "DE75512108001245126199"
request GET "/.netlify/functions/transactions?importId=$IMPORT" "${AUTH[@]}"
keep
check "the ledger answers the rows (got $STATUS)" body_jq '(.transactions | length) == 4'
check "with counterparty and the masked counterparty_account" body_jq \
  '[.transactions[] | select(.amount_minor == -85000)][0] | .counterparty == "Müller, Anna" and .counterparty_account == "****6199"'
check "a row without a partner has counterparty_account null" body_jq \
  '[.transactions[] | select(.amount_minor == -490)][0] | has("counterparty_account") and .counterparty_account == null'
ROW="$(jq '[.transactions[] | select(.amount_minor == -2345)][0].id' "$T/body")"
request PATCH /.netlify/functions/transactions "${AUTH[@]}" -H 'Content-Type: application/json' \
  --data-binary "{\"id\":$ROW,\"category\":\"Groceries\"}"
keep
check "PATCH answers the row with its account masked too" body_jq '.transaction.counterparty_account == "****9890"'
request GET "/.netlify/functions/transactions?importId=$IMPORT" "${OTHER[@]}"
check "another user's ledger does not show them" body_jq '.transactions == []'

# --- Dutch and Korean ------------------------------------------------------------------------
upload nl_rabobank_tegenpartij.csv
keep
check "Rabobank: Naam tegenpartij is the counterparty, Tegenrekening its account, not the own IBAN" body_jq \
  '.preview[0].counterparty == "J. de Vries" and .preview[0].description == "Terugbetaling lunch"
   and [.preview[].counterpartyAccount] == ["****4567", "****6789", null]'
upload kr_counterparty.csv
keep
check "Korean: 보낸분/받는분 is the counterparty, 상대계좌번호 its account, KRW from 원" body_jq \
  '.totals.currency == "KRW" and .preview[0].counterparty == "스타벅스 강남점" and .preview[0].description == "체크카드"
   and [.preview[].counterpartyAccount] == [null, "****6789", "****4567"]'

# --- never shown, never logged ------------------------------------------------------------------
check "no answer carried a raw account" no_raw "$T/answers"
VAR="${SMARTIMPORT_TEST_VAR:-${SMARTIMPORT_VAR:-}}"
if [[ -n $VAR && -d $VAR/log ]]; then
  cat "$VAR"/log/*.log > "$T/logs" 2>/dev/null || true
  [[ -f $VAR/pg/log/postgresql.log ]] && cat "$VAR/pg/log/postgresql.log" >> "$T/logs"
  check "the responders', nginx's and PostgreSQL's logs hold no raw account" no_raw "$T/logs"
else
  ok "# skip the log scan: SMARTIMPORT_TEST_VAR is not set"
fi
finish

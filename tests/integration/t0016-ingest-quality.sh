#!/usr/bin/env bash
# t0016-ingest-quality: the exports real banks give (issue 15, "Parsing that real files
# need") uploaded through nginx to ingest-statement: dotted Hungarian dates, UTF-16
# without a BOM, one bad byte in UTF-8, structured MT940, camt.054, Arabic-Indic amounts,
# OFX entities; an MT942 refused by name with 422, a file whose every row is
# unreadable answered with the rows' reasons, and the currency assumed for a file that
# names none said in the answer with its reason.  Fixtures: tests/fixtures/stmt.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
: "${DATABASE_URL:?DATABASE_URL is needed to look at the database}"
F="$(cd "$(dirname "$0")/../fixtures/stmt" && pwd)"
TOKEN_BIN="${SMARTIMPORT_BUILD:-.}/modules/token/smartimport-token"
[[ -x $TOKEN_BIN ]] || TOKEN_BIN=./modules/token/smartimport-token
FN=/.netlify/functions/ingest-statement
USER_ID="$(cat /proc/sys/kernel/random/uuid)"
TOKEN="$("$TOKEN_BIN" "$USER_ID")"
AUTH=(-H "Authorization: Bearer $TOKEN")
sql() { psql -X -q -t -A -v ON_ERROR_STOP=1 "$DATABASE_URL" -c "$1"; }
counts() { sql "SELECT (SELECT count(*) FROM imports WHERE user_id = '$USER_ID') || '/' || (SELECT count(*) FROM transactions_staging WHERE user_id = '$USER_ID')"; }
upload() { request POST "$FN" "${AUTH[@]}" -F "file=@$F/$1" -F "userId=$USER_ID" "${@:2}"; }

# --- dates YYYY.MM.DD ------------------------------------------------------------
upload hu_dotted_dates.csv
check "a Hungarian CSV with YYYY.MM.DD dates is 200 (got $STATUS)" test "$STATUS" = 200
check "its 4 rows are read in HUF with their dates" body_jq \
  '.format == "csv" and .rowsTotal == 4 and .totals.currency == "HUF" and .dateRange == {"from":"2024-01-15","to":"2024-01-31"}'
check "the date format is reported" body_jq '.columns.dateFormat == "YYYY.MM.DD"'
upload kr_spaced_dates.csv
check "Korean \"YYYY. MM. DD.\" dates are dates too" body_jq '.rowsTotal == 4 and .dateRange == {"from":"2024-03-02","to":"2024-03-28"} and .totals.currency == "KRW" and .totals.creditMinor == 3200000'

# --- UTF-16 without a BOM, high bytes not 0 -----------------------------------------
upload utf16le_nobom_pl.csv
check "Polish UTF-16LE without a BOM is 200, not refused as binary (got $STATUS)" test "$STATUS" = 200
check "its Polish letters arrive intact" body_jq '.rowsTotal == 3 and .preview[1].description == "Płatność kartą: Żabka Łódź ul. Piotrkowska"'
upload utf16be_nobom_ru.csv
check "Cyrillic UTF-16BE without a BOM is read" body_jq '.rowsTotal == 3 and .totals.currency == "RUB" and .preview[1].description == "Пятёрочка Москва"'

# --- one invalid byte in UTF-8 ------------------------------------------------------
upload utf8_one_bad_byte.csv
check "UTF-8 with one bad byte is 200 (got $STATUS)" test "$STATUS" = 200
check "the other lines keep their umlauts (no Windows-1252 reading)" body_jq \
  '.preview[0].description == "Bäckerei Müller Köln" and .preview[3].description == "Überweisung an Jürgen Weiß"'
check "only the bad byte became U+FFFD" body_jq '.preview[2].description == "Café Zuckerstück \ufffdBonn"'
check "a warning names its line" body_jq '.warnings[0].line == 4 and (.warnings[0].message | test("U\\+FFFD"))'

# --- MT940 :86: structure --------------------------------------------------------------
upload mt940_structured.sta
check "structured MT940 is 200 with all 8 rows (30 February kept) (got $STATUS)" body_jq '.format == "mt940" and .rowsTotal == 8'
check "the impossible value date gave the booking date and a warning" body_jq \
  '.preview[0].date == "2024-02-29" and any(.warnings[]; .line == 6 and (.message | test("booking date")))'
check "no description carries raw codes" body_jq '[.preview[].description | test("\\?[0-9][0-9]|EREF\\+|SVWZ\\+|/NAME/|/REMI/|/CNTP/")] | any | not'
check "descriptions are counterparty and memo, or what the record has" body_jq \
  '.preview[0].description == "Stadtwerke Musterstadt GmbH Stromabschlag Februar Kundennr. 4711" and .preview[2].description == "ENTGELT" and .preview[3].description == "Jan de Vries Terugbetaling etentje" and .preview[7].description == "INV99"'
# (rows 3 and 8 name no counterparty: the merchant normaliser's reading of their description
# stands in, modules/ingest/merchant.c)
check "the counterparty is staged apart" test "$(sql "SELECT string_agg(coalesce(counterparty, '-'), ';' ORDER BY row_no) FROM transactions_staging WHERE import_id = '$(jq -r .importId "$T/body")' AND user_id = '$USER_ID' AND row_no NOT IN (3, 8)")" = \
  "Stadtwerke Musterstadt GmbH;Beispiel Software AG;Jan de Vries;Bol.com B.V.;Albert Heijn 1401;Hurtownia Papieru Sp. z o.o."

check "the memo is staged apart (and committed with the row)" test "$(sql "SELECT string_agg(coalesce(memo, '-'), ';' ORDER BY row_no) FROM transactions_staging WHERE import_id = '$(jq -r .importId "$T/body")' AND user_id = '$USER_ID'")" = \
  "Stromabschlag Februar Kundennr. 4711;Gehalt Februar 2024;-;Terugbetaling etentje;Retour order 1046-2231;Boodschappen;Zaplata za fakture FV/2024/031;-"
MT940_IMPORT="$(jq -r .importId "$T/body")"
request POST /.netlify/functions/commit-import "${AUTH[@]}" -H 'Content-Type: application/json' \
  --data-binary "{\"importId\":\"$MT940_IMPORT\"}"
check "committed, the ledger keeps counterparty and memo apart" test \
  "$(sql "SELECT counterparty || '|' || memo FROM transactions WHERE import_id = '$MT940_IMPORT' AND user_id = '$USER_ID' AND amount_minor = -1999")" = \
  "Jan de Vries|Terugbetaling etentje"

# --- camt.054, MT942 -------------------------------------------------------------------
upload camt054_v08.xml
check "camt.054 is read like camt.053 (got $STATUS)" body_jq '.format == "camt053" and .rowsTotal == 2 and .totals.netMinor == 111010'
check "its pending entry is a warning, not a row" body_jq 'any(.warnings[]; .message | test("pending"))'
upload camt052_v02.xml
check "camt.052 (old namespace) is read too" body_jq '.rowsTotal == 2 and .preview[0].description == "Telefonica Germany GmbH Mobilfunk Rechnung April"'
before="$(counts)"
upload mt942_interim.sta
check "MT942 is refused with 422 (got $STATUS)" test "$STATUS" = 422
check "the error names MT942" body_jq '.ok == false and .code == "unsupported_format" and (.error | test("MT942"))'
check "nothing was imported from it" test "$(counts)" = "$before"

# --- amounts written right to left, OFX entities ------------------------------------------
upload ar_indic_amounts.csv
check "Arabic-Indic amounts with ر.س are read in SAR (got $STATUS)" body_jq \
  '.rowsTotal == 4 and .totals.currency == "SAR" and .totals.creditMinor == 1250000 and .totals.debitMinor == 60375'
upload ofx_entities.ofx
check "OFX entities are decoded" body_jq \
  '.preview[0].description == "TPAY <DEFTPYMT> ONLINE TRANSFER REF #IB0TGQ7B" and .preview[1].description == "BARNES & NOBLE #2291 \"Gift\" for Mom'"'"'s birthday – café" and .preview[2].description == "ACME PAYROLL & CO DIRECT DEP <PPD> R&D"'

# --- a file that names no currency: which one was assumed, and why ---------------------
upload utf16le_nobom_el.csv -F currency=EUR
check "Greek UTF-16LE without a BOM and without a currency is 200 (got $STATUS)" body_jq '.rowsTotal == 3 and .totals.currency == "EUR"'
check "the answer says EUR was assumed from the request" body_jq \
  '.currencyAssumed == {"currency":"EUR","reason":"request","rows":3} and (.warnings[0].message | test("no currency: EUR assumed"))'
printf 'Date,Description,Amount\n2024-08-01,Corner shop,-3.20\n' > "$T/nocur1.csv"
request POST "$FN?fileName=nocur1.csv" "${AUTH[@]}" -H 'Content-Type: text/csv' --data-binary @"$T/nocur1.csv"
check "with no currency anywhere (no default set) it is a 422 asking for one (got $STATUS)" body_jq \
  '.code == "currency_required" and (.error | test("names no currency"))'
sql "INSERT INTO user_settings (user_id, default_currency) VALUES ('$USER_ID', 'PLN')" >/dev/null
printf 'Date,Description,Amount\n2024-08-02,Corner shop,-4.10\n' > "$T/nocur2.csv"
request POST "$FN?fileName=nocur2.csv" "${AUTH[@]}" -H 'Content-Type: text/csv' --data-binary @"$T/nocur2.csv"
check "the user's default currency is assumed when set" body_jq \
  '.currencyAssumed == {"currency":"PLN","reason":"user_default","rows":1} and .totals.currency == "PLN"'
upload camt054_v02.xml
check "a file that names its currency assumes nothing" body_jq '.rowsTotal == 2 and has("currencyAssumed") == false'

# --- every row unreadable ----------------------------------------------------------------
before="$(counts)"
upload all_rows_unreadable.qif
check "a file of unreadable rows is 400 (got $STATUS)" test "$STATUS" = 400
check "the answer gives the rows' reasons, not 'no transactions'" body_jq \
  '.code == "no_readable_rows" and (.error | test("line 2: date is not a valid date")) and (.error | test("no transactions") | not)'
check "with the first warnings and their lines" body_jq '[.warnings[].line] == [2, 6, 10] and (.warnings[0].message | test("date"))'
check "and nothing was imported" test "$(counts)" = "$before"
finish

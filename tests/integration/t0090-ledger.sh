#!/usr/bin/env bash
# t0090-ledger: the ledger API through nginx (modules/ledger), on rows inserted by SQL for
# two users: keyset paging covers every row once, newest first; each filter (from/to, q on
# description and counterparty, category, account in its masked form, importId) against
# the same filter in SQL, with the per-currency totals, and so is every combination of them
# (each of the 64 statement shapes, first pages and later ones); bad parameters are 400 JSON; the
# account is masked; another user's rows never appear and PATCHing one is a 404 that
# changes nothing; PATCH with always_for_counterparty writes a rule the category-rules
# endpoint lists and the next import applies; POST/DELETE of rules.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
: "${DATABASE_URL:?DATABASE_URL is needed to look at the database}"
USER_ID="$(cat /proc/sys/kernel/random/uuid)" OTHER_ID="$(cat /proc/sys/kernel/random/uuid)"
AUTH=(-H "Authorization: Bearer $(fast_token "$USER_ID")")
OTHER=(-H "Authorization: Bearer $(fast_token "$OTHER_ID")")
JSON=(-H 'Content-Type: application/json')
TX=/.netlify/functions/transactions RULES=/.netlify/functions/category-rules
sql() { psql -X -q -t -A -v ON_ERROR_STOP=1 "$DATABASE_URL" -c "$1"; }

# --- the ledgers ---------------------------------------------------------------------
IMP="$(cat /proc/sys/kernel/random/uuid)"
sql "INSERT INTO imports (id, user_id, file_name, file_size, file_sha256, format, currency, status)
     VALUES ('$IMP', '$USER_ID', 'a.csv', 1, repeat('a', 64), 'csv', 'EUR', 'committed')"
# 130 rows, three a day (ties on the date: the id orders them), two currencies, two accounts.
sql "INSERT INTO transactions (user_id, import_id, tx_date, amount_minor, currency, description, counterparty,
       account, category, dedup_hash, memo)
     SELECT '$USER_ID', CASE WHEN g <= 20 THEN '$IMP'::uuid END, date '2024-01-01' + g / 3,
       CASE WHEN g % 4 = 0 THEN 1000 * g ELSE -10 * g END, CASE WHEN g % 5 = 0 THEN 'USD' ELSE 'EUR' END,
       'Row ' || g || CASE WHEN g % 7 = 0 THEN ' COFFEE Corner' WHEN g = 13 THEN ' 100% off_sale' ELSE '' END,
       CASE WHEN g % 10 = 0 THEN 'Acme Widgets  Ltd' END,
       CASE WHEN g % 2 = 0 THEN 'DE89370400440532013000' ELSE 'GB29NWBK60161331926819' END,
       CASE WHEN g % 3 = 0 THEN 'Groceries' ELSE 'Dining' END, 'h' || g, CASE WHEN g = 1 THEN 'a memo' END
     FROM generate_series(1, 130) g"
sql "INSERT INTO transactions (user_id, tx_date, amount_minor, currency, description, counterparty, account,
       category, dedup_hash)
     SELECT '$OTHER_ID', date '2024-01-01' + g, -100, 'EUR', 'Row other COFFEE Corner', 'Acme Widgets Ltd',
       'DE89370400440532013000', 'Dining', 'o' || g FROM generate_series(1, 30) g"
A_ROW="$(sql "SELECT id FROM transactions WHERE user_id = '$USER_ID' AND counterparty IS NOT NULL ORDER BY id LIMIT 1")"
B_ROW="$(sql "SELECT id FROM transactions WHERE user_id = '$OTHER_ID' ORDER BY id LIMIT 1")"
PLAIN_ROW="$(sql "SELECT id FROM transactions WHERE user_id = '$USER_ID' AND counterparty IS NULL ORDER BY id LIMIT 1")"

# every_page QUERY LIMIT: follows next_cursor from the first page; the ids in $T/ids, the pages in PAGES,
# the first page's totals in $T/totals, whether every later page had totals null in LATER_NULL.
every_page() {
  local query=$1 limit=$2 cursor='' n=0
  : > "$T/ids"; PAGES=0; LATER_NULL=1; PAGE_OK=1
  while :; do
    request GET "$TX?$query&limit=$limit${cursor:+&cursor=$cursor}" "${AUTH[@]}"
    [[ $STATUS == 200 ]] || { PAGE_OK=0; return 0; }
    jq -r '.transactions[].id' "$T/body" >> "$T/ids"
    n=$(jq '.transactions | length' "$T/body")
    (( n <= limit )) || PAGE_OK=0
    if (( PAGES == 0 )); then jq -c '.totals' "$T/body" > "$T/totals"; else body_jq '.totals == null' || LATER_NULL=0; fi
    PAGES=$(( PAGES + 1 ))
    cursor="$(jq -r '.next_cursor // empty' "$T/body")"
    [[ -n $cursor ]] || break
    (( n == limit )) || PAGE_OK=0   # only the last page may be short
    (( PAGES < 100 )) || { PAGE_OK=0; break; }
  done
}
# expect_ids WHERE: the ids of the caller's rows that match, newest first, in $T/want.
expect_ids() {
  sql "SELECT id FROM transactions t WHERE user_id = '$USER_ID' AND ($1) ORDER BY tx_date DESC, id DESC" > "$T/want"
}
# expect_totals WHERE: what totals should be, as compact JSON, in $T/want_totals.
expect_totals() {
  sql "SELECT coalesce(json_agg(json_build_object('currency', currency, 'income_minor', inc, 'expense_minor', exp,
         'net_minor', inc - exp, 'count', n) ORDER BY currency), '[]') FROM (SELECT currency,
         coalesce(sum(amount_minor) FILTER (WHERE amount_minor > 0), 0) inc,
         coalesce(-sum(amount_minor) FILTER (WHERE amount_minor < 0), 0) exp, count(*) n
         FROM transactions t WHERE user_id = '$USER_ID' AND ($1) GROUP BY currency) c" | jq -c . > "$T/want_totals"
}
# filter NAME QUERY LIMIT WHERE: paging with QUERY covers exactly the rows of WHERE, in order, with their totals.
filter() {
  every_page "$2" "$3"; expect_ids "$4"; expect_totals "$4"
  check "$1: every matching row once, newest first, no other ($(wc -l < "$T/ids") rows, $PAGES pages)" \
    bash -c "(( $PAGE_OK )) && cmp -s '$T/ids' '$T/want' && [[ -s '$T/want' || '${5:-}' == empty ]]"
  check "$1: totals per currency over the whole filter; null after the first page" \
    bash -c "jq -e --slurpfile w '$T/want_totals' '. == \$w[0]' '$T/totals' >/dev/null && (( $LATER_NULL ))"
}

filter "no filter, pages of 50" "" 50 "true"
check "no filter: 3 pages of 50, 50, 30" test "$PAGES" = 3
filter "no filter, pages of 7 (ties on a date across pages)" "" 7 "true"
filter "no filter, pages of 200 (one page)" "" 200 "true"
check "one page: next_cursor null" body_jq '.next_cursor == null and (.transactions | length) == 130'
filter "from/to" "from=2024-01-10&to=2024-01-20" 10 "tx_date BETWEEN '2024-01-10' AND '2024-01-20'"
filter "from only" "from=2024-02-01" 10 "tx_date >= '2024-02-01'"
# (totals of whole months come from ledger_month_totals, sql/0025; the partial ends from the rows)
filter "exactly one whole month" "from=2024-01-01&to=2024-01-31" 50 "tx_date BETWEEN '2024-01-01' AND '2024-01-31'"
filter "a partial month, a whole one, a partial one" "from=2023-12-20&to=2024-02-03&category=Dining" 50 \
  "tx_date BETWEEN '2023-12-20' AND '2024-02-03' AND category = 'Dining'"
filter "a whole month and a partial one" "from=2024-01-01&to=2024-02-05" 50 "tx_date BETWEEN '2024-01-01' AND '2024-02-05'"
filter "q on the description, any case" "q=coffee%20CORNER" 5 "description ILIKE '%coffee corner%'"
filter "q on the counterparty" "q=acme%20widgets" 5 "counterparty ILIKE '%acme widgets%'"
filter "q with % and _ taken literally" "q=100%25%20off_" 5 "id = (SELECT id FROM transactions WHERE user_id = '$USER_ID' AND description LIKE '%100\\% off\\_sale%')"
filter "q that matches nothing" "q=%25_" 5 "false" empty
filter "category" "category=Groceries" 20 "category = 'Groceries'"
filter "account in its masked form" "account=****3000" 20 "account LIKE '%3000'"
filter "account as stored" "account=GB29NWBK60161331926819" 20 "account = 'GB29NWBK60161331926819'"
filter "importId" "importId=$IMP" 6 "import_id = '$IMP'"
filter "every filter at once" "from=2024-01-05&to=2024-02-10&q=row&category=Dining&account=****6819&importId=$IMP" 3 \
  "tx_date BETWEEN '2024-01-05' AND '2024-02-10' AND category = 'Dining' AND account LIKE '%6819' AND import_id = '$IMP'"
# Each combination of the filters is its own statement (modules/ledger/ledger_sql.h: a shape,
# prepared per connection), its first page and the pages after it (a cursor) another: all 64,
# each against the same filter in SQL.  The dates are from and to, from alone or to alone in turn.
for (( shape = 1; shape < 32; shape++ )); do
  query="" where="true"
  if (( shape & 1 )); then
    case $(( shape % 3 )) in
      0) query+="&from=2024-01-05&to=2024-02-10"; where+=" AND tx_date BETWEEN '2024-01-05' AND '2024-02-10'" ;;
      1) query+="&from=2024-01-05"; where+=" AND tx_date >= '2024-01-05'" ;;
      2) query+="&to=2024-02-10"; where+=" AND tx_date <= '2024-02-10'" ;;
    esac
  fi
  (( shape & 2 )) && { query+="&q=ROW%201"; where+=" AND (description ILIKE '%row 1%' OR counterparty ILIKE '%row 1%')"; }
  (( shape & 4 )) && { query+="&category=Dining"; where+=" AND category = 'Dining'"; }
  (( shape & 8 )) && { query+="&account=****6819"; where+=" AND account LIKE '%6819'"; }
  (( shape & 16 )) && { query+="&importId=$IMP"; where+=" AND import_id = '$IMP'"; }
  # about three pages, so that the shape's later pages run too
  limit=$(( ($(sql "SELECT count(*) FROM transactions t WHERE user_id = '$USER_ID' AND $where") + 2) / 3 ))
  (( limit > 0 )) || limit=1
  filter "filters ${query#&}" "${query#&}" "$limit" "$where"
done

# The unfiltered totals come from ledger_totals (kept by triggers): still exact after a delete,
# an update of amounts and currencies, and an insert of several rows in one statement.
sql "DELETE FROM transactions WHERE user_id = '$USER_ID' AND description IN ('Row 3', 'Row 4')"
sql "UPDATE transactions SET amount_minor = -amount_minor, currency = CASE currency WHEN 'EUR' THEN 'GBP' ELSE currency END
     WHERE user_id = '$USER_ID' AND description IN ('Row 5', 'Row 6', 'Row 8')"
sql "INSERT INTO transactions (user_id, tx_date, amount_minor, currency, description, category, dedup_hash)
     VALUES ('$USER_ID', '2024-01-02', 777, 'JPY', 'Row yen', 'Income', 'y1'),
            ('$USER_ID', '2024-01-02', -5, 'EUR', 'Row 9b', 'Dining', 'y2')"
filter "no filter after a delete, an update and an insert" "" 50 "true"
check "... 130 rows in four currencies" bash -c "[[ \$(wc -l < '$T/ids') == 130 ]] && jq -e 'length == 4' '$T/totals' >/dev/null"

request GET "$TX?limit=200" "${AUTH[@]}"
check "rows carry their fields; the account masked; memo" body_jq \
  '(.transactions | map(select(.memo == "a memo")) | length) == 1 and
   all(.transactions[]; (.account == null or (.account | test("^\\*\\*\\*\\*[0-9]{4}$"))) and (.id | type) == "number" and
       (.date | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}$")) and (.amount_minor | type) == "number" and
       (.currency | length) == 3 and has("counterparty") and has("import_id") and has("category"))'
check "the full account number never appears" bash -c "! grep -q 0532013000 '$T/body'"
check "another user's rows never appear" bash -c "! grep -q 'Row other' '$T/body'"
request GET "$TX" "${OTHER[@]}"
check "the other user sees their 30 rows only" body_jq '(.transactions | length) == 30 and .totals == [{"currency":"EUR","income_minor":0,"expense_minor":3000,"net_minor":-3000,"count":30}]'
request GET "$TX?importId=$IMP" "${OTHER[@]}"
check "another user's importId: nothing" body_jq '.transactions == [] and .totals == []'

# --- bad parameters: 400 JSON ------------------------------------------------------------
LONG_Q="$(printf 'x%.0s' $(seq 201))"
for q in limit=0 limit=201 limit=abc limit=-5 "limit=1e3" from=2024-02-30 from=2024-1-1 to=yesterday \
         "from=2024-03-01&to=2024-02-01" importId=nope cursor=garbage "cursor=MjAyNC0wMi0zMDox" "cursor=MjAyNC0wMS0wMTp4" "q=$LONG_Q"; do
  request GET "$TX?$q" "${AUTH[@]}"
  check "GET ?${q:0:40} -> 400 bad_param JSON" bash -c "[[ $STATUS == 400 ]] && jq -e '.ok == false and .code == \"bad_param\"' '$T/body' >/dev/null"
done
request GET "$TX"
check "no token -> 401" test "$STATUS" = 401

# --- PATCH -------------------------------------------------------------------------------
patch() { request PATCH "$TX" "$@"; }
patch "${AUTH[@]}" "${JSON[@]}" --data-binary "{\"id\":$B_ROW,\"category\":\"Shopping\"}"
check "PATCH another user's row -> 404 (got $STATUS)" bash -c "[[ $STATUS == 404 ]] && jq -e '.code == \"not_found\"' '$T/body' >/dev/null"
check "... and it is unchanged" test "$(sql "SELECT category FROM transactions WHERE id = $B_ROW")" = Dining
patch "${AUTH[@]}" "${JSON[@]}" --data-binary '{"id":999999999999,"category":"Shopping"}'
check "PATCH an unknown id -> 404" test "$STATUS" = 404
patch "${AUTH[@]}" "${JSON[@]}" --data-binary "{\"id\":$A_ROW,\"category\":\"Sweets\"}"
check "PATCH an unknown category -> 400 unknown_category" bash -c "[[ $STATUS == 400 ]] && jq -e '.code == \"unknown_category\"' '$T/body' >/dev/null"
for body in "{\"category\":\"Shopping\"}" "{\"id\":\"x\",\"category\":\"Shopping\"}" "{\"id\":$A_ROW}" \
            "{\"id\":$A_ROW,\"category\":\"Shopping\",\"always_for_counterparty\":\"yes\"}" 'not json'; do
  patch "${AUTH[@]}" "${JSON[@]}" --data-binary "$body"
  check "PATCH $body -> 400" test "$STATUS" = 400
done
check "... none of them changed the row" test "$(sql "SELECT category FROM transactions WHERE id = $A_ROW")" = Dining
patch "${AUTH[@]}" "${JSON[@]}" --data-binary "{\"id\":$PLAIN_ROW,\"category\":\"Shopping\",\"always_for_counterparty\":true}"
check "PATCH always_for_counterparty on a row without one -> 400 no_counterparty, row unchanged" \
  bash -c "[[ $STATUS == 400 ]] && jq -e '.code == \"no_counterparty\"' '$T/body' >/dev/null && [[ \$(psql -X -t -A '$DATABASE_URL' -c 'SELECT category FROM transactions WHERE id = $PLAIN_ROW') != Shopping ]]"
patch "${AUTH[@]}" "${JSON[@]}" --data-binary "{\"id\":$PLAIN_ROW,\"category\":\"Health\"}"
check "PATCH a category -> 200 with the row" bash -c "[[ $STATUS == 200 ]] && jq -e '.transaction.id == $PLAIN_ROW and .transaction.category == \"Health\" and (.rule == null)' '$T/body' >/dev/null"
check "... stored" test "$(sql "SELECT category FROM transactions WHERE id = $PLAIN_ROW")" = Health
check "... and the month totals moved with it (ledger_month_totals = the rows, every key of the user)" test \
  "$(sql "SELECT count(*) FROM (SELECT category, date_trunc('month', tx_date)::date AS month, currency, count(*) AS n,
            coalesce(sum(amount_minor) FILTER (WHERE amount_minor > 0), 0) AS inc
          FROM transactions WHERE user_id = '$USER_ID' GROUP BY 1, 2, 3) r
          FULL JOIN (SELECT * FROM ledger_month_totals WHERE user_id = '$USER_ID' AND tx_count > 0) m
            ON m.category = r.category AND m.month = r.month AND m.currency = r.currency
          WHERE m.tx_count IS DISTINCT FROM r.n OR m.income_minor IS DISTINCT FROM r.inc")" = 0
patch "${AUTH[@]}" "${JSON[@]}" --data-binary "{\"id\":$A_ROW,\"category\":\"Shopping\",\"always_for_counterparty\":true}"
check "PATCH always_for_counterparty -> 200 with the row and the rule (normalised counterparty)" \
  bash -c "[[ $STATUS == 200 ]] && jq -e '.transaction.category == \"Shopping\" and .rule.match == \"acme widgets ltd\" and .rule.category == \"Shopping\" and (.rule.id | type) == \"number\"' '$T/body' >/dev/null"
RULE_ID="$(jq -r '.rule.id' "$T/body")"
request GET "$RULES" "${AUTH[@]}"
check "GET category-rules lists it" body_jq "(.rules | length) == 1 and .rules[0].id == $RULE_ID and .rules[0].match == \"acme widgets ltd\" and (.rules[0].created_at | test(\"Z$\"))"
check "... with every category a rule may name, sorted, Other among them" body_jq \
  '(.categories | length) > 10 and (.categories | index("Other")) != null and (.categories | index("Groceries")) != null and .categories == (.categories | sort)'
request GET "$RULES" "${OTHER[@]}"
check "another user sees no rules" body_jq '.rules == []'
check "the rule is in the table the categoriser reads" \
  test "$(sql "SELECT category FROM category_rules WHERE user_id = '$USER_ID' AND keyword = 'acme widgets ltd'")" = Shopping

# --- the next import applies the rule -------------------------------------------------------
printf 'Date,Description,Amount\n2024-06-01,ACME WIDGETS LTD 4411,-12.00\n2024-06-02,Something else,-1.00\n' > "$T/acme.csv"
request POST "/.netlify/functions/ingest-statement?fileName=acme.csv&currency=EUR" "${AUTH[@]}" -H 'Content-Type: text/csv' --data-binary @"$T/acme.csv"
NEW_IMP="$(jq -r '.importId // empty' "$T/body")"
check "a later import of that counterparty gets the rule's category" \
  test "$(sql "SELECT string_agg(category, ',' ORDER BY row_no) FROM transactions_staging WHERE import_id = '${NEW_IMP:-00000000-0000-0000-0000-000000000000}'")" = "Shopping,Other"

# --- POST / DELETE rules -----------------------------------------------------------------
post_rule() { request POST "$RULES" "${JSON[@]}" --data-binary "$@"; }
post_rule '{"match":"  Corner   SHOP ","category":"Dining"}' "${AUTH[@]}"
check "POST a rule -> 201, the match normalised" bash -c "[[ $STATUS == 201 ]] && jq -e '.rule.match == \"corner shop\" and .rule.category == \"Dining\"' '$T/body' >/dev/null"
CORNER="$(jq -r '.rule.id' "$T/body")"
post_rule '{"match":"corner shop","category":"Groceries"}' "${AUTH[@]}"
check "POST the same match -> 200, its category replaced (one rule)" bash -c "[[ $STATUS == 200 ]] && jq -e '.rule.id == $CORNER and .rule.category == \"Groceries\"' '$T/body' >/dev/null"
for body in '{"match":"a","category":"Dining"}' '{"match":"corner","category":"Nope"}' '{"category":"Dining"}' \
            "{\"match\":\"$(printf 'y%.0s' $(seq 201))\",\"category\":\"Dining\"}" '{"match":"ok ok","category":7}'; do
  post_rule "$body" "${AUTH[@]}"
  check "POST ${body:0:50} -> 400" test "$STATUS" = 400
done
check "... none written" test "$(sql "SELECT count(*) FROM category_rules WHERE user_id = '$USER_ID'")" = 2
request DELETE "$RULES?id=$CORNER" "${OTHER[@]}"
check "DELETE another user's rule -> 404" bash -c "[[ $STATUS == 404 ]] && [[ \$(psql -X -t -A '$DATABASE_URL' -c \"SELECT count(*) FROM category_rules WHERE id = $CORNER\") == 1 ]]"
request DELETE "$RULES?id=$CORNER" "${AUTH[@]}"
check "DELETE -> 204" test "$STATUS" = 204
request DELETE "$RULES?id=$CORNER" "${AUTH[@]}"
check "DELETE again -> 404" test "$STATUS" = 404
request DELETE "$RULES?id=abc" "${AUTH[@]}"
check "DELETE ?id=abc -> 400" test "$STATUS" = 400
request GET "$RULES" "${AUTH[@]}"
check "GET category-rules: the one left" body_jq "(.rules | map(.id)) == [$RULE_ID]"

finish

#!/usr/bin/env bash
# t0001-health: /health and /.netlify/functions/health answer 200 with the health JSON.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

for path in /health /.netlify/functions/health; do
  request GET "$path"
  check "GET $path answers 200 (got $STATUS)" test "$STATUS" = 200
  check "GET $path has Content-Type application/json" is_json_ct
  check "GET $path has an X-Request-Id header" test -n "$(header x-request-id)"
  check "GET $path says ok=true and db=\"up\"" body_jq '.ok == true and .db == "up"'
  check "GET $path gives a numeric schema >= 1" body_jq '(.schema | type) == "number" and .schema >= 1'
  check "GET $path gives a string version" body_jq '(.version | type) == "string"'
done
finish

#!/usr/bin/env bash
# t0002-nginx-errors: errors nginx produces itself (unknown paths, too large bodies)
# are JSON {ok:false, error, code} with Content-Type application/json, never HTML.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# expect_json_error STATUS WHAT: checks the last response.
expect_json_error() {
  local want=$1 what=$2
  check "$what: answers $want (got $STATUS)" test "$STATUS" = "$want"
  check "$what: Content-Type application/json" is_json_ct
  check "$what: JSON with ok:false, string error and string code" \
    body_jq '.ok == false and (.error | type) == "string" and (.code | type) == "string"'
  check "$what: no HTML body" not_html
}

request GET /.netlify/functions/nope
expect_json_error 404 "unknown function /.netlify/functions/nope"

# An unknown path under /api/v1/ (no route for it) is nginx's JSON 404.
request GET /api/v1/no-such-api/1
expect_json_error 404 "/api/v1/no-such-api/1 (no route)"

request GET /x
expect_json_error 404 "unknown path /x"

# 80 MB is over nginx's client_max_body_size (64m): nginx answers 413 itself.
# curl may report a send error; only the status and the body matter.
head -c 80000000 /dev/zero > "$T/big"
request POST /.netlify/functions/health --data-binary @"$T/big" -H 'Content-Type: application/octet-stream'
rm -f "$T/big"
expect_json_error 413 "80 MB POST to /.netlify/functions/health"

finish

#!/usr/bin/env bash
# t0100-web: the Smart Import, Transactions and Settings pages in a real browser
# (web.test.mjs; run.sh says how it runs).
. "$(dirname "$0")/run.sh" web.test.mjs

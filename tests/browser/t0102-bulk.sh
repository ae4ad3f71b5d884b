#!/usr/bin/env bash
# t0102-bulk: the Bulk purchases page in a real browser (bulk.test.mjs; run.sh says how it runs).
. "$(dirname "$0")/run.sh" bulk.test.mjs

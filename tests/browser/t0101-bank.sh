#!/usr/bin/env bash
# t0101-bank: the Bank import page (connect through the stand-in bank's consent page, the
# five-step wizard, live progress cards, history) in a real browser (bank.test.mjs; run.sh says how it runs).
. "$(dirname "$0")/run.sh" bank.test.mjs

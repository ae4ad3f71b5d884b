#!/usr/bin/env bash
# t0103-workflow: the Workflow page in a real browser (workflow.test.mjs; run.sh says how it runs).
. "$(dirname "$0")/run.sh" workflow.test.mjs

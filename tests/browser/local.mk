# tests/browser: the web app (web/) in a real browser, against a running stack like the
# integration tests (scripts/test starts one; without it the test skips, 77). Included before
# tests/integration/local.mk, so it runs before t0099 (which restarts PostgreSQL, last).
BROWSER_SHELL_TESTS = tests/browser/t0100-web.sh tests/browser/t0101-bank.sh tests/browser/t0102-bulk.sh \
	tests/browser/t0103-workflow.sh
dist_check_SCRIPTS += $(BROWSER_SHELL_TESTS)
EXTRA_DIST += tests/browser/run.sh tests/browser/harness.mjs tests/browser/README.md \
	tests/browser/web.test.mjs tests/browser/bank.test.mjs tests/browser/bulk.test.mjs tests/browser/workflow.test.mjs \
	tests/fixtures/bulk/purchases.csv tests/fixtures/bulk/purchases-bad.csv
# The web app itself is in web/local.mk.
TESTS += $(BROWSER_SHELL_TESTS)

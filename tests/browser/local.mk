# tests/browser: the web app (web/) in a real browser, against a running stack like the
# integration tests (scripts/test starts one; without it the test skips, 77). Included before
# tests/integration/local.mk, so it runs before t0099 (which restarts PostgreSQL, last).
BROWSER_SHELL_TESTS = tests/browser/t0100-web.sh tests/browser/t0101-bank.sh tests/browser/t0102-bulk.sh \
	tests/browser/t0103-workflow.sh
dist_check_SCRIPTS += $(BROWSER_SHELL_TESTS)
EXTRA_DIST += tests/browser/run.sh tests/browser/harness.mjs tests/browser/README.md \
	tests/browser/web.test.mjs tests/browser/bank.test.mjs tests/browser/bulk.test.mjs tests/browser/workflow.test.mjs \
	tests/fixtures/bulk/purchases.csv tests/fixtures/bulk/purchases-bad.csv
# The web app itself (served by nginx from the source tree; its npm packages come from scripts/deps).
EXTRA_DIST += web/index.html web/package.json web/package-lock.json web/README.md \
	web/app/advice.js web/app/api.js web/app/bank.js web/app/bulk.js web/app/chat.js web/app/app.css \
	web/app/categories.js web/app/format.js web/app/import.js web/app/main.js web/app/settings.js \
	web/app/signin.js web/app/transactions.js web/app/ui.js web/app/workflow.js
TESTS += $(BROWSER_SHELL_TESTS)

# tests/integration: tests against a running stack (a real PostgreSQL,
# nginx and the responders).  scripts/test starts a throwaway stack and sets
# DATABASE_URL / SMARTIMPORT_TEST_URL; without them these tests skip (77).
check_PROGRAMS += tests/integration/check_db
tests_integration_check_db_SOURCES = tests/integration/check_db.c \
	modules/health/health.c modules/health/health.h modules/health/functions.c
tests_integration_check_db_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/modules/jobs
tests_integration_check_db_LDADD = libjobs.la libsmartimport.la $(CHECK_LIBS) $(JANSSON_LIBS) $(PQ_LIBS)
tests_integration_check_db_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
# The slowloris attack client of t0061 (built by make check, not a test itself).
check_PROGRAMS += tests/integration/slowloris
tests_integration_slowloris_SOURCES = tests/integration/slowloris.c
# The sealed-token opener of t0070 (built by make check, not a test itself).
check_PROGRAMS += tests/integration/open_token
tests_integration_open_token_SOURCES = tests/integration/open_token.c
tests_integration_open_token_LDADD = libsmartimport.la $(CRYPTO_LIBS) $(JANSSON_LIBS) $(PQ_LIBS)
INTEGRATION_SHELL_TESTS = tests/integration/t0001-health.sh tests/integration/t0002-nginx-errors.sh \
	tests/integration/t0010-ingest.sh tests/integration/t0015-ingest-limits.sh tests/integration/t0017-import-preview.sh tests/integration/t0023-user-settings.sh tests/integration/t0024-pending-booked.sh tests/integration/t0025-reupload-large.sh tests/integration/t0020-commit.sh \
	tests/integration/t0016-ingest-quality.sh \
	tests/integration/t0019-import-progress.sh \
	tests/integration/t0018-counterparty.sh \
	tests/integration/t0021-revert-overlap.sh tests/integration/t0022-commit-overlap-concurrent.sh \
	tests/integration/t0030-advice.sh \
	tests/integration/t0031-crystal-chat.sh \
	tests/integration/t0040-events.sh \
	tests/integration/t0041-events-limits.sh \
	tests/integration/t0050-workflow.sh tests/integration/t0051-jobs.sh tests/integration/t0052-workflow-api.sh \
	tests/integration/t0071-bank-import.sh \
	tests/integration/t0060-edge-identity.sh tests/integration/t0061-edge-slowloris.sh \
	tests/integration/t0062-edge-backpressure.sh tests/integration/t0063-log-secrets.sh \
	tests/integration/t0070-bank-connect.sh \
	tests/integration/t0111-backup.sh \
	tests/integration/t0112-retention.sh \
	tests/integration/t0095-supervise.sh tests/integration/t0096-reload.sh \
	tests/integration/t0097-staging-crash.sh \
	tests/integration/t0098-events-db-restart.sh \
	tests/integration/t0110-systemd.sh tests/integration/t0115-systemd-real.sh \
	tests/integration/t0113-metrics.sh tests/integration/t0114-backup-cluster.sh \
	tests/integration/t0120-idempotency.sh tests/integration/t0121-idempotency-endpoints.sh \
	tests/integration/t0130-cluster.sh \
	tests/integration/t0131-failover.sh \
	tests/integration/t0132-standby-reads.sh \
	tests/integration/t0133-cluster-ha.sh \
	tests/integration/t0099-db-outage.sh
dist_check_SCRIPTS += $(INTEGRATION_SHELL_TESTS)
EXTRA_DIST += tests/integration/lib.sh tests/integration/fcgi_client.py
EXTRA_DIST += tests/integration/data/basic.csv tests/integration/data/overlap.csv \
	tests/integration/data/bank.ofx tests/integration/data/truncated.ofx \
	tests/integration/data/header-only.csv tests/integration/data/image.png \
	tests/integration/data/revert-x.csv tests/integration/data/revert-y.csv tests/integration/data/revert-z.csv
# t0099 stops and restarts PostgreSQL, so it runs last (make check is serial in scripts/test).
TESTS += tests/integration/check_db $(INTEGRATION_SHELL_TESTS)

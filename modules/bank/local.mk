# modules/bank: bank connections and imports over TrueLayer's Data API v1 (issue 13).

# ---- connections (TrueLayer client, token sealing, connect/connections) ----
# libbank: the TrueLayer client (tl_client.h) every bank responder and task links.
noinst_LTLIBRARIES += libbank.la
libbank_la_SOURCES = modules/bank/tl_client.h modules/bank/tl_settings.c modules/bank/tl_wire.c \
	modules/bank/tl_token.c modules/bank/tl_amount.c modules/bank/bank_amount.c
libbank_la_CFLAGS = $(AM_CFLAGS) $(CURL_CFLAGS)
libbank_la_LIBADD = libsmartimport.la $(CURL_LIBS) $(CRYPTO_LIBS) $(JANSSON_LIBS) $(PQ_LIBS) -lm
BANK_LDADD = libbank.la libsmartimport.la $(CURL_LIBS) $(CRYPTO_LIBS) $(JANSSON_LIBS) $(PQ_LIBS) $(PTHREAD_LIBS) -lm

# smartimport-truelayer-connect: POST /api/truelayer/connect, GET /api/truelayer/connections[/{id}],
# POST /api/truelayer/connections/{id}/refresh.
pkglibexec_PROGRAMS += modules/bank/smartimport-truelayer-connect
modules_bank_smartimport_truelayer_connect_SOURCES = modules/bank/main_truelayer_connect.c \
	modules/bank/truelayer_connect.c modules/bank/truelayer_connect.h
modules_bank_smartimport_truelayer_connect_LDADD = $(BANK_LDADD)

check_PROGRAMS += tests/unit/check_bank_client
TESTS += tests/unit/check_bank_client
tests_unit_check_bank_client_SOURCES = tests/unit/check_bank_client.c
tests_unit_check_bank_client_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/modules/bank
tests_unit_check_bank_client_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_check_bank_client_LDADD = $(BANK_LDADD) $(CHECK_LIBS)

# The client against the stand-in and PostgreSQL (skips without them; scripts/test has both).
check_PROGRAMS += tests/integration/check_bank_wire
TESTS += tests/integration/check_bank_wire
tests_integration_check_bank_wire_SOURCES = tests/integration/check_bank_wire.c
tests_integration_check_bank_wire_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_integration_check_bank_wire_LDADD = $(BANK_LDADD) $(CHECK_LIBS)

# The stand-in TrueLayer server (tests/truelayer-stub): started by scripts/test for the whole
# test stack and by SMARTIMPORT_BANK_STUB=1 scripts/up.
check_PROGRAMS += tests/truelayer-stub/truelayer_stub
tests_truelayer_stub_truelayer_stub_SOURCES = tests/truelayer-stub/truelayer_stub.c
tests_truelayer_stub_truelayer_stub_LDADD = $(JANSSON_LIBS) $(PTHREAD_LIBS)
EXTRA_DIST += tests/truelayer-stub/README.md modules/bank/README.md
# ---- end connections ----

# ---- modules/bank: import jobs (plan/start/status/history, bank.sync_account, bank.enrich) ----
# libbankjobs: the pure rules (amounts, dates, estimates), the settings, the ledger writes and
# the tasks; the responder smartimport-truelayer-import; the unit test check_bank_jobs.
noinst_LTLIBRARIES += libbankjobs.la
libbankjobs_la_SOURCES = modules/bank/bank_jobs.h modules/bank/bank_dates.c \
	modules/bank/bank_estimate.c modules/bank/bank_jobs_settings.c \
	modules/bank/bank_ledger.h modules/bank/bank_ledger.c modules/bank/bank_fetch.h modules/bank/bank_fetch.c \
	modules/bank/bank_sync.h modules/bank/bank_sync.c modules/bank/bank_sync_commit.c modules/bank/bank_enrich.c \
	modules/bank/bank_tasks.h modules/bank/bank_tasks.c
BANKJOBS_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/modules/bank -I$(top_srcdir)/modules/jobs \
	-I$(top_srcdir)/modules/ingest -I$(top_srcdir)/modules/commit
libbankjobs_la_CPPFLAGS = $(BANKJOBS_CPPFLAGS)
libbankjobs_la_CFLAGS = $(AM_CFLAGS) $(CURL_CFLAGS)
libbankjobs_la_LIBADD = libbank.la libingest.la libcommit.la libjobs.la libsmartimport.la $(CURL_LIBS) $(JANSSON_LIBS) $(PQ_LIBS) \
	$(CRYPTO_LIBS)
BANKJOBS_LDADD = libbankjobs.la $(CURL_LIBS) $(JANSSON_LIBS) $(PQ_LIBS) $(CRYPTO_LIBS) $(PTHREAD_LIBS) -lm

pkglibexec_PROGRAMS += modules/bank/smartimport-truelayer-import
modules_bank_smartimport_truelayer_import_SOURCES = modules/bank/main_truelayer_import.c \
	modules/bank/truelayer_import.c modules/bank/truelayer_import.h modules/bank/import_plan.c \
	modules/bank/import_start.c modules/bank/import_status.c
modules_bank_smartimport_truelayer_import_CPPFLAGS = $(BANKJOBS_CPPFLAGS)
modules_bank_smartimport_truelayer_import_LDADD = $(BANKJOBS_LDADD)

check_PROGRAMS += tests/unit/check_bank_jobs
TESTS += tests/unit/check_bank_jobs
tests_unit_check_bank_jobs_SOURCES = tests/unit/check_bank_jobs.c
tests_unit_check_bank_jobs_CPPFLAGS = $(BANKJOBS_CPPFLAGS)
tests_unit_check_bank_jobs_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_check_bank_jobs_LDADD = $(BANKJOBS_LDADD) $(CHECK_LIBS)
# ---- end of import jobs ----

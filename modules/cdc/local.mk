# modules/cdc: change-data-capture of purchases into loyalty (issue 14): the consumer tasks
# loyalty.currency/.tier/.mission (libcdc, linked into smartimport-worker), the daemon
# smartimport-cdc (logical replication, pgoutput), the responder smartimport-loyalty, their tests.
noinst_LTLIBRARIES += libcdc.la
libcdc_la_SOURCES = modules/cdc/loyalty.h modules/cdc/loyalty_tasks.c modules/cdc/cdc_pgoutput.c \
	modules/cdc/loyalty_api.h modules/cdc/loyalty_api.c
CDC_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/modules/cdc -I$(top_srcdir)/modules/jobs
libcdc_la_CPPFLAGS = $(CDC_CPPFLAGS)
libcdc_la_LIBADD = libjobs.la libsmartimport.la $(JANSSON_LIBS) $(PQ_LIBS)
CDC_LDADD = libcdc.la libjobs.la libsmartimport.la $(JANSSON_LIBS) $(PQ_LIBS) $(PTHREAD_LIBS)

# The worker runs the consumers (modules/jobs/tasks.c lists loyalty_register_tasks).
modules_jobs_smartimport_worker_CPPFLAGS += -I$(top_srcdir)/modules/cdc
modules_jobs_smartimport_worker_LDADD += libcdc.la
# smartimport-merchants (modules/bulk) owns ^~/api/merchants/ and hands the loyalty path to
# loyalty_handle (loyalty_api.h).
modules_bulk_smartimport_merchants_CPPFLAGS += -I$(top_srcdir)/modules/cdc
modules_bulk_smartimport_merchants_LDADD += libcdc.la

pkglibexec_PROGRAMS += modules/cdc/smartimport-cdc
modules_cdc_smartimport_cdc_SOURCES = modules/cdc/main_cdc.c modules/cdc/cdc_stream.c modules/cdc/cdc_stream.h
modules_cdc_smartimport_cdc_CPPFLAGS = $(CDC_CPPFLAGS)
modules_cdc_smartimport_cdc_LDADD = $(CDC_LDADD)

pkglibexec_PROGRAMS += modules/cdc/smartimport-loyalty
modules_cdc_smartimport_loyalty_SOURCES = modules/cdc/main_loyalty.c
modules_cdc_smartimport_loyalty_CPPFLAGS = $(CDC_CPPFLAGS)
modules_cdc_smartimport_loyalty_LDADD = $(CDC_LDADD)

check_PROGRAMS += tests/unit/check_cdc
TESTS += tests/unit/check_cdc
tests_unit_check_cdc_SOURCES = tests/unit/check_cdc.c
tests_unit_check_cdc_CPPFLAGS = $(CDC_CPPFLAGS)
tests_unit_check_cdc_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_check_cdc_LDADD = $(CDC_LDADD) $(CHECK_LIBS)

# The consumers against a real PostgreSQL (skips without DATABASE_URL; scripts/test has it).
check_PROGRAMS += tests/integration/check_cdc_db
TESTS += tests/integration/check_cdc_db
tests_integration_check_cdc_db_SOURCES = tests/integration/check_cdc_db.c
tests_integration_check_cdc_db_CPPFLAGS = $(CDC_CPPFLAGS)
tests_integration_check_cdc_db_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_integration_check_cdc_db_LDADD = $(CDC_LDADD) $(CHECK_LIBS)
EXTRA_DIST += modules/cdc/README.md
# The end-to-end test: purchases -> slot -> smartimport-cdc -> jobs -> wallets, with kill -9s.
dist_check_SCRIPTS += tests/integration/t0085-bulk-cdc.sh
TESTS += tests/integration/t0085-bulk-cdc.sh

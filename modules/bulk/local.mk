# modules/bulk: bulk purchase imports (issue 14).  libbulk (the CSV reader, staging, the
# set-wise checks and insert, the task bulk.import), the responders smartimport-bulk-import
# and smartimport-merchants, the unit test check_bulk and the integration tests t008x.
noinst_LTLIBRARIES += libbulk.la
libbulk_la_SOURCES = modules/bulk/bulk.h modules/bulk/bulk_csv.c modules/bulk/bulk_stage.c modules/bulk/bulk_sql.c \
	modules/bulk/bulk_tasks.h modules/bulk/bulk_tasks.c
BULK_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/modules/bulk -I$(top_srcdir)/modules/jobs -I$(top_srcdir)/modules/ingest
libbulk_la_CPPFLAGS = $(BULK_CPPFLAGS)
libbulk_la_LIBADD = libjobs.la libsmartimport.la $(JANSSON_LIBS) $(PQ_LIBS)

pkglibexec_PROGRAMS += modules/bulk/smartimport-bulk-import
modules_bulk_smartimport_bulk_import_SOURCES = modules/bulk/main_bulk_import.c modules/bulk/bulk_import.c \
	modules/bulk/bulk_import.h modules/bulk/import_upload.c modules/bulk/import_status.c
modules_bulk_smartimport_bulk_import_CPPFLAGS = $(BULK_CPPFLAGS)
modules_bulk_smartimport_bulk_import_LDADD = libbulk.la libingest.la $(JANSSON_LIBS) $(PQ_LIBS) $(CRYPTO_LIBS) \
	$(PTHREAD_LIBS)

pkglibexec_PROGRAMS += modules/bulk/smartimport-merchants
modules_bulk_smartimport_merchants_SOURCES = modules/bulk/main_merchants.c modules/bulk/merchants.c \
	modules/bulk/merchants.h
modules_bulk_smartimport_merchants_CPPFLAGS = $(BULK_CPPFLAGS)
modules_bulk_smartimport_merchants_LDADD = libbulk.la $(JANSSON_LIBS) $(PQ_LIBS) $(PTHREAD_LIBS)

# The worker runs bulk.import (modules/jobs/tasks.c).
modules_jobs_smartimport_worker_CPPFLAGS += -I$(top_srcdir)/modules/bulk
modules_jobs_smartimport_worker_LDADD += libbulk.la

check_PROGRAMS += tests/unit/check_bulk
TESTS += tests/unit/check_bulk
tests_unit_check_bulk_SOURCES = tests/unit/check_bulk.c
tests_unit_check_bulk_CPPFLAGS = $(BULK_CPPFLAGS)
tests_unit_check_bulk_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_check_bulk_LDADD = libbulk.la $(JANSSON_LIBS) $(PQ_LIBS) $(CHECK_LIBS)

BULK_SHELL_TESTS = tests/integration/t0080-bulk-import.sh tests/integration/t0086-readme-bulk.sh
dist_check_SCRIPTS += $(BULK_SHELL_TESTS)
TESTS += $(BULK_SHELL_TESTS)
EXTRA_DIST += modules/bulk/README.md

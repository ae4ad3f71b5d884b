# modules/retention: the task retention.purge, built into smartimport-worker
# (modules/jobs/tasks.c registers it).
modules_jobs_smartimport_worker_SOURCES += modules/retention/retention.c modules/retention/retention.h
modules_jobs_smartimport_worker_CPPFLAGS += -I$(top_srcdir)/modules/retention
# Its test, tests/integration/t0112-retention.sh, is listed in tests/integration/local.mk.
EXTRA_DIST += modules/retention/README.md

check_PROGRAMS += tests/unit/check_retention
TESTS += tests/unit/check_retention
tests_unit_check_retention_SOURCES = tests/unit/check_retention.c modules/retention/retention.c \
	modules/retention/retention.h
tests_unit_check_retention_CPPFLAGS = $(JOBS_CPPFLAGS) -I$(top_srcdir)/modules/retention
tests_unit_check_retention_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_check_retention_LDADD = libjobs.la $(JANSSON_LIBS) $(PQ_LIBS) $(CHECK_LIBS)

# modules/retention: the task retention.purge, built into smartimport-worker
# (modules/jobs/tasks.c registers it).
modules_jobs_smartimport_worker_SOURCES += modules/retention/retention.c modules/retention/retention.h
modules_jobs_smartimport_worker_CPPFLAGS += -I$(top_srcdir)/modules/retention
# Its test, tests/integration/t0112-retention.sh, is listed in tests/integration/local.mk.
EXTRA_DIST += modules/retention/README.md

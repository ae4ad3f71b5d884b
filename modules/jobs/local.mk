# modules/jobs: the job engine.  libjobs (enqueue from C, the registry, the engine's
# statements), the daemon smartimport-worker that runs every registered task (tasks.c
# lists each module's register call), and its unit test.
noinst_LTLIBRARIES += libjobs.la
libjobs_la_SOURCES = modules/jobs/jobs.h modules/jobs/jobs_policy.c modules/jobs/jobs_enqueue.c \
	modules/jobs/jobs_engine.c
libjobs_la_LIBADD = libsmartimport.la $(JANSSON_LIBS) $(PQ_LIBS)
JOBS_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/modules/jobs

pkglibexec_PROGRAMS += modules/jobs/smartimport-worker
modules_jobs_smartimport_worker_SOURCES = modules/jobs/main_worker.c modules/jobs/worker.c modules/jobs/worker.h \
	modules/jobs/tasks.c modules/jobs/test_tasks.c modules/jobs/test_tasks.h
modules_jobs_smartimport_worker_CPPFLAGS = $(JOBS_CPPFLAGS) -I$(top_srcdir)/modules/workflow \
	-I$(top_srcdir)/modules/bank
modules_jobs_smartimport_worker_CFLAGS = $(AM_CFLAGS) $(CURL_CFLAGS)
modules_jobs_smartimport_worker_LDADD = libworkflow.la libbankjobs.la libjobs.la $(CURL_LIBS) $(CRYPTO_LIBS) \
	$(JANSSON_LIBS) $(PQ_LIBS) $(PTHREAD_LIBS)

check_PROGRAMS += tests/unit/check_jobs
TESTS += tests/unit/check_jobs
tests_unit_check_jobs_SOURCES = tests/unit/check_jobs.c
tests_unit_check_jobs_CPPFLAGS = $(JOBS_CPPFLAGS)
tests_unit_check_jobs_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_check_jobs_LDADD = libjobs.la $(JANSSON_LIBS) $(PQ_LIBS) $(CHECK_LIBS)
EXTRA_DIST += modules/jobs/README.md

# modules/workflow: the seven-phase workflow (issue 7) on the job engine (modules/jobs):
# the responder smartimport-workflow (POST /api/v1/workflow/phase/:n, GET jobs/:id, GET
# stats), the tasks workflow.phase1..7 that smartimport-worker runs (wf_tasks.c), their
# unit test and the stand-in service the integration test makes fail.
noinst_LTLIBRARIES += libworkflow.la
libworkflow_la_SOURCES = modules/workflow/workflow.h modules/workflow/wf_util.c \
	modules/workflow/workflow.c modules/workflow/phases.c modules/workflow/wf_tasks.c
libworkflow_la_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/modules/jobs
libworkflow_la_CFLAGS = $(AM_CFLAGS) $(CURL_CFLAGS)
libworkflow_la_LIBADD = libjobs.la libsmartimport.la $(CURL_LIBS) $(CRYPTO_LIBS) $(JANSSON_LIBS) $(PQ_LIBS)
WORKFLOW_LDADD = libworkflow.la $(CURL_LIBS) $(CRYPTO_LIBS) $(JANSSON_LIBS) $(PQ_LIBS) $(PTHREAD_LIBS)

pkglibexec_PROGRAMS += modules/workflow/smartimport-workflow
modules_workflow_smartimport_workflow_SOURCES = modules/workflow/main_workflow.c
modules_workflow_smartimport_workflow_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/modules/jobs
modules_workflow_smartimport_workflow_LDADD = $(WORKFLOW_LDADD)

check_PROGRAMS += tests/unit/check_workflow
TESTS += tests/unit/check_workflow
tests_unit_check_workflow_SOURCES = tests/unit/check_workflow.c
tests_unit_check_workflow_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/modules/workflow -I$(top_srcdir)/modules/jobs
tests_unit_check_workflow_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_check_workflow_LDADD = $(WORKFLOW_LDADD) $(CHECK_LIBS)

# The stand-in service for tests/integration/t0050-workflow.sh (started by scripts/test).
check_PROGRAMS += tests/workflow-stub/workflow_stub
tests_workflow_stub_workflow_stub_SOURCES = tests/workflow-stub/workflow_stub.c
tests_workflow_stub_workflow_stub_LDADD = $(PTHREAD_LIBS)
EXTRA_DIST += tests/workflow-stub/README.md modules/workflow/README.md

# modules/ingest: libingest (uploads, multipart, encodings, staging, dedup, categories,
# preview) and the ingest-statement responder.  The parsers are libstmt (modules/stmt).
noinst_LTLIBRARIES += libingest.la

libingest_la_SOURCES = \
	modules/ingest/categorize.c modules/ingest/categorize.h \
	modules/ingest/dedup.c modules/ingest/dedup.h \
	modules/ingest/encoding.c modules/ingest/encoding.h \
	modules/ingest/file_name.c modules/ingest/file_name.h \
	modules/ingest/merchant.c modules/ingest/merchant.h \
	modules/ingest/ingest_config.c modules/ingest/ingest_config.h \
	modules/ingest/llm_categorize.c modules/ingest/llm_categorize.h \
	modules/ingest/multipart.c modules/ingest/multipart.h \
	modules/ingest/preview.c modules/ingest/preview.h \
	modules/ingest/progress.c modules/ingest/progress.h \
	modules/ingest/spool_file.c modules/ingest/spool_file.h \
	modules/ingest/stage.c modules/ingest/stage.h \
	modules/ingest/upload.c modules/ingest/upload.h \
	modules/ingest/upload_slots.c modules/ingest/upload_slots.h \
	modules/ingest/user_settings.c modules/ingest/user_settings.h
libingest_la_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/modules/ingest -I$(top_srcdir)/modules/stmt
libingest_la_LIBADD = libstmt.la libsmartimport.la $(JANSSON_LIBS) $(PQ_LIBS) $(CRYPTO_LIBS) $(PTHREAD_LIBS)

check_PROGRAMS += tests/unit/check_ingest
TESTS += tests/unit/check_ingest
tests_unit_check_ingest_SOURCES = tests/unit/check_ingest.c tests/unit/testutil.h
tests_unit_check_ingest_LDADD = libingest.la $(CHECK_LIBS) $(JANSSON_LIBS) $(PQ_LIBS)
tests_unit_check_ingest_CFLAGS = $(STMT_TEST_FLAGS) -I$(top_srcdir)/modules/ingest

pkglibexec_PROGRAMS += modules/ingest/smartimport-ingest-statement
modules_ingest_smartimport_ingest_statement_SOURCES = modules/ingest/main_ingest_statement.c \
	modules/ingest/ingest_statement.c modules/ingest/ingest_statement.h
modules_ingest_smartimport_ingest_statement_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/modules/ingest \
	-I$(top_srcdir)/modules/stmt
modules_ingest_smartimport_ingest_statement_LDADD = libingest.la $(JANSSON_LIBS) $(PQ_LIBS)
EXTRA_DIST += modules/ingest/README.md data/categories tests/bench/categories/labelled.tsv \
	tests/bench/categories/holdout.tsv

# The categories benchmark's driver (scripts/bench-categories): built with make check, not a test.
check_PROGRAMS += tests/bench/categories/bench_categories
tests_bench_categories_bench_categories_SOURCES = tests/bench/categories/bench_categories.c
tests_bench_categories_bench_categories_LDADD = libingest.la $(JANSSON_LIBS) $(PQ_LIBS)
tests_bench_categories_bench_categories_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/modules/ingest

pkglibexec_PROGRAMS += modules/ingest/smartimport-import-preview
modules_ingest_smartimport_import_preview_SOURCES = modules/ingest/main_import_preview.c \
	modules/ingest/import_preview.c modules/ingest/import_preview.h
modules_ingest_smartimport_import_preview_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/modules/ingest
modules_ingest_smartimport_import_preview_LDADD = libingest.la $(JANSSON_LIBS) $(PQ_LIBS)

pkglibexec_PROGRAMS += modules/ingest/smartimport-user-settings
modules_ingest_smartimport_user_settings_SOURCES = modules/ingest/main_user_settings.c
modules_ingest_smartimport_user_settings_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/modules/ingest
modules_ingest_smartimport_user_settings_LDADD = libingest.la $(JANSSON_LIBS) $(PQ_LIBS)

# The merchant categories asked of the model (llm_categorize.c): key, prompt, answer, settings.
check_PROGRAMS += tests/unit/check_llmcat
TESTS += tests/unit/check_llmcat
tests_unit_check_llmcat_SOURCES = tests/unit/check_llmcat.c
tests_unit_check_llmcat_LDADD = libingest.la $(CHECK_LIBS) $(JANSSON_LIBS) $(PQ_LIBS)
tests_unit_check_llmcat_CFLAGS = $(UNIT_CFLAGS) -I$(top_srcdir)/modules/ingest
# Its integration test: one request per import, the cache, a model down or wrong (tests/fake-llm).
INGEST_SHELL_TESTS = tests/integration/t0020-llm-categories.sh
dist_check_SCRIPTS += $(INGEST_SHELL_TESTS)
TESTS += $(INGEST_SHELL_TESTS)

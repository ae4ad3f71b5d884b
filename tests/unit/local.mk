# tests/unit: Check unit tests of the runtime; no services needed.
UNIT_TESTS = tests/unit/check_request tests/unit/check_jwt tests/unit/check_auth \
	tests/unit/check_response tests/unit/check_basics tests/unit/check_db_message \
	tests/unit/check_runtime_kit tests/unit/check_money tests/unit/check_http tests/unit/check_crypt
check_PROGRAMS += $(UNIT_TESTS)
TESTS += $(UNIT_TESTS) tests/unit/t-checksrc.sh
dist_check_SCRIPTS += tests/unit/t-checksrc.sh
UNIT_LDADD = libsmartimport.la $(CHECK_LIBS) $(JANSSON_LIBS) $(PQ_LIBS) $(CRYPTO_LIBS)
UNIT_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_check_request_SOURCES = tests/unit/check_request.c tests/unit/testutil.h
tests_unit_check_request_LDADD = $(UNIT_LDADD)
tests_unit_check_request_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_jwt_SOURCES = tests/unit/check_jwt.c
tests_unit_check_jwt_LDADD = $(UNIT_LDADD)
tests_unit_check_jwt_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_auth_SOURCES = tests/unit/check_auth.c
tests_unit_check_auth_LDADD = $(UNIT_LDADD)
tests_unit_check_auth_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_response_SOURCES = tests/unit/check_response.c tests/unit/testutil.h
tests_unit_check_response_LDADD = $(UNIT_LDADD)
tests_unit_check_response_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_basics_SOURCES = tests/unit/check_basics.c
tests_unit_check_basics_LDADD = $(UNIT_LDADD)
tests_unit_check_basics_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_db_message_SOURCES = tests/unit/check_db_message.c
tests_unit_check_db_message_LDADD = $(UNIT_LDADD)
tests_unit_check_db_message_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_runtime_kit_SOURCES = tests/unit/check_runtime_kit.c
tests_unit_check_runtime_kit_LDADD = $(UNIT_LDADD)
tests_unit_check_runtime_kit_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_money_SOURCES = tests/unit/check_money.c
tests_unit_check_money_LDADD = $(UNIT_LDADD)
tests_unit_check_money_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_http_SOURCES = tests/unit/check_http.c
tests_unit_check_http_LDADD = $(UNIT_LDADD) $(PTHREAD_LIBS)
tests_unit_check_http_CFLAGS = $(UNIT_CFLAGS)
tests_unit_check_crypt_SOURCES = tests/unit/check_crypt.c
tests_unit_check_crypt_LDADD = $(UNIT_LDADD)
tests_unit_check_crypt_CFLAGS = $(UNIT_CFLAGS)
# The categoriser and the merchant normaliser (modules/ingest): no services needed.
check_PROGRAMS += tests/unit/check_categorize
TESTS += tests/unit/check_categorize
tests_unit_check_categorize_SOURCES = tests/unit/check_categorize.c
tests_unit_check_categorize_LDADD = libingest.la $(CHECK_LIBS) $(JANSSON_LIBS) $(PQ_LIBS)
tests_unit_check_categorize_CFLAGS = $(UNIT_CFLAGS) -I$(top_srcdir)/modules/ingest
TESTS += tests/unit/t-category-sql.sh
dist_check_SCRIPTS += tests/unit/t-category-sql.sh

# The parsers on real-looking exports (tests/fixtures/stmt): through encoding.c, detection and parsing.
check_PROGRAMS += tests/unit/check_stmt_quality
TESTS += tests/unit/check_stmt_quality
tests_unit_check_stmt_quality_SOURCES = tests/unit/check_stmt_quality.c
tests_unit_check_stmt_quality_LDADD = libingest.la $(CHECK_LIBS) $(JANSSON_LIBS) $(PQ_LIBS)
tests_unit_check_stmt_quality_CFLAGS = $(STMT_TEST_FLAGS) -I$(top_srcdir)/modules/ingest
tests_unit_check_stmt_quality_CPPFLAGS = $(AM_CPPFLAGS) -DSTMT_FIXTURES=\"$(top_srcdir)/tests/fixtures/stmt\"
EXTRA_DIST += tests/fixtures/stmt

# modules/stmt/formats.mk: OFX/QFX, QIF, CAMT.053, MT940 and format detection.
STMT_FORMAT_SOURCES = modules/stmt/stmt_detect.c modules/stmt/ofx.c modules/stmt/qif.c \
	modules/stmt/camt053.c modules/stmt/mt940.c

# Unit tests: the format parsers against tests/fixtures/formats, and the shared helpers.
FORMAT_FIXTURES = \
	tests/fixtures/formats/ofx1_bank.ofx \
	tests/fixtures/formats/ofx2_creditcard.ofx \
	tests/fixtures/formats/qfx_bank.qfx \
	tests/fixtures/formats/qif_bank_us.qif \
	tests/fixtures/formats/qif_bank_dm.qif \
	tests/fixtures/formats/camt053_v02.xml \
	tests/fixtures/formats/camt053_v08.xml \
	tests/fixtures/formats/mt940_two_statements.sta \
	tests/fixtures/formats/broken_ofx_truncated.ofx \
	tests/fixtures/formats/broken_camt053_truncated.xml \
	tests/fixtures/formats/broken_camt053_xxe.xml \
	tests/fixtures/formats/broken_qif_investment.qif \
	tests/fixtures/formats/broken_empty.txt \
	tests/fixtures/formats/broken_binary.bin
EXTRA_DIST += $(FORMAT_FIXTURES) tests/fuzz/fuzz_formats.c tests/fuzz/fuzz_formats.sources

check_PROGRAMS += tests/unit/check_formats tests/unit/check_stmt_util
TESTS += tests/unit/check_formats tests/unit/check_stmt_util
tests_unit_check_formats_SOURCES = tests/unit/check_formats.c
tests_unit_check_formats_LDADD = $(STMT_TEST_LIBS) $(PTHREAD_LIBS)
tests_unit_check_formats_CFLAGS = $(STMT_TEST_FLAGS)
tests_unit_check_formats_CPPFLAGS = $(AM_CPPFLAGS) -DFORMAT_FIXTURES=\"$(top_srcdir)/tests/fixtures/formats\"
tests_unit_check_stmt_util_SOURCES = tests/unit/check_stmt_util.c
tests_unit_check_stmt_util_LDADD = $(STMT_TEST_LIBS)
tests_unit_check_stmt_util_CFLAGS = $(STMT_TEST_FLAGS)

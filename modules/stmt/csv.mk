# modules/stmt/csv.mk: the CSV engine (sniffing, columns, amounts, dates).
STMT_CSV_SOURCES = modules/stmt/csv.h modules/stmt/csv_reader.c modules/stmt/csv_text.c \
	modules/stmt/csv_sniff.c modules/stmt/csv_vocab.c modules/stmt/csv_stats.c modules/stmt/csv_infer.c modules/stmt/csv_amount.c \
	modules/stmt/csv_date.c modules/stmt/csv_mapping.c modules/stmt/csv_parse.c

check_PROGRAMS += tests/unit/check_csv
TESTS += tests/unit/check_csv
tests_unit_check_csv_SOURCES = tests/unit/check_csv.c
tests_unit_check_csv_LDADD = $(STMT_TEST_LIBS)
tests_unit_check_csv_CFLAGS = $(STMT_TEST_FLAGS)
tests_unit_check_csv_CPPFLAGS = $(AM_CPPFLAGS) -DCSV_FIXTURES=\"$(top_srcdir)/tests/fixtures/csv\"
EXTRA_DIST += tests/fixtures/csv tests/fuzz/fuzz_csv.c tests/fuzz/fuzz_csv.sources

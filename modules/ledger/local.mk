# modules/ledger: the ledger API (issue 15): libledger (the shared helpers) and the responders
# smartimport-transactions and smartimport-category-rules, their integration test t0090.
noinst_LTLIBRARIES += libledger.la
libledger_la_SOURCES = modules/ledger/ledger.h modules/ledger/ledger_sql.h modules/ledger/ledger_sql.c modules/ledger/ledger.c modules/ledger/transactions.c \
	modules/ledger/category_rules.c
LEDGER_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/modules/ledger
libledger_la_CPPFLAGS = $(LEDGER_CPPFLAGS)
libledger_la_LIBADD = libsmartimport.la $(JANSSON_LIBS) $(PQ_LIBS)

pkglibexec_PROGRAMS += modules/ledger/smartimport-transactions modules/ledger/smartimport-category-rules
modules_ledger_smartimport_transactions_SOURCES = modules/ledger/main_transactions.c
modules_ledger_smartimport_transactions_CPPFLAGS = $(LEDGER_CPPFLAGS)
modules_ledger_smartimport_transactions_LDADD = libledger.la $(JANSSON_LIBS) $(PQ_LIBS) $(PTHREAD_LIBS)
modules_ledger_smartimport_category_rules_SOURCES = modules/ledger/main_category_rules.c
modules_ledger_smartimport_category_rules_CPPFLAGS = $(LEDGER_CPPFLAGS)
modules_ledger_smartimport_category_rules_LDADD = libledger.la $(JANSSON_LIBS) $(PQ_LIBS) $(PTHREAD_LIBS)

LEDGER_SHELL_TESTS = tests/integration/t0090-ledger.sh
dist_check_SCRIPTS += $(LEDGER_SHELL_TESTS)
TESTS += $(LEDGER_SHELL_TESTS)
EXTRA_DIST += modules/ledger/README.md scripts/bench-read tests/bench/node_ledger_peer.js

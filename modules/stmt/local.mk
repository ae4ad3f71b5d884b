# modules/stmt: libstmt, every statement parser (CSV of any bank, OFX/QFX, QIF, CAMT.053,
# MT940) and the detection of which one a file is.  No I/O beyond a FILE, no database.
# Currency exponents come from the runtime (si_money.h), hence libsmartimport.
noinst_LTLIBRARIES += libstmt.la
libstmt_la_SOURCES = modules/stmt/stmt.h modules/stmt/stmt_util.c modules/stmt/stmt_util.h \
	$(STMT_CSV_SOURCES) $(STMT_FORMAT_SOURCES)
libstmt_la_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/modules/stmt
libstmt_la_LIBADD = libsmartimport.la $(XML_LIBS) $(JANSSON_LIBS) $(CRYPTO_LIBS) $(PTHREAD_LIBS)

# Unit tests of the parsers link libstmt.la and use these flags.
STMT_TEST_LIBS = libstmt.la $(CHECK_LIBS) $(XML_LIBS) $(JANSSON_LIBS) $(CRYPTO_LIBS)
STMT_TEST_FLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) -I$(top_srcdir)/modules/stmt
EXTRA_DIST += modules/stmt/README.md

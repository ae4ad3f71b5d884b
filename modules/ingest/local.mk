# modules/ingest: libstmt (statement parsers, no I/O beyond a FILE) and, later,
# the ingest-statement responder.
noinst_LTLIBRARIES += libstmt.la
libstmt_la_SOURCES = modules/ingest/stmt.h modules/ingest/stmt_util.c modules/ingest/stmt_util.h \
	$(STMT_CSV_SOURCES) $(STMT_FORMAT_SOURCES)
libstmt_la_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/modules/ingest
libstmt_la_LIBADD = $(XML_LIBS) $(JANSSON_LIBS) $(CRYPTO_LIBS)
# Unit tests of the parsers link libstmt.la and use these flags.
STMT_TEST_LIBS = libstmt.la $(CHECK_LIBS) $(XML_LIBS) $(JANSSON_LIBS) $(CRYPTO_LIBS)
STMT_TEST_FLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) -I$(top_srcdir)/modules/ingest

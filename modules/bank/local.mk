# modules/bank: bank connections and imports over TrueLayer's Data API v1 (issue 13).

# ---- connections (TrueLayer client, token sealing, connect/connections) ----
# The stand-in TrueLayer server (tests/truelayer-stub): started by scripts/test for the whole
# test stack and by SMARTIMPORT_BANK_STUB=1 scripts/up.
check_PROGRAMS += tests/truelayer-stub/truelayer_stub
tests_truelayer_stub_truelayer_stub_SOURCES = tests/truelayer-stub/truelayer_stub.c
tests_truelayer_stub_truelayer_stub_LDADD = $(JANSSON_LIBS) $(PTHREAD_LIBS)
EXTRA_DIST += tests/truelayer-stub/README.md
# ---- end connections ----

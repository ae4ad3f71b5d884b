# modules/token: smartimport-token, mints a dev/test access token.
bin_PROGRAMS += modules/token/smartimport-token
modules_token_smartimport_token_SOURCES = modules/token/main_token.c
modules_token_smartimport_token_LDADD = libsmartimport.la $(JANSSON_LIBS)
EXTRA_DIST += modules/token/README.md

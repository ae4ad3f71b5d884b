# modules/ingest/formats.mk: OFX/QFX, QIF, CAMT.053, MT940 and format detection.
STMT_FORMAT_SOURCES =

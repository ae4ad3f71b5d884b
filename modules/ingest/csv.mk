# modules/ingest/csv.mk: the CSV engine (sniffing, columns, amounts, dates).
STMT_CSV_SOURCES =

# sql: numbered migrations, applied in order by scripts/migrate.  A shipped
# migration is never edited: changes are new files.
nobase_dist_pkgdata_DATA += sql/0001_foundation.sql sql/0002_imports.sql sql/0003_category_rules.sql sql/0004_commit.sql \
	sql/0005_advice.sql sql/0006_workflow.sql sql/0007_unlogged_staging.sql \
	sql/0008_workflow_announce.sql sql/0009_transaction_imports.sql sql/0010_jobs.sql \
	sql/0011_bank_connections.sql sql/0012_bank_import_jobs.sql \
	sql/0013_bulk_import.sql sql/0014_bulk_cdc.sql sql/0015_jobs_claim_cost.sql \
	sql/0016_bulk_speed.sql sql/0017_ledger.sql sql/0018_category_knowledge.sql sql/0019_import_verdicts.sql \
	sql/0020_counterparty_account.sql sql/0021_merchant_category_cache.sql sql/0022_user_settings.sql \
	sql/0024_pending_booked.sql sql/0025_ledger_month_totals.sql sql/0026_retention.sql sql/0027_near_matches.sql \
	sql/0028_idempotency_keys.sql sql/0029_jobs_dead.sql sql/0030_commit_no_fk.sql

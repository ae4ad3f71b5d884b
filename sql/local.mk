# sql: numbered migrations, applied in order by scripts/migrate.
nobase_dist_pkgdata_DATA += sql/0001_foundation.sql

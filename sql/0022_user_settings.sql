-- 0022_user_settings: a user's own defaults, set with /.netlify/functions/user-settings
-- (modules/ingest/user_settings.c); issue 15, "A file that names no currency".
--
-- default_currency: the currency of rows whose file names none (after the request's and
--   the account's); NULL = not set.  It was NOT NULL DEFAULT 'USD', so a user who had never
--   chosen one silently got dollars; now a missing row or NULL means "not set", and ingest
--   falls back to the deployment's SMARTIMPORT_DEFAULT_CURRENCY, else answers 422.
-- locale: a BCP 47 tag (en-US, de-DE, fr-CA); it decides the day/month order of a CSV file
--   whose every date fits both ways (03/04/2024), when no remembered mapping says it.
alter table user_settings alter column default_currency drop not null;
alter table user_settings alter column default_currency drop default;
alter table user_settings add constraint user_settings_currency_check
  check (default_currency ~ '^[A-Z]{3}$');
alter table user_settings add column locale text null
  check (locale ~ '^[a-z]{2,3}(-[A-Z][a-z]{3})?(-([A-Z]{2}|[0-9]{3}))?$');
alter table user_settings add column updated_at timestamptz not null default now();

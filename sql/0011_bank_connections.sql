-- 0011_bank_connections: a user's bank connections over TrueLayer's Data API v1 and the
-- accounts each one reaches (modules/bank).
--
-- Tokens are stored sealed (modules/runtime/si_crypt: AES-256-GCM under SMARTIMPORT_TOKEN_KEY,
-- one bytea nonce || ciphertext || tag, with "<connection id>/<user id>" as additional
-- authenticated data, so a token copied to another row does not decrypt there); the
-- database never sees a token in clear.  No account number, IBAN or sort code is stored:
-- the provider's account_id is all a sync needs.
--
-- state: 'active', or 'reauth_required' once a refresh was answered invalid_grant (consent
-- expired or revoked): every call on the connection is then a 409 until the user connects
-- again.  Every row carries user_id and every query filters by it.

create table truelayer_connections (
  id                 uuid primary key default gen_random_uuid(),
  user_id            uuid not null,
  provider           text not null check (length(provider) between 1 and 200),  -- provider.provider_id, e.g. "ob-monzo"
  state              text not null default 'active' check (state in ('active', 'reauth_required')),
  access_token_enc   bytea not null,
  refresh_token_enc  bytea null,
  token_expires_at   timestamptz not null,
  created_at         timestamptz not null default now(),
  updated_at         timestamptz not null default now()
);
create index truelayer_connections_user_idx on truelayer_connections (user_id);

create table truelayer_accounts (
  user_id                     uuid not null,
  connection_id               uuid not null references truelayer_connections (id) on delete cascade,
  account_id                  text not null check (length(account_id) between 1 and 200),  -- the provider's
  display_name                text not null check (length(display_name) <= 500),
  account_type                text not null check (length(account_type) <= 100),
  currency                    char(3) not null,
  last_synced_at              timestamptz null,
  last_synced_at_incremental  timestamptz null,   -- the newest booked date synced so far
  observed_tx_per_day         numeric null,       -- measured by earlier syncs; plan's estimate
  primary key (connection_id, account_id)
);
create index truelayer_accounts_user_idx on truelayer_accounts (user_id);

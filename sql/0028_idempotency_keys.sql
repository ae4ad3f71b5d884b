-- 0028_idempotency_keys: Idempotency-Key of state-changing requests (issue 18; the runtime's
-- modules/runtime/si_idempotency.c writes and reads every row, for every function).
--
-- One row per (caller, key): inserted `running` before the handler runs, `done` with the
-- answer after it (status, content type, extra header lines, body), deleted when the answer
-- was a 5xx, 408, 429 or 409 conflict_retry (a retry runs again).  body is NULL and
-- body_stored false when the answer was larger than 1 MiB (SI_IDEMPOTENCY_MAX_STORED): a
-- replay then answers 409 idempotent_response_too_large.  request is "METHOD /path";
-- query_sha256 and body_sha256 are SHA-256 of the raw query string and of the body as read
-- (body_sha256 is NULL while running).  updated_at is when the current attempt started or
-- ended: a row `running` for more than 360 s (SI_IDEMPOTENCY_ABANDON_S) is taken over, and so
-- is one whose holder (holder_pid, holder_start: the database session of the responder that
-- runs it) has ended: a responder host lost mid-request (issue 18) leaves its key running, and
-- the server's TCP keepalives (scripts/lib.sh pg_shared_settings) end that session in ~30 s.
-- Kept SMARTIMPORT_RETAIN_IDEMPOTENCY_HOURS (24) after created_at: retention.purge deletes
-- older rows in batches through idempotency_keys_created_idx.
create table if not exists idempotency_keys (
  user_id uuid not null,
  key text not null check (length(key) between 1 and 255),
  function text not null,
  request text not null,
  query_sha256 bytea not null check (length(query_sha256) = 32),
  body_sha256 bytea null check (length(body_sha256) = 32),
  state text not null check (state in ('running', 'done')),
  status int null check (status between 100 and 599),
  content_type text null,
  headers text null,
  body text null,
  body_stored boolean null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  holder_pid int null,
  holder_start timestamptz null,
  primary key (user_id, key),
  check (state = 'running' or (status is not null and body_sha256 is not null and body_stored is not null))
);
create index if not exists idempotency_keys_created_idx on idempotency_keys (created_at);

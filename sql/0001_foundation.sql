-- 0001_foundation: the import event log.
-- Every step of a Smart Import run appends a row to import_events; listeners
-- (e.g. SSE progress streams) LISTEN on channel 'import_events' and get a small
-- JSON notice per row. NOTIFY is delivered only when the inserting transaction
-- commits, so listeners never see events that were rolled back.
-- gen_random_uuid() is built into PostgreSQL 13+, so no pgcrypto extension.
-- schema_migrations is created by scripts/migrate, not here.

create table import_events (
  id          bigint generated always as identity primary key,
  user_id     uuid not null,
  import_id   uuid null,
  event_type  text not null check (event_type ~ '^[a-z_]+(:[a-z_]+){1,3}$'),
  payload     jsonb not null default '{}'::jsonb,
  created_at  timestamptz not null default now()
);

create index import_events_user_id_idx on import_events (user_id, id);
create index import_events_import_id_idx on import_events (import_id, id);

create function import_events_notify() returns trigger
language plpgsql as $$
begin
  perform pg_notify('import_events', json_build_object(
    'id', new.id,
    'user_id', new.user_id,
    'import_id', new.import_id,
    'event_type', new.event_type)::text);
  return null;
end
$$;

create trigger import_events_notify
  after insert on import_events
  for each row execute function import_events_notify();

-- 0005_advice: what Prime and Crystal keep about an import once it is committed.
--
-- prime-handoff creates one handoffs row per import (Prime -> Crystal) and stores
-- Prime's acknowledgement in chat_messages; crystal-analyze-import stores its
-- advice in advice_messages (one row per analysis; the newest is the answer) and
-- marks the handoff completed.  budgets are the user's monthly budgets per
-- category, used for the budget impact when present.  As everywhere: every row
-- carries user_id, money is integer minor units with an ISO 4217 code, times are
-- timestamptz.

create table handoffs (
  id                 uuid primary key default gen_random_uuid(),
  user_id            uuid not null,
  import_id          uuid not null references imports (id),
  from_agent         text not null default 'prime-boss',
  to_agent           text not null default 'crystal-analytics',
  status             text not null default 'pending'
                       check (status in ('pending', 'analyzing', 'completed', 'failed')),
  transaction_count  integer not null check (transaction_count >= 0),
  created_at         timestamptz not null default now(),
  updated_at         timestamptz not null default now(),
  completed_at       timestamptz
);
-- One handoff per import: calling prime-handoff again returns it.
create unique index handoffs_user_import_idx on handoffs (user_id, import_id);

create table chat_messages (
  id          bigint generated always as identity primary key,
  user_id     uuid not null,
  handoff_id  uuid references handoffs (id),
  import_id   uuid references imports (id),
  agent       text not null,
  role        text not null check (role in ('user', 'assistant', 'system')),
  content     text not null,
  created_at  timestamptz not null default now()
);
create index chat_messages_user_idx on chat_messages (user_id, created_at desc);
create index chat_messages_handoff_idx on chat_messages (handoff_id) where handoff_id is not null;

create table advice_messages (
  id                  bigint generated always as identity primary key,
  user_id             uuid not null,
  handoff_id          uuid not null references handoffs (id),
  import_id           uuid not null references imports (id),
  agent               text not null default 'crystal-analytics',
  source              text not null check (source in ('llm', 'rules')),
  fallback_reason     text,            -- why the model was not used (a code), null for 'llm'
  summary             text not null,
  budget_impact       text not null,
  forecast_delta      text not null,
  top_categories      jsonb not null default '[]'::jsonb,
  categories          jsonb not null default '[]'::jsonb,
  currency            char(3) not null,
  period_spend_minor  bigint not null,
  projection_minor    bigint not null,
  created_at          timestamptz not null default now()
);
create index advice_messages_handoff_idx on advice_messages (user_id, handoff_id, id desc);

-- Monthly budgets: amount_minor per calendar month for one category and currency.
create table budgets (
  user_id       uuid not null,
  category      text not null,
  amount_minor  bigint not null check (amount_minor > 0),
  currency      char(3) not null,
  updated_at    timestamptz not null default now(),
  primary key (user_id, category, currency)
);

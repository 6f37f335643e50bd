--! Previous: sha1:172c0c12a5dec746231e75ed69297697c85ba106
--! Hash: sha1:a52712cd74b535c9db9fd2a334a15bc61d15ebab
--! Message: audit trail

-- The audit trail: every insert, update and delete on a tenant's tables, recorded in
-- the same transaction by a trigger, with who did it (a user, an API key, or the system),
-- the request it came with (the id in the request log), the row's key and the changed
-- columns' old and new values. Owners and admins read their tenant's events; nobody
-- writes, changes or deletes them at request time: only the trigger (as the owner) and
-- the retention job do.
drop table if exists app_public.audit_events cascade;
drop function if exists app_private.tg__audit() cascade;

create table app_public.audit_events (
  -- Not a foreign key: the trail of a tenant outlives its rows (and the tenant's own
  -- deletion, which it records); the retention job removes old events.
  tenant_id uuid not null,
  id bigint generated always as identity,
  occurred_at timestamptz not null default now(),
  actor_kind text not null check (actor_kind in ('user', 'api_key', 'system')),
  actor_user_id uuid,
  actor_api_key_id uuid,
  request_id text,
  operation text not null check (operation in ('insert', 'update', 'delete')),
  table_name text not null,
  row_key jsonb not null,
  changes jsonb not null,
  primary key (tenant_id, id)
);
comment on table app_public.audit_events is
  E'@behavior -insert -update -delete\nWho changed what in the tenant: one event per inserted, updated or deleted row, written by the database itself. Owners and admins read them; nobody can change them. Newest first: `orderBy: ID_DESC`.';
comment on column app_public.audit_events.tenant_id is E'@behavior -insert -update\nThe tenant whose row changed.';
comment on column app_public.audit_events.id is 'Increases with every event: ordering by it is ordering by time.';
comment on column app_public.audit_events.occurred_at is 'When the transaction that made the change began.';
comment on column app_public.audit_events.actor_kind is 'Who made the change: `user` (a person''s token), `api_key`, or `system` (migrations, jobs, operators).';
comment on column app_public.audit_events.actor_user_id is 'The user who made the change, when it was a person.';
comment on column app_public.audit_events.actor_api_key_id is 'The API key that made the change, when it was a machine client.';
comment on column app_public.audit_events.request_id is 'The request id (the X-Request-Id header and the request log''s id) the change came with.';
comment on column app_public.audit_events.operation is '`insert`, `update` or `delete`.';
comment on column app_public.audit_events.table_name is 'The table whose row changed, e.g. `products`.';
comment on column app_public.audit_events.row_key is 'The changed row''s primary key, as a JSON object.';
comment on column app_public.audit_events.changes is
  'The changed columns: `{"column": {"old": …, "new": …}}` (inserts have only `new`, deletes only `old`); columns the table keeps secret show `{"hidden": true}`.';

create index audit_events_tenant_id_occurred_at_idx on app_public.audit_events (tenant_id, occurred_at);
create index audit_events_tenant_id_table_name_idx on app_public.audit_events (tenant_id, table_name, id);
create index audit_events_tenant_id_actor_user_id_idx on app_public.audit_events (tenant_id, actor_user_id, id);
create index audit_events_tenant_id_actor_api_key_id_idx on app_public.audit_events (tenant_id, actor_api_key_id, id);
create index audit_events_tenant_id_operation_idx on app_public.audit_events (tenant_id, operation, id);
-- The retention job deletes by age across tenants.
create index audit_events_occurred_at_idx on app_public.audit_events (occurred_at);

alter table app_public.audit_events enable row level security;
alter table app_public.audit_events force row level security;
create policy select_by_admin on app_public.audit_events for select
  using (tenant_id = (select app_public.current_tenant_id()) and (select app_public.current_tenant_role()) in ('owner', 'admin'));
-- Reading only: no role a request runs as may write, change or delete an event.
grant select on app_public.audit_events to :DATABASE_VISITOR;

-- SECURITY DEFINER: it writes audit_events, which no request role may. The trigger's
-- arguments name columns whose values are kept out of the trail (secrets).
create function app_private.tg__audit() returns trigger
  language plpgsql security definer
  set search_path to pg_catalog, pg_temp
as $$
declare
  v_old jsonb := case when tg_op <> 'INSERT' then to_jsonb(old) end;
  v_new jsonb := case when tg_op <> 'DELETE' then to_jsonb(new) end;
  v_row jsonb := coalesce(v_new, v_old);
  v_changes jsonb;
  v_key jsonb;
  v_user uuid := app_private.uuid_setting('app.current_user_id');
  v_api_key uuid := app_private.uuid_setting('app.current_api_key_id');
begin
  select coalesce(jsonb_object_agg(c.key, case
           when c.key = any(tg_argv) then '{"hidden": true}'::jsonb
           when tg_op = 'INSERT' then jsonb_build_object('new', v_new -> c.key)
           when tg_op = 'DELETE' then jsonb_build_object('old', v_old -> c.key)
           else jsonb_build_object('old', v_old -> c.key, 'new', v_new -> c.key)
         end), '{}')
    into v_changes
    from jsonb_object_keys(v_row) as c(key)
    where tg_op <> 'UPDATE' or (v_old -> c.key) is distinct from (v_new -> c.key);
  if v_changes = '{}' then
    return null; -- an update that changed nothing
  end if;
  select jsonb_object_agg(a.attname, v_row -> a.attname::text) into v_key
    from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
    where i.indrelid = tg_relid and i.indisprimary;
  insert into app_public.audit_events (tenant_id, actor_kind, actor_user_id, actor_api_key_id, request_id, operation, table_name, row_key, changes)
  values (
    -- A tenant's own row is keyed by id; every other tenant table by tenant_id.
    coalesce((v_row ->> 'tenant_id')::uuid, case when tg_table_name = 'tenants' then (v_row ->> 'id')::uuid end),
    case when v_api_key is not null then 'api_key' when v_user is not null then 'user' else 'system' end,
    v_user,
    v_api_key,
    nullif(current_setting('app.request_id', true), ''),
    lower(tg_op),
    tg_table_name,
    v_key,
    v_changes
  );
  return null;
end;
$$;
comment on function app_private.tg__audit() is
  'Trigger: records the row change in app_public.audit_events. Attach AFTER INSERT OR UPDATE OR DELETE FOR EACH ROW; pass the names of columns to keep out of the trail as arguments.';

create trigger _900_audit after insert or update or delete on app_public.products
  for each row execute function app_private.tg__audit();
create trigger _900_audit after insert or update or delete on app_public.categories
  for each row execute function app_private.tg__audit();
create trigger _900_audit after insert or update or delete on app_public.memberships
  for each row execute function app_private.tg__audit();
create trigger _900_audit after insert or update or delete on app_public.invitations
  for each row execute function app_private.tg__audit();
create trigger _900_audit after insert or update or delete on app_public.tenants
  for each row execute function app_private.tg__audit();

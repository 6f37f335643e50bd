--! Previous: sha1:46a83cfa75195bd254776fce2068463a66dc64ad
--! Hash: sha1:8f3cbb1ac1fadb09e1d8f1e831970c243b39ddb1
--! Message: realtime notify triggers

-- Realtime: every change to a tenant's products and categories is announced on the
-- tenant's channel, every change to a membership on its user's channel, with pg_notify
-- inside the changing transaction (PostgreSQL delivers it at commit, in commit order,
-- and drops it on rollback). The channel is named from the rows themselves, never from
-- anything a client sends; the payload names the change (table, operation, keys), never
-- row data: the API re-reads each row through RLS as each subscriber (src/realtime/).
--
-- One trigger per statement, not per row, so a bulk change (an import, a tenant's
-- deletion cascading to its products) costs a notification per channel and per
-- 50 rows, not one per row; a payload of 50 keys stays far below pg_notify's 8000 bytes.
drop function if exists app_private.tg__notify_change() cascade;
drop function if exists app_private.tg__notify_changes() cascade;

-- SECURITY INVOKER: pg_notify needs no privilege, and the trigger reads only the
-- statement's own rows (its transition table).
create function app_private.tg__notify_changes() returns trigger
  language plpgsql
  set search_path to pg_catalog, pg_temp
as $$
declare
  v_rows jsonb;
begin
  -- Only the transition tables of the statement's own operation exist.
  if tg_op = 'DELETE' then
    select coalesce(jsonb_agg(to_jsonb(r)), '[]') into v_rows from old_rows r;
  else
    select coalesce(jsonb_agg(to_jsonb(r)), '[]') into v_rows from new_rows r;
  end if;
  perform pg_notify(
    'tenantgraph:' || tg_argv[0] || ':' || c.channel_key,
    jsonb_build_object('table', tg_table_name, 'op', lower(tg_op), 'rows', c.keys)::text
  )
  from (
    select k.channel_key, jsonb_agg(k.key order by k.n) as keys
    from (
      select
        r.value ->> tg_argv[1] as channel_key,
        jsonb_strip_nulls(jsonb_build_object('tenant_id', r.value -> 'tenant_id', 'id', r.value -> 'id', 'user_id', r.value -> 'user_id')) as key,
        r.n,
        (row_number() over (partition by r.value ->> tg_argv[1] order by r.n) - 1) / 50 as chunk
      from jsonb_array_elements(v_rows) with ordinality as r(value, n)
    ) k
    group by k.channel_key, k.chunk
    order by min(k.n)
  ) c;
  return null;
end;
$$;
comment on function app_private.tg__notify_changes() is
  'Trigger: announces the statement''s changed rows with pg_notify on the channel `tenantgraph:<tg_argv[0]>:<the row''s tg_argv[1] column>`, 50 keys (tenant_id, id, user_id) at most per notification, never row data. Attach AFTER INSERT, UPDATE and DELETE FOR EACH STATEMENT, with REFERENCING NEW TABLE AS new_rows (insert, update) and OLD TABLE AS old_rows (delete).';

-- A trigger with transition tables fires for one event only: three per table.
create trigger _950_notify_insert after insert on app_public.products
  referencing new table as new_rows for each statement execute function app_private.tg__notify_changes('tenant', 'tenant_id');
create trigger _950_notify_update after update on app_public.products
  referencing new table as new_rows for each statement execute function app_private.tg__notify_changes('tenant', 'tenant_id');
create trigger _950_notify_delete after delete on app_public.products
  referencing old table as old_rows for each statement execute function app_private.tg__notify_changes('tenant', 'tenant_id');

create trigger _950_notify_insert after insert on app_public.categories
  referencing new table as new_rows for each statement execute function app_private.tg__notify_changes('tenant', 'tenant_id');
create trigger _950_notify_update after update on app_public.categories
  referencing new table as new_rows for each statement execute function app_private.tg__notify_changes('tenant', 'tenant_id');
create trigger _950_notify_delete after delete on app_public.categories
  referencing old table as old_rows for each statement execute function app_private.tg__notify_changes('tenant', 'tenant_id');

create trigger _950_notify_insert after insert on app_public.memberships
  referencing new table as new_rows for each statement execute function app_private.tg__notify_changes('user', 'user_id');
create trigger _950_notify_update after update on app_public.memberships
  referencing new table as new_rows for each statement execute function app_private.tg__notify_changes('user', 'user_id');
create trigger _950_notify_delete after delete on app_public.memberships
  referencing old table as old_rows for each statement execute function app_private.tg__notify_changes('user', 'user_id');

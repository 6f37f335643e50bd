--! Previous: sha1:667bfdbf2d69d351511e67b53c9df3f7455dd950
--! Hash: sha1:c7ad4faaf4a704e2b174ea26b7b9c679b6e28655
--! Message: realtime notify triggers

-- Realtime: every change to a tenant's products and categories is announced on the
-- tenant's channel, every change to a membership on its user's channel, with pg_notify
-- inside the changing transaction (PostgreSQL delivers it at commit, in commit order,
-- and drops it on rollback). The channel is named from the row itself, never from
-- anything a client sends; the payload names the change (table, operation, key), never
-- row data: the API re-reads the row through RLS as each subscriber (src/realtime/).
drop function if exists app_private.tg__notify_change() cascade;

-- SECURITY INVOKER: pg_notify needs no privilege, and the trigger reads only the row.
create function app_private.tg__notify_change() returns trigger
  language plpgsql
  set search_path to pg_catalog, pg_temp
as $$
declare
  v_row jsonb := case when tg_op = 'DELETE' then to_jsonb(old) else to_jsonb(new) end;
begin
  perform pg_notify(
    'tenantgraph:' || tg_argv[0] || ':' || (v_row ->> tg_argv[1]),
    jsonb_strip_nulls(jsonb_build_object(
      'table', tg_table_name,
      'op', lower(tg_op),
      'tenant_id', v_row -> 'tenant_id',
      'id', v_row -> 'id',
      'user_id', v_row -> 'user_id'
    ))::text
  );
  return null;
end;
$$;
comment on function app_private.tg__notify_change() is
  'Trigger: announces the row change with pg_notify on the channel `tenantgraph:<tg_argv[0]>:<the row''s tg_argv[1] column>`, with a payload of table, operation and key only. Attach AFTER INSERT OR UPDATE OR DELETE FOR EACH ROW.';

create trigger _950_notify after insert or update or delete on app_public.products
  for each row execute function app_private.tg__notify_change('tenant', 'tenant_id');
create trigger _950_notify after insert or update or delete on app_public.categories
  for each row execute function app_private.tg__notify_change('tenant', 'tenant_id');
create trigger _950_notify after insert or update or delete on app_public.memberships
  for each row execute function app_private.tg__notify_change('user', 'user_id');

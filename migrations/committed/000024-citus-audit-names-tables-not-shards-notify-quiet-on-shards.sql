--! Previous: sha1:e322551aeb354a5a0bad21130e6033f564b42313
--! Hash: sha1:5a8ac6eeb165fb162f3de90f7233ff7fb8e43067
--! Message: Citus: audit names tables not shards, notify quiet on shards

-- Row triggers on Citus run on the shards, where tg_table_name is the shard's name
-- (products_102036), and on every copy of a reference table. The audit trail names the
-- table, not the shard, and records a reference table's change once (on the coordinator's
-- copy). The realtime notifications stay quiet on shards: pg_notify on a worker reaches
-- no listener and makes a transaction over several nodes fail at commit; realtime on
-- Citus needs its outbox (docs/citus.md). On plain PostgreSQL nothing changes.

create or replace function app_private.citus_table_of_shard(shard name)
  returns table (table_name name, reference boolean)
  language plpgsql
  stable
  set search_path = pg_catalog, pg_temp
as $$
begin
  -- Shards are named <table>_<shard id>; tenantgraph's own tables never end in digits.
  if shard !~ '_[0-9]+$' or not app_private.citus_enabled() then
    return;
  end if;
  return query execute
    'select c.relname, p.partmethod = ''n''
     from pg_dist_shard s
     join pg_dist_partition p on p.logicalrelid = s.logicalrelid
     join pg_class c on c.oid = s.logicalrelid
     where s.shardid = $1'
    using substring(shard from '_([0-9]+)$')::bigint;
end;
$$;
comment on function app_private.citus_table_of_shard(name) is 'On Citus, the table a shard (a trigger''s tg_table_name) belongs to and whether it is a reference table; no row for a table that is no shard, and always none on plain PostgreSQL.';
revoke all on function app_private.citus_table_of_shard(name) from public;

-- SECURITY DEFINER: it writes audit_events, which no request role may. The trigger's
-- arguments name columns whose values are kept out of the trail (secrets).
create or replace function app_private.tg__audit() returns trigger
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
  v_table name := tg_table_name;
  v_shard record;
begin
  select * into v_shard from app_private.citus_table_of_shard(tg_table_name);
  if found then
    -- A reference table's row changes on every node: record it once, from the coordinator.
    if v_shard.reference and not citus_is_coordinator() then
      return null;
    end if;
    v_table := v_shard.table_name;
  end if;
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
    coalesce((v_row ->> 'tenant_id')::uuid, case when v_table = 'tenants' then (v_row ->> 'id')::uuid end),
    case when v_api_key is not null then 'api_key' when v_user is not null then 'user' else 'system' end,
    v_user,
    v_api_key,
    nullif(current_setting('app.request_id', true), ''),
    lower(tg_op),
    v_table,
    v_key,
    v_changes
  );
  return null;
end;
$$;
comment on function app_private.tg__audit() is
  'Trigger: records the row change in app_public.audit_events. Attach AFTER INSERT OR UPDATE OR DELETE FOR EACH ROW; pass the names of columns to keep out of the trail as arguments. On Citus it names the table, not the shard, and records a reference table''s change once.';

create or replace function app_private.tg__notify_changes() returns trigger
  language plpgsql
  set search_path to pg_catalog, pg_temp
as $$
declare
  v_rows jsonb;
begin
  -- On a Citus shard: no listener is there, and a NOTIFY would stop a transaction over
  -- several nodes from committing (docs/citus.md).
  if exists (select 1 from app_private.citus_table_of_shard(tg_table_name)) then
    return null;
  end if;
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
comment on function app_private.tg__notify_changes() is 'Trigger: announces the statement''s changed rows with pg_notify on the channel `tenantgraph:<tg_argv[0]>:<the row''s tg_argv[1] column>`, 50 keys (tenant_id, id, user_id) at most per notification, never row data. Attach AFTER INSERT, UPDATE and DELETE FOR EACH STATEMENT, with REFERENCING NEW TABLE AS new_rows (insert, update) and OLD TABLE AS old_rows (delete). Quiet on Citus shards (realtime on Citus is still to come).';

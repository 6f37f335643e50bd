--! Previous: sha1:d7387c66c518b83f53db2346030e574407d8ce49
--! Hash: sha1:fe25f3a14f43e1535dc39957ab2d953ec8b7f734
--! Message: Realtime trigger checks for Citus inline

-- The realtime trigger runs as the request's role (it is no SECURITY DEFINER: it reads
-- only the statement's own rows), and that role has no usage on app_private: its Citus
-- check is written inline.

create or replace function app_private.tg__notify_changes() returns trigger
  language plpgsql
  set search_path to pg_catalog, pg_temp
as $$
declare
  v_rows jsonb;
begin
  -- On a Citus shard: no listener is there, and a NOTIFY would stop a transaction over
  -- several nodes from committing (docs/citus.md).
  -- Inline, not app_private.citus_table_of_shard: this trigger runs as the request's
  -- role, which may not use app_private. Shards are named <table>_<shard id>.
  if tg_table_name ~ '_[0-9]+$' and exists (select 1 from pg_extension where extname = 'citus') then
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

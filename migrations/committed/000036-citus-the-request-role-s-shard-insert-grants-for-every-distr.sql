--! Previous: sha1:f73f37822aac58d5f6adb7f27fba9305eaafa5e8
--! Hash: sha1:6ee689042d52894456320d83d9338e337e56a4f3
--! Message: Citus: the request role's shard INSERT grants for every distributed table the migrations record

-- The request role's INSERT on the shards (000029) for every table the migrations
-- distribute (app_private.citus_tables, 000035), not only app_public's: a tenant table a
-- DBA adds in another schema with db:new-table takes inserts on Citus too. Does nothing
-- on plain PostgreSQL.
create or replace function app_private.citus_grant_shard_inserts()
  returns void
  language plpgsql
  set search_path = pg_catalog, pg_temp
as $$
declare
  target regclass;
  failures text;
begin
  if not app_private.citus_enabled() then
    return;
  end if;
  for target in
    select distinct c.oid::regclass
    from pg_class c
    join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
    where (c.relnamespace = 'app_public'::regnamespace
           or exists (select 1 from app_private.citus_tables t
                      where t.kind = 'distributed' and t.relation = c.oid::regclass::text))
      and a.attacl is not null
      and has_column_privilege(':DATABASE_VISITOR', c.oid, a.attnum, 'INSERT')
      and exists (select 1 from pg_dist_partition p where p.logicalrelid = c.oid)
  loop
    select string_agg(r.result, '; ') into failures
    from run_command_on_shards(target, format('grant insert on %%s to %I', ':DATABASE_VISITOR')) r
    where not r.success;
    if failures is not null then
      raise exception 'granting INSERT on the shards of % failed: %', target, failures;
    end if;
  end loop;
end;
$$;
comment on function app_private.citus_grant_shard_inserts() is 'On Citus, grants the request role INSERT on the shards of the tables it may insert into by column grants (the coordinator sends defaulted columns explicitly): those of app_public and every table in app_private.citus_tables. Does nothing on plain PostgreSQL. Run again after shards are split, moved or added, and after a new distributed table''s grants (db:new-table writes the call).';

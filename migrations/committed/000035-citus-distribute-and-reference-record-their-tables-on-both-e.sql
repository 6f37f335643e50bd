--! Previous: sha1:97f80c281cb3475c0e11908b2a76a8c209573790
--! Hash: sha1:f73f37822aac58d5f6adb7f27fba9305eaafa5e8
--! Message: Citus: distribute() and reference() record their tables on both engines, for the guard

-- Which tables the migrations distribute or make reference tables, recorded on both
-- engines: on plain PostgreSQL distribute() and reference() do nothing else, and the
-- schema guard reads this list to tell a DBA, before any deployment to Citus, that a new
-- tenant table was never passed to app_private.distribute (docs/guard.md#citus_not_distributed).
-- Names, not oids or regclass: they survive pg_dump and pg_upgrade (which refuses regclass
-- columns); a renamed table is reported until it is distributed under its new name.
create table if not exists app_private.citus_tables (
  relation text primary key,
  kind text not null check (kind in ('distributed', 'reference')),
  recorded_at timestamptz not null default now()
);
comment on table app_private.citus_tables is 'Every table the migrations passed to app_private.distribute or app_private.reference, schema-qualified, on plain PostgreSQL too: the schema guard''s list of tables that Citus will distribute (citus_not_distributed). Not a tenant table; requests never read it.';
comment on column app_private.citus_tables.relation is 'The table, schema-qualified as regclass prints it with search_path pg_catalog.';
comment on column app_private.citus_tables.kind is 'distributed (by tenant_id, co-located with memberships) or reference (a copy on every node).';
comment on column app_private.citus_tables.recorded_at is 'When a migration last passed the table to distribute() or reference().';
alter table app_private.citus_tables enable row level security;
alter table app_private.citus_tables force row level security;
drop policy if exists none_for_requests on app_private.citus_tables;
create policy none_for_requests on app_private.citus_tables using (false);
comment on policy none_for_requests on app_private.citus_tables is 'Requests never read or write the list; migrations run as the owner.';

create or replace function app_private.citus_record(target regclass, kind text)
  returns void
  language plpgsql
  set search_path = pg_catalog, pg_temp
as $$
begin
  insert into app_private.citus_tables (relation, kind) values (target::text, kind)
    on conflict (relation) do update set kind = excluded.kind, recorded_at = now();
end;
$$;
comment on function app_private.citus_record(regclass, text) is 'Records in app_private.citus_tables that a table is distributed or a reference table. Used by app_private.distribute and app_private.reference only.';
revoke all on function app_private.citus_record(regclass, text) from public;

create or replace function app_private.distribute(target regclass)
  returns void
  language plpgsql
  set search_path = pg_catalog, pg_temp
as $$
begin
  perform app_private.citus_record(target, 'distributed');
  if not app_private.citus_enabled() then
    return;
  end if;
  -- A migration writes reference and distributed tables in one transaction: Citus then
  -- needs one connection per node, not one per shard.
  perform set_config('citus.multi_shard_modify_mode', 'sequential', true);
  -- The audit, updated_at and ownership triggers run on the shards (docs/citus.md).
  perform set_config('citus.enable_unsafe_triggers', 'on', true);
  perform app_private.citus_unwrap_policies(target);
  -- All tenant tables in one co-location group: a tenant's rows of every table are on one
  -- worker, so joins, foreign keys and the policy helpers' look-ups stay on it.
  execute format('select create_distributed_table(%L, %L, colocate_with => %L)',
    target, 'tenant_id',
    case when target = 'app_public.memberships'::regclass then 'default' else 'app_public.memberships' end);
end;
$$;
comment on function app_private.distribute(regclass) is 'On Citus, distributes a tenant table by tenant_id, co-located with app_public.memberships; on both engines, records it in app_private.citus_tables for the schema guard. Call it for every new tenant table, after its CREATE TABLE and before foreign keys to other tenant tables.';

create or replace function app_private.reference(target regclass)
  returns void
  language plpgsql
  set search_path = pg_catalog, pg_temp
as $$
begin
  perform app_private.citus_record(target, 'reference');
  if not app_private.citus_enabled() then
    return;
  end if;
  perform set_config('citus.multi_shard_modify_mode', 'sequential', true);
  perform set_config('citus.enable_unsafe_triggers', 'on', true);
  perform app_private.citus_unwrap_policies(target);
  execute format('select create_reference_table(%L)', target);
end;
$$;
comment on function app_private.reference(regclass) is 'On Citus, makes a global table (one without tenant_id) a reference table, copied to every node; on both engines, records it in app_private.citus_tables. Does nothing else on plain PostgreSQL.';

-- The tables migration 000023 distributed on Citus (and only there): recorded on both engines.
insert into app_private.citus_tables (relation, kind) values
  ('app_public.tenants', 'reference'),
  ('app_public.users', 'reference'),
  ('app_private.tenant_erasures', 'reference'),
  ('app_public.memberships', 'distributed'),
  ('app_public.api_keys', 'distributed'),
  ('app_private.api_key_secrets', 'distributed'),
  ('app_public.invitations', 'distributed'),
  ('app_private.invitation_secrets', 'distributed'),
  ('app_public.categories', 'distributed'),
  ('app_public.products', 'distributed'),
  ('app_public.audit_events', 'distributed'),
  ('app_public.tenant_exports', 'distributed')
on conflict (relation) do nothing;

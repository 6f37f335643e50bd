--! Previous: sha1:451a844ede46a9a55fb0e907c45ccd400a5c117f
--! Hash: sha1:e322551aeb354a5a0bad21130e6033f564b42313
--! Message: Citus: distribution helpers, categories clear their products by trigger

-- One migration history for one PostgreSQL and for a Citus cluster (docs/citus.md).
--
-- On plain PostgreSQL this migration changes one thing: deleting a category clears its
-- products' category_id through a trigger instead of `on delete set null (category_id)`,
-- which Citus cannot run (it ignores the column list and would clear tenant_id too).
-- Everything else here only acts when the citus extension is installed in the database:
-- tenants, users and tenant_erasures become reference tables (a copy on every node),
-- every table with a tenant_id is distributed by it, all co-located, so a tenant's
-- memberships, API keys and data live in shards on the same worker.

create or replace function app_private.citus_enabled()
  returns boolean
  language sql
  stable
  set search_path = pg_catalog, pg_temp
as $$
  select exists (select 1 from pg_catalog.pg_extension where extname = 'citus')
$$;
comment on function app_private.citus_enabled() is 'Whether this database runs on Citus (the citus extension is installed): the distribution helpers do nothing otherwise.';

-- Citus refuses sub-selects in the policies of its tables, the `(select helper())`
-- wrappers included (they are there for plain PostgreSQL's plans: an initplan runs the
-- helper once per statement; docs/citus.md has the measurements). On Citus the helper
-- is called directly; the wrapper is the only shape rewritten, any other sub-select is
-- left for create_distributed_table to refuse, loudly.
create or replace function app_private.citus_unwrap_policies(target regclass)
  returns void
  language plpgsql
  set search_path = pg_catalog, pg_temp
as $$
declare
  policy record;
  wrapper constant text := '\(\s*SELECT\s+([a-z_]+\.[a-z_]+\(\))\s+AS\s+[a-z_]+\)';
begin
  for policy in
    select p.polname,
           pg_get_expr(p.polqual, p.polrelid) as using_expression,
           pg_get_expr(p.polwithcheck, p.polrelid) as check_expression
    from pg_policy p
    where p.polrelid = target
  loop
    if policy.using_expression is not null then
      execute format('alter policy %I on %s using (%s)', policy.polname, target,
        regexp_replace(policy.using_expression, wrapper, '\1', 'gi'));
    end if;
    if policy.check_expression is not null then
      execute format('alter policy %I on %s with check (%s)', policy.polname, target,
        regexp_replace(policy.check_expression, wrapper, '\1', 'gi'));
    end if;
  end loop;
end;
$$;
comment on function app_private.citus_unwrap_policies(regclass) is 'Rewrites the policies of a table about to be distributed so they call the helpers directly: Citus refuses `(select app_public.current_tenant_id())`. Used by app_private.distribute and app_private.reference only.';

create or replace function app_private.distribute(target regclass)
  returns void
  language plpgsql
  set search_path = pg_catalog, pg_temp
as $$
begin
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
comment on function app_private.distribute(regclass) is 'On Citus, distributes a tenant table by tenant_id, co-located with app_public.memberships; does nothing on plain PostgreSQL. Call it for every new tenant table, after its CREATE TABLE and before foreign keys to other tenant tables.';

create or replace function app_private.reference(target regclass)
  returns void
  language plpgsql
  set search_path = pg_catalog, pg_temp
as $$
begin
  if not app_private.citus_enabled() then
    return;
  end if;
  perform set_config('citus.multi_shard_modify_mode', 'sequential', true);
  perform set_config('citus.enable_unsafe_triggers', 'on', true);
  perform app_private.citus_unwrap_policies(target);
  execute format('select create_reference_table(%L)', target);
end;
$$;
comment on function app_private.reference(regclass) is 'On Citus, makes a global table (one without tenant_id) a reference table, copied to every node; does nothing on plain PostgreSQL.';

revoke all on function app_private.citus_enabled() from public;
revoke all on function app_private.citus_unwrap_policies(regclass) from public;
revoke all on function app_private.distribute(regclass) from public;
revoke all on function app_private.reference(regclass) from public;

-- Two policies hold a real sub-select on memberships, not a wrapper: who may see a tenant
-- (its members) and a user (their fellow members). On Citus they call these helpers
-- instead; on plain PostgreSQL the sub-selects stay (a hashed sub-plan, once per statement).
create or replace function app_public.is_member_of(tenant_id uuid)
  returns boolean
  language sql
  stable
  security definer
  set search_path = pg_catalog, pg_temp
as $$
  select exists (
    select 1 from app_public.memberships m
    where m.tenant_id = is_member_of.tenant_id and m.user_id = app_public.current_user_id()
  )
$$;
comment on function app_public.is_member_of(uuid) is E'@behavior -queryField\nWhether the signed-in user is a member of the tenant: the tenants policy on Citus, where policies may not hold sub-selects. SECURITY DEFINER to read memberships whatever the caller''s role.';
revoke all on function app_public.is_member_of(uuid) from public;
grant execute on function app_public.is_member_of(uuid) to :DATABASE_VISITOR;

create or replace function app_public.is_fellow_member(user_id uuid)
  returns boolean
  language sql
  stable
  security definer
  set search_path = pg_catalog, pg_temp
as $$
  select exists (
    select 1 from app_public.memberships m
    where m.tenant_id = app_public.current_tenant_id() and m.user_id = is_fellow_member.user_id
  )
$$;
comment on function app_public.is_fellow_member(uuid) is E'@behavior -queryField\nWhether the user is a member of the tenant the request acts in: the users policy on Citus, where policies may not hold sub-selects. SECURITY DEFINER to read memberships whatever the caller''s role.';
revoke all on function app_public.is_fellow_member(uuid) from public;
grant execute on function app_public.is_fellow_member(uuid) to :DATABASE_VISITOR;

-- Deleting a category clears its products' category_id: a trigger, on both engines, in
-- place of `on delete set null (category_id)`. The foreign key still refuses a product
-- pointing at a missing or foreign category; the trigger runs first, so no product points
-- at the category when the key is checked. On Citus the update stays on the category's
-- worker: products and categories are co-located and the update names the tenant.
create or replace function app_private.tg_categories__clear_products()
  returns trigger
  language plpgsql
  security definer
  set search_path = pg_catalog, pg_temp
as $$
begin
  update app_public.products set category_id = null
    where tenant_id = old.tenant_id and category_id = old.id;
  return old;
end;
$$;
comment on function app_private.tg_categories__clear_products() is 'Trigger: a deleted category''s products keep existing without a category. SECURITY DEFINER because a foreign key''s own action ignores row level security too: whoever may delete the category clears the reference, even on products their role could not update.';
revoke all on function app_private.tg_categories__clear_products() from public;

drop trigger if exists _100_clear_products on app_public.categories;
create trigger _100_clear_products
  before delete on app_public.categories
  for each row execute function app_private.tg_categories__clear_products();

alter table app_public.products drop constraint if exists products_tenant_id_category_id_fkey;
alter table app_public.products add constraint products_tenant_id_category_id_fkey
  foreign key (tenant_id, category_id) references app_public.categories (tenant_id, id);
comment on constraint products_tenant_id_category_id_fkey on app_public.products is E'@foreignFieldName products\n@fieldName category\nThe product''s category, always one of the same tenant''s.';

-- Citus: foreign keys between tenant tables can only be added once both are distributed,
-- so they are dropped, the tables distributed, and the keys added back as they were.
do $$
declare
  fk record;
begin
  if not app_private.citus_enabled() then
    return;
  end if;
  create temporary table citus_foreign_keys on commit drop as
    select c.conrelid::regclass as relation, c.conname as name,
           pg_get_constraintdef(c.oid) as definition,
           obj_description(c.oid, 'pg_constraint') as description
    from pg_constraint c
    where c.contype = 'f'
      and c.connamespace in ('app_public'::regnamespace, 'app_private'::regnamespace);
  for fk in select * from citus_foreign_keys loop
    execute format('alter table %s drop constraint %I', fk.relation, fk.name);
  end loop;

  -- Membership and key look-ups of the policy helpers are by (tenant_id, user) and
  -- (tenant_id, key): co-located with the rows they guard. Users and tenants are read
  -- by every tenant's queries and change rarely: reference tables.
  alter policy select_if_member_or_current on app_public.tenants
    using (id = app_public.current_tenant_id() or app_public.is_member_of(id));
  alter policy select_self_or_fellow_member on app_public.users
    using (id = app_public.current_user_id() or app_public.is_fellow_member(id));
  perform app_private.reference('app_public.tenants');
  perform app_private.reference('app_public.users');
  perform app_private.reference('app_private.tenant_erasures');
  perform app_private.distribute('app_public.memberships');
  perform app_private.distribute('app_public.api_keys');
  perform app_private.distribute('app_private.api_key_secrets');
  perform app_private.distribute('app_public.invitations');
  perform app_private.distribute('app_private.invitation_secrets');
  perform app_private.distribute('app_public.categories');
  perform app_private.distribute('app_public.products');
  perform app_private.distribute('app_public.audit_events');
  perform app_private.distribute('app_public.tenant_exports');

  for fk in select * from citus_foreign_keys loop
    execute format('alter table %s add constraint %I %s', fk.relation, fk.name, fk.definition);
    if fk.description is not null then
      execute format('comment on constraint %I on %s is %L', fk.name, fk.relation, fk.description);
    end if;
  end loop;
end;
$$;

--! Previous: sha1:cc63d0f3a8dd569fa147d1905145ca4d487099e4
--! Hash: sha1:97f80c281cb3475c0e11908b2a76a8c209573790
--! Message: The last-owner rule on Citus locks by advisory lock on the tenant's worker

-- The last-owner rule on Citus. Its trigger serialises changes to a tenant's owners by
-- locking the tenant's row (`for update`). On Citus it runs on the memberships shard, on a
-- worker, and tenants is a reference table: locking its row from there goes to every
-- copy, and when the tenant itself is being deleted (its memberships going by cascade)
-- that waits on the deletion's own locks elsewhere, a distributed deadlock. All of a
-- tenant's memberships are in one shard on one worker, so on a shard the mutex is a
-- transaction-level advisory lock per tenant on that worker, and whether the tenant still
-- exists is read from the local copy of tenants. On plain PostgreSQL: unchanged.
create or replace function app_private.tg_memberships__keep_an_owner()
  returns trigger
  language plpgsql
  security definer
  set search_path to pg_catalog, pg_temp
as $$
declare
  v_tenant_exists boolean;
begin
  if old.role <> 'owner' or (tg_op = 'UPDATE' and new.role = 'owner') then
    return coalesce(new, old);
  end if;
  if exists (select 1 from app_private.tenant_erasures e where e.erased_tenant_id = old.tenant_id and e.erased_at is null) then
    return coalesce(new, old);
  end if;
  -- One change to a tenant's owners at a time: two owners demoting each other at once
  -- would otherwise each see the other and leave none. A tenant already deleted (its
  -- memberships going with it) has nothing to lock and nothing to keep.
  if exists (select 1 from app_private.citus_table_of_shard(tg_table_name)) then
    perform pg_advisory_xact_lock(hashtextextended('tenantgraph:owners:' || old.tenant_id::text, 0));
    v_tenant_exists := exists (select 1 from app_public.tenants where id = old.tenant_id);
  else
    perform 1 from app_public.tenants where id = old.tenant_id for update;
    v_tenant_exists := found;
  end if;
  if v_tenant_exists and not exists (
    select 1 from app_public.memberships
    where tenant_id = old.tenant_id and role = 'owner' and user_id <> old.user_id
  ) then
    raise exception 'A tenant needs an owner: make someone else owner first (transferOwnership), or delete the tenant.'
      using errcode = 'TGO01';
  end if;
  return coalesce(new, old);
end;
$$;

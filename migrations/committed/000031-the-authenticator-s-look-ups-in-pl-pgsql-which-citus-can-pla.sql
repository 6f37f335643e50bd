--! Previous: sha1:9cc65cce78849c4ea37c595a205e4b6d73e4fc00
--! Hash: sha1:9382ec1c8819bdf89edd76ee1d00d544c7657610
--! Message: The authenticator's look-ups in PL/pgSQL, which Citus can plan

-- The authenticator's look-ups in PL/pgSQL instead of SQL: Citus cannot plan a SQL
-- function's parameterised query on its tables ("parameterized queries for SQL functions
-- referencing distributed tables are not supported"), which broke `X-Tenant` on Citus.
-- Same queries, same results; PL/pgSQL plans them with the values bound.

create or replace function app_private.member_tenant_id(user_id uuid, tenant_id uuid)
  returns uuid
  language plpgsql
  stable
  security definer
  set search_path to pg_catalog, pg_temp
as $$
begin
  return (
    select m.tenant_id
    from app_public.memberships m
    where m.tenant_id = member_tenant_id.tenant_id
      and m.user_id = member_tenant_id.user_id
  );
end;
$$;

create or replace function app_private.member_tenant_id_by_slug(user_id uuid, slug text)
  returns uuid
  language plpgsql
  stable
  security definer
  set search_path to pg_catalog, pg_temp
as $$
declare
  v_tenant uuid;
begin
  -- The tenant by its slug first (a reference table on Citus), then the membership in
  -- that one tenant: on Citus a query for one tenant's shard.
  select t.id into v_tenant from app_public.tenants t where t.slug = member_tenant_id_by_slug.slug;
  if v_tenant is null then
    return null;
  end if;
  return (
    select m.tenant_id
    from app_public.memberships m
    where m.tenant_id = v_tenant
      and m.user_id = member_tenant_id_by_slug.user_id
  );
end;
$$;

create or replace function app_private.tenant_slugs(ids uuid[])
  returns table (id uuid, slug text)
  language plpgsql
  stable
  security definer
  set search_path to pg_catalog, pg_temp
as $$
begin
  return query select t.id, t.slug from app_public.tenants t where t.id = any (tenant_slugs.ids);
end;
$$;

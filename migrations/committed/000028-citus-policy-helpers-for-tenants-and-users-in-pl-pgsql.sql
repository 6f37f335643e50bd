--! Previous: sha1:fe25f3a14f43e1535dc39957ab2d953ec8b7f734
--! Hash: sha1:236580fc4a60a2be203d11e49e2028237a4284d5
--! Message: Citus policy helpers for tenants and users in PL/pgSQL

-- The tenants and users policies' helpers on Citus (app_public.is_member_of and
-- is_fellow_member, used only there) in PL/pgSQL: Citus cannot plan a SQL function's
-- parameterised query on a distributed table ("could not create distributed plan").
-- Like the identity helpers, they read the co-located memberships shard when the query
-- runs on a worker.

create or replace function app_public.is_member_of(tenant_id uuid)
  returns boolean
  language plpgsql
  stable
  security definer
  set search_path = pg_catalog, pg_temp
as $$
declare
  v_user uuid := app_private.uuid_setting('app.current_user_id');
  v_shard regclass;
  v_found boolean;
begin
  if tenant_id is null or v_user is null then
    return false;
  end if;
  if app_private.citus_enabled() then
    v_shard := app_private.citus_local_shard('app_public.memberships', tenant_id);
    if v_shard is not null then
      execute format('select exists (select 1 from %s m where m.tenant_id = $1 and m.user_id = $2)', v_shard)
        into v_found using tenant_id, v_user;
      return v_found;
    elsif not citus_is_coordinator() then
      return false; -- not this worker's tenant: the coordinator answers for it
    end if;
  end if;
  return exists (
    select 1 from app_public.memberships m
    where m.tenant_id = is_member_of.tenant_id and m.user_id = v_user
  );
end;
$$;

create or replace function app_public.is_fellow_member(user_id uuid)
  returns boolean
  language plpgsql
  stable
  security definer
  set search_path = pg_catalog, pg_temp
as $$
declare
  v_tenant uuid := app_public.current_tenant_id();
  v_shard regclass;
  v_found boolean;
begin
  if v_tenant is null or user_id is null then
    return false;
  end if;
  if app_private.citus_enabled() then
    v_shard := app_private.citus_local_shard('app_public.memberships', v_tenant);
    if v_shard is not null then
      execute format('select exists (select 1 from %s m where m.tenant_id = $1 and m.user_id = $2)', v_shard)
        into v_found using v_tenant, user_id;
      return v_found;
    elsif not citus_is_coordinator() then
      return false;
    end if;
  end if;
  return exists (
    select 1 from app_public.memberships m
    where m.tenant_id = v_tenant and m.user_id = is_fellow_member.user_id
  );
end;
$$;

--! Previous: sha1:c2395cca992461567534e92fc0dcd8d2b3384d88
--! Hash: sha1:d7387c66c518b83f53db2346030e574407d8ce49
--! Message: Identity helpers read the co-located shard on Citus workers

-- The identity helpers read the request's membership (or API key) where the policies run.
-- On Citus the policies run on the workers, inside a shard's query, where a query on a
-- distributed table is refused ("cannot execute a distributed query from a query on a
-- shard"). memberships and api_keys are co-located with the tenant's rows, so a worker
-- that holds any row of the tenant also holds the shard with its memberships and keys:
-- the helpers read that shard directly, and a worker without it answers "no tenant" (it
-- holds none of that tenant's rows either). The coordinator, which holds no shard, asks
-- the distributed tables as before. On plain PostgreSQL: the same queries as before.

create or replace function app_private.citus_local_shard(target regclass, tenant_id uuid)
  returns regclass
  language plpgsql
  stable
  set search_path = pg_catalog, pg_temp
as $$
begin
  -- get_shard_id_for_distribution_column and shard_name read Citus's metadata only.
  return to_regclass(shard_name(target, get_shard_id_for_distribution_column(target, tenant_id)));
end;
$$;
comment on function app_private.citus_local_shard(regclass, uuid) is 'On Citus, the shard of a distributed table that holds this tenant''s rows, if it is on this node; NULL when it is elsewhere. Only called when the citus extension is installed.';
revoke all on function app_private.citus_local_shard(regclass, uuid) from public;

create or replace function app_private.tenant_access(out tenant_id uuid, out role app_public.membership_role)
  language plpgsql
  stable
  security definer
  set search_path = pg_catalog, pg_temp
as $$
declare
  v_tenant uuid := app_private.uuid_setting('app.current_tenant_id');
  v_user uuid := app_private.uuid_setting('app.current_user_id');
  v_key uuid := app_private.uuid_setting('app.current_api_key_id');
  v_shard regclass;
begin
  if v_tenant is null then
    return;
  end if;
  if app_private.citus_enabled() then
    v_shard := app_private.citus_local_shard(
      case when v_key is not null then 'app_public.api_keys' else 'app_public.memberships' end, v_tenant);
    if v_shard is null and not citus_is_coordinator() then
      return; -- a worker without the tenant's shards holds none of its rows
    end if;
    if v_shard is not null then
      if v_key is not null then
        execute format(
          'select k.tenant_id, k.role from %s k where k.id = $1 and k.tenant_id = $2 and k.revoked_at is null and (k.expires_at is null or k.expires_at > now())',
          v_shard) into tenant_id, role using v_key, v_tenant;
      else
        execute format('select m.tenant_id, m.role from %s m where m.tenant_id = $1 and m.user_id = $2', v_shard)
          into tenant_id, role using v_tenant, v_user;
      end if;
      return;
    end if;
  end if;
  -- A key must still be usable, so a revocation counts at the next statement.
  if v_key is not null then
    select k.tenant_id, k.role into tenant_id, role
    from app_public.api_keys k
    where k.id = v_key and k.tenant_id = v_tenant
      and k.revoked_at is null and (k.expires_at is null or k.expires_at > now());
    return;
  end if;
  -- The tenant claim counts only if the user really is a member: a token naming
  -- someone else's tenant selects nothing.
  select m.tenant_id, m.role into tenant_id, role
  from app_public.memberships m
  where m.tenant_id = v_tenant and m.user_id = v_user;
end;
$$;
comment on function app_private.tenant_access() is 'The tenant the request acts in and its role there, from the settings: the API key''s (if usable) or the user''s membership; NULLs otherwise. On Citus it reads the co-located shard on a worker (docs/citus.md). SECURITY DEFINER to read memberships and keys whatever the caller''s role.';
revoke all on function app_private.tenant_access() from public;

create or replace function app_public.current_tenant_id() returns uuid
  language plpgsql stable security definer
  set search_path to pg_catalog, pg_temp
as $$
begin
  return (select a.tenant_id from app_private.tenant_access() a);
end;
$$;

create or replace function app_public.current_tenant_role() returns app_public.membership_role
  language plpgsql stable security definer
  set search_path to pg_catalog, pg_temp
as $$
begin
  return (select a.role from app_private.tenant_access() a);
end;
$$;

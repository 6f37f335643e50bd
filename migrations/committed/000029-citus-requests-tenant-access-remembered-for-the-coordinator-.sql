--! Previous: sha1:236580fc4a60a2be203d11e49e2028237a4284d5
--! Hash: sha1:15b51d71431b7c93a3d303e52b6b5915c8822908
--! Message: Citus requests: tenant access remembered for the coordinator, sequential multi-shard writes, inserts on shards

-- Citus: the request's tenant and role, looked up once when the settings are applied.
--
-- On the coordinator the identity helpers run as the owner (SECURITY DEFINER) and read
-- memberships through Citus. After the request's role has written a tenant's rows, Citus
-- refuses a query as another user on those shards and the ones co-located with them
-- ("cannot perform query on placements that were modified in this transaction by a
-- different user"): create_product's tenant_id default, the tenants policies, every
-- definer function that follows a write. So apply_request_settings asks
-- app_private.tenant_access() once, right after the settings and before any write, and
-- keeps the answer in the transaction-local app.tenant_access, with the settings it was
-- computed from; on the coordinator tenant_access() answers from it while those settings
-- are unchanged. The workers read their own co-located shard, as before; plain
-- PostgreSQL neither writes nor reads this setting.
--
-- What this trusts: a setting, like app.current_user_id itself, is set by the API's
-- authenticator only; a request role running SQL of its own could set either. An API key
-- revoked within the transaction still counts on the coordinator until it ends (the
-- workers check it at every statement).
--
-- Also for requests on Citus: citus.multi_shard_modify_mode = sequential, as in the
-- migrations, so a request may write a reference table (tenants) after a statement that
-- touched several shards.

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
  v_cached jsonb;
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
    -- The coordinator: the answer of apply_request_settings, if the settings are still those.
    v_cached := nullif(current_setting('app.tenant_access', true), '')::jsonb;
    if v_cached is not null
       and v_cached ->> 'tenant' = v_tenant::text
       and v_cached ->> 'user' is not distinct from v_user::text
       and v_cached ->> 'key' is not distinct from v_key::text then
      tenant_id := (v_cached ->> 'tenant_id')::uuid;
      role := (v_cached ->> 'role')::app_public.membership_role;
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
comment on function app_private.tenant_access() is 'The tenant the request acts in and its role there, from the settings: the API key''s (if usable) or the user''s membership; NULLs otherwise. On Citus a worker reads the co-located shard, and the coordinator answers from app.tenant_access, set by apply_request_settings (docs/citus.md). SECURITY DEFINER to read memberships and keys whatever the caller''s role.';

create or replace function app_private.remember_tenant_access()
  returns void
  language plpgsql
  security definer
  set search_path = pg_catalog, pg_temp
as $$
declare
  access record;
begin
  -- Whatever app.tenant_access held before is not trusted: computed afresh here.
  perform set_config('app.tenant_access', '', true);
  select * into access from app_private.tenant_access();
  perform set_config('app.tenant_access', jsonb_build_object(
    'tenant', app_private.uuid_setting('app.current_tenant_id'),
    'user', app_private.uuid_setting('app.current_user_id'),
    'key', app_private.uuid_setting('app.current_api_key_id'),
    'tenant_id', access.tenant_id,
    'role', access.role)::text, true);
end;
$$;
comment on function app_private.remember_tenant_access() is 'On Citus, keeps the request''s tenant and role (app_private.tenant_access) in the transaction-local app.tenant_access, for the coordinator''s helpers after the request has written. Called by apply_request_settings before the role switch. SECURITY DEFINER to read memberships and keys, which the authenticator may not.';
revoke all on function app_private.remember_tenant_access() from public;
grant execute on function app_private.remember_tenant_access() to :DATABASE_AUTHENTICATOR;

create or replace function app_private.apply_request_settings(settings json)
  returns void
  language plpgsql
  -- No SET clause: a function's own SET would end the SET LOCALs with the function.
as $$
declare
  setting record;
  on_citus constant boolean := exists (select 1 from pg_catalog.pg_extension where extname = 'citus');
begin
  if on_citus then
    perform pg_catalog.set_config('citus.propagate_set_commands', 'local', true);
    perform pg_catalog.set_config('citus.multi_shard_modify_mode', 'sequential', true);
  end if;
  for setting in
    select el->>0 as name, el->>1 as value from pg_catalog.json_array_elements(settings) el
  loop
    if setting.name = 'role' then
      continue;
    elsif on_citus then
      -- The server quotes name and value (%I, %L): nothing is spliced on the client.
      execute pg_catalog.format('set local %I = %L', setting.name, setting.value);
    else
      perform pg_catalog.set_config(setting.name, setting.value, true);
    end if;
  end loop;
  if on_citus then
    -- Before any write of the request (see app_private.tenant_access). Not propagated:
    -- the workers read their own shards.
    perform app_private.remember_tenant_access();
  end if;
  -- The role last: the calling login keeps its rights until every setting is in place.
  perform pg_catalog.set_config(el->>0, el->>1, true)
    from pg_catalog.json_array_elements(settings) el where el->>0 = 'role';
end;
$$;

-- Citus: the coordinator sends an insert's defaulted columns (tenant_id, id, created_at…)
-- to the shard explicitly, so the column-level INSERT grants refuse every insert there.
-- The request role gets table-level INSERT on the shards only: on the coordinator, where
-- requests send their SQL, it keeps exactly its column grants (and row level security
-- still runs on the shard). Shards made later (a split, a move, a new worker) copy the
-- coordinator's grants: run app_private.citus_grant_shard_inserts() after rebalancing
-- (docs/citus.md); until then inserts there fail, they do not leak.
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
    where c.relnamespace = 'app_public'::regnamespace
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
comment on function app_private.citus_grant_shard_inserts() is 'On Citus, grants the request role INSERT on the shards of the tables it may insert into by column grants (the coordinator sends defaulted columns explicitly); does nothing on plain PostgreSQL. Run again after shards are split, moved or added.';
revoke all on function app_private.citus_grant_shard_inserts() from public;

select app_private.citus_grant_shard_inserts();

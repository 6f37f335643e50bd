--! Previous: sha1:a52712cd74b535c9db9fd2a334a15bc61d15ebab
--! Hash: sha1:667bfdbf2d69d351511e67b53c9df3f7455dd950
--! Message: api keys

-- API keys: credentials for a tenant's own scripts and integrations, which are not a
-- person's login. Owners and admins create them with a role no higher than their own
-- and at most admin; the secret is shown once and stored only as a hash, apart from the
-- keys, which admins list. A request with a key acts in the key's tenant with the key's
-- role: current_tenant_id() and current_tenant_role() accept a verified key as they
-- accept a member.
drop function if exists app_public.revoke_api_key(uuid);
drop function if exists app_public.create_api_key(text, app_public.membership_role, timestamptz);
drop function if exists app_private.api_key_by_secret_hash(bytea);
drop type if exists app_public.new_api_key;
drop table if exists app_private.api_key_secrets;
drop table if exists app_public.api_keys cascade;

create table app_public.api_keys (
  tenant_id uuid not null default app_public.current_tenant_id() references app_public.tenants on delete cascade,
  id uuid not null default gen_random_uuid(),
  name text not null check (length(name) between 1 and 100),
  role app_public.membership_role not null check (role <> 'owner'),
  prefix text not null,
  created_by uuid references app_public.users on delete set null,
  created_at timestamptz not null default now(),
  expires_at timestamptz,
  revoked_at timestamptz,
  last_used_at timestamptz,
  primary key (tenant_id, id)
);
comment on table app_public.api_keys is
  E'@behavior -insert -update -delete\nA credential for the tenant''s scripts and integrations: requests with `Authorization: Bearer <key>` act in this tenant with this role. Create with `createApiKey` (the secret is shown once), end with `revokeApiKey`. Visible to owners and admins.';
comment on column app_public.api_keys.tenant_id is E'@behavior -insert -update\nThe tenant the key acts in.';
comment on column app_public.api_keys.id is 'The key''s id, unique within its tenant.';
comment on column app_public.api_keys.name is 'What the key is for, e.g. "nightly export".';
comment on column app_public.api_keys.role is 'The role the key acts with: at most `admin`, and no higher than its creator''s.';
comment on column app_public.api_keys.prefix is 'The first characters of the key, to tell keys apart; the rest is never stored.';
comment on column app_public.api_keys.created_by is 'Who created the key.';
comment on column app_public.api_keys.created_at is 'When the key was created.';
comment on column app_public.api_keys.expires_at is 'After this, the key no longer works; none: until revoked.';
comment on column app_public.api_keys.revoked_at is 'When the key was revoked; a revoked key no longer works.';
comment on column app_public.api_keys.last_used_at is 'When the key was last used (to the minute).';
comment on constraint api_keys_role_check on app_public.api_keys is 'An API key acts at most as an admin.';

create index api_keys_tenant_id_created_at_idx on app_public.api_keys (tenant_id, created_at);
create index api_keys_created_by_idx on app_public.api_keys (created_by);

alter table app_public.api_keys enable row level security;
alter table app_public.api_keys force row level security;
create policy select_by_admin on app_public.api_keys for select
  using (tenant_id = (select app_public.current_tenant_id()) and (select app_public.current_tenant_role()) in ('owner', 'admin'));
grant select on app_public.api_keys to :DATABASE_VISITOR;

create table app_private.api_key_secrets (
  tenant_id uuid not null,
  api_key_id uuid not null,
  secret_hash bytea not null,
  primary key (tenant_id, api_key_id),
  foreign key (tenant_id, api_key_id) references app_public.api_keys (tenant_id, id) on delete cascade
);
comment on table app_private.api_key_secrets is 'SHA-256 of each API key. A key is 244 random bits, so a fast hash is enough.';
-- Looked up across tenants (the key names its tenant); not unique: such keys do not collide.
create index api_key_secrets_secret_hash_idx on app_private.api_key_secrets (secret_hash);
alter table app_private.api_key_secrets enable row level security;
alter table app_private.api_key_secrets force row level security;
create policy none_for_requests on app_private.api_key_secrets using (false);

-- Creation and revocation are audited; last use is not (it would be one event a minute).
create trigger _900_audit after insert or update of name, role, expires_at, revoked_at or delete on app_public.api_keys
  for each row execute function app_private.tg__audit();

create type app_public.new_api_key as (api_key_id uuid, name text, role app_public.membership_role, prefix text, expires_at timestamptz, secret text);
comment on type app_public.new_api_key is 'A key just created, with its secret: shown this once, store it now.';

--------------------------------------------------------------------------------
-- Verifying a key: the API asks, as the authenticator, once per key and cache period.

-- SECURITY DEFINER: keys and their hashes are out of the authenticator's reach.
create function app_private.api_key_by_secret_hash(secret_hash bytea) returns table (tenant_id uuid, api_key_id uuid, role app_public.membership_role)
  language plpgsql volatile security definer
  set search_path to pg_catalog, pg_temp
as $$
begin
  return query
    with found as (
      select k.tenant_id, k.id, k.role, k.last_used_at
      from app_private.api_key_secrets s
      join app_public.api_keys k on k.tenant_id = s.tenant_id and k.id = s.api_key_id
      where s.secret_hash = api_key_by_secret_hash.secret_hash
        and k.revoked_at is null and (k.expires_at is null or k.expires_at > now())
    ), touched as (
      -- Last use to the minute: at most one write a minute per key.
      update app_public.api_keys k set last_used_at = now()
      from found f
      where k.tenant_id = f.tenant_id and k.id = f.id and (f.last_used_at is null or f.last_used_at < now() - interval '1 minute')
    )
    select f.tenant_id, f.id, f.role from found f;
end;
$$;
comment on function app_private.api_key_by_secret_hash(bytea) is
  'The usable (unrevoked, unexpired) key with this hash, if any, noting its use: how the API verifies `Authorization: Bearer <key>`.';
grant execute on function app_private.api_key_by_secret_hash(bytea) to :DATABASE_AUTHENTICATOR;

--------------------------------------------------------------------------------
-- The identity helpers, taught about keys. A request with a key carries
-- app.current_api_key_id (set by the API only after verifying the key) and the key's
-- tenant; the key must still be usable, so a revocation counts at the next statement.

create or replace function app_public.current_tenant_id() returns uuid
  language plpgsql stable security definer
  set search_path to pg_catalog, pg_temp
as $$
begin
  if app_private.uuid_setting('app.current_api_key_id') is not null then
    return (
      select k.tenant_id from app_public.api_keys k
      where k.id = app_private.uuid_setting('app.current_api_key_id')
        and k.tenant_id = app_private.uuid_setting('app.current_tenant_id')
        and k.revoked_at is null and (k.expires_at is null or k.expires_at > now())
    );
  end if;
  -- The tenant claim counts only if the user really is a member: a token naming
  -- someone else's tenant selects nothing.
  return (
    select m.tenant_id
    from app_public.memberships m
    where m.tenant_id = app_private.uuid_setting('app.current_tenant_id')
      and m.user_id = app_private.uuid_setting('app.current_user_id')
  );
end;
$$;

create or replace function app_public.current_tenant_role() returns app_public.membership_role
  language plpgsql stable security definer
  set search_path to pg_catalog, pg_temp
as $$
begin
  if app_private.uuid_setting('app.current_api_key_id') is not null then
    return (
      select k.role from app_public.api_keys k
      where k.id = app_private.uuid_setting('app.current_api_key_id')
        and k.tenant_id = app_private.uuid_setting('app.current_tenant_id')
        and k.revoked_at is null and (k.expires_at is null or k.expires_at > now())
    );
  end if;
  return (
    select m.role
    from app_public.memberships m
    where m.tenant_id = app_private.uuid_setting('app.current_tenant_id')
      and m.user_id = app_private.uuid_setting('app.current_user_id')
  );
end;
$$;

-- A key sees its tenant's own row (currentTenant) as a member does.
drop policy if exists select_if_member on app_public.tenants;
drop policy if exists select_if_member_or_current on app_public.tenants;
create policy select_if_member_or_current on app_public.tenants for select
  using (
    id = (select app_public.current_tenant_id())
    or id in (select m.tenant_id from app_public.memberships m where m.user_id = (select app_public.current_user_id()))
  );

--------------------------------------------------------------------------------
-- The API. SECURITY DEFINER: keys are written only here, and their hashes are out of
-- the request roles' reach; each function checks the caller through the helpers.

create function app_public.create_api_key(name text, role app_public.membership_role default 'member', expires_at timestamptz default null)
  returns app_public.new_api_key
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_caller_role app_public.membership_role := app_public.current_tenant_role();
  v_secret text := 'tgk_' || replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '');
  v_key app_public.api_keys;
begin
  -- A person, owner or admin of the tenant: keys do not make keys.
  if app_public.current_user_id() is null or v_caller_role is null or v_caller_role not in ('owner', 'admin') then
    raise exception 'Only owners and admins of the current tenant may create API keys.' using errcode = 'TG403';
  end if;
  if create_api_key.role < v_caller_role or create_api_key.role = 'owner' then
    raise exception 'A key may act with a role up to your own, and at most admin.' using errcode = 'TGR01';
  end if;
  if create_api_key.expires_at is not null and create_api_key.expires_at <= now() then
    raise exception 'The expiry must be in the future.' using errcode = 'P0001';
  end if;
  insert into app_public.api_keys (tenant_id, name, role, prefix, created_by, expires_at)
    values (app_public.current_tenant_id(), create_api_key.name, create_api_key.role, left(v_secret, 12), app_public.current_user_id(), create_api_key.expires_at)
    returning * into v_key;
  insert into app_private.api_key_secrets (tenant_id, api_key_id, secret_hash)
    values (v_key.tenant_id, v_key.id, sha256(convert_to(v_secret, 'UTF8')));
  return row(v_key.id, v_key.name, v_key.role, v_key.prefix, v_key.expires_at, v_secret)::app_public.new_api_key;
end;
$$;
comment on function app_public.create_api_key(text, app_public.membership_role, timestamptz) is
  E'@resultFieldName apiKey\nCreates an API key for the current tenant (owners and admins), acting with a role up to your own and at most admin, until `expiresAt` if given. The secret is in the result, this once: it is never shown again.';

create function app_public.revoke_api_key(api_key_id uuid) returns app_public.api_keys
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_key app_public.api_keys;
begin
  update app_public.api_keys k set revoked_at = now()
    where k.tenant_id = app_public.current_tenant_id() and k.id = revoke_api_key.api_key_id and k.revoked_at is null
      and app_public.current_user_id() is not null and app_public.current_tenant_role() in ('owner', 'admin')
      and k.role >= app_public.current_tenant_role()
    returning * into v_key;
  if not found then
    raise exception 'No API key you may revoke has this id.' using errcode = 'TG404';
  end if;
  return v_key;
end;
$$;
comment on function app_public.revoke_api_key(uuid) is
  E'@resultFieldName apiKey\nRevokes an API key of the current tenant (owners and admins): it stops working within API_KEY_CACHE_SECONDS.';

grant usage on type app_public.new_api_key to :DATABASE_VISITOR;
grant execute on function app_public.create_api_key(text, app_public.membership_role, timestamptz) to :DATABASE_VISITOR;
grant execute on function app_public.revoke_api_key(uuid) to :DATABASE_VISITOR;

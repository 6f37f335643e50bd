--! Previous: sha1:86d86e373af3cf34c058d6678e91dbc7e81a6c87
--! Hash: sha1:eee9b75b9ab3841620324b2e9f466df3c81284e0
--! Message: users tenants and memberships

-- Accounts: users, tenants and who belongs where, plus the helpers that tell policies
-- who is asking. The API turns a verified JWT into transaction-local settings
-- (app.current_user_id, app.current_tenant_id); these helpers read them back.
drop table if exists app_public.memberships cascade;
drop table if exists app_public.tenants;
drop table if exists app_public.users;
drop function if exists app_public.current_tenant_role();
drop function if exists app_public.current_tenant_id();
drop function if exists app_public.current_user_id();
drop function if exists app_private.uuid_setting(text);
drop type if exists app_public.membership_role;

--------------------------------------------------------------------------------
-- Reading the request's identity

create function app_private.uuid_setting(name text) returns uuid
  language sql stable
  set search_path to pg_catalog, pg_temp
as $$
  -- Anything but a well-formed uuid reads as NULL: never an error that tells a caller
  -- something about the database.
  select case
    when value ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then value::uuid
  end
  from (select current_setting(name, true)) as setting(value)
$$;
comment on function app_private.uuid_setting(text) is
  'The transaction-local setting `name` as a uuid, or NULL when it is unset or not a uuid.';

-- SECURITY DEFINER only to reach app_private, which the request roles cannot see.
create function app_public.current_user_id() returns uuid
  language sql stable security definer
  set search_path to pg_catalog, pg_temp
as $$
  select app_private.uuid_setting('app.current_user_id')
$$;
comment on function app_public.current_user_id() is
  E'@behavior -queryField\nThe signed-in user''s id (the verified JWT `sub`), or NULL for an anonymous request.';

--------------------------------------------------------------------------------
-- Tables

create table app_public.users (
  id uuid primary key,
  email citext unique check (email ~ '^[^@[:space:]]+@[^@[:space:]]+$'),
  display_name text check (length(display_name) between 1 and 200),
  created_at timestamptz not null default now()
);
comment on table app_public.users is E'@behavior -insert -delete\nA person who signs in. Their id is the `sub` of the JWT their identity provider issues.';
comment on column app_public.users.id is 'The `sub` claim of the user''s JWT.';
comment on column app_public.users.email is 'The user''s email address, unique without regard to case.';
comment on column app_public.users.display_name is 'How the user is shown to the other members of their tenants.';
comment on column app_public.users.created_at is 'When the user first created or joined a tenant.';

create table app_public.tenants (
  id uuid primary key default gen_random_uuid(),
  slug text not null unique check (slug ~ '^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$'),
  name text not null check (length(name) between 1 and 200),
  settings jsonb not null default '{}' check (jsonb_typeof(settings) = 'object'),
  created_at timestamptz not null default now()
);
comment on table app_public.tenants is E'@behavior -insert\nAn organisation using the product. Every row of tenant data belongs to exactly one tenant.';
comment on column app_public.tenants.slug is 'A short, URL-safe, globally unique name: lower-case letters, digits and inner hyphens, at most 63 characters.';
comment on column app_public.tenants.name is 'The tenant''s display name.';
comment on column app_public.tenants.settings is 'Free-form tenant preferences, a JSON object.';
comment on column app_public.tenants.created_at is 'When the tenant was created.';

create type app_public.membership_role as enum ('owner', 'admin', 'member', 'viewer');
comment on type app_public.membership_role is
  'What a member may do in a tenant: `viewer` reads; `member` also creates and updates; `admin` also deletes and manages members; `owner` also manages owners and the tenant itself.';

create table app_public.memberships (
  tenant_id uuid not null references app_public.tenants on delete cascade,
  user_id uuid not null references app_public.users on delete cascade,
  role app_public.membership_role not null default 'member',
  created_at timestamptz not null default now(),
  primary key (tenant_id, user_id)
);
create index memberships_user_id_idx on app_public.memberships (user_id);
comment on table app_public.memberships is 'Who belongs to which tenant, and in which role.';
comment on column app_public.memberships.tenant_id is E'@behavior -insert -update\nThe tenant; always the current tenant when a member is added.';
comment on column app_public.memberships.user_id is 'The member.';
comment on column app_public.memberships.role is 'What the member may do in the tenant.';
comment on column app_public.memberships.created_at is 'When the user joined the tenant.';

--------------------------------------------------------------------------------
-- The current tenant. SECURITY DEFINER: these read memberships as the owner (who
-- bypasses RLS), because the memberships policies themselves call them.

create function app_public.current_tenant_id() returns uuid
  language sql stable security definer
  set search_path to pg_catalog, pg_temp
as $$
  -- The tenant claim counts only if the user really is a member: a token naming
  -- someone else's tenant selects nothing.
  select m.tenant_id
  from app_public.memberships m
  where m.tenant_id = app_private.uuid_setting('app.current_tenant_id')
    and m.user_id = app_private.uuid_setting('app.current_user_id')
$$;
comment on function app_public.current_tenant_id() is
  E'@behavior -queryField\nThe tenant this request acts in: the token''s tenant claim if the user is a member of it, else NULL.';

create function app_public.current_tenant_role() returns app_public.membership_role
  language sql stable security definer
  set search_path to pg_catalog, pg_temp
as $$
  select m.role
  from app_public.memberships m
  where m.tenant_id = app_private.uuid_setting('app.current_tenant_id')
    and m.user_id = app_private.uuid_setting('app.current_user_id')
$$;
comment on function app_public.current_tenant_role() is
  E'@behavior -queryField\nThe current user''s role in the current tenant, or NULL.';

-- Now that the helper exists, new memberships default to the current tenant.
alter table app_public.memberships alter column tenant_id set default app_public.current_tenant_id();

--------------------------------------------------------------------------------
-- Row-level security. Helpers are called through a sub-select so they run once per
-- statement, not once per row.

alter table app_public.users enable row level security;
alter table app_public.users force row level security;

-- Visible: yourself, and the members of the tenant you are acting in (the memberships
-- you can see, through their own policy).
create policy select_self_or_fellow_member on app_public.users for select
  using (id = (select app_public.current_user_id()) or id in (select m.user_id from app_public.memberships m));
create policy update_self on app_public.users for update
  using (id = (select app_public.current_user_id()));

alter table app_public.tenants enable row level security;
alter table app_public.tenants force row level security;

create policy select_if_member on app_public.tenants for select
  using (id in (select m.tenant_id from app_public.memberships m where m.user_id = (select app_public.current_user_id())));
create policy update_by_admin on app_public.tenants for update
  using (id = (select app_public.current_tenant_id()) and (select app_public.current_tenant_role()) in ('owner', 'admin'));
create policy delete_by_owner on app_public.tenants for delete
  using (id = (select app_public.current_tenant_id()) and (select app_public.current_tenant_role()) = 'owner');

alter table app_public.memberships enable row level security;
alter table app_public.memberships force row level security;

-- Visible: the current tenant's members, and your own memberships in every tenant
-- (so a client can offer to switch tenants).
create policy select_own_tenant_or_self on app_public.memberships for select
  using (tenant_id = (select app_public.current_tenant_id()) or user_id = (select app_public.current_user_id()));
-- Admins manage members; only owners may grant, change or remove the owner role.
create policy insert_by_admin on app_public.memberships for insert
  with check (
    tenant_id = (select app_public.current_tenant_id())
    and (select app_public.current_tenant_role()) in ('owner', 'admin')
    and (role <> 'owner' or (select app_public.current_tenant_role()) = 'owner')
  );
create policy update_by_admin on app_public.memberships for update
  using (
    tenant_id = (select app_public.current_tenant_id())
    and (select app_public.current_tenant_role()) in ('owner', 'admin')
    and (role <> 'owner' or (select app_public.current_tenant_role()) = 'owner')
  )
  with check (
    tenant_id = (select app_public.current_tenant_id())
    and (role <> 'owner' or (select app_public.current_tenant_role()) = 'owner')
  );
create policy delete_by_admin on app_public.memberships for delete
  using (
    tenant_id = (select app_public.current_tenant_id())
    and (select app_public.current_tenant_role()) in ('owner', 'admin')
    and (role <> 'owner' or (select app_public.current_tenant_role()) = 'owner')
  );

--------------------------------------------------------------------------------
-- Grants: columns are listed for writes, so nobody writes ids, tenant_id or created_at.
-- Tenants and users are created by app_public.create_tenant, not by plain inserts.

grant execute on function app_public.current_user_id() to :DATABASE_VISITOR;
grant execute on function app_public.current_tenant_id() to :DATABASE_VISITOR;
grant execute on function app_public.current_tenant_role() to :DATABASE_VISITOR;
grant usage on type app_public.membership_role to :DATABASE_VISITOR;

grant select, update (display_name) on app_public.users to :DATABASE_VISITOR;
grant select, update (name, settings), delete on app_public.tenants to :DATABASE_VISITOR;
grant select, insert (user_id, role), update (role), delete on app_public.memberships to :DATABASE_VISITOR;

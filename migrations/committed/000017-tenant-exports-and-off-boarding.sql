--! Previous: sha1:667bfdbf2d69d351511e67b53c9df3f7455dd950
--! Hash: sha1:46a83cfa75195bd254776fce2068463a66dc64ad
--! Message: tenant exports and off-boarding

-- Tenant portability: exports an owner requests and downloads, and off-boarding (an
-- owner deletes the tenant; a user deletes their own account). The work itself (reading
-- and erasing every tenant table) is done by graphile-worker jobs as the owner role
-- (src/portability/); these functions check who asks, record the request and queue the
-- job in the same transaction. docs/portability.md describes the whole of it.
drop function if exists app_public.delete_current_user();
drop function if exists app_public.delete_tenant(text);
drop function if exists app_public.request_tenant_export();
drop type if exists app_public.deleted_tenant;
drop table if exists app_private.tenant_erasures;
drop table if exists app_public.tenant_exports;

--------------------------------------------------------------------------------
-- Exports

create table app_public.tenant_exports (
  tenant_id uuid not null default app_public.current_tenant_id() references app_public.tenants on delete cascade,
  id uuid not null default gen_random_uuid(),
  requested_by uuid references app_public.users on delete set null,
  status text not null default 'pending' check (status in ('pending', 'running', 'ready', 'failed', 'expired')),
  created_at timestamptz not null default now(),
  finished_at timestamptz,
  expires_at timestamptz,
  byte_size bigint,
  sha256 text,
  row_counts jsonb,
  error text,
  primary key (tenant_id, id)
);
comment on table app_public.tenant_exports is
  E'@behavior -insert -update -delete\n@tenantExport omit\nAn export of the tenant''s data, requested by an owner with `requestTenantExport`: a job writes the archive; when `status` is `ready`, download it from `GET /exports/<rowId>` with the same Authorization header until `expiresAt`. Visible to owners. (Not itself exported: it describes files on this server.)';
comment on column app_public.tenant_exports.tenant_id is E'@behavior -insert -update\nThe tenant exported.';
comment on column app_public.tenant_exports.id is 'The export''s id; the download is `GET /exports/<id>`.';
comment on column app_public.tenant_exports.requested_by is 'The owner who asked for it.';
comment on column app_public.tenant_exports.status is '`pending` (queued), `running`, `ready` (download it), `failed` (see `error`), or `expired` (the file is gone).';
comment on column app_public.tenant_exports.created_at is 'When it was requested.';
comment on column app_public.tenant_exports.finished_at is 'When the archive was written, or the job gave up.';
comment on column app_public.tenant_exports.expires_at is 'After this the archive is deleted and can no longer be downloaded (EXPORT_TTL_HOURS).';
comment on column app_public.tenant_exports.byte_size is 'The archive''s size in bytes.';
comment on column app_public.tenant_exports.sha256 is 'The SHA-256 of the archive, hex: compare it after downloading.';
comment on column app_public.tenant_exports.row_counts is 'Rows exported per table, as in the archive''s manifest.';
comment on column app_public.tenant_exports.error is 'Why the export failed, when it did.';
comment on constraint tenant_exports_status_check on app_public.tenant_exports is 'Not a status of an export.';

-- One export at a time per tenant: a second request while one is queued or running is refused.
create unique index tenant_exports_one_open_per_tenant on app_public.tenant_exports (tenant_id) where status in ('pending', 'running');
create index tenant_exports_tenant_id_created_at_idx on app_public.tenant_exports (tenant_id, created_at);
create index tenant_exports_requested_by_idx on app_public.tenant_exports (requested_by);
-- The clean-up job finds expired archives across tenants.
create index tenant_exports_expires_at_idx on app_public.tenant_exports (expires_at) where status = 'ready';
comment on index app_public.tenant_exports_one_open_per_tenant is 'An export of this tenant is already queued or running: wait for it.';

alter table app_public.tenant_exports enable row level security;
alter table app_public.tenant_exports force row level security;
-- Owners only: an export is the whole tenant, people and audit trail included.
create policy select_by_owner on app_public.tenant_exports for select
  using (tenant_id = (select app_public.current_tenant_id()) and (select app_public.current_tenant_role()) = 'owner');
grant select on app_public.tenant_exports to :DATABASE_VISITOR;

create trigger _900_audit after insert or update or delete on app_public.tenant_exports
  for each row execute function app_private.tg__audit();

-- SECURITY DEFINER: exports are written only here (no request role may insert them) and
-- the job queue is out of the request roles' reach. Checks the caller itself.
create function app_public.request_tenant_export() returns app_public.tenant_exports
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_export app_public.tenant_exports;
begin
  -- A person who owns the tenant; not an API key (keys act at most as admin anyway).
  if app_public.current_user_id() is null or app_public.current_tenant_role() is distinct from 'owner' then
    raise exception 'Only an owner of the current tenant may export it.' using errcode = 'TG403';
  end if;
  if exists (select 1 from app_public.tenant_exports e where e.tenant_id = app_public.current_tenant_id() and e.status in ('pending', 'running')) then
    raise exception 'An export of this tenant is already queued or running: wait for it (tenantExports).' using errcode = '23505';
  end if;
  insert into app_public.tenant_exports (tenant_id, requested_by)
    values (app_public.current_tenant_id(), app_public.current_user_id())
    returning * into v_export;
  perform graphile_worker.add_job(
    'export_tenant',
    json_build_object('tenantId', v_export.tenant_id, 'exportId', v_export.id),
    max_attempts := 3
  );
  return v_export;
end;
$$;
comment on function app_public.request_tenant_export() is
  E'@resultFieldName tenantExport\nExports the current tenant (owners only): returns at once with `status: pending`; poll `tenantExports` until it is `ready`, then download `GET /exports/<rowId>`.';
grant execute on function app_public.request_tenant_export() to :DATABASE_VISITOR;

--------------------------------------------------------------------------------
-- Off-boarding

-- Not a tenant table (the tenant is gone): the operator's record that an erasure was
-- asked for and done. user_ids lists the people to consider for removal only until the
-- job has run; then only their SHA-256 remains, which lets verify-erased prove them gone.
create table app_private.tenant_erasures (
  erased_tenant_id uuid primary key,
  requested_at timestamptz not null default now(),
  erased_at timestamptz,
  user_ids uuid[],
  user_id_hashes bytea[],
  retained_until timestamptz
);
comment on table app_private.tenant_erasures is
  'One row per off-boarded tenant: when it was asked for and done, the SHA-256 of the ids of the people removed with it, and until when its audit events are kept (pseudonymised). Deleted with those events.';
comment on column app_private.tenant_erasures.user_ids is 'The members at the time of the request, until the erasure job has run.';
comment on column app_private.tenant_erasures.user_id_hashes is 'SHA-256 of each removed user''s id (as text): npm run tenant:verify-erased scans for them.';
comment on column app_private.tenant_erasures.retained_until is 'The tenant''s audit events (pseudonymised) and this row are deleted after this.';
alter table app_private.tenant_erasures enable row level security;
alter table app_private.tenant_erasures force row level security;
create policy none_for_requests on app_private.tenant_erasures using (false);

-- A tenant being erased needs no owner: its memberships go with it.
create or replace function app_private.tg_memberships__keep_an_owner() returns trigger
  language plpgsql
  set search_path to pg_catalog, pg_temp
  security definer
as $$
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
  perform 1 from app_public.tenants where id = old.tenant_id for update;
  if found and not exists (
    select 1 from app_public.memberships
    where tenant_id = old.tenant_id and role = 'owner' and user_id <> old.user_id
  ) then
    raise exception 'A tenant needs an owner: make someone else owner first (transferOwnership), or delete the tenant.'
      using errcode = 'TGO01';
  end if;
  return coalesce(new, old);
end;
$$;

create type app_public.deleted_tenant as (tenant_id uuid, slug text, requested_at timestamptz);
comment on type app_public.deleted_tenant is 'A tenant whose deletion was accepted: it is closed now, and erased by a job within moments.';

-- SECURITY DEFINER: it closes the tenant for everyone (memberships, keys, invitations,
-- queued jobs), which no policy lets a request do, and queues the erasure job. Checks
-- the caller itself: a person, owner of the current tenant, who typed its slug again.
create function app_public.delete_tenant(confirm_slug text) returns app_public.deleted_tenant
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_tenant app_public.tenants;
  v_user_ids uuid[];
begin
  if app_public.current_user_id() is null or app_public.current_tenant_role() is distinct from 'owner' then
    raise exception 'Only an owner of the current tenant may delete it.' using errcode = 'TG403';
  end if;
  select * into v_tenant from app_public.tenants where id = app_public.current_tenant_id() for update;
  if delete_tenant.confirm_slug is distinct from v_tenant.slug then
    raise exception 'To delete the tenant, type its slug (%) as confirmSlug.', v_tenant.slug using errcode = 'TGD01';
  end if;
  select coalesce(array_agg(m.user_id), '{}') into v_user_ids from app_public.memberships m where m.tenant_id = v_tenant.id;
  insert into app_private.tenant_erasures (erased_tenant_id, user_ids) values (v_tenant.id, v_user_ids);
  -- Closed at once: nobody acts in it any more, no key works, no invitation opens it.
  update app_public.api_keys set revoked_at = now() where tenant_id = v_tenant.id and revoked_at is null;
  update app_public.invitations set status = 'revoked', responded_at = now() where tenant_id = v_tenant.id and status = 'pending';
  delete from app_public.memberships where tenant_id = v_tenant.id;
  perform graphile_worker.add_job('erase_tenant', json_build_object('tenantId', v_tenant.id), max_attempts := 10, job_key := 'erase_tenant:' || v_tenant.id);
  return row(v_tenant.id, v_tenant.slug, now())::app_public.deleted_tenant;
end;
$$;
comment on function app_public.delete_tenant(text) is
  E'@resultFieldName deletedTenant\nDeletes the current tenant (owners only; type its slug as `confirmSlug`): it closes at once, and a job erases every row of it, and every member who belongs to no other tenant. Its audit trail is kept, pseudonymised, for OFFBOARDED_AUDIT_RETENTION_DAYS. Export it first if you want a copy.';

-- SECURITY DEFINER: a user may not delete users (no grant); this deletes only the caller.
create function app_public.delete_current_user() returns boolean
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_user_id uuid := app_public.current_user_id();
  v_sole text;
begin
  if v_user_id is null or app_private.uuid_setting('app.current_api_key_id') is not null then
    raise exception 'Sign in as the person whose account this is.' using errcode = 'TG401';
  end if;
  select string_agg(t.slug, ', ' order by t.slug) into v_sole
    from app_public.memberships m join app_public.tenants t on t.id = m.tenant_id
    where m.user_id = v_user_id and m.role = 'owner'
      and not exists (select 1 from app_public.memberships o where o.tenant_id = m.tenant_id and o.role = 'owner' and o.user_id <> v_user_id);
  if v_sole is not null then
    raise exception 'You are the only owner of %: make another member owner (transferOwnership) or delete the tenant (deleteTenant) first.', v_sole
      using errcode = 'TGO02';
  end if;
  -- Memberships go with the account (on delete cascade); references elsewhere become null.
  delete from app_public.users where id = v_user_id;
  return found;
end;
$$;
comment on function app_public.delete_current_user() is
  E'@resultFieldName deleted\nDeletes your own account and your memberships. Refused while you are the only owner of a tenant: hand it over or delete it first. Audit events keep the id of who did what (no name, no address) until AUDIT_RETENTION_DAYS.';

grant execute on function app_public.delete_tenant(text) to :DATABASE_VISITOR;
grant execute on function app_public.delete_current_user() to :DATABASE_VISITOR;

--------------------------------------------------------------------------------
-- What an export leaves out, and what is restored but never copied (src/portability/tables.ts).

comment on table app_private.invitation_secrets is
  E'@tenantExport omit\nSHA-256 of each invitation''s secret. The secret is 244 random bits, so a fast hash is enough. (Credentials never travel in an export: resend pending invitations after an import.)';
comment on table app_private.api_key_secrets is
  E'@tenantExport omit\nSHA-256 of each API key. A key is 244 random bits, so a fast hash is enough. (Credentials never travel in an export: create new keys after an import.)';
comment on table app_public.audit_events is
  E'@behavior -insert -update -delete\n@tenantExport history\nWho changed what in the tenant: one event per inserted, updated or deleted row, written by the database itself. Owners and admins read them; nobody can change them. Newest first: `orderBy: ID_DESC`.';

-- Deleting the tenant row directly would skip off-boarding (people, trail, tables without
-- a cascade): the API offers deleteTenant above instead of the generated row deletes.
comment on table app_public.tenants is
  E'@behavior -insert -delete\nAn organisation using the product. Every row of tenant data belongs to exactly one tenant. Owners delete it with `deleteTenant`.';

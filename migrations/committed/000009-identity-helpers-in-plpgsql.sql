--! Previous: sha1:486b2028f41a9fae547b714c871f85e497aa8e41
--! Hash: sha1:ddc3efaad24d23cc182c63f7a375ea18a9bfd7a2
--! Message: identity helpers in plpgsql

-- The identity helpers, made cheap to call. As SQL functions that cannot be inlined
-- (SECURITY DEFINER, a SET clause), PostgreSQL planned their bodies again in every
-- statement that called them: three plannings per helper, two helpers per policy.
-- PL/pgSQL caches its plans for the session, and uuid_setting, now a single
-- expression without SET or FROM, is inlined into its callers.
-- Measured by `npm run bench` (bench/README.md): the RLS cost of a tenant's product
-- list fell from about 2x to 1.2-1.3x the same query with an explicit WHERE.

create or replace function app_private.uuid_setting(name text) returns uuid
  language sql stable
as $$
  select case
    when pg_catalog.current_setting(name, true) operator(pg_catalog.~*) '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
      then pg_catalog.current_setting(name, true)::uuid
  end
$$;

create or replace function app_public.current_user_id() returns uuid
  language plpgsql stable security definer
  set search_path to pg_catalog, pg_temp
as $$
begin
  return app_private.uuid_setting('app.current_user_id');
end;
$$;

create or replace function app_public.current_tenant_id() returns uuid
  language plpgsql stable security definer
  set search_path to pg_catalog, pg_temp
as $$
begin
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
  return (
    select m.role
    from app_public.memberships m
    where m.tenant_id = app_private.uuid_setting('app.current_tenant_id')
      and m.user_id = app_private.uuid_setting('app.current_user_id')
  );
end;
$$;

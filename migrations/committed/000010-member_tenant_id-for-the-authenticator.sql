--! Previous: sha1:ddc3efaad24d23cc182c63f7a375ea18a9bfd7a2
--! Hash: sha1:2d826de99d6e80fcffc75daaedf0deb11471679c
--! Message: member_tenant_id for the authenticator

-- Who pays for a request. Before an operation runs, the API asks whether the token's
-- user really is a member of the tenant the token names: only then is the tenant's
-- budget charged and the tenant named in the logs. One call as the authenticator, with
-- no role switch and no transaction: the same predicate as current_tenant_id()'s.
-- (It tells the authenticator nothing it could not learn already: it may act as any user.)
drop function if exists app_private.member_tenant_id(uuid, uuid);

-- SECURITY DEFINER: memberships are under forced RLS and the authenticator holds no
-- privilege on them; the owner bypasses RLS.
create function app_private.member_tenant_id(user_id uuid, tenant_id uuid) returns uuid
  language sql stable security definer
  set search_path to pg_catalog, pg_temp
as $$
  select m.tenant_id
  from app_public.memberships m
  where m.tenant_id = member_tenant_id.tenant_id
    and m.user_id = member_tenant_id.user_id
$$;
comment on function app_private.member_tenant_id(uuid, uuid) is
  'tenant_id if user_id is a member of it, else NULL: how the API tells which tenant a request may be charged to and logged as. Data access never depends on it.';

grant usage on schema app_private to :DATABASE_AUTHENTICATOR;
grant execute on function app_private.member_tenant_id(uuid, uuid) to :DATABASE_AUTHENTICATOR;

--! Previous: sha1:4b0b2db9eb28fc10676fd472a51129cb0f90ae77
--! Hash: sha1:172c0c12a5dec746231e75ed69297697c85ba106
--! Message: tenant switching by slug

-- Tenant switching: a signed-in user picks the tenant of each request with an X-Tenant
-- header, by id or by slug. An id goes straight into app.current_tenant_id and is
-- verified there like a token's claim. A slug is turned into the id here first, and only
-- among the user's own memberships, so asking for a stranger's slug tells nothing, not
-- even that it exists.
drop function if exists app_private.member_tenant_id_by_slug(uuid, text);

-- SECURITY DEFINER: memberships and tenants are under forced RLS, and the authenticator
-- holds no privilege on them; the owner bypasses RLS.
create function app_private.member_tenant_id_by_slug(user_id uuid, slug text) returns uuid
  language sql stable security definer
  set search_path to pg_catalog, pg_temp
as $$
  select t.id
  from app_public.tenants t
  join app_public.memberships m on m.tenant_id = t.id
  where t.slug = member_tenant_id_by_slug.slug
    and m.user_id = member_tenant_id_by_slug.user_id
$$;
comment on function app_private.member_tenant_id_by_slug(uuid, text) is
  'The id of the tenant with this slug if user_id is a member of it, else NULL: how the API reads `X-Tenant: <slug>`.';

grant execute on function app_private.member_tenant_id_by_slug(uuid, text) to :DATABASE_AUTHENTICATOR;

comment on function app_public.create_tenant(text, text) is
  E'@resultFieldName tenant\nCreates a tenant with the signed-in user as its owner. The slug must be unique. Then act in it with the header `X-Tenant: <slug>` (or a token whose tenant claim is its id).';

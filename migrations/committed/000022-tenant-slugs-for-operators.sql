--! Previous: sha1:366ed5cad930b9b1ec9f4f0578484e58df74e64b
--! Hash: sha1:451a844ede46a9a55fb0e907c45ccd400a5c117f
--! Message: tenant slugs for operators

-- Operators read the busiest tenants (npm run tenants:top) by slug, not by a bare id: the
-- API's admin endpoint names each tenant it lists. The authenticator only, which the API
-- server logs in as; no request role can call it.
drop function if exists app_private.tenant_slugs(uuid[]);

-- SECURITY DEFINER: tenants are under forced RLS and the authenticator holds no privilege on them.
create function app_private.tenant_slugs(ids uuid[]) returns table (id uuid, slug text)
  language sql stable security definer
  set search_path to pg_catalog, pg_temp
as $$
  select t.id, t.slug from app_public.tenants t where t.id = any (tenant_slugs.ids)
$$;
comment on function app_private.tenant_slugs(uuid[]) is
  'The slug of each of these tenants (those that still exist): how the operators'' admin endpoint (/admin/tenants/top) names the tenants it lists.';

grant execute on function app_private.tenant_slugs(uuid[]) to :DATABASE_AUTHENTICATOR;

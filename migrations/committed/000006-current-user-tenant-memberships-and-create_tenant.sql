--! Previous: sha1:7d4e0ed2f56e4cea3654d96080230787ccb28293
--! Hash: sha1:92573dd78cd44196a8ea5f8aee887ef3be085694
--! Message: current user tenant memberships and create_tenant

-- The signed-in user's view of themselves, and self-service tenant creation.
drop function if exists app_public.create_tenant(text, text);
drop function if exists app_public.current_memberships();
drop function if exists app_public.current_tenant();
drop function if exists app_public."current_user"();

create function app_public."current_user"() returns app_public.users
  language sql stable
as $$
  select * from app_public.users where id = app_public.current_user_id()
$$;
comment on function app_public."current_user"() is 'The signed-in user, or null if the request has no token or the user has no account yet.';

create function app_public.current_tenant() returns app_public.tenants
  language sql stable
as $$
  select * from app_public.tenants where id = app_public.current_tenant_id()
$$;
comment on function app_public.current_tenant() is 'The tenant this request acts in (the token''s tenant claim, if the user is a member of it), or null.';

create function app_public.current_memberships() returns setof app_public.memberships
  language sql stable
as $$
  select * from app_public.memberships where user_id = app_public.current_user_id()
$$;
comment on function app_public.current_memberships() is 'The signed-in user''s memberships in every tenant: the tenants they can switch to.';

-- SECURITY DEFINER: a new tenant has no members yet, so no policy could let its first
-- owner in. It writes only rows that belong to the caller.
create function app_public.create_tenant(name text, slug text) returns app_public.tenants
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_user_id uuid := app_public.current_user_id();
  v_tenant app_public.tenants;
begin
  if v_user_id is null then
    raise exception 'Sign in to create a tenant.' using errcode = 'TG401';
  end if;

  insert into app_public.users (id, email)
    values (v_user_id, nullif(current_setting('app.current_user_email', true), ''))
    on conflict (id) do nothing;

  insert into app_public.tenants (name, slug)
    values (create_tenant.name, create_tenant.slug)
    returning * into v_tenant;

  insert into app_public.memberships (tenant_id, user_id, role)
    values (v_tenant.id, v_user_id, 'owner');

  return v_tenant;
end;
$$;
comment on function app_public.create_tenant(text, text) is
  'Creates a tenant with the signed-in user as its owner. The slug must be unique. Then ask your identity provider for a token whose tenant claim is the new tenant''s id.';

grant execute on function app_public."current_user"() to :DATABASE_VISITOR;
grant execute on function app_public.current_tenant() to :DATABASE_VISITOR;
grant execute on function app_public.current_memberships() to :DATABASE_VISITOR;
grant execute on function app_public.create_tenant(text, text) to :DATABASE_VISITOR;

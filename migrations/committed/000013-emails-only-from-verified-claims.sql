--! Previous: sha1:138eace1af1a762d1a48131e2c8462a8bacc14c6
--! Hash: sha1:4b0b2db9eb28fc10676fd472a51129cb0f90ae77
--! Message: emails only from verified claims

-- Email addresses come only from the identity provider's verified claim: the API sets
-- app.current_user_email only when the token's email_verified claim is true. The first
-- person to use an address can no longer squat it: an address another account already
-- holds is simply not recorded for the newcomer, and create_tenant says nothing about
-- that other account (it used to answer 409, which told anyone the address was taken).
create or replace function app_public.create_tenant(name text, slug text) returns app_public.tenants
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

  begin
    insert into app_public.users (id, email)
      values (v_user_id, nullif(current_setting('app.current_user_email', true), ''))
      on conflict (id) do nothing;
  exception when unique_violation then
    insert into app_public.users (id) values (v_user_id) on conflict (id) do nothing;
  end;

  insert into app_public.tenants (name, slug)
    values (create_tenant.name, create_tenant.slug)
    returning * into v_tenant;

  insert into app_public.memberships (tenant_id, user_id, role)
    values (v_tenant.id, v_user_id, 'owner');

  return v_tenant;
end;
$$;

comment on column app_public.users.email is
  'The user''s email address as their identity provider verified it, unique without regard to case; none if unverified or held by another account.';

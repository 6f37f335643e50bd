--! Previous: sha1:0cb3ff0a096012bd8d8913c9e5b72e981bae3b49
--! Hash: sha1:138eace1af1a762d1a48131e2c8462a8bacc14c6
--! Message: memberships by consent and ownership that cannot be lost

-- Memberships by consent, and ownership that cannot be lost.
--
-- Nobody adds another person to a tenant any more: the ways in are create_tenant (you
-- own what you create) and accept_invitation (you answer an invitation sent to your
-- verified address). Members may leave on their own. A tenant always keeps at least one
-- owner, and ownership passes with transfer_ownership. Renaming the tenant and editing
-- its settings is the owners' alone; admins manage members and invitations.
drop function if exists app_public.transfer_ownership(uuid);
drop trigger if exists _200_keep_an_owner on app_public.memberships;
drop function if exists app_private.tg_memberships__keep_an_owner();

drop policy if exists insert_by_admin on app_public.memberships;
revoke insert on app_public.memberships from :DATABASE_VISITOR;
comment on column app_public.memberships.tenant_id is E'@behavior -insert -update\nThe tenant.';
comment on table app_public.memberships is
  E'@behavior -insert\nWho belongs to which tenant, and in which role. People join by accepting an invitation (`acceptInvitation`) or by creating a tenant; members leave by deleting their own membership.';

-- Leaving: any member, of any of their tenants. Removing others stays with admins.
drop policy if exists delete_self on app_public.memberships;
create policy delete_self on app_public.memberships for delete
  using (user_id = (select app_public.current_user_id()));

-- The tenant's name and settings: owners only.
drop policy if exists update_by_admin on app_public.tenants;
drop policy if exists update_by_owner on app_public.tenants;
create policy update_by_owner on app_public.tenants for update
  using (id = (select app_public.current_tenant_id()) and (select app_public.current_tenant_role()) = 'owner');

-- SECURITY DEFINER: it must count every owner of the tenant, including rows the
-- caller's policies hide, and lock the tenant to do so.
create function app_private.tg_memberships__keep_an_owner() returns trigger
  language plpgsql
  set search_path to pg_catalog, pg_temp
  security definer
as $$
begin
  if old.role <> 'owner' or (tg_op = 'UPDATE' and new.role = 'owner') then
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
comment on function app_private.tg_memberships__keep_an_owner() is
  'Trigger: refuses to demote, remove or let leave the last owner of a tenant (SQLSTATE TGO01).';
create trigger _200_keep_an_owner before update of role or delete on app_public.memberships
  for each row execute function app_private.tg_memberships__keep_an_owner();

-- SECURITY INVOKER: both changes run under the memberships policies, as the owner who asks.
create function app_public.transfer_ownership(to_user_id uuid) returns app_public.memberships
  language plpgsql volatile
as $$
declare
  v_membership app_public.memberships;
begin
  if app_public.current_tenant_role() is distinct from 'owner' then
    raise exception 'Only an owner can hand over ownership.' using errcode = 'TG403';
  end if;
  update app_public.memberships set role = 'owner'
    where tenant_id = app_public.current_tenant_id() and user_id = transfer_ownership.to_user_id
    returning * into v_membership;
  if not found then
    raise exception 'That user is not a member of this tenant: invite them first.' using errcode = 'TG404';
  end if;
  if transfer_ownership.to_user_id <> app_public.current_user_id() then
    update app_public.memberships set role = 'admin'
      where tenant_id = app_public.current_tenant_id() and user_id = app_public.current_user_id();
  end if;
  return v_membership;
end;
$$;
comment on function app_public.transfer_ownership(uuid) is
  E'@resultFieldName membership\nMakes another member of the current tenant its owner and you an admin, in one step (owners only). To share ownership instead, update their membership''s role to owner.';

grant execute on function app_public.transfer_ownership(uuid) to :DATABASE_VISITOR;

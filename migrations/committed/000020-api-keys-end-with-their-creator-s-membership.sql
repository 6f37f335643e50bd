--! Previous: sha1:244adf5cd351f66ac95e6077d8800a6b0a5a00fd
--! Hash: sha1:6420fd04b543a2e3bacc281b1adad226d59fcbf2
--! Message: api keys end with their creator's membership

-- API keys end with their creator's membership.
--
-- A key acts for its tenant (the audit trail names the key, and another admin may revoke
-- it), but its secret was seen by one person: the one who created it. Removing someone
-- from a tenant must take away every credential they hold, or an admin who was shown the
-- door keeps an admin key. So a key is revoked when its creator leaves the tenant (removed,
-- left, or deleted their account), and comes down to its creator's role when they are
-- demoted (it never goes back up). Owners who want an integration to outlive a person
-- create its replacement key before removing them. Both changes are audited as updates of
-- api_keys (revoked_at, role).
drop trigger if exists _300_api_keys_follow_their_creator on app_public.memberships;
drop function if exists app_private.tg_memberships__api_keys_follow_their_creator();
drop trigger if exists _100_revoke_when_creator_is_gone on app_public.api_keys;
drop function if exists app_private.tg_api_keys__revoke_when_creator_is_gone();

-- SECURITY DEFINER: whoever removes or demotes a member (an admin, or the member leaving)
-- may not update keys; this changes only the keys that member created in that tenant.
create function app_private.tg_memberships__api_keys_follow_their_creator() returns trigger
  language plpgsql volatile security definer
  set search_path to pg_catalog, pg_temp
as $$
begin
  if tg_op = 'DELETE' then
    update app_public.api_keys set revoked_at = now()
      where tenant_id = old.tenant_id and created_by = old.user_id and revoked_at is null;
    return old;
  end if;
  -- Roles sort owner < admin < member < viewer: a key above its creator's new role comes down to it.
  update app_public.api_keys set role = new.role
    where tenant_id = new.tenant_id and created_by = new.user_id and role < new.role;
  return new;
end;
$$;
comment on function app_private.tg_memberships__api_keys_follow_their_creator() is
  'Trigger: when a member leaves a tenant their API keys there are revoked; when demoted, their keys act no higher than their new role.';
create trigger _300_api_keys_follow_their_creator after update of role or delete on app_public.memberships
  for each row execute function app_private.tg_memberships__api_keys_follow_their_creator();

-- A deleted account sets created_by to null (on delete set null), whichever of the
-- cascades runs first: a key without a creator is revoked with it.
create function app_private.tg_api_keys__revoke_when_creator_is_gone() returns trigger
  language plpgsql
  set search_path to pg_catalog, pg_temp
as $$
begin
  if new.created_by is null and new.revoked_at is null then
    new.revoked_at := now();
  end if;
  return new;
end;
$$;
comment on function app_private.tg_api_keys__revoke_when_creator_is_gone() is
  'Trigger: a key whose creator''s account is deleted (created_by set to null) is revoked.';
create trigger _100_revoke_when_creator_is_gone before update of created_by on app_public.api_keys
  for each row execute function app_private.tg_api_keys__revoke_when_creator_is_gone();

-- Keys made before this rule: the same outcome as if it had always held.
update app_public.api_keys k set revoked_at = now()
  where k.revoked_at is null
    and not exists (select 1 from app_public.memberships m where m.tenant_id = k.tenant_id and m.user_id = k.created_by);
update app_public.api_keys k set role = m.role
  from app_public.memberships m
  where m.tenant_id = k.tenant_id and m.user_id = k.created_by and k.role < m.role;

comment on column app_public.api_keys.created_by is
  'Who created the key (and was shown its secret). The key acts no higher than their role in the tenant, and is revoked when they leave it.';
comment on column app_public.api_keys.role is
  'The role the key acts with: at most `admin`, and no higher than its creator''s (a demotion brings it down).';

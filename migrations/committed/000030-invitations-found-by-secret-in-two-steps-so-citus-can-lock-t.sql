--! Previous: sha1:15b51d71431b7c93a3d303e52b6b5915c8822908
--! Hash: sha1:9cc65cce78849c4ea37c595a205e4b6d73e4fc00
--! Message: Invitations found by secret in two steps, so Citus can lock them

-- An invitation found by its secret in two steps: the secret's row names the tenant and
-- the invitation, then that one invitation is locked. Citus refuses `FOR UPDATE` on a
-- query that reaches every shard (a secret's hash does not name its tenant), and accepts
-- it on a query for one tenant. After the lock the secret is looked up again: a resend
-- that withdrew it while this waited makes it fail (TGI01) here too.
create or replace function app_private.invitation_by_secret(secret text)
  returns app_public.invitations
  language plpgsql
  set search_path to pg_catalog, pg_temp
as $$
declare
  v_invitation app_public.invitations;
  v_email text := nullif(current_setting('app.current_user_email', true), '');
  v_hash bytea := sha256(convert_to(coalesce(invitation_by_secret.secret, ''), 'UTF8'));
  v_tenant uuid;
  v_id uuid;
begin
  if app_public.current_user_id() is null then
    raise exception 'Sign in to answer an invitation.' using errcode = 'TG401';
  end if;
  select s.tenant_id, s.invitation_id into v_tenant, v_id
    from app_private.invitation_secrets s
    where s.secret_hash = v_hash;
  if found then
    select i.* into v_invitation
      from app_public.invitations i
      where i.tenant_id = v_tenant and i.id = v_id
      for update;
  end if;
  if v_invitation.id is null or not exists (
    select 1 from app_private.invitation_secrets s
    where s.tenant_id = v_tenant and s.invitation_id = v_id and s.secret_hash = v_hash
  ) then
    raise exception 'No invitation has this secret; use the link from the newest invitation mail.' using errcode = 'TGI01';
  end if;
  if v_invitation.status = 'revoked' then
    raise exception 'This invitation was revoked.' using errcode = 'TGI02';
  end if;
  if v_invitation.status <> 'pending' then
    raise exception 'This invitation was already answered.' using errcode = 'TGI03';
  end if;
  if v_invitation.expires_at < now() then
    raise exception 'This invitation has expired; ask for it to be sent again.' using errcode = 'TGI04';
  end if;
  if v_email is null then
    raise exception 'Your sign-in has no verified email address; verify it with your identity provider and sign in again.' using errcode = 'TGI05';
  end if;
  -- citext's rule (lower-case both), spelled out: the search path here is pg_catalog only.
  if lower(v_email) <> lower(v_invitation.email::text) then
    raise exception 'This invitation was sent to another email address.' using errcode = 'TGI06';
  end if;
  return v_invitation;
end;
$$;
comment on function app_private.invitation_by_secret(text) is 'The pending, unexpired invitation a secret opens for the signed-in user''s verified email, locked; else raises why not (TGI01..TGI06). Found in two steps (the secret, then its invitation locked) so that Citus runs it.';

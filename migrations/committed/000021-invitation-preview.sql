--! Previous: sha1:6420fd04b543a2e3bacc281b1adad226d59fcbf2
--! Hash: sha1:366ed5cad930b9b1ec9f4f0578484e58df74e64b
--! Message: invitation preview

-- What an invitation link is about, before answering it: the accept page of a frontend
-- shows who invited you to which tenant, in what role, until when. Told only to the
-- person invited (signed in, with that verified address): a stranger holding a forwarded
-- link learns that it is a link for someone else, never the tenant or the inviter.
drop function if exists app_public.invitation_preview(text);
drop type if exists app_public.invitation_preview;

create type app_public.invitation_preview as (
  tenant_name text,
  tenant_slug text,
  inviter text,
  role app_public.membership_role,
  email citext,
  expires_at timestamptz
);
comment on type app_public.invitation_preview is 'An invitation as its invitee sees it before answering.';
comment on column app_public.invitation_preview.tenant_name is 'The name of the tenant you are invited into.';
comment on column app_public.invitation_preview.tenant_slug is 'Its slug: send it as `X-Tenant` once you have accepted.';
comment on column app_public.invitation_preview.inviter is 'Who sent (or last resent) the invitation: their display name, else their email; null if their account is gone.';
comment on column app_public.invitation_preview.role is 'The role you get on accepting.';
comment on column app_public.invitation_preview.email is 'The address invited (yours).';
comment on column app_public.invitation_preview.expires_at is 'After this, the invitation can no longer be accepted.';

create function app_public.invitation_preview(secret text) returns app_public.invitation_preview
  language plpgsql stable security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_invitation app_public.invitations;
  v_email text := nullif(current_setting('app.current_user_email', true), '');
  v_preview app_public.invitation_preview;
begin
  if app_public.current_user_id() is null then
    raise exception 'Sign in to see an invitation.' using errcode = 'TG401';
  end if;
  select i.* into v_invitation
    from app_private.invitation_secrets s
    join app_public.invitations i on i.tenant_id = s.tenant_id and i.id = s.invitation_id
    where s.secret_hash = sha256(convert_to(coalesce(invitation_preview.secret, ''), 'UTF8'));
  if not found then
    raise exception 'No invitation has this secret; use the link from the newest invitation mail.' using errcode = 'TGI01';
  end if;
  -- Whose it is, before anything about it: someone else's link tells nothing more.
  if v_email is null then
    raise exception 'Your sign-in has no verified email address; verify it with your identity provider and sign in again.' using errcode = 'TGI05';
  end if;
  if lower(v_email) <> lower(v_invitation.email::text) then
    raise exception 'This invitation was sent to another email address.' using errcode = 'TGI06';
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
  select t.name, t.slug, coalesce(u.display_name, u.email::text), v_invitation.role, v_invitation.email, v_invitation.expires_at
    into v_preview
    from app_public.tenants t
    left join app_public.users u on u.id = v_invitation.invited_by
    where t.id = v_invitation.tenant_id;
  return v_preview;
end;
$$;
comment on function app_public.invitation_preview(text) is
  E'The invitation whose secret you received by mail: tenant, inviter, role and expiry, so you can decide before `acceptInvitation` or `declineInvitation`; looking answers nothing. Only for the address invited (your token''s verified email). SECURITY DEFINER: the secrets and the tenant are out of your reach until you are a member.';

grant execute on function app_public.invitation_preview(text) to :DATABASE_VISITOR;

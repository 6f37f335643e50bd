--! Previous: sha1:2d826de99d6e80fcffc75daaedf0deb11471679c
--! Hash: sha1:0cb3ff0a096012bd8d8913c9e5b72e981bae3b49
--! Message: invitations

-- Invitations: the only way into a tenant besides creating one. An owner or admin
-- invites an email address with a role no higher than their own; the invitee accepts
-- with the secret from the mail, signed in with a token whose *verified* email is that
-- address. Nobody is enrolled without their own action, and nothing here tells the
-- inviter whether the address belongs to an existing user.
drop function if exists app_public.decline_invitation(text);
drop function if exists app_public.accept_invitation(text);
drop function if exists app_public.resend_invitation(uuid);
drop function if exists app_public.revoke_invitation(uuid);
drop function if exists app_public.invite_member(citext, app_public.membership_role);
drop function if exists app_private.invitation_by_secret(text);
drop function if exists app_private.issue_invitation_secret(uuid, uuid);
drop table if exists app_private.invitation_secrets;
drop table if exists app_public.invitations;
drop type if exists app_public.invitation_status;

create type app_public.invitation_status as enum ('pending', 'accepted', 'declined', 'revoked');
comment on type app_public.invitation_status is
  'Where an invitation stands. A pending invitation past its `expiresAt` can no longer be accepted; resend it.';

create table app_public.invitations (
  tenant_id uuid not null default app_public.current_tenant_id() references app_public.tenants on delete cascade,
  id uuid not null default gen_random_uuid(),
  email citext not null check (email ~ '^[^@[:space:]]+@[^@[:space:]]+$'),
  role app_public.membership_role not null,
  status app_public.invitation_status not null default 'pending',
  invited_by uuid references app_public.users on delete set null,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  responded_at timestamptz,
  primary key (tenant_id, id)
);
comment on table app_public.invitations is
  E'@behavior -insert -update -delete\nAn invitation to join a tenant, sent by email. Create with `inviteMember`; manage with `revokeInvitation` and `resendInvitation`. Visible to the tenant''s owners and admins.';
comment on column app_public.invitations.tenant_id is E'@behavior -insert -update\nThe tenant the invitee is invited into.';
comment on column app_public.invitations.id is 'The invitation''s id, unique within its tenant.';
comment on column app_public.invitations.email is 'The address invited: only a user whose identity provider verified this address may accept.';
comment on column app_public.invitations.role is 'The role the invitee gets on accepting.';
comment on column app_public.invitations.status is 'Pending, accepted, declined or revoked.';
comment on column app_public.invitations.invited_by is 'Who sent (or last resent) the invitation.';
comment on column app_public.invitations.created_at is 'When the invitation was first sent.';
comment on column app_public.invitations.expires_at is 'After this, the invitation can no longer be accepted.';
comment on column app_public.invitations.responded_at is 'When it was accepted, declined or revoked.';
comment on constraint invitations_email_check on app_public.invitations is 'That is not an email address.';

-- One open invitation per address and tenant: resend it rather than invite twice.
create unique index invitations_one_pending_per_email on app_public.invitations (tenant_id, email) where status = 'pending';
create index invitations_tenant_id_created_at_idx on app_public.invitations (tenant_id, created_at);
create index invitations_invited_by_idx on app_public.invitations (invited_by);

alter table app_public.invitations enable row level security;
alter table app_public.invitations force row level security;

create policy select_by_admin on app_public.invitations for select
  using (tenant_id = (select app_public.current_tenant_id()) and (select app_public.current_tenant_role()) in ('owner', 'admin'));

grant select on app_public.invitations to :DATABASE_VISITOR;
grant usage on type app_public.invitation_status to :DATABASE_VISITOR;

-- The secrets, hashed, apart from the invitations: admins list invitations, but nobody
-- reads a secret back. The secret itself lives only in the mail (and in the mail job's
-- payload until the job has run).
create table app_private.invitation_secrets (
  tenant_id uuid not null,
  invitation_id uuid not null,
  secret_hash bytea not null,
  primary key (tenant_id, invitation_id),
  foreign key (tenant_id, invitation_id) references app_public.invitations (tenant_id, id) on delete cascade
);
-- A secret is looked up across tenants (the invitee has none yet). Not a unique key:
-- 244-bit secrets do not collide, and every key of a tenant table includes tenant_id.
create index invitation_secrets_secret_hash_idx on app_private.invitation_secrets (secret_hash);
comment on table app_private.invitation_secrets is 'SHA-256 of each invitation''s secret. The secret is 244 random bits, so a fast hash is enough.';
alter table app_private.invitation_secrets enable row level security;
alter table app_private.invitation_secrets force row level security;
-- Only the owner's functions (which bypass RLS) touch it; no request role ever may.
create policy none_for_requests on app_private.invitation_secrets using (false);

--------------------------------------------------------------------------------
-- Helpers (app_private, run as the owner by the functions below)

-- A new secret for an invitation, replacing any earlier one, with the mail that carries
-- it queued in the same transaction: no invitation without its mail, no mail without
-- its invitation. gen_random_uuid() draws from the server's strong random source.
create function app_private.issue_invitation_secret(tenant_id uuid, invitation_id uuid) returns void
  language plpgsql volatile
  set search_path to pg_catalog, pg_temp
as $$
declare
  v_secret text := replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '');
begin
  insert into app_private.invitation_secrets (tenant_id, invitation_id, secret_hash)
    values (issue_invitation_secret.tenant_id, issue_invitation_secret.invitation_id, sha256(convert_to(v_secret, 'UTF8')))
    on conflict on constraint invitation_secrets_pkey do update set secret_hash = excluded.secret_hash;
  perform graphile_worker.add_job(
    'send_invitation_email',
    json_build_object('tenantId', issue_invitation_secret.tenant_id, 'invitationId', issue_invitation_secret.invitation_id, 'secret', v_secret),
    max_attempts := 10
  );
end;
$$;
comment on function app_private.issue_invitation_secret(uuid, uuid) is
  'Gives an invitation a new secret (stored hashed) and queues the mail that carries it (graphile-worker job send_invitation_email).';

-- The invitation a secret opens, checked for the signed-in user: raises the precise
-- reason it cannot be used. Locks the invitation, so two acceptances cannot both win.
create function app_private.invitation_by_secret(secret text) returns app_public.invitations
  language plpgsql volatile
  set search_path to pg_catalog, pg_temp
as $$
declare
  v_invitation app_public.invitations;
  v_email text := nullif(current_setting('app.current_user_email', true), '');
begin
  if app_public.current_user_id() is null then
    raise exception 'Sign in to answer an invitation.' using errcode = 'TG401';
  end if;
  select i.* into v_invitation
    from app_private.invitation_secrets s
    join app_public.invitations i on i.tenant_id = s.tenant_id and i.id = s.invitation_id
    where s.secret_hash = sha256(convert_to(coalesce(invitation_by_secret.secret, ''), 'UTF8'))
    for update of i;
  if not found then
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
comment on function app_private.invitation_by_secret(text) is
  'The pending, unexpired invitation a secret opens for the signed-in user''s verified email, locked; else raises why not (TGI01..TGI06).';

--------------------------------------------------------------------------------
-- The API. SECURITY DEFINER because invitations are written only here (no grants on
-- the table) and the secrets and the job queue are out of the request roles' reach;
-- each function checks the caller itself, through the same helpers the policies use.

create function app_public.invite_member(email citext, role app_public.membership_role default 'member') returns app_public.invitations
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_tenant_id uuid := app_public.current_tenant_id();
  v_caller_role app_public.membership_role := app_public.current_tenant_role();
  v_invitation app_public.invitations;
begin
  if v_tenant_id is null or v_caller_role not in ('owner', 'admin') then
    raise exception 'Only owners and admins of the current tenant may invite.' using errcode = 'TG403';
  end if;
  -- The enum runs owner < admin < member < viewer: nobody grants more than they hold.
  if invite_member.role < v_caller_role then
    raise exception 'You may invite with a role up to your own (%).', v_caller_role using errcode = 'TGR01';
  end if;
  insert into app_public.invitations (tenant_id, email, role, invited_by, expires_at)
    values (v_tenant_id, invite_member.email, invite_member.role, app_public.current_user_id(), now() + interval '7 days')
    returning * into v_invitation;
  perform app_private.issue_invitation_secret(v_invitation.tenant_id, v_invitation.id);
  return v_invitation;
end;
$$;
comment on function app_public.invite_member(citext, app_public.membership_role) is
  E'@resultFieldName invitation\nInvites an email address into the current tenant with a role no higher than your own (owners and admins only). The invitee gets a mail with a secret link, valid for 7 days.';

create function app_public.revoke_invitation(invitation_id uuid) returns app_public.invitations
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_invitation app_public.invitations;
begin
  update app_public.invitations i
    set status = 'revoked', responded_at = now()
    where i.tenant_id = app_public.current_tenant_id() and i.id = revoke_invitation.invitation_id
      and i.status = 'pending' and app_public.current_tenant_role() in ('owner', 'admin')
      and i.role >= app_public.current_tenant_role()
    returning * into v_invitation;
  if not found then
    raise exception 'No pending invitation you may revoke has this id.' using errcode = 'TG404';
  end if;
  return v_invitation;
end;
$$;
comment on function app_public.revoke_invitation(uuid) is E'@resultFieldName invitation\nRevokes a pending invitation of the current tenant (owners and admins): its link stops working.';

create function app_public.resend_invitation(invitation_id uuid) returns app_public.invitations
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_invitation app_public.invitations;
begin
  update app_public.invitations i
    set expires_at = now() + interval '7 days', invited_by = app_public.current_user_id()
    where i.tenant_id = app_public.current_tenant_id() and i.id = resend_invitation.invitation_id
      and i.status = 'pending' and app_public.current_tenant_role() in ('owner', 'admin')
      and i.role >= app_public.current_tenant_role()
    returning * into v_invitation;
  if not found then
    raise exception 'No pending invitation you may resend has this id.' using errcode = 'TG404';
  end if;
  perform app_private.issue_invitation_secret(v_invitation.tenant_id, v_invitation.id);
  return v_invitation;
end;
$$;
comment on function app_public.resend_invitation(uuid) is
  E'@resultFieldName invitation\nSends a pending invitation again with a new secret, valid for 7 more days; the old link stops working (owners and admins).';

create function app_public.accept_invitation(secret text) returns app_public.memberships
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_invitation app_public.invitations := app_private.invitation_by_secret(accept_invitation.secret);
  v_user_id uuid := app_public.current_user_id();
  v_email text := current_setting('app.current_user_email', true);
  v_membership app_public.memberships;
begin
  -- The user's first tenant: their account starts here. The verified address becomes
  -- theirs unless another account has it already (then they keep none, and learn nothing).
  begin
    insert into app_public.users (id, email) values (v_user_id, v_email) on conflict (id) do nothing;
  exception when unique_violation then
    insert into app_public.users (id) values (v_user_id) on conflict (id) do nothing;
  end;
  insert into app_public.memberships (tenant_id, user_id, role)
    values (v_invitation.tenant_id, v_user_id, v_invitation.role)
    on conflict (tenant_id, user_id) do nothing
    returning * into v_membership;
  if not found then
    raise exception 'You are already a member of this tenant.' using errcode = 'TGI07';
  end if;
  update app_public.invitations set status = 'accepted', responded_at = now()
    where tenant_id = v_invitation.tenant_id and id = v_invitation.id;
  return v_membership;
end;
$$;
comment on function app_public.accept_invitation(text) is
  E'@resultFieldName membership\nAccepts the invitation whose secret you received by mail: you join its tenant in its role. Your token''s verified email must be the address invited. Then switch to the tenant with the `X-Tenant` header.';

create function app_public.decline_invitation(secret text) returns app_public.invitations
  language plpgsql volatile security definer
  set search_path to pg_catalog, public, pg_temp
as $$
declare
  v_invitation app_public.invitations := app_private.invitation_by_secret(decline_invitation.secret);
begin
  update app_public.invitations set status = 'declined', responded_at = now()
    where tenant_id = v_invitation.tenant_id and id = v_invitation.id
    returning * into v_invitation;
  return v_invitation;
end;
$$;
comment on function app_public.decline_invitation(text) is
  E'@resultFieldName invitation\nDeclines the invitation whose secret you received by mail; its link stops working. Your token''s verified email must be the address invited.';

grant execute on function app_public.invite_member(citext, app_public.membership_role) to :DATABASE_VISITOR;
grant execute on function app_public.revoke_invitation(uuid) to :DATABASE_VISITOR;
grant execute on function app_public.resend_invitation(uuid) to :DATABASE_VISITOR;
grant execute on function app_public.accept_invitation(text) to :DATABASE_VISITOR;
grant execute on function app_public.decline_invitation(text) to :DATABASE_VISITOR;

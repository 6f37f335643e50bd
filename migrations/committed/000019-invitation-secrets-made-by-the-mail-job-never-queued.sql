--! Previous: sha1:8f3cbb1ac1fadb09e1d8f1e831970c243b39ddb1
--! Hash: sha1:244adf5cd351f66ac95e6077d8800a6b0a5a00fd
--! Message: invitation secrets made by the mail job, never queued

-- Invitation secrets are made by the mail job, not queued with it: the job queue held
-- each secret in plain text until its mail went out (graphile-worker keeps payloads in
-- its tables, and a failing job for days). Now inviting or resending queues only the
-- invitation's ids; the job send_invitation_email makes a fresh secret when it sends the
-- mail, and stores only its SHA-256 in the same transaction (src/jobs/send-invitation-email.ts).
-- A job that is retried makes a new secret; the link of a mail whose transaction did
-- not commit never works, the retry's mail does.
drop function if exists app_private.queue_invitation_mail(uuid, uuid);

create function app_private.queue_invitation_mail(tenant_id uuid, invitation_id uuid) returns void
  language plpgsql
  set search_path to pg_catalog, pg_temp
as $$
begin
  -- A resend's old link stops working now, not when the new mail goes out.
  delete from app_private.invitation_secrets s
    where s.tenant_id = queue_invitation_mail.tenant_id and s.invitation_id = queue_invitation_mail.invitation_id;
  -- One mail queued per invitation: a resend before the first mail went replaces it.
  perform graphile_worker.add_job(
    'send_invitation_email',
    json_build_object('tenantId', queue_invitation_mail.tenant_id, 'invitationId', queue_invitation_mail.invitation_id),
    max_attempts := 10,
    job_key := 'send_invitation_email:' || queue_invitation_mail.tenant_id || ':' || queue_invitation_mail.invitation_id
  );
end;
$$;
comment on function app_private.queue_invitation_mail(uuid, uuid) is
  'Withdraws an invitation''s secret, if any, and queues the mail that will carry a new one (graphile-worker job send_invitation_email, keyed by the invitation). The secret itself is made by the job when it sends: it never rests in the queue.';

create or replace function app_public.invite_member(email public.citext, role app_public.membership_role default 'member')
  returns app_public.invitations
  language plpgsql
  security definer
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
  perform app_private.queue_invitation_mail(v_invitation.tenant_id, v_invitation.id);
  return v_invitation;
end;
$$;

create or replace function app_public.resend_invitation(invitation_id uuid)
  returns app_public.invitations
  language plpgsql
  security definer
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
  perform app_private.queue_invitation_mail(v_invitation.tenant_id, v_invitation.id);
  return v_invitation;
end;
$$;

drop function if exists app_private.issue_invitation_secret(uuid, uuid);

-- Mails queued before this migration carry their secret: it goes from the queue (the job
-- now ignores it and makes a new one). On a database whose job queue is not installed
-- yet there is nothing to scrub.
do $$
begin
  if to_regclass('graphile_worker._private_jobs') is not null then
    update graphile_worker._private_jobs j set payload = (j.payload::jsonb - 'secret')::json
      from graphile_worker._private_tasks t
      where t.id = j.task_id and t.identifier = 'send_invitation_email' and j.payload::jsonb ? 'secret';
  end if;
end;
$$;

comment on table app_private.invitation_secrets is
  E'@tenantExport omit\nSHA-256 of each invitation''s secret, written by the mail job (send_invitation_email) in the transaction that sends the mail; the secret itself is in the mail only. The secret is 256 random bits, so a fast hash is enough. (Credentials never travel in an export: resend pending invitations after an import.)';

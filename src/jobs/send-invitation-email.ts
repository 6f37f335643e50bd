// The job an invitation queues in its own transaction (app_private.issue_invitation_secret):
// mail the secret link to the invited address. It runs as the owner, after the fact, so
// it checks that the invitation is still pending and the secret still its newest (a
// resend replaces it) before sending: a revoked or superseded invitation mails nothing.
import type { Task } from 'graphile-worker';
import type { Logger } from '../logger.ts';
import type { Mailer } from '../mail/mailer.ts';

export interface InvitationPayload {
  tenantId: string;
  invitationId: string;
  secret: string;
}

export interface InvitationMailOptions {
  mailer: Mailer;
  /** The frontend's address; the mail links to `${appUrl}/invitations/accept?secret=…`. */
  appUrl: string;
  logger: Logger;
}

/** Where an invitation link points, under APP_URL. */
export const INVITATION_LINK_PATH = '/invitations/accept';

/** The accept page under APP_URL, its path kept (APP_URL may be a path such as /app). */
export function acceptLink(appUrl: string, secret: string): string {
  const url = new URL(INVITATION_LINK_PATH.slice(1), appUrl.endsWith('/') ? appUrl : `${appUrl}/`);
  url.searchParams.set('secret', secret);
  return url.toString();
}

export function sendInvitationEmail({ mailer, appUrl, logger }: InvitationMailOptions): Task {
  return async (payload, helpers) => {
    const { tenantId, invitationId, secret } = payload as InvitationPayload;
    const { rows } = await helpers.query<{
      email: string;
      role: string;
      expires_at: Date;
      tenant: string;
      inviter: string | null;
    }>(
      `select i.email, i.role, i.expires_at, t.name as tenant, coalesce(u.display_name, u.email) as inviter
       from app_public.invitations i
       join app_public.tenants t on t.id = i.tenant_id
       join app_private.invitation_secrets s on s.tenant_id = i.tenant_id and s.invitation_id = i.id
       left join app_public.users u on u.id = i.invited_by
       where i.tenant_id = $1 and i.id = $2 and i.status = 'pending'
         and s.secret_hash = sha256(convert_to($3, 'UTF8'))`,
      [tenantId, invitationId, secret],
    );
    const invitation = rows[0];
    if (!invitation) {
      logger.info({ tenantId, invitationId }, 'invitation no longer pending, or resent since: no mail');
      return;
    }
    const link = acceptLink(appUrl, secret);
    const { file } = await mailer.send({
      to: invitation.email,
      subject: `You are invited to join ${invitation.tenant}`,
      text: [
        `${invitation.inviter ?? 'Someone'} invited you to join ${invitation.tenant} as ${invitation.role}.`,
        '',
        `Accept: ${link}`,
        '',
        `Sign in with the address this mail was sent to (${invitation.email}). The link works until ${invitation.expires_at.toUTCString()}, once.`,
        'If you did not expect this, ignore it: nothing happens unless you accept.',
        '',
        `(For API clients: the mutation acceptInvitation(input: { secret: "${secret}" }).)`,
      ].join('\n'),
    });
    // The link is a credential: only where no mail server is set (development), for a person at the terminal.
    if (file) logger.info({ to: invitation.email, file, acceptLink: link }, 'invitation mail written');
    else logger.info({ tenantId, invitationId }, 'invitation mail sent');
  };
}

// The job an invitation queues in its own transaction (app_private.queue_invitation_mail):
// mail the secret link to the invited address. The secret is made here, when the mail is
// sent, and only its SHA-256 is stored, in the same transaction that checks the
// invitation is still pending: no secret rests in the job queue or the database, and a
// revoked or answered invitation mails nothing.
//
// If sending fails, the transaction rolls back (no hash stored) and graphile-worker
// retries the job, which makes another secret. If the mail went out but the commit
// failed, that mail's link never works; the retry sends one that does. Each send
// replaces the invitation's secret, so only the newest mail's link works.
import { randomBytes } from 'node:crypto';
import type { Task } from 'graphile-worker';
import type { Logger } from '../logger.ts';
import type { Mailer } from '../mail/mailer.ts';

export interface InvitationPayload {
  tenantId: string;
  invitationId: string;
}

export interface InvitationMailOptions {
  mailer: Mailer;
  /** The frontend's address; the mail links to `${appUrl}/invitations/accept?secret=…`. */
  appUrl: string;
  logger: Logger;
  /**
   * Log the accept link of a mail written as an .eml file (no SMTP server): for a person
   * at the terminal in development only. The link is a live credential: never in a
   * production log, whatever the mail transport.
   */
  logAcceptLinks?: boolean;
}

/** Whether the accept links of mails written as .eml files are logged: in development only. */
export function logsAcceptLinks(env: { NODE_ENV: string }): boolean {
  return env.NODE_ENV === 'development';
}

/** Where an invitation link points, under APP_URL. */
export const INVITATION_LINK_PATH = '/invitations/accept';

/** The accept page under APP_URL, its path kept (APP_URL may be a path such as /app). */
export function acceptLink(appUrl: string, secret: string): string {
  const url = new URL(INVITATION_LINK_PATH.slice(1), appUrl.endsWith('/') ? appUrl : `${appUrl}/`);
  url.searchParams.set('secret', secret);
  return url.toString();
}

/** 256 random bits, hex: as long as the secrets the database used to make. */
export function newInvitationSecret(): string {
  return randomBytes(32).toString('hex');
}

export function sendInvitationEmail({
  mailer,
  appUrl,
  logger,
  logAcceptLinks = false,
}: InvitationMailOptions): Task {
  return async (payload, helpers) => {
    const { tenantId, invitationId } = payload as InvitationPayload;
    await helpers.withPgClient(async (client) => {
      await client.query('begin');
      try {
        // Locked: a concurrent revoke or resend waits for this mail's bookkeeping.
        const { rows } = await client.query<{
          email: string;
          role: string;
          expires_at: Date;
          tenant: string;
          inviter: string | null;
        }>(
          `select i.email, i.role, i.expires_at, t.name as tenant, coalesce(u.display_name, u.email) as inviter
           from app_public.invitations i
           join app_public.tenants t on t.id = i.tenant_id
           left join app_public.users u on u.id = i.invited_by
           where i.tenant_id = $1 and i.id = $2 and i.status = 'pending'
           for update of i`,
          [tenantId, invitationId],
        );
        const invitation = rows[0];
        if (!invitation) {
          await client.query('rollback');
          logger.info({ tenantId, invitationId }, 'invitation no longer pending: no mail');
          return;
        }
        const secret = newInvitationSecret();
        await client.query(
          `insert into app_private.invitation_secrets (tenant_id, invitation_id, secret_hash)
           values ($1, $2, sha256(convert_to($3, 'UTF8')))
           on conflict on constraint invitation_secrets_pkey do update set secret_hash = excluded.secret_hash`,
          [tenantId, invitationId, secret],
        );
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
        await client.query('commit');
        if (file && logAcceptLinks)
          logger.info({ to: invitation.email, file, acceptLink: link }, 'invitation mail written');
        else if (file) logger.info({ tenantId, invitationId, file }, 'invitation mail written');
        else logger.info({ tenantId, invitationId }, 'invitation mail sent');
      } catch (error) {
        await client.query('rollback').catch(() => {});
        throw error;
      }
    });
  };
}

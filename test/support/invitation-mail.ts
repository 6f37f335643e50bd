// The invitation mail job (src/jobs/send-invitation-email.ts), run by hand on the test
// database as graphile-worker would run it: the secret exists only once the mail is sent,
// so a test that wants an invitation's secret sends its mail and reads the link.
import type { Task } from 'graphile-worker';
import pg from 'pg';
import pino from 'pino';
import { inject } from 'vitest';
import { sendInvitationEmail } from '../../src/jobs/send-invitation-email.ts';
import type { Mail } from '../../src/mail/mailer.ts';

const database = inject('database');
export const TEST_APP_URL = 'https://app.example.test';

/** Runs `task` (default: the mail job, mailing into the returned list) for one invitation, on its own owner connection. */
export async function runInvitationMail(
  tenantId: string,
  invitationId: string,
  task?: Task,
): Promise<Mail[]> {
  const sent: Mail[] = [];
  const run =
    task ??
    sendInvitationEmail({
      mailer: {
        send: async (mail) => {
          sent.push(mail);
          return {};
        },
        close: () => {},
      },
      appUrl: TEST_APP_URL,
      logger: pino({ level: 'silent' }),
    });
  const client = new pg.Client({ connectionString: database.ownerUrl });
  await client.connect();
  try {
    await run({ tenantId, invitationId }, {
      withPgClient: (fn: (client: pg.Client) => Promise<unknown>) => fn(client),
      query: (sql: string, values?: unknown[]) => client.query(sql, values),
    } as never);
  } finally {
    await client.end();
  }
  return sent;
}

/** The secret of a mail's accept link. */
export function secretIn(text: string): string {
  const link = /(https?:\/\/\S+\/invitations\/accept\?secret=\S+)/.exec(text)?.[1];
  if (!link) throw new Error(`no accept link in: ${text}`);
  return new URL(link).searchParams.get('secret')!;
}

/** Sends the invitation's mail now; the secret its link carries. */
export async function mailedSecret(tenantId: string, invitationId: string): Promise<string> {
  const [mail] = await runInvitationMail(tenantId, invitationId);
  if (!mail) throw new Error(`no mail was sent for invitation ${invitationId}`);
  return secretIn(mail.text);
}

/**
 * The payloads of the mail jobs queued for an invitation, oldest first. A worker of
 * another test file may hold one at the moment a resend queues the next (graphile-worker
 * then queues a second job rather than replace a locked one), so count mails by
 * `keyedMailJobs`.
 */
export async function queuedMailPayloads(invitationId: string): Promise<Array<Record<string, unknown>>> {
  const client = new pg.Client({ connectionString: database.ownerUrl });
  await client.connect();
  try {
    const { rows } = await client.query(
      `select j.payload from graphile_worker._private_jobs j join graphile_worker._private_tasks t on t.id = j.task_id
       where t.identifier = 'send_invitation_email' and j.payload->>'invitationId' = $1 order by j.id`,
      [invitationId],
    );
    return rows.map((row) => row.payload);
  } finally {
    await client.end();
  }
}

/** How many queued jobs carry the invitation's job key (app_private.queue_invitation_mail): one while its mail is due. */
export async function keyedMailJobs(tenantId: string, invitationId: string): Promise<number> {
  const client = new pg.Client({ connectionString: database.ownerUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: number }>(
      'select count(*)::int as n from graphile_worker._private_jobs where key = $1',
      [`send_invitation_email:${tenantId}:${invitationId}`],
    );
    return rows[0]!.n;
  } finally {
    await client.end();
  }
}

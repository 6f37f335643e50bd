// End to end, as people live it: an owner invites someone brand new; the job queue mails
// the link (no SMTP server: an .eml file in the mailbox); the newcomer signs in with a
// fresh token carrying their verified address, accepts with the link's secret, works in
// both of their tenants with one token by switching X-Tenant, and leaves the one they
// joined. The worker runs as in production: the secret is in the mail and nowhere else,
// not in the job queue, not in the log.
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { run, type Runner, type Task } from 'graphile-worker';
import { simpleParser, type ParsedMail } from 'mailparser';
import pino from 'pino';
import { afterAll, beforeAll, expect, inject, test } from 'vitest';
import { logsAcceptLinks, sendInvitationEmail } from '../src/jobs/send-invitation-email.ts';
import { workerLogger } from '../src/jobs/worker.ts';
import { createMailer } from '../src/mail/mailer.ts';
import { tokenFor, useApi } from './support/api.ts';
import { asOwner } from './support/db.ts';
import { createTenant, type TenantFixture } from './support/fixtures.ts';
import { keyedMailJobs, queuedMailPayloads, runInvitationMail } from './support/invitation-mail.ts';

const database = inject('database');
const api = useApi();
const APP_URL = 'https://app.example.test';
let mailbox: string;
let worker: Runner;
let acme: TenantFixture;
let send: Task;
/** What the worker logged, one parsed line each. */
const logLines: Array<Record<string, unknown>> = [];

beforeAll(async () => {
  acme = await createTenant('flow');
  mailbox = await mkdtemp(path.join(os.tmpdir(), 'tenantgraph-mailbox-'));
  const logger = pino(
    { level: 'debug' },
    { write: (line: string) => void logLines.push(JSON.parse(line) as Record<string, unknown>) },
  );
  send = sendInvitationEmail({
    mailer: createMailer({ mailbox, from: 'tenantgraph <no-reply@example.test>' }, logger),
    appUrl: APP_URL,
    logger,
    // As npm start decides it for NODE_ENV=production (no SMTP_URL here either).
    logAcceptLinks: logsAcceptLinks({ NODE_ENV: 'production' }),
  });
  // Test files share one database and run at once: this worker takes only its own
  // tenant's mail and leaves the others' jobs queued (failed, to be retried later).
  const ours: Task = (payload, helpers) => {
    if ((payload as { tenantId?: string }).tenantId !== acme.id)
      throw new Error("not this test file's invitation");
    return send(payload, helpers);
  };
  worker = await run({
    connectionString: database.ownerUrl,
    concurrency: 1,
    noHandleSignals: true,
    crontab: '',
    pollInterval: 200,
    logger: workerLogger(logger),
    taskList: { send_invitation_email: ours },
  });
});

afterAll(async () => {
  await worker?.stop();
  if (mailbox) await rm(mailbox, { recursive: true, force: true });
});

/** The mail written for `address`, parsed as a mail client would. */
async function mailTo(address: string, timeoutMs = 10_000): Promise<ParsedMail> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    const files = (await readdir(mailbox)).filter((file) => file.endsWith(`${address}.eml`));
    if (files[0]) return simpleParser(await readFile(path.join(mailbox, files[0])));
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no mail to ${address} within ${timeoutMs} ms`);
}

test('invite a brand-new person, they accept from the mail, switch between two tenants with one token, and leave', async () => {
  const owner = { authorization: `Bearer ${tokenFor({ userId: acme.users.owner, tenantId: acme.id })}` };
  const newcomer = { userId: randomUUID(), email: `new-${randomUUID().slice(0, 8)}@example.test` };

  const invited = await api.post(
    {
      query:
        'mutation ($email: String!) { inviteMember(input: { email: $email, role: member }) { invitation { rowId status } } }',
      variables: { email: newcomer.email },
    },
    owner,
  );
  expect(invited.body.data.inviteMember.invitation.status).toBe('pending');

  const mail = await mailTo(newcomer.email);
  expect(mail.to).toMatchObject({ text: newcomer.email });
  expect(mail.subject).toMatch(/^You are invited to join flow /);
  const link = /(https:\/\/app\.example\.test\/invitations\/accept\?secret=[0-9a-f]+)/.exec(
    mail.text ?? '',
  )![1]!;
  const secret = new URL(link).searchParams.get('secret')!;

  // The secret is in the mail only: not in any job's payload, not in the database (its
  // SHA-256 is), not in the log; and the log has no accept link at all.
  const atRest = await asOwner(async (db) => ({
    jobs: (
      await db.query(
        `select count(*)::int as n from graphile_worker._private_jobs where payload::text like '%' || $1 || '%'`,
        [secret],
      )
    ).rows[0].n,
    hashed: (
      await db.query(
        `select count(*)::int as n from app_private.invitation_secrets where secret_hash = sha256(convert_to($1, 'UTF8'))`,
        [secret],
      )
    ).rows[0].n,
  }));
  expect(atRest).toEqual({ jobs: 0, hashed: 1 });
  expect(logLines.some((line) => line.msg === 'invitation mail written')).toBe(true);
  expect(logLines.filter((line) => 'acceptLink' in line || JSON.stringify(line).includes(secret))).toEqual(
    [],
  );

  // Signed in for the first time: a token with the verified address, no tenant yet.
  const token = tokenFor({ userId: newcomer.userId, email: newcomer.email, emailVerified: true });
  const as = (tenant?: string) => ({
    authorization: `Bearer ${token}`,
    ...(tenant && { 'x-tenant': tenant }),
  });
  // They also start a tenant of their own.
  const ownSlug = `own-${newcomer.userId.slice(0, 8)}`;
  await api.post(
    {
      query:
        'mutation ($slug: String!) { createTenant(input: { name: "Own", slug: $slug }) { tenant { slug } } }',
      variables: { slug: ownSlug },
    },
    as(),
  );

  const accepted = await api.post(
    {
      query:
        'mutation ($secret: String!) { acceptInvitation(input: { secret: $secret }) { membership { role tenant { slug } } } }',
      variables: { secret },
    },
    as(),
  );
  expect(accepted.body.data.acceptInvitation.membership).toEqual({
    role: 'member',
    tenant: { slug: acme.slug },
  });

  const switcher =
    '{ currentTenant { slug } currentMemberships { nodes { id role tenant { slug } } } products { totalCount } }';
  const inAcme = await api.post({ query: switcher }, as(acme.slug));
  expect(inAcme.body.data.currentTenant.slug).toBe(acme.slug);
  expect(inAcme.body.data.products.totalCount).toBe(2);
  expect(inAcme.body.data.currentMemberships.nodes.map((node: any) => node.tenant.slug).sort()).toEqual(
    [acme.slug, ownSlug].sort(),
  );
  const inOwn = await api.post({ query: switcher }, as(ownSlug));
  expect([inOwn.body.data.currentTenant.slug, inOwn.body.data.products.totalCount]).toEqual([ownSlug, 0]);

  const membershipInAcme = inAcme.body.data.currentMemberships.nodes.find(
    (node: any) => node.tenant.slug === acme.slug,
  ).id;
  const left = await api.post(
    {
      query: 'mutation ($id: ID!) { deleteMembershipById(input: { id: $id }) { membership { role } } }',
      variables: { id: membershipInAcme },
    },
    as(acme.slug),
  );
  expect(left.body.errors).toBeUndefined();
  const after = await api.post({ query: switcher }, as(acme.slug));
  expect(after.body.data.currentTenant).toBeNull();
  expect(after.body.data.currentMemberships.nodes.map((node: any) => node.tenant.slug)).toEqual([ownSlug]);
});

test('accept links are logged in development only', () => {
  expect([
    logsAcceptLinks({ NODE_ENV: 'development' }),
    logsAcceptLinks({ NODE_ENV: 'production' }),
    logsAcceptLinks({ NODE_ENV: 'test' }),
  ]).toEqual([true, false, false]);
});

test('a revoked invitation mails nothing; a resend before the mail went queues one mail, not two', async () => {
  const other = await createTenant('flow-revoked');
  const admin = { authorization: `Bearer ${tokenFor({ userId: other.users.admin, tenantId: other.id })}` };
  const invite = async (email: string) =>
    (
      await api.post(
        {
          query:
            'mutation ($email: String!) { inviteMember(input: { email: $email }) { invitation { rowId } } }',
          variables: { email },
        },
        admin,
      )
    ).body.data.inviteMember.invitation.rowId as string;
  // The task, run by hand on the real database, as the worker would run it (this file's
  // worker leaves other tenants' mail alone).
  const runTask = (invitationId: string) => runInvitationMail(other.id, invitationId, send);
  const mailsTo = async (pattern: RegExp) => (await readdir(mailbox)).filter((file) => pattern.test(file));

  const revoked = await invite('revoked@example.test');
  await api.post(
    {
      query:
        'mutation ($id: UUID!) { revokeInvitation(input: { invitationId: $id }) { invitation { status } } }',
      variables: { id: revoked },
    },
    admin,
  );
  await runTask(revoked);
  expect(await mailsTo(/revoked@/)).toEqual([]);

  const resent = await invite('resent@example.test');
  await api.post(
    {
      query:
        'mutation ($id: UUID!) { resendInvitation(input: { invitationId: $id }) { invitation { status } } }',
      variables: { id: resent },
    },
    admin,
  );
  expect(await keyedMailJobs(other.id, resent)).toBe(1);
  for (const payload of await queuedMailPayloads(resent))
    expect(payload).toEqual({ tenantId: other.id, invitationId: resent });
  await runTask(resent);
  expect(await mailsTo(/resent@/)).toHaveLength(1);
});

// Outgoing mail, through nodemailer. With SMTP_URL it goes to that server. Without it,
// every message is written as an .eml file into the mailbox folder instead (in
// development, .data/mail): open it in any mail client, or read the link in the log.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import nodemailer from 'nodemailer';
import type { Logger } from '../logger.ts';

export interface MailerOptions {
  /** smtp:// or smtps:// URL of the mail server; unset: write .eml files. */
  smtpUrl?: string | undefined;
  /** Where .eml files go when there is no SMTP server. */
  mailbox: string;
  from: string;
}

export interface Mail {
  to: string;
  subject: string;
  text: string;
}

export interface Mailer {
  /** Sends a message; resolves with the .eml file written when there is no SMTP server. */
  send(mail: Mail): Promise<{ file?: string }>;
  close(): void;
}

export function createMailer(options: MailerOptions, logger: Logger): Mailer {
  if (options.smtpUrl) {
    const transport = nodemailer.createTransport(options.smtpUrl);
    return {
      async send(mail) {
        await transport.sendMail({ from: options.from, ...mail });
        return {};
      },
      close: () => transport.close(),
    };
  }
  logger.warn({ mailbox: options.mailbox }, 'SMTP_URL is not set: mail is written as .eml files, not sent');
  const transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  return {
    async send(mail) {
      const { message } = (await transport.sendMail({ from: options.from, ...mail })) as { message: Buffer };
      await mkdir(options.mailbox, { recursive: true });
      const file = path.join(
        options.mailbox,
        `${new Date().toISOString().replace(/[:.]/g, '-')}-${mail.to.replace(/[^\w.@-]/g, '_')}.eml`,
      );
      await writeFile(file, message, { mode: 0o600 });
      return { file };
    },
    close: () => transport.close(),
  };
}

// GET /exports/:id: an owner downloads an export of their tenant. The request is
// authenticated by the same middleware as GraphQL (identity in res.locals.identity), and
// the export is looked up *as that identity* through row level security
// (tenant_exports.select_by_owner): another tenant's export, or one's own as a non-owner,
// is simply not found. The file's path comes from the row, never from the URL.
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Request, Response } from 'express';
import type pg from 'pg';
import { pgSettingsFor, type RequestRoles } from '../auth/claims.ts';
import { asRequest, type PaidBy } from '../request/as-request.ts';
import type { ConnectionShares } from '../request/work.ts';
import { sendError } from '../errors/catalogue.ts';
import { exportFile } from '../jobs/export-tenant.ts';
import type { ChargedKey } from '../limits/charged-key.ts';
import type { Logger } from '../logger.ts';

export const EXPORTS_PATH = '/exports';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface ExportRow {
  tenant_id: string;
  id: string;
  status: string;
  expires_at: Date | null;
  slug: string;
  created_at: Date;
}

async function exportAs(
  pool: pg.Pool,
  settings: Record<string, string>,
  id: string,
  paidBy: PaidBy,
): Promise<ExportRow | undefined> {
  const { rows } = await asRequest(
    pool,
    settings,
    (client) =>
      client.query<ExportRow>(
        `select e.tenant_id, e.id, e.status, e.expires_at, e.created_at, t.slug
         from app_public.tenant_exports e join app_public.tenants t on t.id = e.tenant_id where e.id = $1`,
        [id],
      ),
    paidBy,
  );
  return rows[0];
}

export function downloadExport(options: {
  pool: pg.Pool;
  roles: RequestRoles;
  exportDir: string;
  logger: Logger;
  /** The look-up takes a connection within the caller's share, as GraphQL operations do. */
  shares: ConnectionShares;
  chargedKey: ChargedKey;
}) {
  return async (req: Request<{ id: string }>, res: Response) => {
    const identity = res.locals.identity;
    if (!identity) {
      res.setHeader('WWW-Authenticate', 'Bearer');
      return sendError(
        res,
        'UNAUTHENTICATED',
        "Sign in: downloading an export needs the owner's bearer token.",
      );
    }
    const notFound = () =>
      sendError(res, 'NOT_FOUND', 'No export of your tenant you may download has this id (owners only).');
    if (!UUID.test(req.params.id)) return notFound();
    const { key } = await options.chargedKey(identity, req.ip);
    const row = await exportAs(
      options.pool,
      pgSettingsFor(identity, options.roles),
      req.params.id.toLowerCase(),
      {
        shares: options.shares,
        work: { key, databaseMs: 0 },
      },
    );
    if (!row) return notFound();
    if (row.status === 'pending' || row.status === 'running') return sendError(res, 'EXPORT_NOT_READY');
    if (row.status !== 'ready' || !row.expires_at || row.expires_at < new Date())
      return sendError(res, 'EXPORT_GONE');
    const file = exportFile(options.exportDir, row.tenant_id, row.id);
    if (!(await stat(file).catch(() => null))) return sendError(res, 'EXPORT_GONE');
    options.logger.info(
      { tenantId: row.tenant_id, exportId: row.id, userId: identity.userId },
      'tenant export downloaded',
    );
    const name = `tenantgraph-${row.slug}-${row.created_at.toISOString().slice(0, 10)}.tar.gz`;
    res.setHeader('Cache-Control', 'no-store');
    res.attachment(name);
    res.type('application/gzip');
    // `send` refuses any path with a dot segment unless it is below `root`, and the
    // default EXPORT_DIR is `.data/exports`: the export folder is the root, and only the
    // part below it (a tenant id and an export id, both from the row) is checked.
    const root = path.resolve(options.exportDir);
    res.sendFile(path.relative(root, file), { root, dotfiles: 'deny' }, (error?: NodeJS.ErrnoException) => {
      if (!error) return;
      if (res.headersSent) {
        // The client hung up mid-download (or the disk failed mid-file): nothing more can be said to it.
        options.logger.info({ err: error, exportId: row.id }, 'tenant export download ended early');
        return;
      }
      // The attachment headers were set for the archive; an error is JSON.
      res.removeHeader('Content-Disposition');
      res.removeHeader('Content-Type');
      if (error.code === 'ENOENT') return sendError(res, 'EXPORT_GONE');
      options.logger.error({ err: error, exportId: row.id }, 'tenant export could not be sent');
      sendError(res, 'INTERNAL_SERVER_ERROR');
    });
  };
}

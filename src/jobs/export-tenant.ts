// The job an owner's requestTenantExport queues in its own transaction: write the
// tenant's archive into EXPORT_DIR/<tenant id>/<export id>.tar.gz and mark the export
// ready until EXPORT_TTL_HOURS from now. Runs as the owner role (the worker's login),
// which reads every tenant table past row level security; the download goes through
// RLS as the requesting user (src/http/exports.ts).
import { mkdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { JobHelpers, Task } from 'graphile-worker';
import type { Logger } from '../logger.ts';
import { sha256Of } from '../portability/archive.ts';
import { exportTenant, type Lease } from '../portability/export.ts';

export interface ExportJobOptions {
  exportDir: string;
  ttlHours: number;
  /** The key archives are signed with (EXPORT_SIGNING_KEY), read when a job runs: without one in production the export fails, saying so. */
  signingKey: () => Promise<Buffer>;
  logger: Logger;
}

export interface ExportPayload {
  tenantId: string;
  exportId: string;
}

/** Where an export's archive lives: derived from ids the database gave, never from a request. */
export function exportFile(exportDir: string, tenantId: string, exportId: string): string {
  return path.resolve(exportDir, tenantId, `${exportId}.tar.gz`);
}

/** Another of the worker pool's connections, held until released: the export reads tables on two at once. */
function lease(helpers: JobHelpers): Promise<Lease> {
  return new Promise((resolve, reject) => {
    helpers
      .withPgClient((client) => new Promise<void>((release) => resolve({ client, release })))
      .catch(reject);
  });
}

export function exportTenantTask({ exportDir, ttlHours, signingKey, logger }: ExportJobOptions): Task {
  return async (payload, helpers) => {
    const { tenantId, exportId } = payload as ExportPayload;
    const started = await helpers.query(
      `update app_public.tenant_exports set status = 'running' where tenant_id = $1 and id = $2 and status in ('pending', 'running') returning id`,
      [tenantId, exportId],
    );
    if (!started.rowCount)
      return void logger.info(
        { tenantId, exportId },
        'export no longer wanted (done, or the tenant is gone)',
      );
    const file = exportFile(exportDir, tenantId, exportId);
    try {
      await mkdir(path.dirname(file), { recursive: true });
      const key = await signingKey();
      const manifest = await helpers.withPgClient((client) =>
        exportTenant(client, tenantId, file, { connect: () => lease(helpers), signingKey: key }),
      );
      const rowCounts = Object.fromEntries(manifest.tables.map((t) => [t.table, t.rows]));
      await helpers.query(
        `update app_public.tenant_exports set status = 'ready', finished_at = now(), expires_at = now() + make_interval(hours => $3),
           byte_size = $4, sha256 = $5, row_counts = $6, error = null
         where tenant_id = $1 and id = $2`,
        [tenantId, exportId, ttlHours, (await stat(file)).size, await sha256Of(file), rowCounts],
      );
      logger.info({ tenantId, exportId, rows: rowCounts }, 'tenant export written');
    } catch (error) {
      await rm(file, { force: true });
      const last = helpers.job.attempts >= helpers.job.max_attempts;
      await helpers.query(
        `update app_public.tenant_exports set status = $3, error = $4, finished_at = case when $3 = 'failed' then now() end where tenant_id = $1 and id = $2`,
        [
          tenantId,
          exportId,
          last ? 'failed' : 'pending',
          last ? 'The export could not be written; ask again, or contact the operator.' : null,
        ],
      );
      throw error;
    }
  };
}

/** Hourly: archives past their expiry are deleted and their exports marked expired. */
export function deleteExpiredExportsTask({
  exportDir,
  logger,
}: Pick<ExportJobOptions, 'exportDir' | 'logger'>): Task {
  return async (_payload, helpers) => {
    const { rows } = await helpers.query<{ tenant_id: string; id: string }>(
      `update app_public.tenant_exports set status = 'expired' where status = 'ready' and expires_at < now() returning tenant_id, id`,
    );
    for (const row of rows) await rm(exportFile(exportDir, row.tenant_id, row.id), { force: true });
    if (rows.length) logger.info(`deleted ${rows.length} expired tenant exports`);
  };
}

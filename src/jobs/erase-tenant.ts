// The job an owner's deleteTenant queues: erase the tenant (src/portability/erase.ts) as
// the owner role, then its export archives on disk.
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { Task } from 'graphile-worker';
import type { Logger } from '../logger.ts';
import { eraseTenant } from '../portability/erase.ts';

export interface EraseJobOptions {
  exportDir: string;
  /** OFFBOARDED_AUDIT_RETENTION_DAYS */
  auditRetentionDays: number;
  logger: Logger;
}

export function eraseTenantTask({ exportDir, auditRetentionDays, logger }: EraseJobOptions): Task {
  return async (payload, helpers) => {
    const { tenantId } = payload as { tenantId: string };
    const result = await helpers.withPgClient((client) =>
      eraseTenant(client, tenantId, { auditRetentionDays }),
    );
    await rm(path.resolve(exportDir, tenantId), { recursive: true, force: true });
    logger.info(
      {
        tenantId,
        removedUsers: result.removedUsers,
        keptUsers: result.keptUsers,
        auditEventsRetained: result.auditEventsRetained,
        retainedUntil: result.retainedUntil,
      },
      'tenant erased',
    );
  };
}

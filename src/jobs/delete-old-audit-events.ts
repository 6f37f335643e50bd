// Audit retention: a daily job (graphile-worker's cron, in worker.ts) deletes the
// events older than AUDIT_RETENTION_DAYS, a batch at a time so that it never holds
// long locks or bloats one transaction. Runs as the owner: no request role may delete
// an audit event.
import type { Task } from 'graphile-worker';

const BATCH = 10_000;

export function deleteOldAuditEvents(retentionDays: number): Task {
  return async (_payload, helpers) => {
    let deleted = 0;
    for (;;) {
      const { rowCount } = await helpers.query(
        `delete from app_public.audit_events where ctid = any (array(
           select ctid from app_public.audit_events where occurred_at < now() - make_interval(days => $1) limit $2))`,
        [retentionDays, BATCH],
      );
      deleted += rowCount ?? 0;
      if ((rowCount ?? 0) < BATCH) break;
    }
    helpers.logger.info(`deleted ${deleted} audit events older than ${retentionDays} days`);
  };
}

// Audit retention: a daily job (graphile-worker's cron, in worker.ts) deletes the
// events older than AUDIT_RETENTION_DAYS, a batch at a time so that it never holds
// long locks or bloats one transaction. It also ends the retention of off-boarded
// tenants' trails (src/portability/erase.ts). Runs as the owner: no request role may delete
// an audit event.
import type { Task } from 'graphile-worker';
import { purgeRetainedErasures } from '../portability/erase.ts';

const BATCH = 10_000;

export function deleteOldAuditEvents(retentionDays: number): Task {
  return async (_payload, helpers) => {
    let deleted = 0;
    for (;;) {
      // By primary key, not ctid: on Citus a ctid names a row within one shard only, and
      // the batch's ctids would be deleted on every shard (other tenants' recent events).
      const { rowCount } = await helpers.query(
        `delete from app_public.audit_events where (tenant_id, id) in (
           select tenant_id, id from app_public.audit_events where occurred_at < now() - make_interval(days => $1) limit $2)`,
        [retentionDays, BATCH],
      );
      deleted += rowCount ?? 0;
      if ((rowCount ?? 0) < BATCH) break;
    }
    helpers.logger.info(`deleted ${deleted} audit events older than ${retentionDays} days`);
    // Off-boarded tenants' trails end sooner: OFFBOARDED_AUDIT_RETENTION_DAYS after their erasure.
    const purged = await purgeRetainedErasures((sql) => helpers.query(sql));
    if (purged.erasures)
      helpers.logger.info(
        `deleted ${purged.events} audit events of ${purged.erasures} off-boarded tenants past their retention`,
      );
  };
}

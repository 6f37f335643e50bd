// Step 6, realtime: subscriptions over websockets on the GraphQL path, each connection
// identified at its handshake; one LISTEN connection (the hub) for all of them.
import type { Server } from 'node:http';
import type pg from 'pg';
import { pgSettingsFor } from '../auth/claims.ts';
import type { Identify } from '../auth/identify.ts';
import type { ConnectionShares } from '../request/work.ts';
import type { Budget } from '../limits/budget.ts';
import type { ChargedKey } from '../limits/charged-key.ts';
import type { Logger } from '../logger.ts';
import type { Observability } from '../observability/observability.ts';
import type { TenantgraphOptions } from '../options.ts';
import { GRAPHQL_PATH } from '../plugins/preset.ts';
import { ListenHub } from '../realtime/hub.ts';
import { createReadSlots } from '../realtime/read-slots.ts';
import { ConnectionSubscriber, SubscriptionCounts } from '../realtime/subscriber.ts';
import { attachWebsockets } from '../realtime/websocket.ts';
import type { Closable } from '../shutdown.ts';
import type { GraphQLStep } from './install-graphql.ts';

export function installRealtime(
  httpServer: Server,
  context: {
    authenticatorUrl: string;
    tenantgraph: TenantgraphOptions;
    pool: pg.Pool;
    shares: ConnectionShares;
    serv: GraphQLStep['serv'];
    identify: Identify;
    budget: Budget | null;
    chargedKey: ChargedKey;
    observability?: Observability | undefined;
    logger: Logger;
  },
): { subscriptions: SubscriptionCounts; resource: Closable } {
  const { tenantgraph: options, logger } = context;
  const { realtime } = options;
  const subscriptions = new SubscriptionCounts();
  context.observability?.countSubscriptions(() => subscriptions.total);
  // One key's events hold at most its TENANT_CONNECTIONS of the read slots (src/realtime/read-slots.ts).
  const readSlot = createReadSlots({
    readConcurrency: realtime.limits.readConcurrency,
    perKey: options.work.connectionsPerKey,
    budget: context.budget,
  });
  const hub = new ListenHub(realtime.listenUrl ?? context.authenticatorUrl, logger);
  const websockets = attachWebsockets({
    httpServer,
    serv: context.serv,
    path: GRAPHQL_PATH,
    identify: context.identify,
    newSubscriber: (identity) =>
      new ConnectionSubscriber({
        identity,
        pgSettings: pgSettingsFor(identity, options.roles),
        pool: context.pool,
        shares: context.shares,
        chargedKey: context.chargedKey,
        hub,
        counts: subscriptions,
        limits: realtime.limits,
        readSlot,
      }),
    logger,
    keepaliveMs: realtime.keepaliveMs,
    idleMs: realtime.idleMs,
    apiKeyRecheckMs: options.apiKeyCacheSeconds * 1000,
  });
  return {
    subscriptions,
    resource: {
      name: 'websockets',
      async close() {
        // Open sockets would keep the server from closing: 1001, going away.
        websockets.close();
        await hub.close();
      },
    },
  };
}

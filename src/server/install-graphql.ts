// Step 2, GraphQL: the preset the server runs (the API's own, the configured options,
// the trusted documents, this server's pool and services), the schema built at once so a
// broken one fails the start, grafserv, and in watch mode the schema guard's check of
// every rebuild. Gives back what the HTTP steps mount and the realtime step shares.
import { postgraphile } from 'postgraphile';
import { grafserv } from 'postgraphile/grafserv/express/v4';
import type { GraphQLSchema } from 'grafast/graphql';
import type pg from 'pg';
import { makeRequestPgService } from '../request/request-adaptor.ts';
import type { GuardedWatch } from '../dba/guarded-watch.ts';
import type { ConnectionShares } from '../request/work.ts';
import type { DatabaseGate } from '../http/database-gate.ts';
import { createBudget, type Budget } from '../limits/budget.ts';
import { createBulkhead } from '../limits/bulkhead.ts';
import { createChargedKey, type ChargedKey } from '../limits/charged-key.ts';
import { createTenantVerifier } from '../limits/verified-tenant.ts';
import type { Logger } from '../logger.ts';
import type { Observability } from '../observability/observability.ts';
import type { TenantgraphOptions } from '../options.ts';
import { createMaskError, type ConstraintMessages } from '../plugins/mask-errors.ts';
import { EXPOSED_SCHEMAS, TenantgraphPreset } from '../plugins/preset.ts';
import {
  loadTrustedDocuments,
  trustedDocumentsPreset,
  type TrustedDocuments,
} from '../plugins/trusted-documents.ts';
import type { Closable } from '../shutdown.ts';
import { StartupError } from '../startup-error.ts';
import type express from 'express';

export interface GraphQLStep {
  serv: ReturnType<typeof grafserv>;
  /** The GraphQL schema as built at start-up. */
  schema: GraphQLSchema;
  /** The tenants' cost buckets (the realtime reads pay from them too); null: no budgets. */
  budget: Budget | null;
  /** Who pays for a request: the verified tenant, else the user, else the IP. */
  chargedKey: ChargedKey;
  /** The metrics' request middleware, when observability is on. */
  observe?: express.RequestHandler | undefined;
  /** Watch mode's guard: no rebuilt schema the schema guard refuses is served. */
  watchGuard?: GuardedWatch | undefined;
  /** Closes the budget's store, then PostGraphile and its services (before the pool). */
  resource: Closable;
}

export async function installGraphQL(context: {
  /** The configured preset (presetFromEnv, graphile.config.ts). */
  preset: GraphileConfig.Preset;
  tenantgraph: TenantgraphOptions;
  authenticatorUrl: string;
  pool: pg.Pool;
  gate: DatabaseGate;
  shares: ConnectionShares;
  constraintMessages: ConstraintMessages;
  watch?: { superuserUrl: string } | undefined;
  observability?: Observability | undefined;
  logger: Logger;
}): Promise<GraphQLStep> {
  const { tenantgraph: options, pool, gate, logger, watch } = context;
  const trustedDocuments = options.trustedDocuments && (await loadManifest(options.trustedDocuments));
  const observed = context.observability?.attach({
    pool,
    databaseGateOpen: gate.isOpen,
    trustedDocuments: trustedDocuments?.manifest,
  });
  const budget = options.budget && createBudget(options.budget, logger);
  const verifyTenant = createTenantVerifier(pool, options.membershipCacheSeconds);
  const pgServices = [
    makeRequestPgService({
      pool,
      shares: context.shares,
      schemas: EXPOSED_SCHEMAS,
      ...(watch && { superuserConnectionString: watch.superuserUrl }),
    }),
  ];
  const pgl = postgraphile({
    extends: [
      TenantgraphPreset,
      context.preset,
      ...(trustedDocuments ? [trustedDocumentsPreset(trustedDocuments)] : []),
    ],
    plugins: observed ? [observed.plugin] : [],
    pgServices,
    grafserv: {
      watch: Boolean(watch),
      maskError: createMaskError(logger, context.constraintMessages, gate, {
        hints: options.limits.introspection,
      }),
    },
    tenantgraph: {
      ...options,
      services: { budget, bulkhead: createBulkhead(options.concurrency), verifyTenant },
    },
  });
  const release = async () => {
    await pgl.release();
    // PostGraphile leaves the services it was given to us: in watch mode the pgSubscriber
    // holds a LISTEN connection of the pool, and pool.end() would wait for it forever.
    for (const service of pgServices) await service.release?.();
  };
  let schema: GraphQLSchema;
  try {
    // Built now, not on the first request: a broken schema fails the start, loudly.
    schema = await pgl.getSchema();
  } catch (error) {
    await release();
    await budget?.close();
    throw new StartupError(
      `The GraphQL schema could not be built from the database: ${(error as Error).message}`,
    );
  }
  const serv = pgl.createServ(grafserv);
  // Watch mode serves no rebuilt schema the schema guard refuses (src/dba/guarded-watch.ts).
  // Loaded only in watch mode (development): production never needs the schema guard.
  const watchGuard =
    watch &&
    (await import('../dba/guarded-watch.ts')).guardWatchMode(serv, {
      pool,
      authenticatorUrl: context.authenticatorUrl,
      roles: options.roles,
      constraintMessages: context.constraintMessages,
      logger,
    });
  return {
    serv,
    schema,
    budget,
    chargedKey: createChargedKey(verifyTenant),
    observe: observed?.middleware,
    watchGuard: watchGuard || undefined,
    resource: {
      name: 'GraphQL',
      async close() {
        await budget?.close();
        await release();
      },
    },
  };
}

async function loadManifest({
  file,
  enforce,
}: {
  file: string;
  enforce: boolean;
}): Promise<TrustedDocuments> {
  try {
    return { manifest: await loadTrustedDocuments(file), enforce };
  } catch (error) {
    // Without the manifest, development still runs any operation; production runs none.
    if (enforce || (error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new StartupError(
        `Trusted documents (TRUSTED_DOCUMENTS): ${(error as Error).message}. Run npm run codegen, or set TRUSTED_DOCUMENTS=off.`,
      );
    }
    return { manifest: {}, enforce };
  }
}

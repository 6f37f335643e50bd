// What a websocket's subscriptions listen to: a GrafastSubscriber per connection (in the
// grafast context as `realtime`), whose topics are names (`products`, `categories`,
// `memberships`), never channels: the channel comes from the connection's verified
// identity, so no argument of a client can name another tenant's channel.
//
// - `products` / `categories`: the tenant PostgreSQL says the subscriber acts in
//   (app_public.current_tenant_id() as the subscriber, when subscribing); nothing else.
//   The subscriber's own membership channel is listened to as well, on the same ordered
//   stream, so its removal from the tenant ends the subscription before any change
//   committed after the removal is delivered.
// - `memberships`: the user's own memberships, in every tenant.
//
// The first event of every subscription is SUBSCRIBED, sent once the LISTEN is in
// effect: a client that refetches then misses nothing. Each event carries only the
// operation and the key; the schema (schema.ts) re-reads the row through RLS as the
// subscriber.
import type pg from 'pg';
import { SafeError } from 'grafast';
import { type Identity } from '../auth/claims.ts';
import { asRequest, type PaidBy } from '../request/as-request.ts';
import type { ConnectionShares } from '../request/work.ts';
import type { ChargedKey } from '../limits/charged-key.ts';
import { CATALOGUE, type ErrorCode } from '../errors/catalogue.ts';
import { ChangeStream } from './change-stream.ts';
import { tenantChannel, userChannel, type Change, type ListenHub } from './hub.ts';

export type Topic = 'products' | 'categories' | 'memberships';

export interface ChangeEvent {
  event: 'SUBSCRIBED' | 'CREATED' | 'UPDATED' | 'DELETED';
  tenantId?: string;
  id?: string;
  userId?: string;
}

const EVENTS = { insert: 'CREATED', update: 'UPDATED', delete: 'DELETED' } as const;

export interface SubscriptionLimits {
  /** Open subscriptions per websocket. */
  perConnection: number;
  /** Open subscriptions per tenant in this process. */
  perTenant: number;
  /** Events a subscription may hold for a slow client before it is ended. */
  maxBuffered: number;
  /** Events of all subscriptions whose rows are read at once (each holds a pool connection). */
  readConcurrency: number;
}

/** Open subscriptions in this process, for limits and metrics. */
export class SubscriptionCounts {
  #total = 0;
  readonly #perTenant = new Map<string, number>();

  get total(): number {
    return this.#total;
  }

  /** Open subscriptions by tenant (tenant topics only; `memberships` is counted in the total). */
  get perTenant(): ReadonlyMap<string, number> {
    return this.#perTenant;
  }

  add(tenantId: string | undefined): () => void {
    this.#total++;
    if (tenantId) this.#perTenant.set(tenantId, (this.#perTenant.get(tenantId) ?? 0) + 1);
    let removed = false;
    return () => {
      if (removed) return;
      removed = true;
      this.#total--;
      if (!tenantId) return;
      const left = this.#perTenant.get(tenantId)! - 1;
      if (left > 0) this.#perTenant.set(tenantId, left);
      else this.#perTenant.delete(tenantId);
    };
  }
}

export interface SubscriberOptions {
  identity: Identity;
  /** The settings every operation of this connection runs with. */
  pgSettings: Record<string, string>;
  /** The API's pool: asks PostgreSQL which tenant the subscriber acts in. */
  pool: pg.Pool;
  /** Callers' shares of the pool's connections: the subscriber's look-ups take its own. */
  shares: ConnectionShares;
  /** Who the subscriber's reads are charged to, as the limits plugin charges its operations. */
  chargedKey: ChargedKey;
  hub: ListenHub;
  counts: SubscriptionCounts;
  limits: SubscriptionLimits;
  /**
   * One of the process's read slots (readConcurrency of them, a key's share at most), for
   * an event of `key`'s; undefined when the key's budget is spent (in debt): no more reads.
   */
  readSlot: (key: string) => Promise<(() => void) | undefined>;
}

function refuse(code: ErrorCode, message: string = CATALOGUE[code].message): never {
  throw new SafeError(message, { code });
}

/** The tenant RLS lets this identity act in, asked of PostgreSQL as the identity itself. */
async function currentTenantOf(
  pool: pg.Pool,
  pgSettings: Record<string, string>,
  paidBy: PaidBy,
): Promise<string | undefined> {
  const { rows } = await asRequest(
    pool,
    pgSettings,
    (client) => client.query<{ id: string | null }>('select app_public.current_tenant_id() as id'),
    paidBy,
  );
  return rows[0]?.id ?? undefined;
}

export class ConnectionSubscriber {
  readonly #options: SubscriberOptions;
  readonly #streams = new Set<ChangeStream<ChangeEvent>>();
  #closed = false;

  constructor(options: SubscriberOptions) {
    this.#options = options;
  }

  get open(): number {
    return this.#streams.size;
  }

  /** grafast's GrafastSubscriber: the `listen` step calls this once per subscription. */
  async subscribe(topic: Topic): Promise<AsyncIterableIterator<ChangeEvent>> {
    const { identity, pgSettings, pool, shares, chargedKey, hub, counts, limits, readSlot } = this.#options;
    if (this.#closed) refuse('SUBSCRIPTION_INTERRUPTED', 'This connection is closing.');
    const overConnectionLimit = () => {
      if (this.#streams.size >= limits.perConnection) {
        refuse(
          'SUBSCRIPTION_LIMIT',
          `This connection has ${this.#streams.size} open subscriptions, the most one connection may have (MAX_SUBSCRIPTIONS_PER_CONNECTION); complete one first.`,
        );
      }
    };
    overConnectionLimit();
    // The websocket's handshake address is not kept; a socket always has an identity.
    const { key } = await chargedKey(identity, undefined);
    let tenantId: string | undefined;
    const channels: string[] = [];
    if (topic === 'memberships') {
      if (!identity.userId)
        refuse('FORBIDDEN', 'Memberships belong to people: an API key has none to subscribe to.');
      channels.push(userChannel(identity.userId));
    } else {
      tenantId = await currentTenantOf(pool, pgSettings, { shares, work: { key, databaseMs: 0 } });
      if (!tenantId) refuse('TENANT_REQUIRED');
      if ((counts.perTenant.get(tenantId) ?? 0) >= limits.perTenant) {
        refuse(
          'SUBSCRIPTION_LIMIT',
          `This tenant has ${limits.perTenant} open subscriptions, the most one tenant may have (MAX_SUBSCRIPTIONS_PER_TENANT).`,
        );
      }
      channels.push(tenantChannel(tenantId));
      if (identity.userId) channels.push(userChannel(identity.userId));
    }
    // Again: another subscribe of this socket may have been counted while we asked PostgreSQL.
    overConnectionLimit();

    const stream = new ChangeStream<ChangeEvent>(limits.maxBuffered, async () => {
      const release = await readSlot(key);
      if (!release) {
        refuse(
          'SUBSCRIPTION_INTERRUPTED',
          "This tenant's budget of cost points is spent, so its subscriptions' reads stopped; refetch, then subscribe again once it has refilled.",
        );
      }
      return release;
    });
    const uncount = counts.add(tenantId);
    this.#streams.add(stream);
    let stopListening: (() => void) | undefined;
    stream.onEnd(() => {
      this.#streams.delete(stream);
      uncount();
      stopListening?.();
    });
    try {
      stopListening = await hub.listen(channels, {
        change: (_channel, change) => this.#route(stream, topic, tenantId, change),
        interrupted: () =>
          stream.fail(
            'SUBSCRIPTION_INTERRUPTED',
            "The server lost its connection to the database's notifications, so changes may have been missed; refetch, then subscribe again.",
          ),
      });
    } catch (error) {
      await stream.return();
      throw error;
    }
    // Ended while LISTEN was on its way (the client completed, or the socket closed).
    if (!this.#streams.has(stream)) stopListening();
    stream.push({
      event: 'SUBSCRIBED',
      ...(tenantId && { tenantId }),
      ...(identity.userId && { userId: identity.userId }),
    });
    return stream;
  }

  /** The socket closed: nobody is reading any more. */
  close(): void {
    this.#closed = true;
    for (const stream of [...this.#streams]) void stream.return();
  }

  #route(
    stream: ChangeStream<ChangeEvent>,
    topic: Topic,
    tenantId: string | undefined,
    change: Change,
  ): void {
    const event = EVENTS[change.op];
    for (const row of change.rows) {
      if (topic === 'memberships') {
        if (change.table === 'memberships')
          stream.push({ event, tenantId: row.tenant_id, userId: row.user_id! });
      } else if (change.table === 'memberships') {
        // Only the subscriber's own memberships come on its user channel.
        if (change.op === 'delete' && row.tenant_id === tenantId) {
          return stream.fail(
            'MEMBERSHIP_ENDED',
            'You are no longer a member of this tenant; this subscription has ended.',
          );
        }
      } else if (change.table === topic && row.tenant_id === tenantId) {
        stream.push({ event, tenantId, id: row.id! });
      }
    }
  }
}

// One PostgreSQL session that LISTENs on every channel some open subscription needs,
// and hands each notification to the subscriptions of its channel, in the order
// PostgreSQL delivers them (commit order, across all channels of the session).
//
// LISTEN needs a session of its own, which a transaction-mode pooler does not keep: so
// this is a direct connection (DATABASE_LISTEN_URL), separate from the API's pool,
// which may be behind PgBouncer. It connects on the first subscription.
//
// Why not @dataplan/pg's PgSubscriber: a subscription here must know when its LISTEN is
// in effect (the client is told SUBSCRIBED only then, so no write after that can be
// missed), and must see its tenant's channel and its user's channel as one ordered
// stream (a membership removal is seen before any change committed after it).
//
// When the session is lost, notifications may have been lost with it: every listener
// is told (interrupted) and dropped; the next subscription connects again.
import pg from 'pg';
import type { Logger } from '../logger.ts';

/** What the notify trigger sends (migration 000018): a statement's table, operation and the keys of up to 50 of its rows, never row data. */
export interface Change {
  table: string;
  op: 'insert' | 'update' | 'delete';
  rows: Array<{ tenant_id: string; id?: string; user_id?: string }>;
}

const OPERATIONS = { insert: true, update: true, delete: true };

export interface HubListener {
  change(channel: string, change: Change): void;
  /** The session was lost: changes may have been missed. The listener is already dropped. */
  interrupted(): void;
}

interface ChannelState {
  listeners: Set<HubListener>;
  /** Settles when the LISTEN is in effect (or failed). */
  ready: Promise<void>;
}

export const CHANNEL_PREFIX = 'tenantgraph:';

export function tenantChannel(tenantId: string): string {
  return `${CHANNEL_PREFIX}tenant:${tenantId}`;
}

export function userChannel(userId: string): string {
  return `${CHANNEL_PREFIX}user:${userId}`;
}

export class ListenHub {
  readonly #url: string;
  readonly #logger: Logger;
  readonly #channels = new Map<string, ChannelState>();
  #client: Promise<pg.Client> | undefined;
  /** The session #client resolves to, known as soon as it is created. */
  #session: pg.Client | undefined;
  // LISTEN and UNLISTEN run one after another, in the order they were asked for.
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(listenUrl: string, logger: Logger) {
    this.#url = listenUrl;
    this.#logger = logger;
  }

  /** Listens on `channels` for `listener`; resolves once every LISTEN is in effect. Returns the way to stop. */
  async listen(channels: string[], listener: HubListener): Promise<() => void> {
    if (this.#closed) throw new Error('The realtime hub is closed.');
    const states = channels.map((channel) => {
      let state = this.#channels.get(channel);
      if (!state) {
        state = {
          listeners: new Set(),
          ready: this.#run((client) => client.query(`listen ${client.escapeIdentifier(channel)}`)),
        };
        this.#channels.set(channel, state);
      }
      state.listeners.add(listener);
      return state;
    });
    const stop = () => {
      channels.forEach((channel, index) => {
        const state = states[index]!;
        state.listeners.delete(listener);
        if (state.listeners.size === 0 && this.#channels.get(channel) === state) {
          this.#channels.delete(channel);
          this.#run((client) => client.query(`unlisten ${client.escapeIdentifier(channel)}`)).catch(() => {});
        }
      });
    };
    try {
      await Promise.all(states.map((state) => state.ready));
    } catch (error) {
      stop();
      throw error;
    }
    return stop;
  }

  /** Open subscriptions' channels, for tests and metrics. */
  get channelCount(): number {
    return this.#channels.size;
  }

  async close(): Promise<void> {
    this.#closed = true;
    const client = this.#client;
    this.#client = undefined;
    this.#session = undefined;
    this.#channels.clear();
    if (client)
      await client.then(
        (c) => c.end(),
        () => {},
      );
  }

  #run(statement: (client: pg.Client) => Promise<unknown>): Promise<void> {
    const result = this.#queue.then(async () => statement(await this.#connect()));
    this.#queue = result.catch(() => {});
    return result.then(() => {});
  }

  #connect(): Promise<pg.Client> {
    this.#client ??= (async () => {
      const client = new pg.Client({ connectionString: this.#url, application_name: 'tenantgraph realtime' });
      this.#session = client;
      client.on('notification', (message) => this.#deliver(message));
      client.on('error', (error) => this.#lose(client, error));
      client.on('end', () => this.#lose(client));
      try {
        await client.connect();
      } catch (error) {
        if (this.#session === client) {
          this.#client = undefined;
          this.#session = undefined;
        }
        throw error;
      }
      return client;
    })();
    return this.#client;
  }

  #deliver({ channel, payload }: pg.Notification): void {
    const state = this.#channels.get(channel);
    if (!state || !payload) return;
    let change: Change;
    try {
      change = JSON.parse(payload) as Change;
    } catch {
      change = {} as Change;
    }
    // A notification of another shape (an older trigger, someone's NOTIFY by hand) is
    // dropped: it runs inside pg's event handler, where a throw would end the process.
    if (
      typeof change !== 'object' ||
      change === null ||
      typeof change.table !== 'string' ||
      !(change.op in OPERATIONS) ||
      !Array.isArray(change.rows)
    ) {
      this.#logger.warn(
        { channel },
        "realtime: a notification not of the notify trigger's shape was ignored",
      );
      return;
    }
    for (const listener of [...state.listeners]) {
      try {
        listener.change(channel, change);
      } catch (error) {
        this.#logger.error({ err: error, channel }, 'realtime: a subscription failed to take a change');
      }
    }
  }

  #lose(client: pg.Client, error?: Error): void {
    // 'error' and then 'end' may both come, after a new session was already opened.
    if (this.#closed || this.#session !== client) return;
    this.#client = undefined;
    this.#session = undefined;
    client.end().catch(() => {});
    const listeners = new Set([...this.#channels.values()].flatMap((state) => [...state.listeners]));
    this.#channels.clear();
    if (listeners.size > 0)
      this.#logger.warn(
        { err: error, subscriptions: listeners.size },
        'realtime: the LISTEN connection was lost; open subscriptions are ended',
      );
    for (const listener of listeners) listener.interrupted();
  }
}

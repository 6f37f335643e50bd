// A real graphql-ws client (the `ws` package, so tests can also send an Authorization
// header on the upgrade) against a test server, and subscriptions that collect what
// they receive, for tests to wait on.
import { createClient, type Client, type FormattedExecutionResult as ExecutionResult } from 'graphql-ws';
import WebSocket from 'ws';

export interface Closed {
  code: number;
  reason: string;
}

export interface SocketClient {
  client: Client;
  /** Settles with the first close of the socket. */
  closed: Promise<Closed>;
  /** Subscribes and resolves once the SUBSCRIBED event arrived (or the operation ended first). */
  subscribe(
    query: string,
    variables?: Record<string, unknown>,
    extensions?: Record<string, unknown>,
  ): Promise<Subscription>;
  dispose(): Promise<void>;
}

export interface Subscription {
  /** Every result received, SUBSCRIBED first. */
  results: ExecutionResult<any, any>[];
  /** Resolves with the results once there are `count` of them (fails after `timeoutMs`). */
  waitFor(count: number, timeoutMs?: number): Promise<ExecutionResult<any, any>[]>;
  /** Settles when the operation ends: completed (undefined) or with its errors. */
  ended: Promise<unknown>;
  unsubscribe(): void;
}

export interface SocketOptions {
  connectionParams?: Record<string, unknown>;
  /** Headers of the upgrade request. */
  headers?: Record<string, string>;
}

export function connectSocket(
  apiUrl: string,
  { connectionParams, headers }: SocketOptions = {},
): SocketClient {
  const url = `${apiUrl.replace(/^http/, 'ws')}/graphql`;
  let resolveClosed!: (closed: Closed) => void;
  const closed = new Promise<Closed>((resolve) => (resolveClosed = resolve));
  const client = createClient({
    url,
    lazy: false,
    retryAttempts: 0,
    ...(connectionParams && { connectionParams }),
    webSocketImpl: class extends WebSocket {
      constructor(address: string, protocols?: string | string[]) {
        super(address, protocols, { headers });
      }
    },
    on: {
      closed: (event) =>
        resolveClosed({ code: (event as CloseEvent).code, reason: String((event as CloseEvent).reason) }),
    },
    onNonLazyError: () => {},
  });

  const subscribe = (
    query: string,
    variables?: Record<string, unknown>,
    extensions?: Record<string, unknown>,
  ) =>
    new Promise<Subscription>((resolveSubscribed) => {
      const results: ExecutionResult<any, any>[] = [];
      // Each waiter answers whether it is satisfied; the others wait for the next result.
      let waiters: Array<() => boolean> = [];
      let endedWith: (value: unknown) => void;
      const ended = new Promise<unknown>((resolve) => (endedWith = resolve));
      const subscription: Subscription = {
        results,
        waitFor(count, timeoutMs = 10_000) {
          return new Promise((resolve, reject) => {
            const timer = setTimeout(
              () =>
                reject(
                  new Error(
                    `expected ${count} results within ${timeoutMs} ms, got ${results.length}: ${JSON.stringify(results)}`,
                  ),
                ),
              timeoutMs,
            );
            const check = () => {
              if (results.length < count) return false;
              clearTimeout(timer);
              resolve(results.slice(0, count));
              return true;
            };
            if (!check()) waiters.push(check);
          });
        },
        ended,
        unsubscribe: () => unsubscribe(),
      };
      const unsubscribe = client.subscribe(
        { query, ...(variables && { variables }), ...(extensions && { extensions }) },
        {
          next(result) {
            results.push(result);
            if (results.length === 1) resolveSubscribed(subscription);
            waiters = waiters.filter((waiter) => !waiter());
          },
          error(error) {
            endedWith(error);
            resolveSubscribed(subscription);
          },
          complete() {
            endedWith(undefined);
            resolveSubscribed(subscription);
          },
        },
      );
    });

  return { client, closed, subscribe, dispose: () => client.dispose() as Promise<void> };
}

export const PRODUCT_CHANGED = /* GraphQL */ `
  subscription ProductChanged {
    productChanged {
      event
      productId
      product {
        id
        name
        price
        tenantId
      }
    }
  }
`;

// GraphQL over websockets (the graphql-transport-ws protocol of graphql-ws) on the
// GraphQL path. grafserv's own handler accepts every connection; this one is grafserv's
// operation handling (makeGraphQLWSConfig: our parse and validation, trusted documents,
// the limits plugin, grafast) with our handshake and lifetimes around it:
//
// - At connect, the credential (connectionParams `Authorization`, else the upgrade
//   request's header) and the tenant choice (`X-Tenant`, likewise) go through the same
//   `identify` as HTTP requests. Refused: close 4401 `<CODE>: <message>`. Before each
//   operation, the identity's membership is checked again through the same cache
//   (`reverify`), so a socket's operations are charged as HTTP requests of the same
//   credential would be, and a removed membership stops being honoured as soon.
// - The token's expiry closes the socket: 4419 `TOKEN_EXPIRED: …` (graphql-ws clients
//   reconnect on it, calling connectionParams again for a fresh token). An API key is
//   verified again every API_KEY_CACHE_SECONDS; a revoked one closes the socket with 4419.
// - Sockets are pinged every WS_KEEPALIVE_SECONDS; one that misses a pong is dropped, and
//   one without a subscription for WS_IDLE_SECONDS is closed with 1000 (`idle`).
// - A `subscribe` may name a trusted document by id alone, as requests over HTTP do:
//   graphql-ws insists on a `query` string (else it closes the socket with 4400), so one
//   naming a document id and no query is given an empty one, which the trusted-documents
//   plugin then replaces with the manifest's text (or refuses, as over HTTP).
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { makeServer, type ServerOptions } from 'graphql-ws';
import { GraphQLError } from 'grafast/graphql';
import { makeGraphQLWSConfig, normalizeConnectionParams, type GrafservBase } from 'postgraphile/grafserv';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Identity } from '../auth/claims.ts';
import { AuthError } from '../auth/errors.ts';
import type { Credentials, Identities } from '../auth/identify.ts';
import { TENANT_HEADER } from '../auth/tenant-choice.ts';
import { CATALOGUE } from '../errors/catalogue.ts';
import { LOOK_UP_BUSY, noConnectionCode } from '../http/database-gate.ts';
import type { Logger } from '../logger.ts';
import type { ConnectionSubscriber } from './subscriber.ts';

export const CLOSE_UNAUTHORIZED = 4401;
export const CLOSE_CREDENTIAL_EXPIRED = 4419;
export const CLOSE_IDLE = 1000;
/** The handshake's look-ups (a key, a membership) found no database connection: graphql-ws reconnects. */
export const CLOSE_TRY_AGAIN = 1013;

/** What the handshake verified, for the grafast context of each operation on the socket. */
export interface SocketSession {
  /** Stands in for the request id of HTTP requests (logs, audit trail). */
  id: string;
  /**
   * The identity of the socket's latest operation: the handshake's claims, with the
   * verified tenant as of then. Replaced before each operation, never changed.
   */
  identity: Identity;
  subscriber: ConnectionSubscriber;
}

export interface WebsocketOptions {
  httpServer: Server;
  serv: GrafservBase;
  path: string;
  identities: Identities;
  /** `identity` returns the socket's current identity (SocketSession.identity). */
  newSubscriber(identity: () => Identity): ConnectionSubscriber;
  logger: Logger;
  keepaliveMs: number;
  idleMs: number;
  /** How often an API key is verified again (its cache period). */
  apiKeyRecheckMs: number;
}

const sessions = new WeakMap<object, SocketSession>();

/** The session of the socket an operation came on (`requestContext.ws.socket`). */
export function sessionOf(socket: unknown): SocketSession | undefined {
  return typeof socket === 'object' && socket !== null ? sessions.get(socket) : undefined;
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function credentialsOf(
  connectionParams: Record<string, unknown> | undefined,
  request: IncomingMessage,
): Credentials {
  const params = normalizeConnectionParams(connectionParams) ?? {};
  return {
    authorization: header(params.authorization) ?? request.headers.authorization,
    tenant: header(params[TENANT_HEADER]) ?? header(request.headers[TENANT_HEADER]),
  };
}

/** A close reason is at most 123 bytes. */
function reason(code: string, message: string): string {
  const text = `${code}: ${message}`;
  return Buffer.byteLength(text) <= 123
    ? text
    : `${Buffer.from(text)
        .subarray(0, 120)
        .toString()
        .replace(/\uFFFD$/, '')}...`;
}

/** Whether a subscribe payload names a trusted document (the ids trusted-documents.ts reads). */
function namesDocument(payload: Record<string, unknown>): boolean {
  const extensions = payload.extensions as { persistedQuery?: { sha256Hash?: unknown } } | null | undefined;
  return [extensions?.persistedQuery?.sha256Hash, payload.documentId, payload.id].some(
    (id) => typeof id === 'string',
  );
}

/**
 * graphql-ws's JSON reviver, called last for the whole message: a subscribe by document
 * id without query text gets `query: ''`, so that graphql-ws lets it through to grafserv.
 */
export function reviveMessage(key: string, value: unknown): unknown {
  if (key !== '' || typeof value !== 'object' || value === null) return value;
  const message = value as { type?: unknown; payload?: unknown };
  const payload = message.payload as Record<string, unknown> | null | undefined;
  if (
    message.type === 'subscribe' &&
    typeof payload === 'object' &&
    payload !== null &&
    payload.query === undefined &&
    namesDocument(payload)
  )
    payload.query = '';
  return value;
}

export function attachWebsockets(options: WebsocketOptions): { close(): void } {
  const { httpServer, serv, path, identities, newSubscriber, logger } = options;
  const { identify } = identities;
  const grafservConfig = makeGraphQLWSConfig(serv) as ServerOptions<
    Record<string, unknown>,
    { socket: WebSocket; request: IncomingMessage }
  >;
  const wsServer = new WebSocketServer({ noServer: true, maxPayload: 1_000_000 });
  const timers = new WeakMap<WebSocket, Array<ReturnType<typeof setTimeout>>>();

  const closeWith = (socket: WebSocket, code: number, why: string) => {
    if (socket.readyState === socket.OPEN) socket.close(code, why);
  };

  const graphqlWs = makeServer<Record<string, unknown>, { socket: WebSocket; request: IncomingMessage }>({
    ...grafservConfig,
    jsonMessageReviver: reviveMessage,
    async onSubscribe(ctx, id, payload) {
      const session = sessions.get(ctx.extra.socket);
      if (session) {
        try {
          session.identity = await identities.reverify(session.identity);
        } catch (error) {
          // The membership look-up found no connection: refused as an operation that
          // found none is (src/limits/plugin.ts), and nothing ran.
          const code = noConnectionCode(error);
          if (!code) throw error;
          const message = code === 'DATABASE_BUSY' ? LOOK_UP_BUSY : CATALOGUE.DATABASE_UNAVAILABLE.message;
          return [new GraphQLError(message, { extensions: { code, retryAfter: 1 } })];
        }
      }
      return grafservConfig.onSubscribe!(ctx, id, payload);
    },
    async onConnect(ctx) {
      const { socket, request } = ctx.extra;
      let verified;
      try {
        verified = await identify(credentialsOf(ctx.connectionParams, request));
      } catch (error) {
        if (error instanceof AuthError) {
          closeWith(socket, CLOSE_UNAUTHORIZED, reason(error.code, error.message));
          return false;
        }
        const code = noConnectionCode(error);
        if (!code) throw error;
        closeWith(
          socket,
          CLOSE_TRY_AGAIN,
          reason(code, 'The database did not answer; connect again shortly.'),
        );
        return false;
      }
      const { identity, expiresAt } = verified;
      if (!identity) {
        closeWith(
          socket,
          CLOSE_UNAUTHORIZED,
          reason(
            'UNAUTHENTICATED',
            'Subscriptions need a bearer token or API key in connectionParams.Authorization.',
          ),
        );
        return false;
      }
      const session = { id: randomUUID(), identity } as SocketSession;
      // The subscriber reads the session's identity as each operation replaces it (onSubscribe).
      session.subscriber = newSubscriber(() => session.identity);
      sessions.set(socket, session);
      const own = timers.get(socket)!;
      if (expiresAt !== undefined) {
        // setTimeout holds at most ~24.8 days; a token living longer is re-armed then.
        const arm = () => {
          const left = expiresAt - Date.now();
          own.push(
            setTimeout(
              left > 2 ** 31 - 1
                ? arm
                : () =>
                    closeWith(
                      socket,
                      CLOSE_CREDENTIAL_EXPIRED,
                      reason('TOKEN_EXPIRED', 'The token has expired; connect again with a fresh one.'),
                    ),
              Math.min(left, 2 ** 31 - 1),
            ),
          );
        };
        arm();
      } else if (identity.apiKeyId) {
        const { authorization } = credentialsOf(ctx.connectionParams, request);
        const recheck = setInterval(() => {
          identify({ authorization }).catch((error: unknown) => {
            if (error instanceof AuthError)
              closeWith(socket, CLOSE_CREDENTIAL_EXPIRED, reason(error.code, error.message));
          });
        }, options.apiKeyRecheckMs);
        own.push(recheck);
      }
      logger.debug(
        {
          socket: session.id,
          tenantId: identity.verifiedTenantId,
          userId: identity.userId,
          apiKeyId: identity.apiKeyId,
        },
        'websocket connected',
      );
      return true;
    },
  });

  const onConnection = (socket: WebSocket, request: IncomingMessage) => {
    const own: Array<ReturnType<typeof setTimeout>> = [];
    timers.set(socket, own);
    let alive = true;
    let idleSince = Date.now();
    socket.on('pong', () => (alive = true));
    own.push(
      setInterval(
        () => {
          if (!alive) return socket.terminate();
          const open = sessions.get(socket)?.subscriber.open ?? 0;
          if (open > 0) idleSince = Date.now();
          else if (Date.now() - idleSince >= options.idleMs) return closeWith(socket, CLOSE_IDLE, 'idle');
          alive = false;
          socket.ping();
        },
        Math.min(options.keepaliveMs, options.idleMs),
      ),
    );
    const closed = graphqlWs.opened(
      {
        protocol: socket.protocol,
        // A client that hung up (the socket closing or closed) gets nothing more: what it
        // asked for (a result, an error, `complete`) has nobody to go to, and that is not
        // a server error. Sockets still open report write failures as before.
        send: (data) =>
          new Promise((resolve, reject) => {
            if (socket.readyState !== socket.OPEN) return resolve();
            socket.send(data, (error) =>
              error && socket.readyState === socket.OPEN ? reject(error) : resolve(),
            );
          }),
        close: (code, why) => socket.close(code, why),
        onMessage: (cb) =>
          socket.on('message', async (data) => {
            try {
              await cb(data.toString());
            } catch (error) {
              if (socket.readyState !== socket.OPEN) {
                logger.debug({ err: error }, 'websocket message ended by the client hanging up');
                return;
              }
              logger.error({ err: error }, 'websocket message failed');
              closeWith(socket, 4500, 'INTERNAL_SERVER_ERROR');
            }
          }),
      },
      { socket, request },
    );
    socket.once('close', (code, why) => {
      for (const timer of own) clearTimeout(timer);
      sessions.get(socket)?.subscriber.close();
      void closed(code, why.toString());
    });
  };

  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (new URL(request.url ?? '/', 'http://localhost').pathname !== path) {
      // Someone else's upgrade (a dev server's), else nobody's.
      if (httpServer.listenerCount('upgrade') === 1) socket.destroy();
      return;
    }
    wsServer.handleUpgrade(request, socket, head, (ws) => onConnection(ws, request));
  };
  httpServer.on('upgrade', onUpgrade);

  return {
    close() {
      httpServer.off('upgrade', onUpgrade);
      for (const socket of wsServer.clients) socket.close(1001, 'server shutting down');
      wsServer.close();
    },
  };
}

// The GraphQL client: urql, sending every operation as its trusted-document id only
// (Apollo's `extensions.persistedQuery.sha256Hash`), never as text. The ids come from
// `npm run codegen`, which also writes them with their text into trusted-documents.json,
// the list the API accepts. Subscriptions go over a websocket (graphql-ws) on the same
// path, by id too, with the token and tenant as connectionParams.
import { cacheExchange, Client, fetchExchange, subscriptionExchange } from '@urql/core';
import { persistedExchange } from '@urql/exchange-persisted';
import { createClient as createSocketClient } from 'graphql-ws';

/** The id codegen embedded in a generated document (src/gql). */
function documentId(document: object): string {
  const id = (document as { __meta__?: { hash?: string } }).__meta__?.hash;
  if (!id)
    throw new Error(
      'Only generated documents (src/gql) can be sent: the API accepts trusted documents by id.',
    );
  return id;
}

/** A client acting as the token's user in `tenant` (a slug or id), or in no tenant yet. */
export function createApiClient(token: string, tenant: string | undefined): Client {
  const headers: Record<string, string> = {
    authorization: `Bearer ${token}`,
    ...(tenant && { 'x-tenant': tenant }),
  };
  // Lazy: the socket opens with the first subscription and closes after the last.
  const socket = createSocketClient({
    url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/graphql`,
    connectionParams: headers,
    // graphql-ws's client checks for a query string before it sends; the placeholder
    // below never leaves the browser: the API takes the id alone, as over HTTP.
    jsonMessageReplacer: (key, value: unknown) => (key === 'query' && value === '' ? undefined : value),
  });
  return new Client({
    url: '/graphql',
    // The API takes POST only.
    preferGetMethod: false,
    fetchOptions: { headers },
    exchanges: [
      cacheExchange,
      persistedExchange({
        // No fallback to sending the text: a document the API does not know is an error.
        enforcePersistedQueries: true,
        enableForMutation: true,
        preferGetForPersistedQueries: false,
        generateHash: async (_text, document) => documentId(document),
      }),
      fetchExchange,
      subscriptionExchange({
        forwardSubscription: (request, operation) => {
          // The id in extensions is what the API runs; the empty query is dropped on the wire (above).
          const payload = {
            query: '',
            variables: request.variables,
            extensions: { persistedQuery: { version: 1, sha256Hash: documentId(operation.query) } },
          };
          return { subscribe: (sink) => ({ unsubscribe: socket.subscribe(payload, sink) }) };
        },
      }),
    ],
  });
}

/**
 * Context for queries of products: their results are refetched when a product is
 * created or changed, even those without a product in them (an empty page, aggregates);
 * others' changes come through the ProductChanged subscription (components/Products.tsx).
 */
export const PRODUCT_RESULTS = { additionalTypenames: ['Product'] };

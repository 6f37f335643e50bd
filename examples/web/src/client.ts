// The GraphQL client: urql, sending every operation as its trusted-document id only
// (Apollo's `extensions.persistedQuery.sha256Hash`), never as text. The ids come from
// `npm run codegen`, which also writes them with their text into trusted-documents.json,
// the list the API accepts.
import { cacheExchange, Client, fetchExchange } from '@urql/core';
import { persistedExchange } from '@urql/exchange-persisted';

/** The id codegen embedded in a generated document (src/gql). */
function documentId(document: object): string {
  const id = (document as { __meta__?: { hash?: string } }).__meta__?.hash;
  if (!id) throw new Error('Only generated documents (src/gql) can be sent: the API accepts trusted documents by id.');
  return id;
}

/** A client acting as the token's user in `tenant` (a slug or id). */
export function createApiClient(token: string, tenant: string): Client {
  return new Client({
    url: '/graphql',
    // The API takes POST only.
    preferGetMethod: false,
    fetchOptions: { headers: { authorization: `Bearer ${token}`, 'x-tenant': tenant } },
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
    ],
  });
}

/**
 * Context for queries of products: their results are refetched when a product is
 * created or changed, even those without a product in them (an empty page, aggregates).
 */
export const PRODUCT_RESULTS = { additionalTypenames: ['Product'] };

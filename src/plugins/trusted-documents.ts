// Trusted documents (persisted operations): in production the API runs only the
// operations its own clients were built with. GraphQL Code Generator writes them into a
// manifest (`npm run codegen` → trusted-documents.json: sha256 of each document → its
// text); a client sends the hash instead of the query, as Apollo's protocol
// (`extensions.persistedQuery.sha256Hash`) or Relay's (`documentId`) has it, and
// @grafserv/persisted, the PostGraphile authors' plugin, puts the text back. In
// development any query runs too (GraphiQL), and TRUSTED_DOCUMENTS=off turns the
// allow-list off in production.
//
// Limits, costs and budgets apply to a trusted document as to any other operation: they
// run after this, on the document it resolves to.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { PersistedPlugin } from '@grafserv/persisted';
import { isSafeError, SafeError } from 'grafast';
import { CATALOGUE, type ErrorCode } from '../errors/catalogue.ts';
import { version } from '../version.ts';

export interface TrustedDocuments {
  /** sha256 (hex) of each document → the document. */
  manifest: Record<string, string>;
  /** Refuse operations that are not in the manifest. */
  enforce: boolean;
}

/** Reads a manifest, refusing one whose hashes do not match their documents. */
export async function loadTrustedDocuments(file: string): Promise<Record<string, string>> {
  const manifest = JSON.parse(await readFile(file, 'utf8')) as unknown;
  if (!manifest || typeof manifest !== 'object' || Array.isArray(manifest))
    throw new Error(`${file} is not a JSON object of hashes and documents`);
  for (const [hash, document] of Object.entries(manifest)) {
    if (typeof document !== 'string' || createHash('sha256').update(document).digest('hex') !== hash) {
      throw new Error(
        `${file}: the document under ${hash.slice(0, 12)}… does not hash to it; run npm run codegen`,
      );
    }
  }
  return manifest as Record<string, string>;
}

interface Payload {
  documentId?: unknown;
  id?: unknown;
  extensions?: { persistedQuery?: { sha256Hash?: unknown } } | null;
  query?: unknown;
}

/** The document id a request names, if any (`sha256:` prefixes allowed). */
function documentIdOf(payload: Payload | undefined): string | undefined {
  const id = payload?.extensions?.persistedQuery?.sha256Hash ?? payload?.documentId ?? payload?.id;
  return typeof id === 'string' ? id.replace(/^sha256:/, '') : undefined;
}

// Named in the manifest by nothing: what a request without a document id looks up when
// only trusted documents run (@grafserv/persisted would otherwise log the whole request,
// variables included, on every refusal), so that it is refused without a word logged.
const NO_DOCUMENT_ID = '(none)';

function refuse(code: ErrorCode): never {
  throw new SafeError(CATALOGUE[code].message, { code });
}

/** Gives @grafserv/persisted's refusals (a SafeError without a code) our codes. */
const TrustedDocumentRefusalsPlugin: GraphileConfig.Plugin = {
  name: 'TrustedDocumentRefusalsPlugin',
  version,
  before: ['PersistedPlugin'],
  grafserv: {
    middleware: {
      async processGraphQLRequestBody(next, event) {
        const named = documentIdOf(event.body as Payload) !== undefined;
        try {
          await next();
          if (typeof event.body.query === 'string') return;
        } catch (error) {
          if (!(error instanceof Error && isSafeError(error))) throw error;
        }
        refuse(named ? 'TRUSTED_DOCUMENT_NOT_FOUND' : 'TRUSTED_DOCUMENT_REQUIRED');
      },
    },
  },
};

export function trustedDocumentsPreset({ manifest, enforce }: TrustedDocuments): GraphileConfig.Preset {
  return {
    plugins: [TrustedDocumentRefusalsPlugin, PersistedPlugin],
    grafserv: {
      persistedOperations: manifest,
      allowUnpersistedOperation: !enforce,
      hashFromPayload: (payload) =>
        documentIdOf(payload as Payload) ?? (enforce ? NO_DOCUMENT_ID : undefined),
    },
  };
}

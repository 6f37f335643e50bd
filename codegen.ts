// `npm run codegen`: typed documents for the example app's operations (examples/web's
// .graphql files, checked against schema.graphql) and the trusted-documents manifest
// the API accepts them by, `{ "<sha256 hex of the document text>": "<document text>" }`.
// test/codegen.test.ts runs the same generation and fails when the committed files differ.
import { createHash } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { generate, type CodegenConfig } from '@graphql-codegen/cli';
import {
  addTypenameSelectionDocumentTransform,
  type ClientPresetConfig,
} from '@graphql-codegen/client-preset';

export const GENERATED_DIR = 'examples/web/src/gql/';
export const TRUSTED_DOCUMENTS = 'trusted-documents.json';

/** The document's id: sha256 in hex, as Apollo's `persistedQuery.sha256Hash` carries it. */
export const documentId = (text: string): string => createHash('sha256').update(text).digest('hex');

const presetConfig: ClientPresetConfig = {
  fragmentMasking: false,
  // The preset's own 'sha256' prefixes ids with `sha256:`; our clients send the bare hex.
  persistedDocuments: { hashAlgorithm: documentId },
};

const config: CodegenConfig = {
  schema: 'schema.graphql',
  documents: 'examples/web/src/**/*.graphql',
  silent: true,
  generates: {
    [GENERATED_DIR]: {
      preset: 'client',
      presetConfig,
      // urql's cache reads __typename from results; in the document, so in its hash too.
      documentTransforms: [addTypenameSelectionDocumentTransform],
      config: {
        useTypeImports: true,
        enumsAsTypes: true,
        strictScalars: true,
        scalars: {
          BigFloat: 'string',
          Cursor: 'string',
          Datetime: 'string',
          UUID: 'string',
          BigInt: 'string',
          JSON: 'unknown',
        },
      },
    },
  },
};

export interface GeneratedFile {
  /** Relative to the project root. */
  path: string;
  content: string;
}

/** Everything `npm run codegen` writes, computed in memory. */
export async function generateClientFiles(): Promise<GeneratedFile[]> {
  // (generate is typed `any`, for its watch mode.)
  const outputs: Array<{ filename: string; content: string }> = await generate(
    { ...config, cwd: import.meta.dirname },
    false,
  );
  return outputs.map(({ filename, content }) => {
    const relative = path.relative(import.meta.dirname, path.resolve(import.meta.dirname, filename));
    // The manifest belongs to the API (it loads it), so it lives at the root, not in the app.
    return relative === `${GENERATED_DIR}persisted-documents.json`
      ? { path: TRUSTED_DOCUMENTS, content: `${content}\n` }
      : { path: relative, content };
  });
}

if (import.meta.main) {
  const files = await generateClientFiles();
  // Rewritten whole, so a file the preset no longer produces does not linger.
  await rm(path.join(import.meta.dirname, GENERATED_DIR), { recursive: true, force: true });
  for (const file of files) {
    const target = path.join(import.meta.dirname, file.path);
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, file.content);
  }
  process.stdout.write(`codegen: ${files.map((file) => file.path).join(', ')}\n`);
}

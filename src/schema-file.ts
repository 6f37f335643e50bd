// The committed GraphQL schema (schema.graphql), printed in a stable order so its diff
// shows exactly what an API change did.
// The graphql instance PostGraphile itself uses (a second copy would reject its types).
import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'grafast/graphql';
import { projectRoot } from './database/migrations.ts';

export const SCHEMA_FILE = `${projectRoot}schema.graphql`;

export function schemaSDL(schema: GraphQLSchema): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}

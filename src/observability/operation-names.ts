// The operation label of the metrics: a GraphQL operation's name when it is one we know
// (an operation of the trusted documents, or one named in METRICS_OPERATION_NAMES), else
// `other`. A client chooses its operation names freely, so an unknown name as a label
// would let any client create series without bound.
import { Kind, parse } from 'grafast/graphql';

/** Requests that never reached an operation (refused by the envelope, the token, the gate). */
export const NO_OPERATION = 'none';
/** An operation without a name. */
export const ANONYMOUS_OPERATION = 'anonymous';
export const OTHER_OPERATION = 'other';

/** The operation names of a trusted-documents manifest (hash → document). */
export function operationNamesOf(manifest: Record<string, string>): string[] {
  const names: string[] = [];
  for (const document of Object.values(manifest)) {
    for (const definition of parse(document).definitions) {
      if (definition.kind === Kind.OPERATION_DEFINITION && definition.name) names.push(definition.name.value);
    }
  }
  return names;
}

export function createOperationLabel(known: Iterable<string>) {
  const names = new Set(known);
  return (operationName: string | undefined, reachedOperation: boolean): string => {
    if (operationName !== undefined) return names.has(operationName) ? operationName : OTHER_OPERATION;
    return reachedOperation ? ANONYMOUS_OPERATION : NO_OPERATION;
  };
}

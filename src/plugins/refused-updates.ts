// An update by an id that names no row you may change answers NOT_FOUND, as a delete
// does. PostGraphile's delete already fails when it matches nothing (RLS hides another
// tenant's row exactly as if it did not exist); its update returns a null record with no
// error, so a client could not tell "updated" from "refused" without reading the
// payload. Here the update's payload also depends on a check that fails when no row was
// updated, so the mutation field is null with the code, for updates and deletes alike.
import { lambda, SafeError, type ObjectStep, type Step } from 'grafast';
import { CATALOGUE } from '../errors/catalogue.ts';
import { version } from '../version.ts';

function requireUpdatedRow(row: unknown): true {
  if (row == null) throw new SafeError(CATALOGUE.NOT_FOUND.message, { code: 'NOT_FOUND' });
  return true;
}

export const RefusedUpdatesPlugin: GraphileConfig.Plugin = {
  name: 'RefusedUpdatesPlugin',
  version,
  schema: {
    hooks: {
      GraphQLObjectType_fields_field(field, _build, context) {
        const plan = field.plan;
        if (!context.scope.isPgUpdateMutation || !plan) return field;
        return {
          ...field,
          plan(...args: Parameters<typeof plan>) {
            const $payload = plan(...args) as ObjectStep<{ result: Step; updated: Step }>;
            $payload.set('updated', lambda($payload.getStepForKey('result'), requireUpdatedRow));
            return $payload;
          },
        };
      },
    },
  },
};

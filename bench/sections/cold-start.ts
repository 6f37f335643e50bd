// Cold start: `npm start` in a fresh copy of the project, timed to the first GraphQL
// answer that reads products. The measuring is in lib/cold-start.ts.
import { measureColdStart } from '../lib/cold-start.ts';
import { record, type Section, type SectionContext } from './section.ts';

async function runColdStart(context: SectionContext): Promise<void> {
  context.log('\nCold start: npm start on a fresh data folder, to the first answered query');
  await record(context, 'coldStart', async () => {
    const coldStart = await measureColdStart();
    context.log(`  ${coldStart.firstAnswerMs} ms`);
    return coldStart;
  });
}

export const coldStart: Section = {
  name: 'cold-start',
  api: 'own',
  prepare: () => ({ points: () => 0, run: runColdStart }),
};

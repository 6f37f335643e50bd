// Cold start: `npm start` in a fresh copy of the project, timed to the first GraphQL
// answer that reads products. The measuring is in lib/cold-start.ts.
import { measureColdStart } from '../lib/cold-start.ts';
import { failure, type Section, type SectionContext } from './section.ts';

async function runColdStart(context: SectionContext): Promise<void> {
  context.log('\nCold start: npm start on a fresh data folder, to the first answered query');
  try {
    const coldStart = await measureColdStart();
    context.results.coldStart = coldStart;
    context.log(`  ${coldStart.firstAnswerMs} ms`);
  } catch (error) {
    context.results.coldStart = failure(error);
    context.log(`  failed: ${context.results.coldStart.error}`);
  }
}

export const coldStart: Section = {
  name: 'cold-start',
  api: 'own',
  prepare: () => ({ points: () => 0, run: runColdStart }),
};

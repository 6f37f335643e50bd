// A/B: this checkout against another commit (--baseline), one scenario, interleaved
// phases (lib/ab.ts). Off unless --baseline is given:
//
//   npm run bench -- --only ab --baseline main
import { execFileSync } from 'node:child_process';
import { projectRoot } from '../../support/api-process.ts';
import { runAb } from '../lib/ab.ts';
import { checkOutBaseline } from '../lib/baseline.ts';
import { scenarioNamed } from '../lib/scenarios.ts';
import { positiveIntegers, record, type Section, type SectionContext } from './section.ts';

export const ab: Section = {
  name: 'ab',
  api: 'own',
  options: {
    baseline: {
      default: '',
      help: 'a git ref to compare this checkout with (the section runs only with it)',
    },
    'ab-scenario': { default: 'list', help: 'the scenario of the A/B phases' },
    'ab-connections': { default: '16', help: 'connections of every A/B phase' },
    'ab-rounds': { default: '4', help: 'phases of each side, interleaved A B B A ...' },
    'ab-cpu-goal': {
      default: '0.7',
      help: "the candidate's API CPU per request over the baseline's, at most",
    },
  },
  prepare(args) {
    const ref = args.baseline ?? '';
    const settings = positiveIntegers(args, ['ab-connections', 'ab-rounds']);
    const scenario = scenarioNamed(args['ab-scenario'] ?? 'list');
    const cpuGoal = Number(args['ab-cpu-goal']);
    if (!(cpuGoal > 0)) throw new Error('--ab-cpu-goal must be a positive number');
    return {
      points: () => (ref ? 2 * settings['ab-rounds'] * 2 : 0),
      run: async (context: SectionContext) => {
        const { log } = context;
        if (!ref) return;
        log(`\nA/B: ${scenario.name} through this checkout and through ${ref}`);
        await record(context, 'ab', async () => {
          const baseline = await checkOutBaseline(ref);
          try {
            const phases = await runAb({
              connections: settings['ab-connections'],
              rounds: settings['ab-rounds'],
              seconds: context.seconds,
              start: (side) =>
                // The candidate is this checkout, compiled at the start of the run.
                context.startApi(undefined, side === 'baseline' ? { source: baseline } : {}),
              load: (api, connections, seconds) =>
                context.apiLoad(api, scenario, context.tenants, connections, seconds),
              measure: (apiPid, run) => context.measure(apiPid, run),
              log,
            });
            const git = (...words: string[]) =>
              execFileSync('git', words, { cwd: projectRoot, encoding: 'utf8' }).trim();
            const watched = ['src', 'bench', 'bin', 'support', 'package.json', ':!bench/results'];
            return {
              baseline: { ref, commit: baseline.commit, compiled: baseline.compiled },
              candidate: {
                commit: git('rev-parse', 'HEAD'),
                dirty: git('status', '--porcelain', '--', ...watched) !== '',
              },
              scenario: scenario.name,
              connections: settings['ab-connections'],
              secondsPerPhase: context.seconds,
              rounds: settings['ab-rounds'],
              cpuGoal,
              ...phases,
            };
          } finally {
            await baseline.remove();
          }
        });
      },
    };
  },
};

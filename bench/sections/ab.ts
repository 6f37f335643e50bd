// A/B: two variants of the API (commit × environment × node flags), one scenario,
// interleaved phases (lib/ab.ts). A named preset (lib/ab-presets.ts) fixes both; the
// options below set or override them. Off unless a preset or a variant is given:
//
//   npm run bench -- ab --baseline main             this checkout against main
//   npm run bench -- ab --preset tracing-on         what tracing costs
//   npm run bench -- ab --b-node-flags=--max-old-space-size=128
import { execFileSync } from 'node:child_process';
import { projectRoot } from '../../support/api-process.ts';
import { PRESETS } from '../lib/ab-presets.ts';
import { runAb, type AbHooks, type AbResult, type AbVariant, type Side } from '../lib/ab.ts';
import type { ApiProcessSource } from '../lib/api.ts';
import { checkOutBaseline, type Baseline } from '../lib/baseline.ts';
import { scenarioNamed } from '../lib/scenarios.ts';
import { positiveIntegers, record, type Args, type Section, type SectionContext } from './section.ts';

const git = (...words: string[]) => execFileSync('git', words, { cwd: projectRoot, encoding: 'utf8' }).trim();
/** What the API's build depends on: changes elsewhere do not make "uncommitted changes". */
const WATCHED = ['src', 'bench', 'bin', 'support', 'package.json', ':!bench/results'];

/** A preset's variant with the command line's overrides: --a-rev, --a-env K=V,K=V, --a-node-flags. */
function variant(args: Args, letter: 'a' | 'b', preset: AbVariant = {}): AbVariant {
  const rev = args[`${letter}-rev`] || (letter === 'a' ? args.baseline : '') || preset.rev;
  const env = { ...preset.env };
  for (const pair of (args[`${letter}-env`] ?? '').split(',').filter(Boolean)) {
    const at = pair.indexOf('=');
    if (at < 1) throw new Error(`--${letter}-env takes NAME=VALUE,NAME=VALUE, not ${pair}`);
    env[pair.slice(0, at)] = pair.slice(at + 1);
  }
  const nodeFlags = [
    ...(preset.nodeFlags ?? []),
    ...(args[`${letter}-node-flags`] ?? '').split(' ').filter(Boolean),
  ];
  return {
    ...(rev && { rev }),
    ...(Object.keys(env).length && { env }),
    ...(nodeFlags.length && { nodeFlags }),
  };
}

export const ab: Section = {
  name: 'ab',
  api: 'own',
  options: {
    preset: { default: '', help: `named variants: ${Object.keys(PRESETS).join(', ')}` },
    baseline: { default: '', help: "A's commit, a git ref (same as --a-rev)" },
    'a-rev': { default: '', help: "A's commit, a git ref (default: this checkout)" },
    'b-rev': { default: '', help: "B's commit, a git ref (default: this checkout)" },
    'a-env': { default: '', help: "A's environment, NAME=VALUE,NAME=VALUE" },
    'b-env': { default: '', help: "B's environment, NAME=VALUE,NAME=VALUE" },
    'a-node-flags': { default: '', help: "A's node flags, space-separated (--a-node-flags=--flag)" },
    'b-node-flags': { default: '', help: "B's node flags, space-separated" },
    'ab-scenario': { default: '', help: "the scenario of the phases (default: the preset's, else list)" },
    'ab-connections': { default: '16', help: 'connections of every A/B phase' },
    'ab-rounds': { default: '4', help: 'phases of each side, interleaved A B B A ...' },
    'ab-cpu-goal': {
      default: '0.7',
      help: "without a preset: B's API CPU per request over A's, at most",
    },
  },
  prepare(args) {
    const presetName = args.preset ?? '';
    const preset = presetName ? PRESETS[presetName] : undefined;
    if (presetName && !preset)
      throw new Error(`Unknown --preset ${presetName}; known: ${Object.keys(PRESETS).join(', ')}`);
    const a = variant(args, 'a', preset?.baseline);
    const b = variant(args, 'b', preset?.candidate);
    const active = preset !== undefined || Object.keys(a).length > 0 || Object.keys(b).length > 0;
    const settings = positiveIntegers(args, ['ab-connections', 'ab-rounds']);
    const scenario = scenarioNamed(args['ab-scenario'] || preset?.scenario || 'list');
    const cpuGoal = Number(args['ab-cpu-goal']);
    if (!(cpuGoal > 0)) throw new Error('--ab-cpu-goal must be a positive number');
    const goal = preset?.goal ?? { figure: 'cpu' as const, ratio: cpuGoal };
    return {
      points: () => (active ? 2 * settings['ab-rounds'] * 2 : 0),
      run: async (context: SectionContext) => {
        const { log } = context;
        if (!active) return;
        log(`\nA/B${presetName ? ` ${presetName}: ${preset!.title}` : ''}, ${scenario.name}`);
        await record(context, 'ab', async () => {
          const checkouts: Baseline[] = [];
          let hooks: AbHooks = {};
          try {
            // A commit of its own checkout; this checkout is compiled at the start of the run.
            const source = async (side: AbVariant) => {
              if (!side.rev) return undefined;
              const checkout = await checkOutBaseline(side.rev);
              checkouts.push(checkout);
              return checkout;
            };
            const sources: Record<Side, Baseline | undefined> = {
              baseline: await source(a),
              candidate: await source(b),
            };
            hooks =
              (await preset?.setup?.({
                ownerUrl: context.database.ownerUrl,
                secret: context.secret,
                tenants: context.tenants,
                startApi: () => context.startApi(),
                log,
              })) ?? {};
            const variants: Record<Side, AbVariant> = { baseline: a, candidate: b };
            const phases = await runAb({
              connections: settings['ab-connections'],
              rounds: settings['ab-rounds'],
              seconds: context.seconds,
              hooks,
              start: (side) =>
                context.startApi(undefined, {
                  env: { ...variants[side].env, ...hooks.env?.[side] },
                  nodeFlags: variants[side].nodeFlags,
                  ...(sources[side] && { source: sources[side] as ApiProcessSource }),
                }),
              load: (api, side, connections, seconds) =>
                context.apiLoad(
                  api,
                  scenario,
                  hooks.tenants?.[side] ?? context.tenants,
                  connections,
                  seconds,
                ),
              measure: (apiPid, run) => context.measure(apiPid, run),
              log,
            });
            const describe = (side: Side): AbResult['baseline'] => {
              const { rev, ...rest } = variants[side];
              const checkout = sources[side];
              return checkout
                ? { ref: checkout.ref, commit: checkout.commit, compiled: checkout.compiled, ...rest }
                : {
                    commit: git('rev-parse', 'HEAD'),
                    dirty: git('status', '--porcelain', '--', ...WATCHED) !== '',
                    ...rest,
                  };
            };
            const result: AbResult = {
              ...(preset && {
                preset: presetName,
                title: `${scenario.name === preset.scenario ? '' : `${scenario.name}: `}${preset.title}`,
              }),
              baseline: describe('baseline'),
              candidate: describe('candidate'),
              scenario: scenario.name,
              connections: settings['ab-connections'],
              secondsPerPhase: context.seconds,
              rounds: settings['ab-rounds'],
              goal,
              ...(hooks.checks && { checks: hooks.checks }),
              ...phases,
            };
            return result;
          } finally {
            await hooks.cleanup?.();
            for (const checkout of checkouts) await checkout.remove();
          }
        });
      },
    };
  },
};

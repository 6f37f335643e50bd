// What every bench section is: a name for --skip, its options, and a function that
// measures and puts its figures into the run's results. bench/run.ts sets up what all
// sections share (data, tokens, the captured SQL, the run's API process) into a
// SectionContext and runs the sections in the order of its SECTIONS list.
//
// A new section: a module here exporting one `Section`, plus its name in SECTIONS.
import type { DatabaseLocation } from '../../src/database/location.ts';
import type { ApiProcess, ApiProcessSource } from '../lib/api.ts';
import type { BenchServer } from '../lib/database.ts';
import type { LoadedShape } from '../lib/load-data.ts';
import type { LoadResult } from '../lib/load.ts';
import type { BenchResults } from '../lib/results.ts';
import type { Measured } from '../lib/measured.ts';
import type { BenchTenant, Scenario } from '../lib/scenarios.ts';
import type { SqlTemplate } from '../lib/sql-templates.ts';

/** A command-line option of a section: a string (numbers are parsed by the section). */
export interface SectionOption {
  default: string;
  /** One line for --help. */
  help: string;
}

/** The run's options: every section's, and the common ones (duration, scenarios, ...). */
export type Args = Record<string, string>;

/** What the run's set-up knows before any section runs. */
export interface RunShape {
  scenarios: Scenario[];
  concurrency: number[];
  /** pgbench's version, when it is installed and not skipped. */
  pgbench: string | undefined;
}

/** The figures a section may add (each to its own key of the results file). */
export type SectionResults = Partial<
  Pick<
    BenchResults,
    | 'scenarios'
    | 'rls'
    | 'scale'
    | 'breakdown'
    | 'profile'
    | 'noisy'
    | 'abuse'
    | 'realtime'
    | 'portability'
    | 'ab'
  >
> & { coldStart?: BenchResults['startup']['coldStart'] };

/** What one API process of a section adds to the run's settings. */
export interface ApiVariant {
  /** Environment on top of --api-env, e.g. METRICS_PORT. */
  env?: Record<string, string>;
  /** Node flags after --api-node-option's. */
  nodeFlags?: string[];
  /** Another checkout's API (the A/B baseline) instead of this one's. */
  source?: ApiProcessSource;
}

export interface SectionContext {
  /** Seconds per measured point (--duration). */
  seconds: number;
  run: RunShape;
  server: BenchServer;
  /** The data set (--database) and its shape. */
  database: DatabaseLocation;
  shape: LoadedShape;
  products: number;
  /** The run's HS256 secret, shared by every API process the run starts. */
  secret: string;
  /** The API's connection pool size (--pool, else PG_POOL_MAX). */
  poolSize: number;
  /** --api-env: the environment every API process of the run gets. */
  apiEnv: Record<string, string>;
  /** One per tenant of bench.tenant_index, each with its member's token. */
  tenants: BenchTenant[];
  /** The SQL the API sends for each scenario (by name), with placeholders. */
  templates: Map<string, SqlTemplate>;
  encode: (tenantId: string, rowId: string) => string;
  /** The run's API process ('shared' sections); stopped before the 'own' sections run. */
  api: ApiProcess;
  /** One API process (no cluster): memory and profiles are available. */
  single: boolean;
  dbPid: number | undefined;
  /** Notes for the report (something left out, something unusual). */
  notes: string[];
  /** The results file's sections: each section writes its own key. */
  results: SectionResults;
  log(line: string): void;
  /** Starts another API process with the run's settings over `location`, stopped at the end. */
  startApi(location?: DatabaseLocation, variant?: ApiVariant): Promise<ApiProcess>;
  stopApi(api: ApiProcess): Promise<void>;
  /** Runs `load` while sampling CPU and memory; `generatorIsThisProcess: false` for pgbench. */
  measure(
    apiPid: number | undefined,
    load: () => Promise<LoadResult>,
    generatorIsThisProcess?: boolean,
  ): Promise<Measured>;
  /** One line of a measured point for the log. */
  describe(label: string, measured: Measured): string;
  /** The scenario through the API, a random tenant per request. */
  apiLoad(
    api: ApiProcess,
    scenario: Scenario,
    tenants: BenchTenant[],
    connections: number,
    seconds?: number,
  ): Promise<LoadResult>;
  /** The scenario's transaction over raw pg (the ceiling), a random tenant per transaction. */
  ceilingLoad(
    url: string,
    template: SqlTemplate,
    tenants: BenchTenant[],
    connections: number,
    seconds?: number,
  ): Promise<LoadResult>;
}

export interface Section {
  /** Its name in --skip. */
  name: string;
  /**
   * 'shared': measures on the run's API process (the main memory figures include it);
   * 'own': starts API processes of its own, after the shared process is stopped.
   */
  api: 'shared' | 'own';
  options?: Record<string, SectionOption>;
  /** Reads and checks its options before anything starts; throws on a bad value. */
  prepare(args: Args): PreparedSection;
}

export interface PreparedSection {
  /** How many points of --duration seconds it will measure, for the time estimate. */
  points(run: RunShape): number;
  run(context: SectionContext): Promise<void>;
}

/** The options named, as positive integers; throws naming them all otherwise. */
export function positiveIntegers<Name extends string>(args: Args, names: Name[]): Record<Name, number> {
  const values = Object.fromEntries(names.map((name) => [name, Number(args[name])])) as Record<Name, number>;
  if (Object.values<number>(values).some((n) => !Number.isInteger(n) || n < 1)) {
    throw new Error(`${names.map((name) => `--${name}`).join(', ')} must be positive integers`);
  }
  return values;
}

/** A failed section's record in the results: the run goes on without its figures. */
export function failure(error: unknown): { error: string } {
  return { error: (error as Error).message.slice(0, 2000) };
}

/** The results' keys that hold a section's figures or its failure. */
type Failable = {
  [K in keyof SectionResults]-?: { error: string } extends NonNullable<SectionResults[K]> ? K : never;
}[keyof SectionResults];

/** Measures a section into its key of the results; a failure is recorded there instead, and logged. */
export async function record<K extends Failable>(
  context: SectionContext,
  key: K,
  measure: () => Promise<NonNullable<SectionResults[K]>>,
): Promise<void> {
  try {
    context.results[key] = await measure();
  } catch (error) {
    const failed = failure(error);
    context.results[key] = failed as SectionResults[K];
    context.log(`  failed: ${failed.error}`);
  }
}

export const pick = <T>(items: T[]): T => items[Math.floor(Math.random() * items.length)]!;

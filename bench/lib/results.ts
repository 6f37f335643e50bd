// The shape of bench/results/<date>.json.
import type { AccountabilityResult } from './accountability.ts';
import type { PortabilityResult } from './portability.ts';
import type { ObservabilityResult } from './observability.ts';
import type { ScalingResult } from './scaling.ts';
import type { AbResult } from './ab.ts';
import type { AbuseResult } from './abuse.ts';
import type { ColdStart } from './cold-start.ts';
import type { ExplainSummary } from './explain.ts';
import type { LoadedShape } from './load-data.ts';
import type { NoisyResult } from './noisy-neighbour.ts';
import type { RealtimeResult } from './realtime.ts';
import type { ProfileSummary } from './profile.ts';
import type { Measured, Target } from './measured.ts';

export interface MemoryFigures {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  /** After a full GC: the live heap, and the RSS V8 then keeps. */
  heapUsedAfterGc?: number;
  rssAfterGc?: number;
}

export interface ScenarioPoint {
  connections: number;
  api: Measured;
  /** The API's own transaction over the raw pg driver, same concurrency. */
  ceiling: Measured;
  /** The same transaction from pgbench, when installed. */
  pgbench?: Measured;
}

export interface ScenarioResult {
  name: string;
  title: string;
  query: string;
  /** Transactions the API runs for one request (the ceiling does it all in one). */
  apiTransactions: number;
  sql: string[];
  pgbenchScript?: string;
  points: ScenarioPoint[];
}

export interface BenchResults {
  version: 1;
  startedAt: string;
  durationSeconds: number;
  machine: {
    cpuModel: string;
    cores: number;
    memoryGb: number;
    os: string;
    node: string;
    postgres: string;
    pgbench: string | null;
    loadAverageBefore: number[];
    loadAverageAfter: number[];
  };
  settings: {
    database: string;
    secondsPerPoint: number;
    concurrency: number[];
    scenarios: string[];
    apiPoolSize: number;
    apiProcesses: number;
    apiEnv: Record<string, string>;
    apiNodeOptions: string[];
    notes: string[];
  };
  data: LoadedShape & { products: number; database: string };
  scenarios: ScenarioResult[];
  rls?: {
    connections: number[];
    points: Array<{ connections: number; rls: Measured; explicitWhere: Measured }>;
    explainRls: ExplainSummary;
    explainExplicit: ExplainSummary;
    sqlRls: string;
    sqlExplicit: string;
  };
  scale?: {
    small: LoadedShape & { products: number; database: string };
    points: Array<{ connections: number; large: Measured; small: Measured }>;
    ceiling: Array<{ connections: number; large: Measured; small: Measured }>;
  };
  breakdown?: {
    apiListP50: number;
    apiListMean: number;
    httpFloorP50: number;
    jwtVerifyMs: number;
    ceilingListP50: number;
    ceilingListMean: number;
    sqlExecutionMs: number;
    sqlPlanningMs: number;
    apiCpuMsPerRequest: number | null;
    rows: Array<{ part: string; ms: number; how: string }>;
  };
  profile?: ProfileSummary & { connections: number; throughput: number };
  /** The noisy-neighbour section, on an API process of its own. */
  noisy?: NoisyResult | { error: string };
  /** The abuse section (an attacker looping dear operations), on an API process of its own. */
  abuse?: AbuseResult | { error: string };
  /** The accountability section (audit trigger; API keys vs tokens), on an API process of its own. */
  accountability?: AccountabilityResult | { error: string };
  /** The portability section (export and import of one tenant vs COPY). */
  portability?: PortabilityResult | { error: string };
  /** The observability section (metrics, tracing, neither), on API processes of its own. */
  observability?: ObservabilityResult | { error: string };
  /** The scaling section (npm start with one and with N API processes). */
  scaling?: ScalingResult | { error: string };
  /** The A/B section (this checkout against --baseline), on API processes of their own. */
  ab?: AbResult | { error: string };
  /** The realtime section (subscribers, writes, deliveries), on an API process of its own. */
  realtime?: RealtimeResult | { error: string };
  memory: {
    apiPeakRssMb: number | null;
    apiPeakRssMbDuringLoad: number | null;
    /** process.memoryUsage() of the API process, MB: after start-up, and after all the load. */
    afterStart?: MemoryFigures;
    afterLoad?: MemoryFigures;
  };
  startup: { apiProcessMs: number; coldStart?: ColdStart | { error: string } };
  targets: Target[];
}

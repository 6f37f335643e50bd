// The figures every section reports: a load run with the machine's usage over it, and a
// target (a goal and how the run compares with it). Apart from results.ts, so the
// sections' modules can use them without importing the whole results' shape.
import type { LoadResult } from './load.ts';
import type { UsageReport } from './sampler.ts';

export type Measured = LoadResult & {
  usage: UsageReport;
  apiCpuMsPerRequest?: number | null;
  dbCpuMsPerRequest?: number | null;
};

export interface Target {
  name: string;
  goal: string;
  measured: string;
  ratio: number | null;
  met: boolean | null;
}

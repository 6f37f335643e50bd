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

/** What the run lends a section's measuring: the resource usage around a load run, and its log. */
export interface Measuring {
  /** A load run with the API's and PostgreSQL's resource usage around it. */
  measure(apiPid: number, run: () => Promise<LoadResult>): Promise<Measured>;
  log(line: string): void;
}

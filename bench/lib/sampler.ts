// CPU and memory of the processes under test, read from /proc (Linux), sampled while a
// measurement runs:
//   - the API process and its children (cluster workers);
//   - PostgreSQL: the postmaster, its live backends, and (through the postmaster's
//     cutime/cstime) the backends that exited meanwhile;
//   - the load generator (this process, when it generates the load);
//   - the whole machine, so CPU used by anything else (other users' jobs) is visible.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100; // CLK_TCK on Linux

interface ProcStat {
  pid: number;
  ppid: number;
  /** utime + stime, seconds. */
  cpu: number;
  /** cutime + cstime (children already reaped), seconds. */
  childCpu: number;
  rssBytes: number;
}

function readStat(pid: number): ProcStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return {
      pid,
      ppid: Number(fields[1]),
      cpu: (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND,
      childCpu: (Number(fields[13]) + Number(fields[14])) / TICKS_PER_SECOND,
      rssBytes: Number(fields[21]) * 4096,
    };
  } catch {
    return undefined;
  }
}

function allStats(): ProcStat[] {
  const stats: ProcStat[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat) stats.push(stat);
  }
  return stats;
}

function tree(root: number, stats: ProcStat[]): ProcStat[] {
  const byParent = new Map<number, ProcStat[]>();
  for (const stat of stats) byParent.set(stat.ppid, [...(byParent.get(stat.ppid) ?? []), stat]);
  const result: ProcStat[] = [];
  const queue = stats.filter((stat) => stat.pid === root);
  while (queue.length > 0) {
    const next = queue.shift()!;
    result.push(next);
    queue.push(...(byParent.get(next.pid) ?? []));
  }
  return result;
}

/** Peak resident set size of a process over its lifetime (VmHWM), bytes. */
export function peakRss(pid: number): number | undefined {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** VmHWM summed over a process and its descendants (cluster workers), bytes. */
export function peakRssOfTree(pid: number): number | undefined {
  const peaks = tree(pid, allStats()).map((stat) => peakRss(stat.pid));
  return peaks.length === 0 ? undefined : peaks.reduce<number>((sum, peak) => sum + (peak ?? 0), 0);
}

/**
 * Resets VmHWM to the current RSS for a process and its descendants (Linux: writing 5 to
 * /proc/<pid>/clear_refs), so the next peakRssOfTree is the peak since now. False when
 * the kernel does not allow it.
 */
export function resetPeakRss(pid: number): boolean {
  try {
    for (const stat of tree(pid, allStats())) writeFileSync(`/proc/${stat.pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

function machineCpu(): { busy: number; total: number } {
  const [, ...numbers] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = numbers.map(Number) as number[];
  const busy = user! + nice! + system! + irq! + softirq! + steal!;
  return { busy: busy / TICKS_PER_SECOND, total: (busy + idle! + iowait!) / TICKS_PER_SECOND };
}

export function postmasterPid(dataDir: string | undefined): number | undefined {
  if (!dataDir) return undefined;
  try {
    return Number(readFileSync(`${dataDir}/postmaster.pid`, 'utf8').split('\n')[0]);
  } catch {
    return undefined;
  }
}

export interface UsageReport {
  seconds: number;
  /** Percent of one core, averaged over the measurement. */
  apiCpuPercent: number | null;
  dbCpuPercent: number | null;
  generatorCpuPercent: number;
  /** Everything else on the machine (other users' work, the kernel), percent of one core. */
  otherCpuPercent: number;
  /** Largest resident set of the API process tree seen while sampling. */
  apiPeakRssMb: number | null;
}

interface Snapshot {
  at: number;
  api: number | undefined;
  db: number | undefined;
  generator: number;
  machine: { busy: number; total: number };
}

export class UsageSampler {
  private readonly apiPid: number | undefined;
  private readonly dbPid: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private first: Snapshot | undefined;
  private peakApiRss = 0;
  private lastApiCpu = 0;

  constructor(apiPid: number | undefined, dbPid: number | undefined) {
    this.apiPid = apiPid;
    this.dbPid = dbPid;
  }

  private snapshot(): Snapshot {
    const stats = allStats();
    let api: number | undefined;
    if (this.apiPid) {
      const processes = tree(this.apiPid, stats);
      if (processes.length > 0) {
        api = processes.reduce((sum, stat) => sum + stat.cpu, 0);
        this.lastApiCpu = api;
        this.peakApiRss = Math.max(
          this.peakApiRss,
          processes.reduce((sum, stat) => sum + stat.rssBytes, 0),
        );
      } else {
        api = this.lastApiCpu;
      }
    }
    let db: number | undefined;
    if (this.dbPid) {
      const processes = tree(this.dbPid, stats);
      const postmaster = processes.find((stat) => stat.pid === this.dbPid);
      db = postmaster ? postmaster.childCpu + processes.reduce((sum, stat) => sum + stat.cpu, 0) : undefined;
    }
    const usage = process.cpuUsage();
    return {
      at: performance.now(),
      api,
      db,
      generator: (usage.user + usage.system) / 1e6,
      machine: machineCpu(),
    };
  }

  start(intervalMs = 250): void {
    this.first = this.snapshot();
    this.timer = setInterval(() => this.snapshot(), intervalMs);
    this.timer.unref();
  }

  stop(generatorIsThisProcess = true): UsageReport {
    clearInterval(this.timer);
    const last = this.snapshot();
    const first = this.first!;
    const seconds = (last.at - first.at) / 1000;
    const percent = (a: number | undefined, b: number | undefined) =>
      a === undefined || b === undefined ? null : Math.round(((b - a) / seconds) * 1000) / 10;
    const api = percent(first.api, last.api) ?? 0;
    const db = percent(first.db, last.db) ?? 0;
    const generator = generatorIsThisProcess ? (percent(first.generator, last.generator) ?? 0) : 0;
    const machine = percent(first.machine.busy, last.machine.busy) ?? 0;
    return {
      seconds: Math.round(seconds * 100) / 100,
      apiCpuPercent: this.apiPid ? api : null,
      dbCpuPercent: this.dbPid ? db : null,
      generatorCpuPercent: generator,
      otherCpuPercent: Math.max(0, Math.round((machine - api - db - generator) * 10) / 10),
      apiPeakRssMb: this.apiPid ? Math.round((this.peakApiRss / 1048576) * 10) / 10 : null,
    };
  }
}

// EXPLAIN ANALYZE of a statement inside the same transaction set-up the API uses, and
// the checks the RLS target asks for: an index scan on every tenant table, and the
// policy helpers evaluated once per statement (InitPlans with one loop each), never per
// row (SubPlans).
import pg from 'pg';
import type { Statement } from './load.ts';
import { SET_CONFIG_SQL } from './sql-templates.ts';

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Parent Relationship'?: string;
  'Subplan Name'?: string;
  'Actual Loops'?: number;
  Plans?: PlanNode[];
}

export interface ExplainSummary {
  runs: number;
  planningMs: { median: number; min: number };
  executionMs: { median: number; min: number };
  /** One plan in text form, for the report. */
  plan: string;
  scans: Array<{ relation: string; node: string; index?: string }>;
  initPlans: Array<{ name: string; loops: number }>;
  subPlanLoops: number[];
  checks: { indexScansOnly: boolean; helpersOncePerStatement: boolean };
}

function walk(node: PlanNode, visit: (node: PlanNode) => void): void {
  visit(node);
  for (const child of node.Plans ?? []) walk(child, visit);
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.floor(sorted.length / 2)]! : Number.NaN;
};

/**
 * Runs EXPLAIN ANALYZE of `statement` `runs` times (after one warm-up), each in a
 * transaction with the given settings, and summarizes timings and plan shape.
 */
export async function explainAnalyze(
  url: string,
  runs: number,
  request: () => { settings: string; statement: Statement },
): Promise<ExplainSummary> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const planning: number[] = [];
  const execution: number[] = [];
  let plan = '';
  let root: PlanNode | undefined;
  try {
    for (let run = 0; run <= runs; run += 1) {
      const { settings, statement } = request();
      await client.query('begin');
      try {
        await client.query(SET_CONFIG_SQL, [settings]);
        const json = await client.query<{
          'QUERY PLAN': Array<{ Plan: PlanNode; 'Planning Time': number; 'Execution Time': number }>;
        }>(`explain (analyze, timing off, summary on, format json) ${statement.text}`, statement.values);
        const [result] = json.rows[0]!['QUERY PLAN'];
        if (run > 0) {
          planning.push(result!['Planning Time']);
          execution.push(result!['Execution Time']);
        }
        if (run === runs) {
          root = result!.Plan;
          const text = await client.query<{ 'QUERY PLAN': string }>(
            `explain (analyze, buffers, costs off) ${statement.text}`,
            statement.values,
          );
          plan = text.rows.map((row) => row['QUERY PLAN']).join('\n');
        }
      } finally {
        await client.query('rollback');
      }
    }
  } finally {
    await client.end();
  }

  const scans: ExplainSummary['scans'] = [];
  const initPlans: ExplainSummary['initPlans'] = [];
  const subPlanLoops: number[] = [];
  walk(root!, (node) => {
    if (node['Relation Name'])
      scans.push({
        relation: node['Relation Name'],
        node: node['Node Type'],
        ...(node['Index Name'] && { index: node['Index Name'] }),
      });
    if (node['Parent Relationship'] === 'InitPlan')
      initPlans.push({ name: node['Subplan Name'] ?? 'InitPlan', loops: node['Actual Loops'] ?? 0 });
    if (node['Parent Relationship'] === 'SubPlan') subPlanLoops.push(node['Actual Loops'] ?? 0);
  });
  const round = (value: number) => Math.round(value * 1000) / 1000;
  return {
    runs,
    planningMs: { median: round(median(planning)), min: round(Math.min(...planning)) },
    executionMs: { median: round(median(execution)), min: round(Math.min(...execution)) },
    plan,
    scans,
    initPlans,
    subPlanLoops,
    checks: {
      indexScansOnly: scans.length > 0 && scans.every((scan) => scan.node !== 'Seq Scan'),
      helpersOncePerStatement:
        initPlans.every((init) => init.loops <= 1) && subPlanLoops.every((loops) => loops <= 1),
    },
  };
}

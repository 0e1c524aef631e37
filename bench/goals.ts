/**
 * The goals the issues set for the benchmark figures, and the closing table of a bench run: every
 * BENCH line with its goal and whether it holds, and every file that did not run to its end.
 */

/** A goal on a BENCH line's ratio (the usual case) or on its value, at least or at most. */
export interface Goal {
  readonly on: 'ratio' | 'value';
  readonly atLeast?: number;
  readonly atMost?: number;
  /** Where the goal comes from. */
  readonly source: string;
}

const ratioAtLeast = (atLeast: number, source: string): Goal => ({ on: 'ratio', atLeast, source });
const ratioAtMost = (atMost: number, source: string): Goal => ({ on: 'ratio', atMost, source });

/** Goals by BENCH name. */
export const GOALS: Readonly<Record<string, Goal>> = {
  'devnet.tps': ratioAtLeast(0.5, 'issue 16'),
  'devnet.encrypted_tps': ratioAtLeast(0.8, 'issue 16'),
  // at half the saturation rate, in block intervals: a plain transfer waits for the next block and
  // its commit; an encrypted one a block more for the decryption shares
  'devnet.load50.latency_p50': ratioAtMost(3, 'issue 16'),
  'devnet.encrypted.load50.latency_p50': ratioAtMost(5, 'issue 16'),
  'executor.transfers': ratioAtLeast(0.3, 'issue 16'),
  'executor.sharded': ratioAtLeast(0.8, 'issue 16'),
  'executor.parallel': { on: 'value', atLeast: 1.3, source: 'issue 16' },
  'merkle.update': ratioAtLeast(0.5, 'issue 16'),
  'sim.heights.4v': ratioAtLeast(0.1, 'issue 16'),
  'sim.heights.16v': ratioAtLeast(0.2, 'issue 16'),
  // no quadratic work in block size: time(2n) / time(n) at most 2.5, i.e. doubles plus a constant
  'scaling.propose': ratioAtMost(1.25, 'issue 16'),
  'scaling.proposal': ratioAtMost(1.25, 'issue 16'),
  'scaling.executor': ratioAtMost(1.25, 'issue 16'),
  'runtime.hop': ratioAtLeast(0.5, 'issue 15'),
  'consensus.verify': ratioAtLeast(0.8, 'bench/consensus.bench.ts'),
  // heuristic volumes at the clearing prices against the HiGHS optimum (1,000 intents) and the LP
  // relaxation bound (10,000 intents)
  'solver.quality': ratioAtLeast(0.95, 'issue 17'),
  'solver.quality.10k': ratioAtLeast(0.95, 'issue 17'),
  'lightclient.verify': ratioAtLeast(0.8, 'issue 18'),
};

export interface BenchFigure {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly ratio: number;
  readonly vs: string;
}

/** What one bench file did: its exit code and the BENCH lines it printed. */
export interface FileOutcome {
  readonly file: string;
  readonly code: number;
  readonly seconds: number;
  readonly bench: readonly BenchFigure[];
}

/** A `BENCH <name> <value> <unit> ratio=<r> vs=<what>` line, or undefined for any other line. */
export function parseBenchLine(line: string): BenchFigure | undefined {
  const m = /^BENCH (\S+) (\S+) (\S+) ratio=(\S+) vs=(\S+)\s*$/.exec(line);
  if (m === null) return undefined;
  const value = Number(m[2]);
  const ratio = Number(m[4]);
  if (!Number.isFinite(value) || !Number.isFinite(ratio)) return undefined;
  return { name: m[1]!, value, unit: m[3]!, ratio, vs: m[5]! };
}

/** 'met', 'short' or '' (no goal) for a figure. */
export function verdict(figure: BenchFigure, goal: Goal | undefined): 'met' | 'short' | '' {
  if (goal === undefined) return '';
  const x = goal.on === 'ratio' ? figure.ratio : figure.value;
  if (goal.atLeast !== undefined && !(x >= goal.atLeast)) return 'short';
  if (goal.atMost !== undefined && !(x <= goal.atMost)) return 'short';
  return 'met';
}

function describeGoal(goal: Goal | undefined): string {
  if (goal === undefined) return '';
  const bounds = [
    goal.atLeast === undefined ? '' : `>= ${goal.atLeast}`,
    goal.atMost === undefined ? '' : `<= ${goal.atMost}`,
  ].filter((b) => b !== '');
  return `${goal.on} ${bounds.join(' and ')}`;
}

/** The closing table: a row per BENCH line, then the files that failed, then the counts. */
export function summaryTable(outcomes: readonly FileOutcome[], goals = GOALS): string {
  const rows: string[][] = [['bench', 'value', 'unit', 'ratio', 'goal', '']];
  let met = 0;
  let short = 0;
  for (const o of outcomes) {
    for (const b of o.bench) {
      const goal = goals[b.name];
      const v = verdict(b, goal);
      if (v === 'met') met++;
      if (v === 'short') short++;
      rows.push([b.name, String(b.value), b.unit, b.ratio.toFixed(3), describeGoal(goal), v]);
    }
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const lines = rows.map((r) =>
    r
      .map((cell, c) => cell.padEnd(widths[c]!))
      .join('  ')
      .trimEnd(),
  );
  const failed = outcomes.filter((o) => o.code !== 0);
  for (const o of failed) lines.push(`FAILED ${o.file} (exit ${o.code}, after ${o.seconds.toFixed(0)} s)`);
  lines.push(
    `bench: ${outcomes.length - failed.length} of ${outcomes.length} files ran; goals: ${met} met, ${short} short`,
  );
  return lines.join('\n');
}

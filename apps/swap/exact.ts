/**
 * The volume problem at fixed clearing prices solved exactly (README.md, "Batch auctions", stage 2):
 * the mixed-integer program that flow.ts approximates when fill-or-kill orders are present, solved
 * by HiGHS (the `highs` package, WebAssembly).
 *
 * Per eligible order j, a variable y_j in [0, 1]: the share of its capacity pX·G it carries, binary
 * for a fill-or-kill order (it carries nothing or all of it). Per asset one equality: the value its
 * sellers carry out equals the value its buyers carry in. Maximise Σ (g_j + volumeWeight)·cap_j·y_j,
 * with flow.ts's gain per unit of value g_j, so both solvers rank solutions alike. Variables are
 * shares and rows and the objective are divided by their largest coefficient: amounts are bigints
 * far beyond 2^53 (a value cap is a price of 50 digits times an amount), and HiGHS sees numbers near 1.
 *
 * The floats HiGHS returns are turned back into exact bigint flows: the fill-or-kill orders it
 * chose carry exactly their capacity, each partial order the whole value its share rounds to,
 * and the rounding's imbalance is routed exactly along augmenting paths of partial orders. A choice
 * that balanced only within HiGHS's tolerance and cannot be repaired is an error, not a guess.
 *
 * Loading the WebAssembly is asynchronous; a loaded solver answers synchronously and
 * deterministically (HiGHS runs single-threaded with a fixed seed), so an engine can hold one.
 */
import type { Highs, ModelData, ModelStatusCode } from 'highs';
// the package's types are written as ESM but its package.json says CommonJS, so TypeScript places
// the loader at `default.default`; Node loads the ESM build, where it is `default`: take either
import * as highsModule from 'highs';
import { assetIndex, eligible, type Order, type Prices } from './auction.ts';
import { DEFAULT_FLOW_OPTIONS, gainPerValue } from './flow.ts';

export interface ExactOptions {
  /** most eligible orders one model may have (a limit on memory and time, checked before solving) */
  readonly maxOrders: number;
  /** HiGHS's wall-clock limit per solve, in seconds */
  readonly timeLimitSeconds: number;
  /** most branch-and-bound nodes per MIP solve */
  readonly maxNodes: number;
  readonly volumeWeight: number;
}

export const DEFAULT_EXACT_OPTIONS: ExactOptions = {
  maxOrders: 20_000,
  timeLimitSeconds: 20,
  maxNodes: 200_000,
  volumeWeight: DEFAULT_FLOW_OPTIONS.volumeWeight,
};

export type ExactFailure =
  /** the model has more orders than `maxOrders` */
  | 'too-large'
  /** HiGHS ended with a status other than Optimal (a limit, infeasible, an error) */
  | 'not-optimal'
  /** HiGHS refused the model or an option (a HighsError, wrapped) */
  | 'highs-error'
  /** HiGHS's choice balanced only within its tolerance and no exact flows realise it */
  | 'inexact';

export class ExactSolverError extends Error {
  constructor(
    readonly failure: ExactFailure,
    message: string,
  ) {
    super(message);
    this.name = 'ExactSolverError';
  }
}

export interface ExactVolumes {
  /** value carried by each order that carries some, exactly conserved per asset */
  readonly flows: Map<string, bigint>;
  /** Σ (gain + volumeWeight)·value over `flows`, in value units */
  readonly objective: number;
  /** what HiGHS reported for the same objective (before turning its floats into exact flows) */
  readonly reported: number;
}

export interface ExactSolver {
  /** The optimal volumes at `prices` (throws ExactSolverError). */
  solveVolumes(orders: readonly Order[], prices: Prices): ExactVolumes;
  /** The optimum with fill-or-kill orders relaxed to any share: a bound on `solveVolumes`'s objective. */
  relaxationBound(orders: readonly Order[], prices: Prices): number;
  /**
   * The best bound on `solveVolumes`'s objective HiGHS proves within `seconds` of branch and bound
   * (its MIP dual bound; the optimum itself when it finishes): tighter than `relaxationBound` for
   * batches too large to solve exactly.
   */
  provenBound(orders: readonly Order[], prices: Prices, seconds: number): number;
}

const STATUS_NAMES: Readonly<Record<number, string>> = {
  0: 'not set',
  1: 'load error',
  2: 'invalid model',
  3: 'presolve error',
  4: 'solve error',
  5: 'postsolve error',
  6: 'empty model',
  7: 'optimal',
  8: 'infeasible',
  9: 'unbounded or infeasible',
  10: 'unbounded',
  11: 'objective bound reached',
  12: 'objective target reached',
  13: 'time limit reached',
  14: 'iteration limit reached',
  15: 'unknown',
  16: 'solution limit reached',
  17: 'interrupted',
};
const OPTIMAL: ModelStatusCode = 7;

type HighsLoader = () => Promise<Highs>;
function highsLoader(): HighsLoader {
  const d = (highsModule as unknown as { default: HighsLoader | { default: HighsLoader } }).default;
  return typeof d === 'function' ? d : d.default;
}

/** Loads HiGHS (asynchronously, once) and returns a solver whose calls are synchronous. */
export async function loadExactSolver(opts: ExactOptions = DEFAULT_EXACT_OPTIONS): Promise<ExactSolver> {
  const highs = await highsLoader()();
  return {
    solveVolumes: (orders, prices) => solveVolumes(highs, opts, orders, prices),
    relaxationBound: (orders, prices) =>
      solveModel(highs, opts, buildModel(opts, orders, prices), false).objective,
    provenBound: (orders, prices, seconds) => provenBound(highs, buildModel(opts, orders, prices), seconds),
  };
}

/** The model of the volume problem, and what turns its numbers back into value units. */
interface VolumeModel {
  readonly orders: readonly Order[];
  readonly caps: readonly bigint[];
  readonly weights: readonly number[];
  readonly assets: number;
  /** objective coefficients were divided by this */
  readonly objectiveScale: number;
  readonly data: ModelData | undefined;
}

function buildModel(opts: ExactOptions, all: readonly Order[], prices: Prices): VolumeModel {
  const orders = all.filter((o) => eligible(o, prices));
  if (orders.length > opts.maxOrders)
    throw new ExactSolverError('too-large', `${orders.length} eligible orders, more than ${opts.maxOrders}`);
  const caps = orders.map((o) => prices.get(o.sell)! * o.give);
  const weights = orders.map((o) => gainPerValue(o, prices) + opts.volumeWeight);
  const { index, node } = assetIndex();
  const ends = orders.map((o) => [node(o.sell), node(o.buy)] as const);
  const assets = index.size;
  if (orders.length === 0) return { orders, caps, weights, assets, objectiveScale: 1, data: undefined };
  const capValue = caps.map((c) => Number(c));
  // per row, its largest coefficient; per model, the largest objective coefficient
  const rowScale = new Float64Array(assets);
  for (let j = 0; j < orders.length; j++) {
    const [s, b] = ends[j]!;
    rowScale[s] = Math.max(rowScale[s]!, capValue[j]!);
    rowScale[b] = Math.max(rowScale[b]!, capValue[j]!);
  }
  const cost = orders.map((_, j) => weights[j]! * capValue[j]!);
  const objectiveScale = Math.max(...cost.map(Math.abs)) || 1;
  // column-wise: order j leaves its sold asset's row (−) and enters its bought asset's row (+)
  const starts: number[] = [0];
  const rows: number[] = [];
  const values: number[] = [];
  for (let j = 0; j < orders.length; j++) {
    const [s, b] = ends[j]!;
    rows.push(s, b);
    values.push(-capValue[j]! / rowScale[s]!, capValue[j]! / rowScale[b]!);
    starts.push(rows.length);
  }
  const data: ModelData = {
    numCols: orders.length,
    numRows: assets,
    colCost: cost.map((c) => c / objectiveScale),
    colLower: orders.map(() => 0),
    colUpper: orders.map(() => 1),
    rowLower: new Array<number>(assets).fill(0),
    rowUpper: new Array<number>(assets).fill(0),
    matrix: { format: 'csc', numRows: assets, numCols: orders.length, starts, indices: rows, values },
    integrality: orders.map((o) => (o.partial ? 0 : 1)),
  };
  return { orders, caps, weights, assets, objectiveScale, data };
}

/** Runs HiGHS on the model (with or without integrality): the shares and the objective in value units. */
function solveModel(
  highs: Highs,
  opts: ExactOptions,
  model: VolumeModel,
  integral: boolean,
): { shares: Float64Array; objective: number } {
  const data = model.data;
  if (data === undefined) return { shares: new Float64Array(0), objective: 0 };
  const source: ModelData = integral ? data : { ...data, integrality: undefined };
  const run = () =>
    highs.withModel(source, (m) => {
      m.changeObjectiveSense(highs.constants.objectiveSense.maximize);
      m.options.set({
        output_flag: false,
        time_limit: opts.timeLimitSeconds,
        mip_max_nodes: opts.maxNodes,
        mip_rel_gap: 0,
        mip_abs_gap: 0,
        random_seed: 0,
      });
      const { modelStatus } = m.run();
      if (modelStatus !== OPTIMAL)
        throw new ExactSolverError(
          'not-optimal',
          `HiGHS ended ${STATUS_NAMES[modelStatus] ?? `with status ${modelStatus}`} (${data.numCols} orders)`,
        );
      return {
        shares: m.getSolution().colValue,
        objective: m.getObjectiveValue() * model.objectiveScale,
      };
    });
  try {
    return run();
  } catch (e) {
    if (e instanceof ExactSolverError) throw e;
    throw new ExactSolverError('highs-error', `HiGHS failed: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function provenBound(highs: Highs, model: VolumeModel, seconds: number): number {
  const data = model.data;
  if (data === undefined) return 0;
  try {
    return highs.withModel(data, (m) => {
      m.changeObjectiveSense(highs.constants.objectiveSense.maximize);
      m.options.set({
        output_flag: false,
        time_limit: seconds,
        mip_rel_gap: 0,
        mip_abs_gap: 0,
        random_seed: 0,
      });
      const { modelStatus } = m.run();
      // finished: the optimum is the bound (HiGHS leaves the dual bound unset when presolve solves it)
      if (modelStatus === OPTIMAL) return m.getObjectiveValue() * model.objectiveScale;
      const bound = Number(m.info.get('mip_dual_bound'));
      const incumbent = m.getObjectiveValue();
      if (!Number.isFinite(bound) || bound < incumbent)
        throw new ExactSolverError('not-optimal', 'HiGHS proved no bound above its incumbent');
      return bound * model.objectiveScale;
    });
  } catch (e) {
    if (e instanceof ExactSolverError) throw e;
    throw new ExactSolverError('highs-error', `HiGHS failed: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function solveVolumes(highs: Highs, opts: ExactOptions, all: readonly Order[], prices: Prices): ExactVolumes {
  const model = buildModel(opts, all, prices);
  const { shares, objective: reported } = solveModel(highs, opts, model, true);
  const { orders, caps, weights } = model;
  const flow = orders.map((o, j) => {
    const y = shares[j]!;
    if (!o.partial) return y > 0.5 ? caps[j]! : 0n;
    if (!(y > 0)) return 0n;
    if (y >= 1) return caps[j]!;
    return nearest(caps[j]!, y);
  });
  repair(orders, caps, flow);
  const flows = new Map<string, bigint>();
  let objective = 0;
  orders.forEach((o, j) => {
    if (flow[j]! > 0n) flows.set(o.id, flow[j]!);
    objective += weights[j]! * Number(flow[j]!);
  });
  return { flows, objective, reported };
}

/**
 * cap·y rounded to the nearest whole value unit. The volume problem is a network flow, so at an
 * optimal vertex every value is a whole number: when the float is within half a unit of it (values
 * below about 2^40) this recovers the vertex exactly, and `repair` mends the rest.
 */
function nearest(cap: bigint, y: number): bigint {
  const c = Number(cap);
  const v =
    c < 2 ** 53 ? BigInt(Math.round(c * y)) : (cap * BigInt(Math.round(y * 2 ** 52)) + 2n ** 51n) >> 52n;
  return v < 0n ? 0n : v > cap ? cap : v;
}

/**
 * Balances every asset exactly by moving value along paths of partial orders (more on one carrying
 * value onward, less on one carrying it back), from assets that receive more than they give to
 * assets that give more than they receive. Throws 'inexact' when no path is left.
 */
function repair(orders: readonly Order[], caps: readonly bigint[], flow: bigint[]): void {
  const net = new Map<string, bigint>(); // value in minus value out
  orders.forEach((o, j) => {
    net.set(o.buy, (net.get(o.buy) ?? 0n) + flow[j]!);
    net.set(o.sell, (net.get(o.sell) ?? 0n) - flow[j]!);
  });
  const partial = orders.map((_, j) => j).filter((j) => orders[j]!.partial);
  for (let round = 0; round < 4 * (orders.length + net.size) + 4; round++) {
    const source = [...net].find(([, d]) => d > 0n);
    if (source === undefined) return;
    // breadth-first over residual arcs: forward on an order with room, backward on one with flow
    const via = new Map<string, { j: number; forward: boolean; from: string }>();
    const queue = [source[0]];
    let sink: string | undefined;
    for (let q = 0; q < queue.length && sink === undefined; q++) {
      const at = queue[q]!;
      for (const j of partial) {
        const o = orders[j]!;
        const arc: { to: string; forward: boolean } | undefined =
          o.sell === at && flow[j]! < caps[j]!
            ? { to: o.buy, forward: true }
            : o.buy === at && flow[j]! > 0n
              ? { to: o.sell, forward: false }
              : undefined;
        if (arc === undefined || arc.to === source[0] || via.has(arc.to)) continue;
        via.set(arc.to, { j, forward: arc.forward, from: at });
        if (net.get(arc.to)! < 0n) {
          sink = arc.to;
          break;
        }
        queue.push(arc.to);
      }
    }
    if (sink === undefined)
      throw new ExactSolverError(
        'inexact',
        `no exact flows balance asset ${source[0]} (off by ${source[1]})`,
      );
    let push = -net.get(sink)!;
    if (source[1] < push) push = source[1];
    for (let at = sink; at !== source[0]; ) {
      const { j, forward, from } = via.get(at)!;
      const room = forward ? caps[j]! - flow[j]! : flow[j]!;
      if (room < push) push = room;
      at = from;
    }
    for (let at = sink; at !== source[0]; ) {
      const { j, forward, from } = via.get(at)!;
      flow[j] = flow[j]! + (forward ? push : -push);
      at = from;
    }
    net.set(source[0], net.get(source[0])! - push);
    net.set(sink, net.get(sink)! + push);
  }
  throw new ExactSolverError('inexact', 'the imbalance did not settle');
}

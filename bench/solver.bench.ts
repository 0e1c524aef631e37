/**
 * The swap batch solver (apps/swap, issue 17).
 *
 * solver.quality: the heuristic's objective (flow.ts: surplus plus flow.ts's volume weight, in value
 * units) against the HiGHS optimum of the same volume problem (exact.ts), on random batches of
 * 1,000 intents over 20 assets, half of them fill-or-kill, limits within a few percent of a hidden
 * reference price so that many rings can clear. The comparison is at the batch's clearing prices
 * (stage 2 of solveBatch: prices.ts chooses the prices, then volumes are solved at them), so it
 * measures the volume heuristic, not the price choice. solver.quality.10k: the same at 10,000
 * intents, too many for HiGHS to solve exactly in reasonable time, against the tighter of two upper
 * bounds on the optimum: the LP relaxation (fill-or-kill orders fillable in part), and the bound
 * HiGHS's branch and bound proves within PROOF_SECONDS. The ratio can only understate the
 * heuristic's quality.
 *
 * solver.speed: intents per second through one whole solveBatch of 10,000 intents (prices,
 * volumes, whole units, the rule check), against the rate of checking the same settlement with
 * settlementViolation: the closest we have to "checking the same solution's predicates" until the
 * swap predicate lands.
 */
import { type Order, settlementViolation } from '../apps/swap/auction.ts';
import { volumeObjective } from '../apps/swap/auction-testing.ts';
import { loadExactSolver } from '../apps/swap/exact.ts';
import { flowsAtPrices } from '../apps/swap/flow.ts';
import { clearingPrices } from '../apps/swap/prices.ts';
import { solveBatch } from '../apps/swap/solve.ts';
import { Random } from '../runtime/random.ts';
import { report } from './report.ts';

const ASSETS = 20;
/** Branch and bound HiGHS gets to prove a bound on the 10,000-intent optimum. */
const PROOF_SECONDS = 10;

/** n intents over ASSETS assets: half fill-or-kill, limits within −6%..+4% of reference prices. */
function randomBatch(n: number, seed: string): Order[] {
  const r = new Random(seed);
  const reference = Array.from({ length: ASSETS }, () => Math.exp(r.float() * Math.log(1000)));
  const out: Order[] = [];
  for (let i = 0; i < n; i++) {
    const x = r.int(ASSETS);
    let y = r.int(ASSETS - 1);
    if (y >= x) y++;
    const give = BigInt(Math.max(1, Math.floor(Math.exp(r.float() * Math.log(1e6)))));
    const slack = 1 + (r.float() * 0.1 - 0.06);
    const want = BigInt(Math.max(1, Math.round(((Number(give) * reference[x]!) / reference[y]!) * slack)));
    out.push({ id: `i${i}`, sell: `a${x}`, buy: `a${y}`, give, want, partial: r.bool() });
  }
  return out;
}

export default async function solverBench(): Promise<void> {
  const exact = await loadExactSolver();

  // per batch, then the mean: prices (hence value units) differ by orders of magnitude between batches
  const ratios: number[] = [];
  const seeds = ['q1', 'q2', 'q3'];
  for (const seed of seeds) {
    const orders = randomBatch(1_000, seed);
    const { prices } = clearingPrices(orders);
    const heuristic = volumeObjective(orders, prices, flowsAtPrices(orders, prices));
    ratios.push(heuristic / exact.solveVolumes(orders, prices).objective);
  }
  const quality = ratios.reduce((a, b) => a + b, 0) / ratios.length;
  report({
    name: 'solver.quality',
    value: 100 * quality,
    unit: '%',
    ratio: quality,
    vs: `HiGHS optimum at the clearing prices (mean of ${seeds.length} batches of 1,000 intents, ${ASSETS} assets)`,
  });

  const large = randomBatch(10_000, 'q10k');
  const { prices } = clearingPrices(large);
  const large10k = volumeObjective(large, prices, flowsAtPrices(large, prices));
  // the tighter of two valid upper bounds on the optimum: the LP relaxation, and what HiGHS's
  // branch and bound proves within PROOF_SECONDS (the batch is too large for it to finish)
  const relaxed = exact.relaxationBound(large, prices);
  const proven = exact.provenBound(large, prices, PROOF_SECONDS);
  const bound = Math.min(relaxed, proven);
  report({
    name: 'solver.quality.10k',
    value: (100 * large10k) / bound,
    unit: '%',
    ratio: large10k / bound,
    vs: `HiGHS's proven bound on the optimum within ${PROOF_SECONDS} s (10,000 intents, ${ASSETS} assets; the LP relaxation is ${(relaxed / bound).toFixed(3)}x it)`,
  });

  const byId = new Map(large.map((o) => [o.id, o]));
  let t = performance.now();
  const solved = solveBatch(large);
  let solveMs = performance.now() - t;
  if (!solved.ok) throw new Error(`solver bench: ${solved.reason}`);
  const settlement = solved.settlement;
  const check = () => {
    const start = performance.now();
    for (let k = 0; k < 100; k++)
      if (settlementViolation(byId, settlement) !== undefined)
        throw new Error('solver bench: bad settlement');
    return (performance.now() - start) / 100;
  };
  let checkMs = check();
  // once more each, alternating, keeping the fastest: other processes share the cores
  t = performance.now();
  solveBatch(large);
  solveMs = Math.min(solveMs, performance.now() - t);
  checkMs = Math.min(checkMs, check());
  const solveRate = (large.length * 1000) / solveMs;
  const checkRate = (large.length * 1000) / checkMs;
  report({
    name: 'solver.speed',
    value: solveRate,
    unit: 'intents/s',
    ratio: solveRate / checkRate,
    vs: `settlementViolation on the same settlement (${settlement.fills.length} fills of 10,000 intents, ${Math.round(checkRate)} intents/s)`,
  });
}

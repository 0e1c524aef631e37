/**
 * Wave-parallel block execution with predicates evaluated by a runner: in process (simulation,
 * deterministic and instantaneous) or by a worker pool (live: the only CPU-heavy phase runs on
 * every core). Per wave: lookup and calculation of each transaction, then every predicate job of
 * the wave at once, then verdicts and commits in block order. Results equal `executeSerial` (at
 * the same `height`).
 */
import type { EvalResult } from '../../vm/types.ts';
import type { BlockResult } from './block.ts';
import type { Note, Transaction } from './notes.ts';
import {
  acceptedReceipt,
  calculationPhase,
  commitPhase,
  evaluateJob,
  lookupPhase,
  type Multievaluate,
  type PredicateJob,
  type Receipt,
  validityJobs,
  validityVerdict,
  type WriteSet,
} from './phases.ts';
import { waves } from './schedule.ts';
import { type NoteStore, Overlay } from './state.ts';

export type PredicateRunner = (jobs: readonly PredicateJob[]) => Promise<EvalResult[]>;

export function inProcessRunner(mev: Multievaluate): PredicateRunner {
  return async (jobs) => jobs.map((j) => evaluateJob(j, mev));
}

interface Pending {
  index: number;
  inputs: Note[];
  outputs: Note[];
  gas: number;
  jobs: PredicateJob[];
  first: number;
}

export async function executeParallel(
  txs: readonly Transaction[],
  store: NoteStore,
  mev: Multievaluate,
  gasLimit: number,
  runner: PredicateRunner,
  height = 0n,
): Promise<BlockResult> {
  const overlay = new Overlay(store);
  const receipts = new Array<Receipt>(txs.length);
  const writesOf = new Array<WriteSet | undefined>(txs.length);
  for (const wave of waves(txs)) {
    const pending: Pending[] = [];
    const jobs: PredicateJob[] = [];
    for (const index of wave) {
      const tx = txs[index]!;
      const looked = lookupPhase(tx, overlay, mev, gasLimit);
      if (!looked.ok) {
        receipts[index] = looked.receipt;
        continue;
      }
      const calc = calculationPhase(tx, looked.value, mev, gasLimit, looked.gasUsed);
      if (!calc.ok) {
        receipts[index] = calc.receipt;
        continue;
      }
      const js = validityJobs(tx, looked.value, calc.value, overlay, gasLimit, calc.gasUsed, height);
      if (!js.ok) {
        receipts[index] = js.receipt;
        continue;
      }
      pending.push({
        index,
        inputs: looked.value,
        outputs: calc.value,
        gas: calc.gasUsed,
        jobs: js.value,
        first: jobs.length,
      });
      jobs.push(...js.value);
    }
    const results = await runner(jobs);
    for (const p of pending) {
      const verdict = validityVerdict(p.jobs, results, gasLimit, p.gas, p.first);
      if (!verdict.ok) {
        receipts[p.index] = verdict.receipt;
        continue;
      }
      const committed = commitPhase(txs[p.index]!, p.inputs, p.outputs, overlay, verdict.gasUsed);
      if (!committed.ok) {
        receipts[p.index] = committed.receipt;
        continue;
      }
      receipts[p.index] = acceptedReceipt(committed.gasUsed);
      writesOf[p.index] = committed.value;
    }
    // the wave's transactions touch disjoint state: applying their writes after the wave is exact
    for (const index of wave) {
      const w = writesOf[index];
      if (w !== undefined) overlay.apply(w);
    }
  }
  return { receipts, writes: writesOf.filter((w): w is WriteSet => w !== undefined) };
}

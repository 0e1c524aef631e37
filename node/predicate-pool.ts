/**
 * Validity predicates on every core: a worker pool running node/predicate-task.ts.
 *
 * A wave's jobs go out in a few packed chunks per worker, not one message per job: a message
 * costs the main thread a structured clone, and the main thread is also the one that looks up
 * and calculates every transaction, so what it spends per job is what caps the speed-up. A few
 * chunks per worker (rather than one) let a worker that finishes early take the next, and the
 * first results come back while the rest are still being evaluated.
 */
import type { PredicateRunner } from '../engines/executor/parallel.ts';
import type { PredicateJob } from '../engines/executor/phases.ts';
import { WorkerPool } from '../runtime/workers.ts';
import type { EvalResult } from '../vm/types.ts';
import { type PackedJobs, type PackedOutcomes, packJobs, unpackOutcomes } from './predicate-task.ts';

/** Chunks per worker for a large wave. */
const CHUNKS_PER_WORKER = 4;
/** Fewest jobs worth a message of their own. */
const MIN_CHUNK = 32;

/** Splits `n` jobs into contiguous chunks (a transaction's jobs are adjacent, so mostly kept together). */
export function chunkBounds(n: number, workers: number): [number, number][] {
  const count = Math.max(1, Math.min(workers * CHUNKS_PER_WORKER, Math.ceil(n / MIN_CHUNK)));
  const out: [number, number][] = [];
  for (let c = 0; c < count; c++) {
    const lo = Math.floor((c * n) / count);
    const hi = Math.floor(((c + 1) * n) / count);
    if (hi > lo) out.push([lo, hi]);
  }
  return out;
}

export interface PredicatePool {
  readonly runner: PredicateRunner;
  /** Resolves once every worker has loaded its task module and answered (an empty chunk). */
  ready(): Promise<void>;
  close(): Promise<void>;
}

export function predicatePool(size?: number): PredicatePool {
  const pool = new WorkerPool(new URL('./predicate-task.ts', import.meta.url).href, size);
  const runner = async (jobs: readonly PredicateJob[]): Promise<EvalResult[]> => {
    const chunks = chunkBounds(jobs.length, pool.size).map(([lo, hi]) => packJobs(jobs.slice(lo, hi)));
    const outcomes = await pool.run<PackedJobs, PackedOutcomes>(chunks);
    return outcomes.flatMap(unpackOutcomes);
  };
  return {
    runner,
    // the pool hands each task to its least loaded worker: one empty chunk each reaches every one
    ready: async () => {
      await pool.run<PackedJobs, PackedOutcomes>(Array.from({ length: pool.size }, () => packJobs([])));
    },
    close: () => pool.close(),
  };
}

/**
 * Validity predicates on every core: a worker pool running node/predicate-task.ts.
 *
 * A wave's jobs go out in a few packed chunks per worker, not one message per job: a message
 * costs the main thread a structured clone, and the main thread is also the one that looks up
 * and calculates every transaction, so what it spends per job is what caps the speed-up. Chunks
 * are handed out as workers free up (each keeps one queued behind the one it evaluates), not
 * dealt out at once: a worker slowed by other processes on its core takes fewer, and the other
 * does not wait idle at the end. The main thread packs the next chunk and unpacks results while
 * the workers evaluate.
 */
import type { PredicateRunner } from '../engines/executor/parallel.ts';
import type { PredicateJob } from '../engines/executor/phases.ts';
import { WorkerPool } from '../runtime/workers.ts';
import type { EvalResult } from '../vm/types.ts';
import { type PackedJobs, type PackedOutcomes, packJobs, unpackOutcomes } from './predicate-task.ts';

/** Chunks per worker for a large wave: small, so the last one (one worker finishes it alone) is short. */
export const CHUNKS_PER_WORKER = 8;
/** Chunks a worker holds at once: the one it evaluates, and the next, so it never waits for a message. */
const IN_FLIGHT_PER_WORKER = 2;
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
    const bounds = chunkBounds(jobs.length, pool.size);
    const results = new Array<EvalResult[]>(bounds.length);
    let next = 0;
    // one feeder per chunk in flight: it sends a chunk, and when its results are in, the next
    const feed = async (): Promise<void> => {
      while (next < bounds.length) {
        const c = next++;
        const [lo, hi] = bounds[c]!;
        let out: PackedOutcomes[];
        try {
          out = await pool.run<PackedJobs, PackedOutcomes>([packJobs(jobs.slice(lo, hi))]);
        } catch (e) {
          next = bounds.length; // the runner failed (a worker died): send nothing more
          throw e;
        }
        results[c] = unpackOutcomes(out[0]!);
      }
    };
    const feeders = Math.min(bounds.length, IN_FLIGHT_PER_WORKER * pool.size);
    await Promise.all(Array.from({ length: feeders }, feed));
    return results.flat();
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

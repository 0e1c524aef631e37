/** Validity predicates on every core: a worker pool running node/predicate-task.ts. */
import type { PredicateRunner } from '../engines/executor/parallel.ts';
import type { PredicateJob } from '../engines/executor/phases.ts';
import { WorkerPool } from '../runtime/workers.ts';
import type { EvalResult } from '../vm/types.ts';

export function predicatePool(size?: number): { runner: PredicateRunner; close: () => Promise<void> } {
  const pool = new WorkerPool(new URL('./predicate-task.ts', import.meta.url).href, size);
  return {
    runner: (jobs) => pool.run<PredicateJob, EvalResult>(jobs),
    close: () => pool.close(),
  };
}

/** The worker task of the predicate pool: evaluates one validity predicate job with the node's VMs. */

import { nodeMultievaluate } from '../assembly/vm.ts';
import { evaluateJob, type PredicateJob } from '../engines/executor/phases.ts';
import type { EvalResult } from '../vm/types.ts';

export default function evaluatePredicate(job: PredicateJob): EvalResult {
  return evaluateJob(job, nodeMultievaluate);
}

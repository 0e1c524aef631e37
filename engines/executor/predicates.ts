/**
 * Validity predicates across a port: the sharded executor's coordinator sends a wave's predicate
 * jobs as a `PredicateBatch` and receives a `PredicateResults`, so that the evaluation can run on
 * worker threads (live) or in process (simulation) without the engine awaiting anything.
 *
 * Only what the verdict needs crosses back: gas, and accepted (the predicate returned true),
 * rejected (it returned anything else) or failed (with the VM's error). `fromOutcome` rebuilds an
 * `EvalResult` that `validityVerdict` judges exactly as it judges the original, so receipts do
 * not depend on where predicates ran.
 */
import type { EvalResult, VmErrorCode } from '../../vm/types.ts';
import type { PredicateJob } from './phases.ts';
import type { PredicateCall, PredicateOutcome } from './ports.ts';

/**
 * The wire form of a job (its view is carried as the notes and extradata it is made of; the height
 * once, in the batch).
 */
export function toCall(
  job: PredicateJob,
  view: { inputs: PredicateCall['inputs']; outputs: PredicateCall['outputs']; extradata: Uint8Array },
): PredicateCall {
  return { fn: job.fn, ...view, gasLimit: BigInt(job.gasLimit) };
}

/**
 * A job again from its wire form (the receipt fields stay with the coordinator). `height`: the
 * batch's block height, which the view shows predicates. `view`: the view of an earlier call of
 * the same transaction (the same notes and extradata, same batch), to share it.
 */
export function fromCall(call: PredicateCall, height: bigint, view?: PredicateJob['view']): PredicateJob {
  return {
    fn: call.fn,
    view: view ?? { inputs: call.inputs, outputs: call.outputs, extradata: call.extradata, height },
    gasLimit: Number(call.gasLimit),
  };
}

export function toOutcome(r: EvalResult): PredicateOutcome {
  const gasUsed = BigInt(r.gasUsed);
  if (!r.ok)
    return { gasUsed, outcome: { tag: 'failed', value: { code: r.error.code, message: r.error.message } } };
  const v = r.value;
  const accepted = v.kind === 'basic' && v.value.kind === 'boolean' && v.value.value;
  return { gasUsed, outcome: accepted ? { tag: 'accepted', value: null } : { tag: 'rejected', value: null } };
}

export function fromOutcome(o: PredicateOutcome): EvalResult {
  const gasUsed = Number(o.gasUsed);
  const boolean = (value: boolean): EvalResult => ({
    ok: true,
    value: { kind: 'basic', value: { kind: 'boolean', value } },
    gasUsed,
  });
  switch (o.outcome.tag) {
    case 'accepted':
      return boolean(true);
    case 'rejected':
      return boolean(false);
    case 'failed':
      return {
        ok: false,
        error: { code: o.outcome.value.code as VmErrorCode, message: o.outcome.value.message },
        gasUsed,
      };
  }
}

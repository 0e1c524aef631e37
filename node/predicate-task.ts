/**
 * The worker task of the predicate pool: evaluates a chunk of validity predicate jobs with the
 * node's VMs.
 *
 * A chunk crosses to the worker packed (`packJobs`): each distinct transaction view once, as its
 * canonical TxView bytes (its notes, extradata and height), back to back in one array, and each
 * distinct predicate function once, so a message costs a few copies of bytes instead of a
 * structured clone of every job's value tree (a transaction's application and owner predicates
 * share its view). The main thread only encodes the notes; building the value predicates are
 * called with (phases.ts `viewValue`) is the worker's part of the work. Results come back as
 * the outcomes `validityVerdict` needs (engines/executor/predicates.ts: gas, and accepted,
 * rejected or failed with the VM's error), judged exactly as the original results would be.
 */
import { nodeMultievaluate } from '../assembly/vm.ts';
import { evaluateJob, type PredicateJob, TxView } from '../engines/executor/phases.ts';
import { fromOutcome, toOutcome } from '../engines/executor/predicates.ts';
import type { EvalResult } from '../vm/types.ts';
import { DEFAULT_LIMITS } from '../wire/errors.ts';
import { decode, encode, type FunctionValue } from '../wire/schema.ts';
import type { DataValue } from '../wire/types.ts';

/** Jobs packed for the worker (every field survives a structured clone as a few byte copies). */
export interface PackedJobs {
  /** the distinct views' canonical TxView encodings, back to back; view i ends at viewEnds[i] */
  readonly views: Uint8Array;
  readonly viewEnds: Uint32Array;
  /** the distinct functions: vm ids, and their code back to back; function i ends at fnEnds[i] */
  readonly fnVms: BigUint64Array;
  readonly fnCodes: Uint8Array;
  readonly fnEnds: Uint32Array;
  /** per job: its view's index, its function's index and its gas limit */
  readonly jobView: Uint32Array;
  readonly jobFn: Uint32Array;
  readonly jobGas: Float64Array;
}

/** What a chunk's evaluation returns, in job order. */
export interface PackedOutcomes {
  readonly gasUsed: Float64Array;
  /** 0 accepted, 1 rejected, 2 failed (its error in `failures`) */
  readonly tag: Uint8Array;
  readonly failures: readonly { index: number; code: string; message: string }[];
}

const ACCEPTED = 0;
const REJECTED = 1;
const FAILED = 2;

function concat(parts: readonly Uint8Array[], total: number): { bytes: Uint8Array; ends: Uint32Array } {
  const bytes = new Uint8Array(total);
  const ends = new Uint32Array(parts.length);
  let at = 0;
  for (let i = 0; i < parts.length; i++) {
    bytes.set(parts[i]!, at);
    at += parts[i]!.length;
    ends[i] = at;
  }
  return { bytes, ends };
}

/** Packs `jobs` (views and functions shared by identity are sent once). */
export function packJobs(jobs: readonly PredicateJob[]): PackedJobs {
  const viewIndex = new Map<TxView, number>();
  const fnIndex = new Map<FunctionValue, number>();
  const views: Uint8Array[] = [];
  const fns: FunctionValue[] = [];
  let viewBytes = 0;
  let fnBytes = 0;
  const jobView = new Uint32Array(jobs.length);
  const jobFn = new Uint32Array(jobs.length);
  const jobGas = new Float64Array(jobs.length);
  for (let j = 0; j < jobs.length; j++) {
    const job = jobs[j]!;
    let v = viewIndex.get(job.view);
    if (v === undefined) {
      v = views.length;
      const bytes = encode(TxView, job.view);
      views.push(bytes);
      viewBytes += bytes.length;
      viewIndex.set(job.view, v);
    }
    let f = fnIndex.get(job.fn);
    if (f === undefined) {
      f = fns.length;
      fns.push(job.fn);
      fnBytes += job.fn.code.length;
      fnIndex.set(job.fn, f);
    }
    jobView[j] = v;
    jobFn[j] = f;
    jobGas[j] = job.gasLimit;
  }
  const packedViews = concat(views, viewBytes);
  const packedFns = concat(
    fns.map((f) => f.code),
    fnBytes,
  );
  return {
    views: packedViews.bytes,
    viewEnds: packedViews.ends,
    fnVms: BigUint64Array.from(fns, (f) => f.vm),
    fnCodes: packedFns.bytes,
    fnEnds: packedFns.ends,
    jobView,
    jobFn,
    jobGas,
  };
}

/** The jobs again (receipt fields stay with the caller): one view object per distinct view. */
export function unpackJobs(p: PackedJobs): PredicateJob[] {
  const views: TxView[] = [];
  for (let i = 0; i < p.viewEnds.length; i++) {
    const bytes = p.views.subarray(i === 0 ? 0 : p.viewEnds[i - 1]!, p.viewEnds[i]!);
    // the bytes are a view the caller had in memory: no collection in it is longer than they are
    const size = Math.max(bytes.length, DEFAULT_LIMITS.maxBytes);
    views.push(decode(TxView, bytes, { maxBytes: size, maxLength: size }));
  }
  const fns: FunctionValue[] = [];
  for (let i = 0; i < p.fnEnds.length; i++) {
    fns.push({ vm: p.fnVms[i]!, code: p.fnCodes.slice(i === 0 ? 0 : p.fnEnds[i - 1]!, p.fnEnds[i]!) });
  }
  const jobs: PredicateJob[] = [];
  for (let j = 0; j < p.jobView.length; j++) {
    jobs.push({ fn: fns[p.jobFn[j]!]!, view: views[p.jobView[j]!]!, gasLimit: p.jobGas[j]! });
  }
  return jobs;
}

export function packOutcomes(results: readonly EvalResult[]): PackedOutcomes {
  const gasUsed = new Float64Array(results.length);
  const tag = new Uint8Array(results.length);
  const failures: { index: number; code: string; message: string }[] = [];
  for (let i = 0; i < results.length; i++) {
    const o = toOutcome(results[i]!);
    gasUsed[i] = Number(o.gasUsed);
    if (o.outcome.tag === 'failed') {
      tag[i] = FAILED;
      failures.push({ index: i, ...o.outcome.value });
    } else tag[i] = o.outcome.tag === 'accepted' ? ACCEPTED : REJECTED;
  }
  return { gasUsed, tag, failures };
}

/** The two values a predicate that did not fail may be judged by (shared: values are never mutated). */
const TRUE: DataValue = { kind: 'basic', value: { kind: 'boolean', value: true } };
const FALSE: DataValue = { kind: 'basic', value: { kind: 'boolean', value: false } };

/**
 * Results a verdict judges as it judges the evaluated ones (what engines/executor/predicates.ts
 * `fromOutcome` makes of each outcome, without the wire form in between).
 */
export function unpackOutcomes(p: PackedOutcomes): EvalResult[] {
  const out = new Array<EvalResult>(p.tag.length);
  for (let i = 0; i < p.tag.length; i++) {
    out[i] = { ok: true, value: p.tag[i] === ACCEPTED ? TRUE : FALSE, gasUsed: p.gasUsed[i]! };
  }
  for (const f of p.failures) {
    out[f.index] = fromOutcome({
      gasUsed: BigInt(p.gasUsed[f.index]!),
      outcome: { tag: 'failed', value: { code: f.code, message: f.message } },
    });
  }
  return out;
}

export default function evaluatePredicates(packed: PackedJobs): PackedOutcomes {
  return packOutcomes(unpackJobs(packed).map((job) => evaluateJob(job, nodeMultievaluate)));
}

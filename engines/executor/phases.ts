/**
 * The four phases of seed 002, for one transaction, as a pure function of a read-only state view:
 *
 *   1. lookup       lookupCode(extradata) names the input notes' keys; they are read (read
 *                   constraints enforced, spent or missing notes reject). No writes.
 *   2. calculation  calculationCode(inputs, extradata) computes the output notes.
 *   3. validity     every application and owner predicate of every input and output note is
 *                   evaluated on (inputs, outputs, extradata); each must return true.
 *   4. commit       if and only if all accepted: the inputs are consumed and the outputs created
 *                   (write constraints enforced, no key written twice).
 *
 * The result is a receipt and, when accepted, a write set; applying write sets belongs to the
 * scheduler, so serial and sharded execution share this code exactly.
 */

import type { EvalResult } from '../../vm/types.ts';
import { toHex } from '../../wire/commit.ts';
import type { FunctionValue } from '../../wire/schema.ts';
import { type Infer, s, tryDecode } from '../../wire/schema.ts';
import { bytesEqual, type DataValue } from '../../wire/types.ts';
import { allowed, Note, noteKey, type Transaction } from './notes.ts';

/**
 * `decrypt`: the transaction was discarded before execution (its ciphertext did not decrypt, or
 * the plaintext was malformed); `decode`: its bytes were not an executor transaction.
 */
export type Phase = 'fee' | 'decrypt' | 'decode' | 'lookup' | 'calculation' | 'validity' | 'commit';

export interface Receipt {
  readonly accepted: boolean;
  /** Where it stopped (accepted receipts say 'commit'). */
  readonly phase: Phase;
  readonly reason: string;
  /** The predicate (hex commitment) and note (hex key) a rejection is about, if any. */
  readonly predicate?: string;
  readonly note?: string;
  readonly gasUsed: number;
}

export interface WriteSet {
  readonly consume: readonly Uint8Array[];
  readonly create: readonly { key: Uint8Array; note: Note }[];
}

/** What a transaction may see of state. */
export interface StateView {
  /** The note at `key`, if present and unspent. */
  note(key: Uint8Array): Note | undefined;
  /** Whether a note at `key` was ever consumed (the spent set: a consumed note never returns). */
  spent(key: Uint8Array): boolean;
  /** The predicate code a commitment binds to (from the code registry). */
  code(commitment: Uint8Array): FunctionValue | undefined;
}

export type Multievaluate = (fn: DataValue, args: readonly DataValue[], gasLimit: number) => EvalResult;

/**
 * What validity predicates are shown: every input and output note, the extradata, and the height
 * of the block executing the transaction (so a predicate can enforce deadlines, e.g. a swap
 * intent's expiry). The view is only ever a predicate argument: it is not stored, so the height
 * in it changes no state root.
 */
export const TxView = s.struct({
  inputs: s.list(Note),
  outputs: s.list(Note),
  extradata: s.bytes(),
  height: s.u64(),
});
export type TxView = Infer<typeof TxView>;
const KeyList = s.list(s.bytes({ max: 4096 }), { max: 1024 });
const NoteList = s.list(Note, { max: 1024 });

const fnValue = (f: FunctionValue): DataValue => ({
  kind: 'basic',
  value: { kind: 'function', vm: f.vm, code: f.code },
});
const bytesValue = (b: Uint8Array): DataValue => ({ kind: 'basic', value: { kind: 'binary', value: b } });

/** The binary payload of a result that should be bytes (lists are carried as BinaryT). */
function binaryOf(v: DataValue): Uint8Array | undefined {
  return v.kind === 'basic' && v.value.kind === 'binary' ? v.value.value : undefined;
}

/** A phase either hands its result to the next one or ends the transaction with a receipt. */
export type PhaseResult<T> = { ok: true; value: T; gasUsed: number } | { ok: false; receipt: Receipt };

function stop(
  phase: Phase,
  reason: string,
  gasUsed: number,
  extra: { predicate?: string; note?: string } = {},
) {
  return { ok: false as const, receipt: { accepted: false, phase, reason, gasUsed, ...extra } as Receipt };
}

/** Phase 1: the input notes (read constraints enforced; missing or spent notes reject). */
export function lookupPhase(
  tx: Transaction,
  state: StateView,
  mev: Multievaluate,
  gasLimit: number,
  gas = 0,
): PhaseResult<Note[]> {
  const keys = lookupKeys(tx, mev, gasLimit, gas);
  if (!keys.ok) return keys;
  return lookupInputs(tx, keys.value, state, keys.gasUsed);
}

/**
 * Phase 1, part one: the lookup code names the input keys (no state is read). A sharded
 * executor reads the keys `readsOf` selects from their shards before part two.
 */
export function lookupKeys(
  tx: Transaction,
  mev: Multievaluate,
  gasLimit: number,
  gas = 0,
): PhaseResult<Uint8Array[]> {
  const looked = mev(fnValue(tx.lookupCode), [bytesValue(tx.extradata)], Math.max(0, gasLimit - gas));
  gas += looked.gasUsed;
  if (!looked.ok)
    return stop('lookup', `lookup code failed: ${looked.error.code}: ${looked.error.message}`, gas);
  const keyBytes = binaryOf(looked.value);
  const keys = keyBytes === undefined ? undefined : tryDecode(KeyList, keyBytes);
  if (keys === undefined || !keys.ok) return stop('lookup', 'lookup code did not return a list of keys', gas);
  return { ok: true, value: keys.value, gasUsed: gas };
}

/** The keys part two may read: those the read constraints allow (no others are ever read). */
export function readsOf(tx: Transaction, keys: readonly Uint8Array[]): Uint8Array[] {
  return keys.filter((key) => allowed(tx.stateReadConstraints, key));
}

/**
 * Above this many keys or notes, a transaction's duplicates are found through a set of hex keys
 * rather than by scanning: most transactions have a handful, and scanning them costs less than
 * naming each in hex.
 */
const SCAN_DISTINCT = 8;

/** Whether `keys[i]` equals one of `keys[0..i)` (by scanning, or through `seen` for large sets). */
function repeats(keys: readonly Uint8Array[], i: number, seen: Set<string> | undefined): boolean {
  if (seen !== undefined) {
    const hex = toHex(keys[i]!);
    if (seen.has(hex)) return true;
    seen.add(hex);
    return false;
  }
  for (let j = 0; j < i; j++) if (bytesEqual(keys[j]!, keys[i]!)) return true;
  return false;
}

/** Phase 1, part two: the named notes, in order (read constraints enforced). */
export function lookupInputs(
  tx: Transaction,
  keys: readonly Uint8Array[],
  state: StateView,
  gas: number,
): PhaseResult<Note[]> {
  const inputs: Note[] = [];
  const seen = keys.length > SCAN_DISTINCT ? new Set<string>() : undefined;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    if (!allowed(tx.stateReadConstraints, key))
      return stop('lookup', 'read outside the read constraints', gas, { note: toHex(key) });
    if (repeats(keys, i, seen))
      return stop('lookup', 'the same input note is named twice', gas, { note: toHex(key) });
    const note = state.note(key);
    if (note === undefined)
      return stop('lookup', 'input note missing or already spent', gas, { note: toHex(key) });
    inputs.push(note);
  }
  return { ok: true, value: inputs, gasUsed: gas };
}

/** Phase 2: the output notes (no state is read or written). */
export function calculationPhase(
  tx: Transaction,
  inputs: readonly Note[],
  mev: Multievaluate,
  gasLimit: number,
  gas: number,
): PhaseResult<Note[]> {
  const calculated = mev(
    fnValue(tx.calculationCode),
    [NoteList.toValue(inputs as Note[]), bytesValue(tx.extradata)],
    Math.max(0, gasLimit - gas),
  );
  gas += calculated.gasUsed;
  if (!calculated.ok) {
    return stop(
      'calculation',
      `calculation code failed: ${calculated.error.code}: ${calculated.error.message}`,
      gas,
    );
  }
  const outBytes = binaryOf(calculated.value);
  const outs = outBytes === undefined ? undefined : tryDecode(NoteList, outBytes);
  if (outs === undefined || !outs.ok)
    return stop('calculation', 'calculation code did not return a list of notes', gas);
  return { ok: true, value: outs.value, gasUsed: gas };
}

/** One predicate evaluation of the validity phase. */
export interface PredicateJob {
  readonly fn: FunctionValue;
  /**
   * The transaction's view, one object shared by all its jobs; predicates get `viewValue(view)`.
   * Kept as notes (not as the value) so that a worker pool can ship it as its canonical bytes
   * and build the value on the worker's side.
   */
  readonly view: TxView;
  readonly gasLimit: number;
  /**
   * For receipts: the predicate's commitment and a note it guards (a worker's copy of a job,
   * whose result only is wanted, has neither). Hex is made only when a receipt names them.
   */
  readonly commitment?: Uint8Array;
  readonly note?: Note;
}

/** The value of each view object, made once (views are never mutated: memoised by identity). */
const viewValues = new WeakMap<TxView, DataValue>();

/** The view each value was made from (the way back, for predicates that read the view as notes). */
const viewsOfValues = new WeakMap<DataValue, TxView>();

/** What predicates are called with: the view as a value (one object per view object). */
export function viewValue(view: TxView): DataValue {
  let value = viewValues.get(view);
  if (value === undefined) {
    value = TxView.toValue(view);
    viewValues.set(view, value);
    viewsOfValues.set(value, view);
  }
  return value;
}

/**
 * A predicate argument read as a TxView: the view it was made from when `viewValue` made it (the
 * same notes `TxView.fromValue` would rebuild, without rebuilding them), else decoded from the
 * value; undefined if it is not a view.
 */
export function txViewOf(arg: DataValue): TxView | undefined {
  const known = viewsOfValues.get(arg);
  if (known !== undefined) return known;
  try {
    return TxView.fromValue(arg);
  } catch {
    return undefined;
  }
}

/**
 * Phase 3, part one: the distinct application and owner predicates of every note, in note order.
 * All of them run with the same limit (the gas left after calculation), so they are independent
 * and may run in any order or in parallel (seed 002: "all validity predicate checks can be
 * performed in parallel").
 */
export function validityJobs(
  tx: Transaction,
  inputs: readonly Note[],
  outputs: readonly Note[],
  state: StateView,
  gasLimit: number,
  gas: number,
  height: bigint,
): PhaseResult<PredicateJob[]> {
  // the arrays are only read from here on (TxView's type says mutable, nothing mutates it)
  const view: TxView = {
    inputs: inputs as Note[],
    outputs: outputs as Note[],
    extradata: tx.extradata,
    height,
  };
  const limit = Math.max(0, gasLimit - gas);
  const jobs: PredicateJob[] = [];
  const count = inputs.length + outputs.length;
  const seen = count > SCAN_DISTINCT ? new Set<string>() : undefined;
  for (let i = 0; i < 2 * count; i++) {
    // each note's application, then its owner; inputs first
    const n = i >> 1;
    const note = n < inputs.length ? inputs[n]! : outputs[n - inputs.length]!;
    const commitment = (i & 1) === 0 ? note.application : note.owner;
    if (!isFirst(jobs, commitment, seen)) continue;
    const fn = state.code(commitment);
    if (fn === undefined) {
      const where = { predicate: toHex(commitment), note: toHex(noteKey(note)) };
      return stop('validity', 'no code registered for this predicate', gas, where);
    }
    jobs.push({ fn, view, gasLimit: limit, commitment, note });
  }
  return { ok: true, value: jobs, gasUsed: gas };
}

/** Whether no job so far is of `commitment` (by scanning, or through `seen` for large transactions). */
function isFirst(
  jobs: readonly PredicateJob[],
  commitment: Uint8Array,
  seen: Set<string> | undefined,
): boolean {
  if (seen !== undefined) {
    const hex = toHex(commitment);
    if (seen.has(hex)) return false;
    seen.add(hex);
    return true;
  }
  for (const j of jobs) if (bytesEqual(j.commitment!, commitment)) return false;
  return true;
}

/** Evaluates one predicate job (in process, or inside a worker). */
export function evaluateJob(job: PredicateJob, mev: Multievaluate): EvalResult {
  return mev(fnValue(job.fn), [viewValue(job.view)], job.gasLimit);
}

/** What a receipt names of a rejecting job. */
function named(job: PredicateJob): { predicate: string; note: string } {
  return {
    predicate: job.commitment === undefined ? '' : toHex(job.commitment),
    note: job.note === undefined ? '' : toHex(noteKey(job.note)),
  };
}

/**
 * Phase 3, part two: the verdict from every job's result (`results[from + i]` is job i's). Gas is
 * the sum of all predicates' gas; the first rejection in job order is the one a receipt names.
 */
export function validityVerdict(
  jobs: readonly PredicateJob[],
  results: readonly EvalResult[],
  gasLimit: number,
  gas: number,
  from = 0,
): PhaseResult<null> {
  let total = gas;
  for (let i = 0; i < jobs.length; i++) total += results[from + i]!.gasUsed;
  for (let i = 0; i < jobs.length; i++) {
    const r = results[from + i]!;
    const job = jobs[i]!;
    if (!r.ok)
      return stop('validity', `predicate failed: ${r.error.code}: ${r.error.message}`, total, named(job));
    const v = r.value;
    if (!(v.kind === 'basic' && v.value.kind === 'boolean' && v.value.value)) {
      return stop('validity', 'predicate rejected the transaction', total, named(job));
    }
  }
  if (total > gasLimit)
    return stop('validity', `predicates used ${total} gas, over the limit ${gasLimit}`, total);
  return { ok: true, value: null, gasUsed: total };
}

/** Phase 3 in process. */
export function validityPhase(
  tx: Transaction,
  inputs: readonly Note[],
  outputs: readonly Note[],
  state: StateView,
  mev: Multievaluate,
  gasLimit: number,
  gas: number,
  height: bigint,
): PhaseResult<null> {
  const jobs = validityJobs(tx, inputs, outputs, state, gasLimit, gas, height);
  if (!jobs.ok) return jobs;
  return validityVerdict(
    jobs.value,
    jobs.value.map((j) => evaluateJob(j, mev)),
    gasLimit,
    gas,
  );
}

/** The keys the commit phase reads (to refuse existing or spent outputs): outputs the write constraints allow. */
export function commitReadsOf(tx: Transaction, outputs: readonly Note[]): Uint8Array[] {
  return outputs.map((n) => noteKey(n)).filter((key) => allowed(tx.stateWriteConstraints, key));
}

/** Phase 4: consume the inputs and create the outputs (write constraints enforced). */
export function commitPhase(
  tx: Transaction,
  inputs: readonly Note[],
  outputs: readonly Note[],
  state: StateView,
  gas: number,
): PhaseResult<WriteSet> {
  const consume = inputs.map((n) => noteKey(n));
  const create: { key: Uint8Array; note: Note }[] = [];
  const keys = outputs.map((n) => noteKey(n));
  const created = keys.length > SCAN_DISTINCT ? new Set<string>() : undefined;
  for (let i = 0; i < outputs.length; i++) {
    const key = keys[i]!;
    if (!allowed(tx.stateWriteConstraints, key))
      return stop('commit', 'write outside the write constraints', gas, { note: toHex(key) });
    if (repeats(keys, i, created) || state.note(key) !== undefined)
      return stop('commit', 'output note already exists', gas, { note: toHex(key) });
    if (state.spent(key))
      return stop('commit', 'output would re-create a spent note', gas, { note: toHex(key) });
    create.push({ key, note: outputs[i]! });
  }
  for (const key of consume) {
    if (!allowed(tx.stateWriteConstraints, key))
      return stop('commit', 'consumes outside the write constraints', gas, { note: toHex(key) });
  }
  return { ok: true, value: { consume, create }, gasUsed: gas };
}

export function acceptedReceipt(gasUsed: number): Receipt {
  return { accepted: true, phase: 'commit', reason: 'accepted', gasUsed };
}

/** All four phases of one transaction, in the block at `height`. */
export function executeTransaction(
  tx: Transaction,
  state: StateView,
  mev: Multievaluate,
  gasLimit: number,
  height: bigint,
): { receipt: Receipt; writes: WriteSet | undefined } {
  const looked = lookupPhase(tx, state, mev, gasLimit);
  if (!looked.ok) return { receipt: looked.receipt, writes: undefined };
  const calc = calculationPhase(tx, looked.value, mev, gasLimit, looked.gasUsed);
  if (!calc.ok) return { receipt: calc.receipt, writes: undefined };
  const valid = validityPhase(tx, looked.value, calc.value, state, mev, gasLimit, calc.gasUsed, height);
  if (!valid.ok) return { receipt: valid.receipt, writes: undefined };
  const committed = commitPhase(tx, looked.value, calc.value, state, valid.gasUsed);
  if (!committed.ok) return { receipt: committed.receipt, writes: undefined };
  return { receipt: acceptedReceipt(committed.gasUsed), writes: committed.value };
}

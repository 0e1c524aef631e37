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
import type { DataValue } from '../../wire/types.ts';
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

/** Phase 1, part two: the named notes, in order (read constraints enforced). */
export function lookupInputs(
  tx: Transaction,
  keys: readonly Uint8Array[],
  state: StateView,
  gas: number,
): PhaseResult<Note[]> {
  const inputs: Note[] = [];
  const seen = new Set<string>();
  for (const key of keys) {
    const hex = toHex(key);
    if (!allowed(tx.stateReadConstraints, key))
      return stop('lookup', 'read outside the read constraints', gas, { note: hex });
    if (seen.has(hex)) return stop('lookup', 'the same input note is named twice', gas, { note: hex });
    seen.add(hex);
    const note = state.note(key);
    if (note === undefined) return stop('lookup', 'input note missing or already spent', gas, { note: hex });
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
    [NoteList.toValue([...inputs]), bytesValue(tx.extradata)],
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
  /** hex commitment of the predicate, and the (hex) key of a note it guards (for receipts) */
  readonly predicate: string;
  readonly note: string;
  readonly fn: FunctionValue;
  /** the argument: TxView of (inputs, outputs, extradata, height) */
  readonly view: DataValue;
  readonly gasLimit: number;
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
  const view = TxView.toValue({
    inputs: [...inputs],
    outputs: [...outputs],
    extradata: tx.extradata,
    height,
  });
  const jobs: PredicateJob[] = [];
  const seen = new Set<string>();
  for (const note of [...inputs, ...outputs]) {
    for (const commitment of [note.application, note.owner]) {
      const predicate = toHex(commitment);
      if (seen.has(predicate)) continue;
      seen.add(predicate);
      const noteHex = toHex(noteKey(note));
      const fn = state.code(commitment);
      if (fn === undefined)
        return stop('validity', 'no code registered for this predicate', gas, { predicate, note: noteHex });
      jobs.push({ predicate, note: noteHex, fn, view, gasLimit: Math.max(0, gasLimit - gas) });
    }
  }
  return { ok: true, value: jobs, gasUsed: gas };
}

/** Evaluates one predicate job (in process, or inside a worker). */
export function evaluateJob(job: PredicateJob, mev: Multievaluate): EvalResult {
  return mev(fnValue(job.fn), [job.view], job.gasLimit);
}

/**
 * Phase 3, part two: the verdict from every job's result. Gas is the sum of all predicates'
 * gas; the first rejection in job order is the one a receipt names.
 */
export function validityVerdict(
  jobs: readonly PredicateJob[],
  results: readonly EvalResult[],
  gasLimit: number,
  gas: number,
): PhaseResult<null> {
  const total = gas + results.reduce((n, r) => n + r.gasUsed, 0);
  for (const [i, r] of results.entries()) {
    const job = jobs[i]!;
    const where = { predicate: job.predicate, note: job.note };
    if (!r.ok) return stop('validity', `predicate failed: ${r.error.code}: ${r.error.message}`, total, where);
    const v = r.value;
    if (!(v.kind === 'basic' && v.value.kind === 'boolean' && v.value.value)) {
      return stop('validity', 'predicate rejected the transaction', total, where);
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
  const created = new Set<string>();
  for (const note of outputs) {
    const key = noteKey(note);
    const hex = toHex(key);
    if (!allowed(tx.stateWriteConstraints, key))
      return stop('commit', 'write outside the write constraints', gas, { note: hex });
    if (created.has(hex) || state.note(key) !== undefined)
      return stop('commit', 'output note already exists', gas, { note: hex });
    if (state.spent(key)) return stop('commit', 'output would re-create a spent note', gas, { note: hex });
    created.add(hex);
    create.push({ key, note });
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

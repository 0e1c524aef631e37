/**
 * Native functions for declarative transactions: the client states its input note keys and its
 * output notes in `extradata`, lookup returns the former and calculation the latter (transparent
 * transfers need no more; the predicates then decide whether the transaction is acceptable).
 */
import { type NativeDefinition, nativeFunction } from '../../vm/native.ts';
import type { EvalResult } from '../../vm/types.ts';
import { commitTyped } from '../../wire/commit.ts';
import { encode, type FunctionValue, type Infer, s, tryDecode } from '../../wire/schema.ts';
import type { DataValue } from '../../wire/types.ts';
import { FunctionV, Note } from './notes.ts';

export const Declared = s.struct({
  inputs: s.list(s.bytes({ max: 4096 }), { max: 1024 }),
  outputs: s.list(Note, { max: 1024 }),
  /** Application data the predicates read (e.g. signatures). */
  payload: s.bytes({ max: 128 * 1024 }),
});
export type Declared = Infer<typeof Declared>;

const KeyList = s.list(s.bytes({ max: 4096 }), { max: 1024 });
const NoteList = s.list(Note, { max: 1024 });

/**
 * Declared transactions already decoded, by the bytes they were decoded from (null: not one).
 * Lookup and calculation are handed the same extradata array: it is decoded once. Keyed by
 * identity: a transaction's bytes are never changed once it exists.
 */
const decoded = new WeakMap<Uint8Array, Declared | null>();

function declared(args: readonly DataValue[], at: number): Declared | undefined {
  const v = args[at];
  if (v === undefined || v.kind !== 'basic' || v.value.kind !== 'binary') return undefined;
  const bytes = v.value.value;
  let d = decoded.get(bytes);
  if (d === undefined) {
    const r = tryDecode(Declared, bytes);
    d = r.ok ? r.value : null;
    decoded.set(bytes, d);
  }
  return d ?? undefined;
}

const binary = (b: Uint8Array): DataValue => ({ kind: 'basic', value: { kind: 'binary', value: b } });
const badArgs = (message: string): EvalResult => ({
  ok: false,
  error: { code: 'bad-args', message },
  gasUsed: 0,
});

export const DECLARED_INPUTS: NativeDefinition = {
  name: 'declared-inputs',
  version: '1',
  baseGas: 50,
  perByteGas: 1,
  run(args) {
    const d = declared(args, 0);
    if (d === undefined) return badArgs('extradata is not a Declared transaction');
    return { ok: true, value: binary(encode(KeyList, d.inputs)), gasUsed: 0 };
  },
};

export const DECLARED_OUTPUTS: NativeDefinition = {
  name: 'declared-outputs',
  version: '1',
  baseGas: 50,
  perByteGas: 1,
  run(args) {
    const d = declared(args, 1);
    if (d === undefined) return badArgs('extradata is not a Declared transaction');
    return { ok: true, value: binary(encode(NoteList, d.outputs)), gasUsed: 0 };
  },
};

/** The FunctionValue of a native (for transactions and the code registry). */
export function nativeFn(name: string, version: string, config?: Uint8Array): FunctionValue {
  const v = nativeFunction(name, version, config);
  if (v.kind !== 'basic' || v.value.kind !== 'function')
    throw new Error('nativeFunction returned a non-function');
  return { vm: v.value.vm, code: v.value.code };
}

/** The binding commitment notes carry for a predicate: sha256 of its multiencoded FunctionV. */
export function predicateCommitment(fn: FunctionValue): Uint8Array {
  return commitTyped(FunctionV, fn);
}

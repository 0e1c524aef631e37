/**
 * Seed 003 provable VMs, with the transparent proof system (multiformat 0x03).
 *
 * A transparent-proof function wraps a predicate of any VM: its code bytes are the VALUE encoding
 * (vm/abi.ts) of a FunctionV `f` with `f [public, private] -> BooleanV`. Evaluating it evaluates `f`
 * through multievaluate. A proof is the VALUE encoding of `TupleV [public, private, BooleanV true]`:
 * the public input, the private input and the claimed result. `verify` checks that the proof's public
 * input is the one given and re-evaluates `f [public, private]`, accepting iff it returns true within
 * the gas limit. Sound and complete in seed 003's sense, but NOT zero-knowledge: the proof carries
 * the private input in the clear (and verification costs as much as evaluation).
 */
import { VM_TRANSPARENT_PROOF } from '../wire/multiformat.ts';
import { type DataValue, V, valueEquals } from '../wire/types.ts';
import { decodeValue, encodeValue } from './abi.ts';
import { type MultievaluateOptions, multievaluateIn, type VmTable } from './dispatch.ts';
import type { EvalResult, VirtualMachine, VmError } from './types.ts';

/** A transparent-proof function: the wrapped predicate. */
export interface TransparentFunction {
  readonly predicate: DataValue;
}

export type ProveResult =
  | { ok: true; proof: Uint8Array; gasUsed: number }
  | { ok: false; error: VmError; gasUsed: number };

export interface ProvableVm<T, P> extends VirtualMachine<T> {
  /** prove_n: a proof that `fn [public, private] = true`, or why there is none. */
  prove(fn: T, publicInput: DataValue, privateInput: DataValue, gasLimit: number): ProveResult;
  /** verify_n */
  verify(fn: T, publicInput: DataValue, proof: P, gasLimit: number): boolean;
}

function isTrue(r: EvalResult): boolean {
  return r.ok && r.value.kind === 'basic' && r.value.value.kind === 'boolean' && r.value.value.value;
}

export interface TransparentProofOptions extends Omit<MultievaluateOptions, 'depth' | 'table'> {
  /**
   * The table `prove` and `verify` run the predicate in (evaluation uses the caller's), or how to
   * get it when it is needed: `defaultVmTable` for the default table, which holds this VM itself.
   */
  readonly table: VmTable | (() => VmTable);
}

export function transparentProofVm(
  options: TransparentProofOptions,
): ProvableVm<TransparentFunction, Uint8Array> {
  const tableOf = options.table;
  const run = (fn: TransparentFunction, pub: DataValue, priv: DataValue, gasLimit: number) =>
    multievaluateIn(
      typeof tableOf === 'function' ? tableOf() : tableOf,
      fn.predicate,
      [pub, priv],
      gasLimit,
      {
        ...(options.maxDepth === undefined ? {} : { maxDepth: options.maxDepth }),
      },
    );
  return {
    id: VM_TRANSPARENT_PROOF,
    name: 'transparent-proof',
    decode(code) {
      let predicate: DataValue;
      try {
        predicate = decodeValue(code);
      } catch (e) {
        return {
          ok: false,
          error: { code: 'bad-code', message: e instanceof Error ? e.message : String(e) },
        };
      }
      if (predicate.kind !== 'basic' || predicate.value.kind !== 'function')
        return {
          ok: false,
          error: { code: 'bad-code', message: 'a transparent-proof function wraps a FunctionV' },
        };
      return { ok: true, fn: { predicate } };
    },
    encode: (fn) => encodeValue(fn.predicate),
    evaluate: (fn, args, gasLimit, ctx) => ctx.multievaluate(fn.predicate, args, gasLimit),
    prove(fn, pub, priv, gasLimit) {
      const r = run(fn, pub, priv, gasLimit);
      if (!r.ok) return r;
      if (!isTrue(r))
        return {
          ok: false,
          error: { code: 'bad-args', message: 'the predicate does not hold' },
          gasUsed: r.gasUsed,
        };
      return { ok: true, proof: encodeValue(V.tuple([pub, priv, V.bool(true)])), gasUsed: r.gasUsed };
    },
    verify(fn, pub, proof, gasLimit) {
      let p: DataValue;
      try {
        p = decodeValue(proof);
      } catch {
        return false;
      }
      if (p.kind !== 'tuple' || p.items.length !== 3) return false;
      const [claimedPub, priv, claimed] = p.items as [DataValue, DataValue, DataValue];
      if (!valueEquals(claimedPub, pub) || !valueEquals(claimed, V.bool(true))) return false;
      return isTrue(run(fn, pub, priv, gasLimit));
    },
  };
}

/** The FunctionV 0x03 wrapping `predicate`. */
export function transparentFunction(predicate: DataValue): DataValue {
  return V.fn(VM_TRANSPARENT_PROOF, encodeValue(predicate));
}

/**
 * Seed 003's virtual machines: a VM decodes a `FunctionV vmId bytes` into its own representation
 * and evaluates it on `DataValue` arguments under a gas limit. `multievaluate` dispatches on the
 * VM id (the multiformat table in wire/multiformat.ts), passes itself into the evaluation context
 * so one VM can call another, and sums the gas of every nested call.
 */
import type { DataValue } from '../wire/types.ts';

export type VmErrorCode =
  | 'unknown-vm' // no VM registered under that id
  | 'bad-code' // the function bytes do not decode / validate for that VM (e.g. a WASM module using floats)
  | 'bad-args' // the arguments do not fit what the function expects
  | 'out-of-gas' // evaluation stopped at the gas limit
  | 'trap' // the function failed while running (unreachable, bounds, a thrown error)
  | 'too-deep' // nested multievaluate calls past the depth limit
  | 'not-a-function'; // multievaluate was handed a value that is not a FunctionV

export interface VmError {
  readonly code: VmErrorCode;
  readonly message: string;
}

/** The outcome of an evaluation; `gasUsed` counts even when it failed (gas is spent either way). */
export type EvalResult =
  | { readonly ok: true; readonly value: DataValue; readonly gasUsed: number }
  | { readonly ok: false; readonly error: VmError; readonly gasUsed: number };

/** What a running function may use besides its arguments. */
export interface VmContext {
  /** Evaluates another function (of any VM); its gas counts against the caller's limit. */
  multievaluate(fn: DataValue, args: readonly DataValue[], gasLimit: number): EvalResult;
  /** Nesting depth of this call (0 at the top). */
  readonly depth: number;
}

export interface VirtualMachine<T = unknown> {
  /** The multiformat code of this VM (wire/multiformat.ts VIRTUAL_MACHINES). */
  readonly id: bigint;
  readonly name: string;
  /** decode_n: a FunctionV's code bytes into the internal representation, or a typed error. */
  decode(code: Uint8Array): { ok: true; fn: T } | { ok: false; error: VmError };
  /** encode_n: the internal representation back to code bytes (decode(encode(f)) = f). */
  encode(fn: T): Uint8Array;
  /** evaluate_n: deterministic, metered; must stop at `gasLimit`. */
  evaluate(fn: T, args: readonly DataValue[], gasLimit: number, ctx: VmContext): EvalResult;
}

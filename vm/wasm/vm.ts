/**
 * The WebAssembly VM (multiformat 0x02). A `FunctionV 0x02 code` holds a WebAssembly binary; decoding
 * checks and meters it (vm/wasm/meter.ts) and compiles it, cached by the sha256 of the code.
 * Each evaluation instantiates the module afresh (no state survives between calls), hands the
 * arguments over through the host interface of vm/README.md and runs `evaluate`.
 */
import { sha256, toHex } from '../../wire/commit.ts';
import { VM_WASM } from '../../wire/multiformat.ts';
import type { DataValue } from '../../wire/types.ts';
import { V } from '../../wire/types.ts';
import { decodeArgs, decodeValue, encodeArgs, encodeValue } from '../abi.ts';
import type { EvalResult, VirtualMachine, VmContext, VmError, VmErrorCode } from '../types.ts';
import { WA, type WasmGlobal, type WasmImports, type WasmInstance, type WasmModule } from './api.ts';
import { BadCodeError, GAS_EXPORT, instrument, START_EXPORT } from './meter.ts';

/** A decoded WebAssembly function: its code, the code's hash and the compiled metered module. */
export interface WasmFunction {
  readonly code: Uint8Array;
  readonly hash: string;
  readonly module: WasmModule;
  readonly hasStart: boolean;
}

/** Gas of one host call, plus one unit per 8 bytes it copies. */
export const HOST_CALL_GAS = 1;
/** Codes `fractal.multievaluate` returns for a nested failure (out-of-gas aborts the caller instead). */
export const NESTED_ERROR_CODES: Readonly<Record<Exclude<VmErrorCode, 'out-of-gas'>, number>> = {
  'bad-args': -1,
  'unknown-vm': -2,
  'bad-code': -3,
  trap: -4,
  'too-deep': -5,
  'not-a-function': -6,
};

const CACHE_LIMIT = 256;
const cache = new Map<string, WasmFunction>();
const unmeteredCache = new Map<string, WasmModule>();

function remember<V>(map: Map<string, V>, key: string, value: V): void {
  if (map.size >= CACHE_LIMIT) {
    const oldest = map.keys().next().value;
    if (oldest !== undefined) map.delete(oldest);
  }
  map.set(key, value);
}

function err(code: VmErrorCode, message: string): VmError {
  return { code, message };
}

/** decode_0x02: check, meter and compile (cached by code hash). */
export function decodeWasm(code: Uint8Array): { ok: true; fn: WasmFunction } | { ok: false; error: VmError } {
  const hash = toHex(sha256(code));
  const hit = cache.get(hash);
  if (hit !== undefined) return { ok: true, fn: hit };
  try {
    const { bytes, hasStart } = instrument(code, true);
    const module = new WA.Module(bytes);
    const fn: WasmFunction = { code: code.slice(), hash, module, hasStart };
    remember(cache, hash, fn);
    return { ok: true, fn };
  } catch (e) {
    if (e instanceof BadCodeError) return { ok: false, error: err('bad-code', e.message) };
    if (e instanceof WA.CompileError) return { ok: false, error: err('bad-code', e.message) };
    throw e;
  }
}

class OutOfGas extends Error {}
class HostTrap extends Error {}

interface Run {
  instance: WasmInstance | undefined;
  gas: WasmGlobal | undefined;
  result: DataValue | undefined;
  nested: Uint8Array;
}

function memoryOf(run: Run): Uint8Array {
  const mem = run.instance?.exports.memory;
  if (!(mem instanceof WA.Memory)) throw new HostTrap('no memory');
  return new Uint8Array(mem.buffer);
}

function range(mem: Uint8Array, ptr: number, len: number): void {
  if (ptr < 0 || len < 0 || ptr + len > mem.length)
    throw new HostTrap(`host access [${ptr}, +${len}) out of bounds`);
}

function charge(run: Run, amount: number): void {
  const g = run.gas;
  if (g === undefined) return;
  const left = (g.value as bigint) - BigInt(amount);
  g.value = left < 0n ? -1n : left;
  if (left < 0n) throw new OutOfGas();
}

function imports(run: Run, input: Uint8Array, ctx: VmContext | undefined): WasmImports {
  return {
    fractal: {
      input_len: (): number => {
        charge(run, HOST_CALL_GAS);
        return input.length;
      },
      input_read: (ptr: number, len: number): number => {
        const n = Math.min(Math.max(len, 0), input.length);
        charge(run, HOST_CALL_GAS + Math.ceil(n / 8));
        const mem = memoryOf(run);
        range(mem, ptr, n);
        mem.set(input.subarray(0, n), ptr);
        return n;
      },
      result_write: (ptr: number, len: number): void => {
        charge(run, HOST_CALL_GAS + Math.ceil(Math.max(len, 0) / 8));
        const mem = memoryOf(run);
        range(mem, ptr, len);
        try {
          run.result = decodeValue(mem.slice(ptr, ptr + len));
        } catch (e) {
          throw new HostTrap(`result_write: not a VALUE encoding (${e instanceof Error ? e.message : e})`);
        }
      },
      multievaluate: (ptr: number, len: number): number => {
        charge(run, HOST_CALL_GAS + Math.ceil(Math.max(len, 0) / 8));
        if (ctx === undefined) return NESTED_ERROR_CODES['bad-args'];
        const mem = memoryOf(run);
        range(mem, ptr, len);
        let request: DataValue[];
        try {
          request = decodeArgs(mem.slice(ptr, ptr + len));
        } catch {
          return NESTED_ERROR_CODES['bad-args'];
        }
        const [fn, ...args] = request;
        if (fn === undefined) return NESTED_ERROR_CODES['bad-args'];
        const left = Number(run.gas?.value ?? 0n);
        const r = ctx.multievaluate(fn, args, left);
        charge(run, r.gasUsed);
        if (!r.ok) {
          if (r.error.code === 'out-of-gas') throw new OutOfGas();
          return NESTED_ERROR_CODES[r.error.code];
        }
        run.nested = encodeValue(r.value);
        return run.nested.length;
      },
      result_read: (ptr: number, len: number): number => {
        const n = Math.min(Math.max(len, 0), run.nested.length);
        charge(run, HOST_CALL_GAS + Math.ceil(n / 8));
        const mem = memoryOf(run);
        range(mem, ptr, n);
        mem.set(run.nested.subarray(0, n), ptr);
        return n;
      },
    },
  };
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Runs a compiled module once. With `gasLimit` undefined the module is the unmetered variant (for
 * comparisons only) and gasUsed is 0.
 */
function run(
  module: WasmModule,
  hasStart: boolean,
  args: readonly DataValue[],
  gasLimit: number | undefined,
  ctx: VmContext | undefined,
): EvalResult {
  const state: Run = { instance: undefined, gas: undefined, result: undefined, nested: new Uint8Array(0) };
  const limit = gasLimit ?? 0;
  const used = (): number => {
    if (state.gas === undefined) return gasLimit === undefined ? 0 : limit;
    const left = state.gas.value as bigint;
    return left < 0n ? limit : limit - Number(left);
  };
  const input = encodeArgs(args);
  let returned: number;
  try {
    const instance = new WA.Instance(module, imports(state, input, ctx));
    state.instance = instance;
    if (gasLimit !== undefined) {
      const g = instance.exports[GAS_EXPORT];
      if (!(g instanceof WA.Global)) throw new HostTrap('metered module without a gas global');
      g.value = BigInt(gasLimit);
      state.gas = g;
    }
    if (hasStart) (instance.exports[START_EXPORT] as () => void)();
    returned = (instance.exports.evaluate as () => number)();
  } catch (e) {
    const left = state.gas?.value as bigint | undefined;
    if (e instanceof OutOfGas || (left !== undefined && left < 0n))
      return { ok: false, error: err('out-of-gas', `gas limit ${limit} exceeded`), gasUsed: limit };
    if (e instanceof WA.RuntimeError || e instanceof HostTrap || e instanceof RangeError)
      return { ok: false, error: err('trap', message(e)), gasUsed: used() };
    if (e instanceof WA.LinkError) return { ok: false, error: err('bad-code', message(e)), gasUsed: used() };
    return { ok: false, error: err('trap', message(e)), gasUsed: used() };
  }
  if (state.result !== undefined) return { ok: true, value: state.result, gasUsed: used() };
  if (returned === 0 || returned === 1) return { ok: true, value: V.bool(returned === 1), gasUsed: used() };
  return {
    ok: false,
    error: err('trap', `evaluate returned ${returned} (not 0/1 and no result_write)`),
    gasUsed: used(),
  };
}

/** evaluate_0x02 with metering: 1 gas per instruction, stops at `gasLimit`. */
export function evaluateWasm(
  fn: WasmFunction,
  args: readonly DataValue[],
  gasLimit: number,
  ctx: VmContext,
): EvalResult {
  return run(fn.module, fn.hasStart, args, gasLimit, ctx);
}

/**
 * The same module compiled without metering (same checks and host interface; `multievaluate` is
 * unavailable and gasUsed is 0). Not a VM entry point: for benchmarks and the metering-transparency
 * tests only, since it does not stop.
 */
export function evaluateUnmetered(code: Uint8Array, args: readonly DataValue[]): EvalResult {
  const hash = toHex(sha256(code));
  let module = unmeteredCache.get(hash);
  let hasStart = false;
  try {
    const inst = instrument(code, false);
    hasStart = inst.hasStart;
    if (module === undefined) {
      module = new WA.Module(inst.bytes);
      remember(unmeteredCache, hash, module);
    }
  } catch (e) {
    if (e instanceof BadCodeError || e instanceof WA.CompileError)
      return { ok: false, error: err('bad-code', message(e)), gasUsed: 0 };
    throw e;
  }
  return run(module, hasStart, args, undefined, undefined);
}

/** A prepared unmetered runner (skips re-checking the code on every call), for benchmarks. */
export function prepareUnmetered(code: Uint8Array): (args: readonly DataValue[]) => EvalResult {
  const inst = instrument(code, false);
  const module = new WA.Module(inst.bytes);
  return (args) => run(module, inst.hasStart, args, undefined, undefined);
}

export const wasmVm: VirtualMachine<WasmFunction> = {
  id: VM_WASM,
  name: 'wasm',
  decode: decodeWasm,
  encode: (fn) => fn.code.slice(),
  evaluate: evaluateWasm,
};

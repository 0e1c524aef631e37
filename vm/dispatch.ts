/**
 * The core of seed 003 multievaluate, over the table it is given: imports no VM, so VMs can use it
 * (vm/multievaluate.ts is the same with the table defaulted to vm/table.ts's). It dispatches
 * `FunctionV vmId code` to its VM, decodes the code, evaluates it under the gas limit and hands the VM a context whose `multievaluate` is this same function one level
 * deeper, so a VM can call a function of any other VM ("Recursive multievaluation").
 *
 * Gas: the reported gasUsed of a call includes the gas of every nested call (a VM charges nested gas
 * to itself; multievaluate also takes the maximum of what the VM reports and what its nested calls
 * used, so nested gas is never lost). A nested call's limit is clamped to what the caller's limit
 * leaves after the nested calls so far. Depth: the top call is depth 0; a call at depth > maxDepth
 * fails with 'too-deep' without running. Failures before running (not a function, unknown VM, bad
 * code, too deep) cost no gas.
 */
import type { DataValue } from '../wire/types.ts';
import type { EvalResult, VirtualMachine, VmContext, VmError } from './types.ts';

export const DEFAULT_MAX_DEPTH = 16;

/** VMs by multiformat id. */
export type VmTable = ReadonlyMap<bigint, VirtualMachine>;

export interface MultievaluateOptions {
  /** defaults to `defaultVmTable()` (native, wasm, transparent-proof; vm/table.ts) */
  readonly table?: VmTable;
  /** defaults to DEFAULT_MAX_DEPTH */
  readonly maxDepth?: number;
  /** depth of this call (0 at the top) */
  readonly depth?: number;
}

function fail(code: VmError['code'], message: string, gasUsed = 0): EvalResult {
  return { ok: false, error: { code, message }, gasUsed };
}

/** multievaluate over a given table (vm/multievaluate.ts's `multievaluate` defaults the table). */
export function multievaluateIn(
  table: VmTable,
  fn: DataValue,
  args: readonly DataValue[],
  gasLimit: number,
  options: Omit<MultievaluateOptions, 'table'> = {},
): EvalResult {
  return evalAt(table, options.maxDepth ?? DEFAULT_MAX_DEPTH, fn, args, gasLimit, options.depth ?? 0);
}

function evalAt(
  table: VmTable,
  maxDepth: number,
  fn: DataValue,
  args: readonly DataValue[],
  gasLimit: number,
  depth: number,
): EvalResult {
  if (!Number.isSafeInteger(gasLimit) || gasLimit < 0)
    return fail('bad-args', `gas limit must be a non-negative safe integer, got ${gasLimit}`);
  if (depth > maxDepth) return fail('too-deep', `nesting depth ${depth} exceeds ${maxDepth}`);
  if (fn.kind !== 'basic' || fn.value.kind !== 'function')
    return fail('not-a-function', `got a ${fn.kind} value`);
  const vm = table.get(fn.value.vm);
  if (vm === undefined) return fail('unknown-vm', `no VM with id ${fn.value.vm}`);
  const decoded = vm.decode(fn.value.code);
  if (!decoded.ok) return { ok: false, error: decoded.error, gasUsed: 0 };
  let nestedUsed = 0;
  const ctx: VmContext = {
    depth,
    multievaluate(f, a, g) {
      const limit = Math.max(0, Math.min(Math.floor(g), gasLimit - nestedUsed));
      const r = evalAt(table, maxDepth, f, a, limit, depth + 1);
      nestedUsed += r.gasUsed;
      return r;
    },
  };
  let r: EvalResult;
  try {
    r = vm.evaluate(decoded.fn, args, gasLimit, ctx);
  } catch (e) {
    return fail('trap', e instanceof Error ? e.message : String(e), Math.min(gasLimit, nestedUsed));
  }
  const gasUsed = Math.max(r.gasUsed, nestedUsed);
  if (gasUsed > gasLimit) return fail('out-of-gas', `gas limit ${gasLimit} exceeded`, gasLimit);
  return gasUsed === r.gasUsed ? r : { ...r, gasUsed };
}

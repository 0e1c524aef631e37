/**
 * Seed 003 multievaluate (vm/dispatch.ts) with the table defaulted to `defaultVmTable()` (native,
 * wasm, transparent-proof): dispatches `FunctionV vmId code` to its VM, with gas and nesting depth
 * as vm/dispatch.ts describes.
 */
import type { DataValue } from '../wire/types.ts';
import { type MultievaluateOptions, multievaluateIn } from './dispatch.ts';
import { defaultVmTable } from './table.ts';
import type { EvalResult } from './types.ts';

export { DEFAULT_MAX_DEPTH, type MultievaluateOptions, multievaluateIn, type VmTable } from './dispatch.ts';

export function multievaluate(
  fn: DataValue,
  args: readonly DataValue[],
  gasLimit: number,
  options: MultievaluateOptions = {},
): EvalResult {
  return multievaluateIn(options.table ?? defaultVmTable(), fn, args, gasLimit, options);
}

/**
 * The node's virtual machines: native (built-ins, the executor's declared-transaction functions,
 * the applications' predicates), WebAssembly and transparent-proof. The table is code: every node
 * and every predicate worker builds the same one.
 */
import { ics20Natives } from '../apps/ibc/natives.ts';
import { swapNatives } from '../apps/swap/predicate.ts';
import { tokenNatives } from '../apps/token/predicates.ts';
import { DECLARED_INPUTS, DECLARED_OUTPUTS } from '../engines/executor/natives.ts';
import type { Multievaluate } from '../engines/executor/phases.ts';
import { multievaluate, type VmTable } from '../vm/multievaluate.ts';
import { builtinNatives, nativeVm } from '../vm/native.ts';
import { transparentProofVm } from '../vm/provable.ts';
import { createVmTable, defaultVmTable } from '../vm/table.ts';
import type { VirtualMachine } from '../vm/types.ts';
import { wasmVm } from '../vm/wasm/vm.ts';

let table: VmTable | undefined;

export function nodeVmTable(): VmTable {
  table ??= createVmTable([
    nativeVm(
      ics20Natives(
        swapNatives(tokenNatives(builtinNatives().register(DECLARED_INPUTS).register(DECLARED_OUTPUTS))),
      ),
    ) as VirtualMachine<never>,
    wasmVm as VirtualMachine<never>,
    // proofs (never made by a node) run in the default table, as they always have
    transparentProofVm({ table: defaultVmTable }) as VirtualMachine<never>,
  ]);
  return table;
}

export const nodeMultievaluate: Multievaluate = (fn, args, gas) =>
  multievaluate(fn, args, gas, { table: nodeVmTable() });

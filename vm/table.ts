/** The default VM table: native (0x01), wasm (0x02), transparent-proof (0x03). */

import type { VmTable } from './dispatch.ts';
import { nativeVm } from './native.ts';
import { transparentProofVm } from './provable.ts';
import type { VirtualMachine } from './types.ts';
import { wasmVm } from './wasm/vm.ts';

/** A table of the given VMs by id (throws on a repeated id). */
export function createVmTable(vms: readonly VirtualMachine<never>[]): VmTable {
  const m = new Map<bigint, VirtualMachine>();
  for (const vm of vms) {
    if (m.has(vm.id)) throw new Error(`two VMs with id ${vm.id}`);
    m.set(vm.id, vm as unknown as VirtualMachine);
  }
  return m;
}

let table: VmTable | undefined;

export function defaultVmTable(): VmTable {
  table ??= createVmTable([
    nativeVm() as VirtualMachine<never>,
    wasmVm as VirtualMachine<never>,
    // its proofs run in this same table
    transparentProofVm({ table: defaultVmTable }) as VirtualMachine<never>,
  ]);
  return table;
}

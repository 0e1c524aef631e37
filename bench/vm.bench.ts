/**
 * Gas-metered WebAssembly evaluations per second: the AssemblyScript validity predicate
 * apps/token/vp/amount-cap (16 amounts per call) through the wasm VM (fresh instance per call,
 * argument encoding, host calls, gas metering), against the same module instantiated and run the same
 * way without the metering instrumentation, in the same run. ratio = metered / unmetered.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { multievaluate } from '../vm/multievaluate.ts';
import type { VmContext } from '../vm/types.ts';
import { decodeWasm, evaluateWasm, prepareUnmetered } from '../vm/wasm/vm.ts';
import { V } from '../wire/types.ts';
import { measure, report } from './report.ts';

export default async function main(): Promise<void> {
  const here = dirname(fileURLToPath(import.meta.url));
  const code = new Uint8Array(readFileSync(join(here, '../apps/token/vp/build/amount-cap.wasm')));
  const args = Array.from({ length: 16 }, (_, i) => V.ring(1000 + i * 7919));
  const decoded = decodeWasm(code);
  if (!decoded.ok) throw new Error(decoded.error.message);
  const fn = decoded.fn;
  const ctx: VmContext = { depth: 0, multievaluate: (f, a, g) => multievaluate(f, a, g, { depth: 1 }) };
  const unmetered = prepareUnmetered(code);
  const check = evaluateWasm(fn, args, 1_000_000, ctx);
  const plain = unmetered(args);
  if (!check.ok || !plain.ok || JSON.stringify(check.value) !== JSON.stringify(plain.value))
    throw new Error('metered and unmetered results differ');
  const batch = 50;
  const metered = measure(() => {
    for (let i = 0; i < batch; i++) evaluateWasm(fn, args, 1_000_000, ctx);
    return batch;
  });
  const base = measure(() => {
    for (let i = 0; i < batch; i++) unmetered(args);
    return batch;
  });
  console.error(`vm.wasm: ${check.gasUsed} gas per evaluation; unmetered ${base.toFixed(0)} evals/s`);
  report({
    name: 'vm.wasm',
    value: metered,
    unit: 'evals/s',
    ratio: metered / base,
    vs: 'same-module-unmetered',
  });
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) await main();

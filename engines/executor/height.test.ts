/**
 * The executing block's height reaches predicates (phases.ts TxView) on every execution path:
 * the function paths (serial, sharded, wave-parallel, ordered serial) and the engines (serial,
 * sharded with predicates inline, through a runner), judged by a predicate that accepts only up to
 * a height of its config.
 */
import { describe, expect, it } from 'vitest';
import { EngineGraph } from '../../runtime/graph.ts';
import { SimScheduler } from '../../runtime/scheduler.ts';
import { MemoryStorage } from '../../storage/memory.ts';
import { multievaluate } from '../../vm/multievaluate.ts';
import { builtinNatives, type NativeDefinition, nativeVm } from '../../vm/native.ts';
import { createVmTable } from '../../vm/table.ts';
import type { VirtualMachine } from '../../vm/types.ts';
import { decode } from '../../wire/schema.ts';
import { V } from '../../wire/types.ts';
import { executeOrderedSerial, executeSerial, executeSharded } from './block.ts';
import { executorEngine } from './engine.ts';
import { DECLARED_INPUTS, DECLARED_OUTPUTS, nativeFn } from './natives.ts';
import { type Note, Transaction } from './notes.ts';
import { executeParallel, inProcessRunner } from './parallel.ts';
import { type Multievaluate, type Receipt, TxView } from './phases.ts';
import type { BlockReceipts } from './ports.ts';
import { addShardedExecutor } from './sharded.ts';
import { NoteStore } from './state.ts';
import { acceptedNote, declaredTx, orderedBlock } from './testing.ts';

/** Accepts iff the view's height is at most its config (a big-endian u64). */
const AT_MOST: NativeDefinition = {
  name: 'test-height-at-most',
  version: '1',
  baseGas: 10,
  perByteGas: 0,
  takesConfig: true,
  run: (args, config) => {
    const view = TxView.fromValue(args[0]!);
    const limit = new DataView(config.buffer, config.byteOffset, config.byteLength).getBigUint64(0);
    return { ok: true, value: V.bool(view.height <= limit), gasUsed: 0 };
  },
};
const registry = builtinNatives().register(DECLARED_INPUTS).register(DECLARED_OUTPUTS).register(AT_MOST);
const table = createVmTable([nativeVm(registry) as VirtualMachine<never>]);
const mev: Multievaluate = (fn, args, gas) => multievaluate(fn, args, gas, { table });
const GAS = 1_000_000;

const u64be = (n: bigint): Uint8Array => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, n);
  return b;
};

/** A store with the at-most predicate of `limit` registered, and a transaction creating a note of it. */
function fixture(storage = new MemoryStorage(), limit = 5n) {
  const store = new NoteStore(storage);
  const app = store.registerCode(nativeFn(AT_MOST.name, AT_MOST.version, u64be(limit)));
  const out: Note = acceptedNote(app, 1);
  const bytes = declaredTx([], [out]);
  return { store, app, tx: decode(Transaction, bytes), bytes };
}

const verdict = (r: Receipt) => (r.accepted ? 'accepted' : `${r.phase}: ${r.reason}`);

describe('predicates see the executing block height', () => {
  it('on the function paths: accepted up to the limit, rejected after it, alike on every path', async () => {
    for (const [height, expected] of [
      [4n, 'accepted'],
      [5n, 'accepted'],
      [6n, 'validity: predicate rejected the transaction'],
    ] as const) {
      const { store, tx, bytes } = fixture();
      const serial = executeSerial([tx], store, mev, GAS, height);
      expect(verdict(serial.receipts[0]!)).toBe(expected);
      expect(executeSharded([tx], store, mev, GAS, 3, 1, height).receipts).toEqual(serial.receipts);
      const parallel = await executeParallel([tx], store, mev, GAS, inProcessRunner(mev), height);
      expect(parallel.receipts).toEqual(serial.receipts);
      const ordered = executeOrderedSerial(orderedBlock(height, [bytes]), store, mev, GAS);
      expect(ordered.receipts).toEqual(serial.receipts);
    }
  });

  it('a bare list of transactions runs at height 0', () => {
    const { store, tx } = fixture(undefined, 0n);
    expect(executeSerial([tx], store, mev, GAS).receipts[0]!.accepted).toBe(true);
    expect(executeSerial([tx], store, mev, GAS, 1n).receipts[0]!.accepted).toBe(false);
  });

  const kinds: [string, 'serial' | { shards: number; runner: boolean }][] = [
    ['serial engine', 'serial'],
    ['sharded executor, predicates inline', { shards: 2, runner: false }],
    ['sharded executor, predicates through a runner', { shards: 3, runner: true }],
  ];
  it.each(kinds)('on the %s: the block height, as executeOrderedSerial sees it', async (_label, kind) => {
    // block 1 at limit 1 (its last height) is accepted; block 2 of a limit-1 note is not
    const storage = new MemoryStorage();
    const one = fixture(storage, 1n);
    const scheduler = new SimScheduler(1);
    const g = new EngineGraph({ node: 'n', scheduler, storage });
    const ex =
      kind === 'serial'
        ? g.add('executor', executorEngine(mev), { gasLimit: GAS })
        : addShardedExecutor(g, 'executor', {
            shards: kind.shards,
            mev,
            gasLimit: GAS,
            ...(kind.runner ? { runner: inProcessRunner(mev) } : {}),
          });
    const receipts: BlockReceipts[] = [];
    g.observe(ex.out.receipts).subscribe((r) => receipts.push(r));
    g.start();
    // the second block's transaction creates another note of the same limit-1 application
    const late = declaredTx([], [acceptedNote(one.app, 2)]);
    const blocks = [orderedBlock(1n, [one.bytes]), orderedBlock(2n, [late])];
    for (const b of blocks) g.send(ex.in.ordered, b);
    for (;;) {
      scheduler.run({ maxTime: scheduler.now() });
      await new Promise((r) => setImmediate(r));
      const next = scheduler.nextTime();
      if (next === undefined) break;
      if (next > scheduler.now()) scheduler.step();
    }
    g.stop();
    expect(receipts.map((r) => r.receipts.map((x) => x.accepted))).toEqual([[true], [false]]);
    expect(receipts[1]!.receipts[0]!.phase).toBe('validity');
  });
});

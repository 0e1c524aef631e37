/**
 * Shards as engines: ordered blocks with many conflicts (a small universe of owners and keys,
 * exact, owner-wide and too-narrow constraints, rejecting predicates, discarded and undecodable
 * entries), several in a row, run through the sharded executor's engine graph (a coordinator and
 * 1, 2, 4 or 8 shard engines) under the SimScheduler, whose seed decides the interleaving of
 * every message. After every block the receipts and the state root equal serial execution's
 * (`executeOrderedSerial` + `Ledger.seal`), and at the end the whole storage (notes, spent set,
 * receipts, Merkle nodes) is byte-identical. Then the same with a shard crashing mid-block: a
 * storage read fails inside the shard's step, the runtime restarts it from its last snapshot,
 * the coordinator re-sends what the crash lost, and the result is still the serial one.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { executeOrderedSerial } from '../engines/executor/block.ts';
import { Ledger } from '../engines/executor/ledger.ts';
import {
  DECLARED_INPUTS,
  DECLARED_OUTPUTS,
  Declared,
  nativeFn,
  predicateCommitment,
} from '../engines/executor/natives.ts';
import { Note, noteKey, ownerPrefix, Transaction } from '../engines/executor/notes.ts';
import type { Multievaluate } from '../engines/executor/phases.ts';
import type { BlockReceipts } from '../engines/executor/ports.ts';
import { addShardedExecutor } from '../engines/executor/sharded.ts';
import { shardOf } from '../engines/executor/shards.ts';
import { NoteStore } from '../engines/executor/state.ts';
import { EngineGraph } from '../runtime/graph.ts';
import { Inspector } from '../runtime/inspect.ts';
import { SimScheduler } from '../runtime/scheduler.ts';
import { MemoryStorage } from '../storage/memory.ts';
import { computeRoot } from '../storage/merkle.ts';
import type { BatchOp, Key, ScanOptions, Storage, Value } from '../storage/types.ts';
import { multievaluate } from '../vm/multievaluate.ts';
import {
  ALWAYS_ACCEPT,
  ALWAYS_REJECT,
  builtinNatives,
  type NativeDefinition,
  nativeVm,
} from '../vm/native.ts';
import { createVmTable } from '../vm/table.ts';
import type { VirtualMachine } from '../vm/types.ts';
import { toHex } from '../wire/commit.ts';
import type { OrderedBlock } from '../wire/ledger.ts';
import { encode } from '../wire/schema.ts';
import { propParams } from './config.ts';

/** Accepts always; its config (an owner id) only makes the code, and so the commitment, distinct. */
const ACCEPT_AS: NativeDefinition = {
  name: 'test-accept-as',
  version: '1',
  baseGas: 10,
  perByteGas: 0,
  takesConfig: true,
  run: () => ({ ok: true, value: { kind: 'basic', value: { kind: 'boolean', value: true } }, gasUsed: 0 }),
};
const table = createVmTable([
  nativeVm(
    builtinNatives().register(DECLARED_INPUTS).register(DECLARED_OUTPUTS).register(ACCEPT_AS),
  ) as VirtualMachine<never>,
]);
const mev: Multievaluate = (fn, args, gas) => multievaluate(fn, args, gas, { table });
const ACCEPT = nativeFn(ALWAYS_ACCEPT.name, ALWAYS_ACCEPT.version);
const REJECT = nativeFn(ALWAYS_REJECT.name, ALWAYS_REJECT.version);
const A = predicateCommitment(ACCEPT);
const R = predicateCommitment(REJECT);
const LOOKUP = nativeFn(DECLARED_INPUTS.name, DECLARED_INPUTS.version);
const CALC = nativeFn(DECLARED_OUTPUTS.name, DECLARED_OUTPUTS.version);
const GAS = 1_000_000;
const OWNERS = [0, 1, 2, 3, 4, 5].map((i) => nativeFn(ACCEPT_AS.name, ACCEPT_AS.version, Uint8Array.of(i)));
const SHARD_COUNTS = [1, 2, 4, 8];

const note = (owner: number, key: number, value: number, app: Uint8Array): Note => ({
  provenance: [],
  application: app,
  owner: predicateCommitment(OWNERS[owner]!),
  key: Uint8Array.of(key),
  value: Uint8Array.of(value),
});

function genesis(storage: Storage, initial: readonly Note[]): void {
  const store = new NoteStore(storage);
  store.registerCode(ACCEPT);
  store.registerCode(REJECT);
  for (const o of OWNERS) store.registerCode(o);
  // genesis notes are sealed like a block (height 0), so the tree covers them too
  new Ledger(storage).seal(
    0n,
    [],
    [{ consume: [], create: initial.map((n) => ({ key: noteKey(n), note: n })) }],
  );
}

// --- generated blocks ---------------------------------------------------------------------------

const noteArb = fc
  .record({
    owner: fc.integer({ min: 0, max: OWNERS.length - 1 }),
    key: fc.integer({ min: 0, max: 4 }),
    value: fc.integer({ min: 0, max: 9 }),
    reject: fc.boolean(),
  })
  .map((x) => note(x.owner, x.key, x.value, x.reject && x.value === 0 ? R : A));

type Entry =
  | { kind: 'tx'; inputs: Note[]; outputs: Note[]; mode: 'exact' | 'owner' | 'too-narrow' }
  | { kind: 'discarded'; reason: string }
  | { kind: 'garbage'; bytes: Uint8Array };

const entryArb: fc.Arbitrary<Entry> = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.record({
      kind: fc.constant('tx' as const),
      inputs: fc.array(noteArb, { maxLength: 3 }),
      outputs: fc.array(noteArb, { maxLength: 3 }),
      mode: fc.constantFrom('exact' as const, 'owner' as const, 'too-narrow' as const),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('discarded' as const),
      reason: fc.constantFrom('no plaintext', 'bad share'),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('garbage' as const), bytes: fc.uint8Array({ maxLength: 6 }) }),
  },
);

function txBytes(e: Extract<Entry, { kind: 'tx' }>): Uint8Array {
  const keys = [...e.inputs, ...e.outputs];
  const owners = keys.map((n) => ownerPrefix(n.provenance, n.application, n.owner));
  const constraints =
    e.mode === 'exact'
      ? { read: e.inputs.map(noteKey), write: keys.map(noteKey) }
      : e.mode === 'owner'
        ? { read: owners, write: owners }
        : { read: e.inputs.slice(1).map(noteKey), write: e.outputs.slice(1).map(noteKey) };
  return encode(Transaction, {
    stateReadConstraints: constraints.read,
    stateWriteConstraints: constraints.write,
    lookupCode: LOOKUP,
    calculationCode: CALC,
    extradata: encode(Declared, {
      inputs: e.inputs.map(noteKey),
      outputs: e.outputs,
      payload: new Uint8Array(0),
    }),
  });
}

function orderedBlock(height: bigint, entries: readonly Entry[]): OrderedBlock {
  return {
    height,
    blockHash: new Uint8Array(32).fill(Number(height)),
    proposer: new Uint8Array(32),
    charges: [],
    txs: entries.map((e, i) => ({
      envelope: new Uint8Array(32).fill(i),
      includedAt: height,
      encrypted: e.kind === 'discarded',
      tx:
        e.kind === 'discarded'
          ? { tag: 'discarded' as const, value: e.reason }
          : { tag: 'ok' as const, value: e.kind === 'tx' ? txBytes(e) : e.bytes },
    })),
  };
}

const scenarioArb = fc.record({
  initial: fc.array(noteArb, { maxLength: 14 }),
  blocks: fc.array(fc.array(entryArb, { minLength: 1, maxLength: 14 }), { minLength: 2, maxLength: 3 }),
  seed: fc.integer(),
});

// --- reference and engine runs ------------------------------------------------------------------

interface Run {
  receipts: BlockReceipts[];
  roots: string[];
  storage: string[];
}

const dump = (s: Storage): string[] =>
  [...s.scan(new Uint8Array(0))].map(([k, v]) => `${toHex(k)}=${toHex(v)}`);

function uniqueNotes(initial: readonly Note[]): Note[] {
  return [...new Map(initial.map((n) => [toHex(noteKey(n)), n])).values()];
}

function serial(initial: readonly Note[], blocks: readonly OrderedBlock[]): Run {
  const storage = new MemoryStorage();
  genesis(storage, uniqueNotes(initial));
  const ledger = new Ledger(storage);
  const receipts = blocks.map((b) => {
    const r = executeOrderedSerial(b, ledger.notes, mev, GAS);
    return ledger.seal(b.height, r.receipts, r.writes, r.fees);
  });
  // the root is over all state: every unspent note, whatever the shard count
  const notes = [...ledger.notes.notes()].map(([key, n]) => ({ key, value: encode(Note, n) }));
  expect(toHex(receipts.at(-1)!.root)).toBe(toHex(computeRoot(notes)));
  return { receipts, roots: receipts.map((r) => toHex(r.root)), storage: dump(storage) };
}

/** Storage whose `crashAt`-th read of a note or spent-set key throws (once): a transient I/O fault. */
class FaultyStorage implements Storage {
  reads = 0;
  faults = 0;
  constructor(
    private readonly inner: MemoryStorage,
    private readonly crashAt: number | undefined,
  ) {}
  read(key: Key): Value | undefined {
    // x/n/ and x/s/: only shards read notes and the spent set while a block executes
    if (key[0] === 0x78 && key[1] === 0x2f && (key[2] === 0x6e || key[2] === 0x73) && key[3] === 0x2f) {
      this.reads++;
      if (this.reads === this.crashAt) {
        this.faults++;
        throw new Error('injected storage fault');
      }
    }
    return this.inner.read(key);
  }
  write(key: Key, value: Value): void {
    this.inner.write(key, value);
  }
  delete(key: Key): void {
    this.inner.delete(key);
  }
  batch(ops: readonly BatchOp[]): void {
    this.inner.batch(ops);
  }
  scan(prefix: Key, opts?: ScanOptions): IterableIterator<[Key, Value]> {
    return this.inner.scan(prefix, opts);
  }
  close(): void {
    this.inner.close();
  }
}

function sharded(
  initial: readonly Note[],
  blocks: readonly OrderedBlock[],
  shards: number,
  seed: number,
  crashAt?: number,
): Run & { crashes: number; restarts: number } {
  const inner = new MemoryStorage();
  genesis(inner, uniqueNotes(initial));
  const storage = new FaultyStorage(inner, crashAt);
  const scheduler = new SimScheduler(seed);
  const inspector = new Inspector();
  const g = new EngineGraph({ node: 'n', scheduler, storage, inspector, seed, freezeContexts: true });
  const ex = addShardedExecutor(g, 'executor', { shards, mev, gasLimit: GAS, retryMs: 50 });
  const receipts: BlockReceipts[] = [];
  const roots: string[] = [];
  g.observe(ex.out.receipts).subscribe((r) => receipts.push(r));
  g.observe(ex.out.appRoot).subscribe((r) => roots.push(toHex(r.root)));
  g.start();
  for (const b of blocks) g.send(ex.in.ordered, b);
  // every block finishes long before a minute of virtual time, even with re-sends every 50 ms
  expect(scheduler.run({ maxTime: 60_000 })).toBe('idle');
  const states = g.describe().engines.map((e) => `${e.name}:${e.status}:${e.state}`);
  expect(states.every((s) => s.endsWith(':running:idle'))).toBe(true);
  const restarts = ex.shards.reduce((n, s) => n + g.instance(s.name).restarts, 0);
  g.stop();
  return { receipts, roots, storage: dump(inner), crashes: storage.faults, restarts };
}

function expectSame(actual: Run, expected: Run): void {
  expect(actual.receipts).toEqual(expected.receipts);
  expect(actual.roots).toEqual(expected.roots);
  expect(actual.storage).toEqual(expected.storage);
}

describe('sharded executor engines equal serial execution', () => {
  it('1, 2, 4 and 8 shards, several blocks, any interleaving: same receipts, roots and storage', () => {
    fc.assert(
      fc.property(scenarioArb, ({ initial, blocks: specs, seed }) => {
        const blocks = specs.map((entries, i) => orderedBlock(BigInt(i + 1), entries));
        const expected = serial(initial, blocks);
        for (const shards of SHARD_COUNTS) expectSame(sharded(initial, blocks, shards, seed), expected);
      }),
      propParams('executor.shards-equal-serial', 40),
    );
  });

  it('a shard that crashes mid-block is restarted from its snapshot and the result is still serial', () => {
    let crashed = 0;
    fc.assert(
      fc.property(
        scenarioArb,
        fc.constantFrom(2, 4, 8),
        fc.integer({ min: 1, max: 40 }),
        ({ initial, blocks: specs, seed }, shards, crashAt) => {
          const blocks = specs.map((entries, i) => orderedBlock(BigInt(i + 1), entries));
          const run = sharded(initial, blocks, shards, seed, crashAt);
          expectSame(run, serial(initial, blocks));
          expect(run.restarts).toBe(run.crashes);
          crashed += run.crashes;
        },
      ),
      propParams('executor.shards-crash-restart', 40),
    );
    expect(crashed).toBeGreaterThan(0);
  });

  it('a crash loses a shard request, which the coordinator sends again (a lookup and an apply)', () => {
    // owners 0..5 spread over 4 shards; one transfer per owner, then a block spending the outputs
    const initial = OWNERS.map((_, o) => note(o, 1, 1, A));
    const move = (o: number, k: number): Entry => ({
      kind: 'tx',
      inputs: [note(o, k, 1, A)],
      outputs: [note((o + 1) % OWNERS.length, k + 1, 1, A)],
      mode: 'exact',
    });
    const blocks = [
      orderedBlock(
        1n,
        OWNERS.map((_, o) => move(o, 1)),
      ),
      orderedBlock(
        2n,
        OWNERS.map((_, o) => move((o + 1) % OWNERS.length, 2)),
      ),
    ];
    const expected = serial(initial, blocks);
    expect(expected.receipts.flatMap((b) => b.receipts).every((r) => r.accepted)).toBe(true);
    expect(new Set(OWNERS.map((_, o) => shardOf(noteKey(note(o, 1, 1, A)), 4))).size).toBeGreaterThan(1);
    // reads 1..6 are block 1's lookups; later ones include commit checks and applies' own checks
    for (const crashAt of [1, 7, 13, 20, 30]) {
      const run = sharded(initial, blocks, 4, 7, crashAt);
      expect(run.crashes).toBe(1);
      expect(run.restarts).toBe(1);
      expectSame(run, expected);
    }
  });
});

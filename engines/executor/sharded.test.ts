import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { propParams } from '../../props/config.ts';
import { EngineGraph } from '../../runtime/graph.ts';
import { Inspector } from '../../runtime/inspect.ts';
import { SimScheduler } from '../../runtime/scheduler.ts';
import { MemoryStorage } from '../../storage/memory.ts';
import { multievaluate } from '../../vm/multievaluate.ts';
import { builtinNatives, nativeVm } from '../../vm/native.ts';
import { createVmTable } from '../../vm/table.ts';
import type { VirtualMachine } from '../../vm/types.ts';
import { toHex } from '../../wire/commit.ts';
import { PREDICATE_MS_PER_JOB } from './coordinator-machine.ts';
import { DECLARED_INPUTS, DECLARED_OUTPUTS } from './natives.ts';
import { type Note, noteKey, ownerPrefix } from './notes.ts';
import { inProcessRunner } from './parallel.ts';
import type { Multievaluate } from './phases.ts';
import type { BlockReceipts, ShardReply } from './ports.ts';
import { fromOutcome, toOutcome } from './predicates.ts';
import { addShardedExecutor, coordinatorEngine, shardEngine } from './sharded.ts';
import { ownerLevel, shardOf } from './shards.ts';
import { NoteStore } from './state.ts';
import { ACCEPT, acceptedNote, declaredTx, orderedBlock } from './testing.ts';

const bytes32 = (b: number) => new Uint8Array(32).fill(b);
const note = (owner: number, key: number, provenance: Uint8Array[] = []): Note => ({
  provenance,
  application: bytes32(1),
  owner: bytes32(owner),
  key: Uint8Array.of(key),
  value: Uint8Array.of(0),
});

describe('shard partition', () => {
  it('a note key is owned by the shard of its owner-level prefix', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 0, max: 255 }),
        fc.array(fc.uint8Array({ maxLength: 8 }), { maxLength: 3 }),
        fc.integer({ min: 1, max: 64 }),
        (owner, key, provenance, shards) => {
          const n = note(owner, key, provenance);
          const prefix = ownerPrefix(n.provenance, n.application, n.owner);
          expect(toHex(ownerLevel(noteKey(n))!)).toBe(toHex(prefix));
          // every note of one owner in one application lives on one shard
          expect(shardOf(noteKey(n), shards)).toBe(
            shardOf(noteKey(note(owner, key ^ 1, provenance)), shards),
          );
          expect(shardOf(noteKey(n), shards)).toBeLessThan(shards);
        },
      ),
      propParams('executor.shard-partition', 200),
    );
  });

  it('bytes that are not a note key are hashed whole; the rule is fixed', () => {
    expect(ownerLevel(Uint8Array.of(0, 5, 1))).toBeUndefined();
    expect(ownerLevel(new Uint8Array(0))).toBeUndefined();
    expect(ownerLevel(Uint8Array.of(0x80))).toBeUndefined();
    expect(shardOf(Uint8Array.of(0, 5, 1), 1)).toBe(0);
    // pinned values: a change of the rule would move every note to another shard
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((o) => shardOf(noteKey(note(o, 0)), 8))).toEqual([
      5, 1, 1, 5, 2, 3, 3, 6,
    ]);
    expect(() => shardOf(Uint8Array.of(1), 0)).toThrow(RangeError);
  });

  it('owners spread over the shards', () => {
    const counts = new Array<number>(4).fill(0);
    for (let o = 0; o < 200; o++) counts[shardOf(noteKey(note(o, 0)), 4)]!++;
    for (const c of counts) expect(c).toBeGreaterThan(25);
  });
});

describe('predicate outcomes across the port', () => {
  it('rebuild results the verdict judges the same way', () => {
    const t = (value: boolean) => ({
      ok: true as const,
      value: { kind: 'basic' as const, value: { kind: 'boolean' as const, value } },
      gasUsed: 7,
    });
    expect(fromOutcome(toOutcome(t(true)))).toEqual(t(true));
    expect(fromOutcome(toOutcome(t(false)))).toEqual(t(false));
    const other = {
      ok: true as const,
      value: { kind: 'basic' as const, value: { kind: 'binary' as const, value: Uint8Array.of(1) } },
      gasUsed: 3,
    };
    expect(toOutcome(other).outcome.tag).toBe('rejected');
    const failed = {
      ok: false as const,
      error: { code: 'out-of-gas' as const, message: 'stop' },
      gasUsed: 9,
    };
    expect(fromOutcome(toOutcome(failed))).toEqual(failed);
  });
});

/** Counts storage reads by key (hex). */
class CountingStorage extends MemoryStorage {
  readonly reads = new Map<string, number>();
  override read(key: Uint8Array): Uint8Array | undefined {
    const id = toHex(key);
    this.reads.set(id, (this.reads.get(id) ?? 0) + 1);
    return super.read(key);
  }
}

describe('shard engine', () => {
  function shard(count = 2) {
    const storage = new CountingStorage();
    const store = new NoteStore(storage);
    // owners on shard 0 of `count`
    const mine = [...Array(64).keys()].filter((o) => shardOf(noteKey(note(o, 0)), count) === 0);
    const theirs = [...Array(64).keys()].find((o) => shardOf(noteKey(note(o, 0)), count) !== 0)!;
    const a = note(mine[0]!, 1);
    const b = note(mine[1]!, 2);
    store.putNotes([{ key: noteKey(a), note: a }]);
    const scheduler = new SimScheduler(3);
    const inspector = new Inspector({ trace: true });
    const g = new EngineGraph({ node: 'n', scheduler, storage, inspector });
    const s = g.add('shard', shardEngine, { index: 0, count });
    const replies: ShardReply[] = [];
    g.observe(s.out.reply).subscribe((r) => replies.push(r));
    const crashes: string[] = [];
    inspector.events$.subscribe((e) => {
      if (e.kind === 'crash') crashes.push(String(e.error));
    });
    g.start();
    return { g, s, scheduler, replies, crashes, a, b, foreign: note(theirs, 3), storage };
  }
  const read = (height: bigint, round: number, keys: Uint8Array[]) => ({
    tag: 'read' as const,
    value: { height, round, keys },
  });

  it('serves its keys from storage plus the block applied so far; an apply is taken once', () => {
    const t = shard();
    const [ka, kb] = [noteKey(t.a), noteKey(t.b)];
    const apply = {
      tag: 'apply' as const,
      value: { height: 1n, round: 2, consume: [ka], create: [{ key: kb, note: t.b }] },
    };
    t.g.send(t.s.in.request, read(1n, 1, [ka, kb]));
    t.g.send(t.s.in.request, apply);
    t.g.send(t.s.in.request, apply); // a re-sent apply: acknowledged, not applied again
    t.g.send(t.s.in.request, read(1n, 3, [ka, kb]));
    t.scheduler.run();
    expect(t.crashes).toEqual([]);
    const shown = t.replies.map((r) =>
      r.tag === 'read'
        ? r.value.entries
            .map((e) => `${e.note === null ? '-' : e.note.key[0]}${e.spent ? 's' : ''}`)
            .join(',')
        : `applied ${r.value.round}`,
    );
    expect(shown).toEqual(['1,-', 'applied 2', 'applied 2', '-s,2']);
    expect(t.g.instance('shard').stateString()).toBe('serving');
    // shards never write storage: the coordinator seals
    expect(new NoteStore(t.storage).note(kb)).toBeUndefined();
    t.g.send(t.s.in.request, { tag: 'sealed', value: { height: 1n } });
    t.g.send(t.s.in.request, read(1n, 4, [ka])); // late request for a sealed height: ignored
    t.scheduler.run();
    expect(t.g.instance('shard').stateString()).toBe('idle');
    expect(t.replies).toHaveLength(4);
  });

  it('reads each key from storage once per block: a note, and the spent set only where no note is', () => {
    const t = shard();
    const [ka, kb] = [noteKey(t.a), noteKey(t.b)];
    const enc = new TextEncoder();
    const reads = (prefix: string, key: Uint8Array) =>
      t.storage.reads.get(toHex(new Uint8Array([...enc.encode(prefix), ...key]))) ?? 0;
    t.g.send(t.s.in.request, read(1n, 1, [ka, kb])); // a wave's lookup and commit reads
    t.g.send(t.s.in.request, {
      tag: 'apply',
      value: { height: 1n, round: 2, consume: [ka], create: [{ key: kb, note: t.b }] },
    });
    t.g.send(t.s.in.request, read(1n, 3, [ka, kb])); // the next wave's
    t.scheduler.run();
    expect(t.crashes).toEqual([]);
    expect([reads('x/n/', ka), reads('x/s/', ka), reads('x/n/', kb), reads('x/s/', kb)]).toEqual([
      1, 0, 1, 1,
    ]);
    // the seal changes storage: the next block reads it again
    new NoteStore(t.storage).putNotes([{ key: kb, note: t.b }]);
    t.g.send(t.s.in.request, { tag: 'sealed', value: { height: 1n } });
    t.g.send(t.s.in.request, read(2n, 1, [kb]));
    t.scheduler.run();
    expect(reads('x/n/', kb)).toBe(2);
    const last = t.replies.at(-1)!;
    expect(last.tag === 'read' && last.value.entries[0]!.note?.key[0]).toBe(2);
  });

  it('a key of another shard, or an apply that breaks the note rules, crashes it (a coordinator bug)', () => {
    const t = shard();
    t.g.send(t.s.in.request, read(1n, 1, [noteKey(t.foreign)]));
    t.g.send(t.s.in.request, {
      tag: 'apply',
      value: { height: 1n, round: 2, consume: [noteKey(t.b)], create: [] },
    });
    t.scheduler.run();
    expect(t.crashes).toHaveLength(2);
    expect(t.crashes[0]).toMatch(/of another shard/);
    expect(t.crashes[1]).toMatch(/consume of a missing note/);
    expect(t.replies).toEqual([]);
  });
});

describe('coordinator engine', () => {
  it('has one request port per shard', () => {
    const table = createVmTable([nativeVm(builtinNatives()) as VirtualMachine<never>]);
    const mev: Multievaluate = (fn, args, gas) => multievaluate(fn, args, gas, { table });
    const def = coordinatorEngine(mev, 3);
    expect(Object.keys(def.outputs)).toEqual([
      'appRoot',
      'receipts',
      'predicates',
      'shard0',
      'shard1',
      'shard2',
    ]);
    expect(Object.keys(def.inputs)).toEqual(['ordered', 'replies', 'verdicts']);
    expect(() => coordinatorEngine(mev, 0)).toThrow(RangeError);
  });

  it('takes a read answer only for the keys it asked that shard, in order (else crashes: a shard bug)', () => {
    const table = createVmTable([
      nativeVm(
        builtinNatives().register(DECLARED_INPUTS).register(DECLARED_OUTPUTS),
      ) as VirtualMachine<never>,
    ]);
    const mev: Multievaluate = (fn, args, gas) => multievaluate(fn, args, gas, { table });
    const storage = new MemoryStorage();
    const app = new NoteStore(storage).registerCode(ACCEPT);
    const scheduler = new SimScheduler(4);
    const inspector = new Inspector({ trace: true });
    const g = new EngineGraph({ node: 'n', scheduler, storage, inspector });
    const c = g.add('executor', coordinatorEngine(mev, 1), {
      gasLimit: 1_000_000,
      predicates: 'inline',
      retryMs: 1000,
    });
    const asked: Uint8Array[][] = [];
    g.observe(c.out.shard0!).subscribe((r) => {
      if (r.tag === 'read') asked.push(r.value.keys);
    });
    const crashes: string[] = [];
    inspector.events$.subscribe((e) => {
      if (e.kind === 'crash') crashes.push(String(e.error));
    });
    g.start();
    const [a, b] = [acceptedNote(app, 1), acceptedNote(app, 2)];
    g.send(c.in.ordered, orderedBlock(1n, [declaredTx([a, b], [])]));
    scheduler.run({ maxTime: scheduler.now() + 10 }); // before any retry
    expect(asked.map((keys) => keys.map((k) => toHex(k)))).toEqual([[toHex(noteKey(a)), toHex(noteKey(b))]]);
    const answer = (keys: Uint8Array[]): ShardReply => ({
      tag: 'read',
      value: {
        shard: 0,
        height: 1n,
        round: 1,
        entries: keys.map((key) => ({ key, note: null, spent: false })),
      },
    });
    g.send(c.in.replies, answer([noteKey(b), noteKey(a)]));
    scheduler.run({ maxTime: scheduler.now() + 10 }); // before any retry
    expect(crashes).toHaveLength(1);
    expect(crashes[0]).toMatch(/answered for keys it was not asked for/);
    // the restarted coordinator takes the right answer: both inputs missing, the lookup rejects
    const receipts: BlockReceipts[] = [];
    g.observe(c.out.receipts).subscribe((r) => receipts.push(r));
    g.send(c.in.replies, answer([noteKey(a), noteKey(b)]));
    scheduler.run({ maxTime: scheduler.now() + 10 }); // before any retry
    expect(receipts.map((r) => r.receipts.map((x) => x.phase))).toEqual([['lookup']]);
  });
});

describe('predicate batches across the port', () => {
  const table = createVmTable([
    nativeVm(builtinNatives().register(DECLARED_INPUTS).register(DECLARED_OUTPUTS)) as VirtualMachine<never>,
  ]);
  const mev: Multievaluate = (fn, args, gas) => multievaluate(fn, args, gas, { table });
  const RETRY_MS = 100;
  const TXS = 40;

  /** A block of TXS transfers through a runner that answers `delay(call)` ms after each batch (never if undefined). */
  async function run(delay: (call: number) => number | undefined) {
    const storage = new MemoryStorage();
    const store = new NoteStore(storage);
    const app = store.registerCode(ACCEPT);
    const inputs = Array.from({ length: TXS }, (_, i) => acceptedNote(app, i));
    store.putNotes(inputs.map((n) => ({ key: noteKey(n), note: n })));
    const scheduler = new SimScheduler(5);
    const g = new EngineGraph({ node: 'n', scheduler, storage });
    const calls: { at: number; jobs: number }[] = [];
    const inner = inProcessRunner(mev);
    // read requests to the shards so far, and how many had gone out when each answer came back
    let reads = 0;
    const readsBeforeAnswer: number[] = [];
    const ex = addShardedExecutor(g, 'executor', {
      shards: 2,
      mev,
      gasLimit: 1_000_000,
      retryMs: RETRY_MS,
      runner: (jobs) => {
        const wait = delay(calls.length);
        calls.push({ at: scheduler.now(), jobs: jobs.length });
        if (wait === undefined) return new Promise(() => {});
        return new Promise((resolve) =>
          scheduler.at(scheduler.now() + wait, () => {
            readsBeforeAnswer.push(reads);
            resolve(inner(jobs));
          }),
        );
      },
    });
    for (let i = 0; i < ex.shards.length; i++)
      g.observe(ex.coordinator.out[`shard${i}`]!).subscribe((r) => {
        if (r.tag === 'read') reads++;
      });
    const receipts: BlockReceipts[] = [];
    g.observe(ex.out.receipts).subscribe((r) => receipts.push(r));
    g.start();
    const txs = inputs.map((n, i) => declaredTx([n], [acceptedNote(app, 100 + i)]));
    g.send(ex.in.ordered, orderedBlock(1n, txs));
    for (let i = 0; i < 10_000 && receipts.length === 0; i++) {
      scheduler.run({ maxTime: scheduler.now() });
      await new Promise((r) => setImmediate(r));
      if (scheduler.nextTime() === undefined) break;
      if (scheduler.nextTime()! > scheduler.now()) scheduler.step();
    }
    return { calls, receipts, reads, readsBeforeAnswer };
  }

  it('a batch is given time in proportion to its jobs before it is sent again', async () => {
    // each transfer has one application predicate (its notes share it): TXS jobs
    const allowance = RETRY_MS + TXS * PREDICATE_MS_PER_JOB;
    const slow = await run(() => allowance - 1);
    expect(slow.calls).toHaveLength(1);
    expect(slow.calls[0]!.jobs).toBe(TXS);
    expect(slow.receipts[0]!.receipts.every((r) => r.accepted)).toBe(true);
    // a batch lost for good is asked for again once its allowance passed, then doubled
    const lost = await run((call) => (call < 2 ? undefined : 0));
    expect(lost.calls.map((c) => c.at - lost.calls[0]!.at)).toEqual([0, allowance, 3 * allowance]);
    expect(lost.receipts[0]!.receipts.every((r) => r.accepted)).toBe(true);
  });

  it("the commit phase's reads go out with the batch: answered while the predicates run", async () => {
    const t = await run(() => 50);
    // the wave's lookup read and its commit read (the notes share one owner: one shard), both
    // sent before the verdicts came back
    expect(t.reads).toBe(2);
    expect(t.readsBeforeAnswer).toEqual([2]);
    expect(t.receipts[0]!.receipts.every((r) => r.accepted)).toBe(true);
  });
});

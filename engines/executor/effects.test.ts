/**
 * The executor engines never write storage in a step (issue 15, "one engine shape"): sealing a
 * block asks for its batch as a `persist` effect, emitted before the receipts, the root and the
 * shards' `sealed`, which the runtime lets leave only once the batch is written. Here the machines
 * run as bare actors over storage that refuses every write, and the test plays the runtime: it
 * applies each step's write effects after the step, then routes its messages.
 */
import { describe, expect, it } from 'vitest';
import { type AnyActorRef, createActor } from 'xstate';
import { type EngineHost, machineOf, PERSIST } from '../../runtime/engine.ts';
import { seedState } from '../../runtime/random.ts';
import { MemoryStorage } from '../../storage/memory.ts';
import { computeRoot } from '../../storage/merkle.ts';
import type { BatchOp, Key, ScanOptions, Storage, Value } from '../../storage/types.ts';
import { multievaluate } from '../../vm/multievaluate.ts';
import { builtinNatives, nativeVm } from '../../vm/native.ts';
import { createVmTable } from '../../vm/table.ts';
import type { VirtualMachine } from '../../vm/types.ts';
import { toHex } from '../../wire/commit.ts';
import type { OrderedBlock } from '../../wire/ledger.ts';
import { encode } from '../../wire/schema.ts';
import { executorEngine } from './engine.ts';
import { Ledger, resumeAfter } from './ledger.ts';
import type { ExecutorContext } from './machine.ts';
import { DECLARED_INPUTS, DECLARED_OUTPUTS } from './natives.ts';
import { Note } from './notes.ts';
import type { Multievaluate } from './phases.ts';
import type { BlockReceipts } from './ports.ts';
import { coordinatorEngine, shardEngine } from './sharded.ts';
import { NoteStore } from './state.ts';
import { ACCEPT, acceptedNote, declaredTx, orderedBlock } from './testing.ts';

const table = createVmTable([
  nativeVm(builtinNatives().register(DECLARED_INPUTS).register(DECLARED_OUTPUTS)) as VirtualMachine<never>,
]);
const mev: Multievaluate = (fn, args, gas) => multievaluate(fn, args, gas, { table });
const GAS = 1_000_000;

/** An engine's view of `inner`: reads pass, any write throws (an engine step must not write). */
class WriteRefusing implements Storage {
  constructor(private readonly inner: Storage) {}
  read(key: Key): Value | undefined {
    return this.inner.read(key);
  }
  scan(prefix: Key, opts?: ScanOptions): IterableIterator<[Key, Value]> {
    return this.inner.scan(prefix, opts);
  }
  write(): void {
    throw new Error('an executor step wrote storage');
  }
  delete(): void {
    throw new Error('an executor step deleted from storage');
  }
  batch(): void {
    throw new Error('an executor step wrote a batch');
  }
  close(): void {}
}

interface Emitted {
  type: string;
  msg?: unknown;
  ops?: readonly BatchOp[];
}

function world() {
  const storage = new MemoryStorage();
  const A = new NoteStore(storage).registerCode(ACCEPT);
  const host = (engine: string): EngineHost => ({
    node: 'n',
    engine,
    storage: new WriteRefusing(storage),
    signer: undefined,
    verify: undefined,
  });
  const note = (k: number): Note => acceptedNote(A, k);
  const tx = declaredTx;
  const block = orderedBlock;
  const blocks = [
    block(1n, [tx([], [note(1), note(2)])]),
    // nothing to execute: the coordinator seals it in the step that begins it
    block(2n, ['share verification failed']),
    block(3n, [tx([note(2)], [note(5)]), tx([note(1)], [note(6)])]),
  ];
  const stateRoot = () =>
    toHex(
      computeRoot([...new NoteStore(storage).notes()].map(([key, n]) => ({ key, value: encode(Note, n) }))),
    );
  return { storage, host, blocks, stateRoot };
}

/** Starts a machine as a bare actor; `step` sends one event and returns what that step emitted. */
function run(def: Parameters<typeof machineOf>[0], host: EngineHost, config: unknown) {
  const actor: AnyActorRef = createActor(machineOf(def, host), {
    input: { config, seed: seedState(1), now: 0 },
  });
  let out: Emitted[] = [];
  actor.on('*', (e: Emitted) => {
    out.push(e);
  });
  actor.subscribe({ error: () => {} });
  actor.start();
  return {
    actor,
    step(event: { type: string; now: number } & Record<string, unknown>): Emitted[] {
      out = [];
      actor.send(event);
      const snap = actor.getSnapshot() as { status: string; error?: unknown };
      if (snap.status !== 'active') throw snap.error;
      return out;
    },
  };
}

/** The runtime's part: a step's write effects, in one batch, after the step. */
function persist(storage: Storage, out: readonly Emitted[]): void {
  const ops = out.flatMap((e) => (e.type === PERSIST ? [...e.ops!] : []));
  if (ops.length > 0) storage.batch(ops);
}

const ordered = (msg: OrderedBlock) => ({ type: 'ordered', msg, now: 0, from: 'decryptor' });

describe('the serial executor asks for its writes as effects', () => {
  it('a sealing step writes nothing and emits persist, then receipts, then the root; the batch is the seal', () => {
    const w = world();
    const ex = run(executorEngine(mev), w.host('executor'), { gasLimit: GAS });
    const out = ex.step(ordered(w.blocks[0]!));
    expect(out.map((e) => e.type)).toEqual([PERSIST, 'receipts', 'appRoot']);
    // nothing landed before the runtime's part
    expect(new Ledger(w.storage).executedHeight()).toBe(0n);
    persist(w.storage, out);
    const ledger = new Ledger(w.storage);
    expect(ledger.executedHeight()).toBe(1n);
    const receipts = out[1]!.msg as BlockReceipts;
    expect(ledger.receipts(1n)).toEqual(receipts);
    expect(toHex(receipts.root)).toBe(w.stateRoot());
    expect(receipts.receipts.map((r) => r.accepted)).toEqual([true]);
  });

  it('one block is sealed per step: the next begins once storage shows the seal, woken by a deadline due at once', () => {
    const w = world();
    const ex = run(executorEngine(mev), w.host('executor'), { gasLimit: GAS });
    const [b1, b2, b3] = w.blocks as [OrderedBlock, OrderedBlock, OrderedBlock];
    persist(w.storage, ex.step(ordered(b1)));
    // 3 waits for 2; 2 arrives and is sealed, 3 does not begin in that step
    expect(ex.step({ ...ordered(b3), now: 5 })).toEqual([]);
    const sealing2 = ex.step({ ...ordered(b2), now: 7 });
    expect(sealing2.map((e) => e.type)).toEqual([PERSIST, 'receipts', 'appRoot']);
    expect((sealing2[1]!.msg as BlockReceipts).height).toBe(2n);
    const ctx = () => ex.actor.getSnapshot().context as ExecutorContext;
    expect(ctx().queue.map((b) => b.height)).toEqual([3n]);
    expect(ctx().sealed).toBe(2n);
    expect(ctx().deadlines).toEqual({ [resumeAfter(2n)]: 7 });
    // while the seal is not written (its batch failed, say), the wake-up does not begin block 3
    const wake = { type: 'timeout', name: resumeAfter(2n), now: 7 };
    expect(ex.step(wake)).toEqual([]);
    expect(ctx().queue.map((b) => b.height)).toEqual([3n]);
    // written, the next event (here the wake-up again) begins it
    persist(w.storage, sealing2);
    const sealing3 = ex.step(wake);
    expect(sealing3.map((e) => e.type)).toEqual([PERSIST, 'receipts', 'appRoot']);
    expect((sealing3[1]!.msg as BlockReceipts).height).toBe(3n);
    persist(w.storage, sealing3);
    expect(ctx().queue.map((b) => b.height)).toEqual([]);
    expect(new Ledger(w.storage).executedHeight()).toBe(3n);
    expect(toHex((sealing3[1]!.msg as BlockReceipts).root)).toBe(w.stateRoot());
  });

  it('a block announced twice while it waits is executed once: the copy behind it waits for its seal, then gets the stored root', () => {
    const w = world();
    const ex = run(executorEngine(mev), w.host('executor'), { gasLimit: GAS });
    const [b1, b2] = w.blocks as [OrderedBlock, OrderedBlock];
    const receipts: bigint[] = [];
    const roots: bigint[] = [];
    const take = (out: Emitted[]) => {
      persist(w.storage, out);
      for (const e of out) {
        if (e.type === 'receipts') receipts.push((e.msg as BlockReceipts).height);
        if (e.type === 'appRoot') roots.push((e.msg as { height: bigint }).height);
      }
    };
    take(ex.step(ordered(b2)));
    take(ex.step(ordered(b2)));
    take(ex.step(ordered(b1)));
    for (let i = 0; i < 5; i++) {
      const { deadlines } = ex.actor.getSnapshot().context as ExecutorContext;
      const [name] = Object.keys(deadlines);
      if (name === undefined) break;
      take(ex.step({ type: 'timeout', name, now: deadlines[name]! }));
    }
    expect(receipts).toEqual([1n, 2n]);
    expect(roots).toEqual([1n, 2n, 2n]);
    expect((ex.actor.getSnapshot().context as ExecutorContext).queue).toEqual([]);
  });
});

describe('the sharded executor asks for its writes as effects', () => {
  it('blocks sent back to back (one twice): no step writes, each runs once; each sealing step emits persist, receipts, root, then sealed to every shard', () => {
    const w = world();
    const shards = 2;
    const coordinator = run(coordinatorEngine(mev, shards), w.host('executor'), {
      gasLimit: GAS,
      predicates: 'inline',
      retryMs: 1000,
    });
    const shardActors = Array.from({ length: shards }, (_, index) =>
      run(shardEngine, w.host(`executor-shard-${index}`), { index, count: shards }),
    );
    type Delivery = {
      to: number | 'coordinator';
      event: { type: string; now: number } & Record<string, unknown>;
    };
    // block 1 is announced twice: the copy waits behind it and must not run again
    const pending: Delivery[] = [w.blocks[0]!, ...w.blocks].map((b) => ({
      to: 'coordinator',
      event: ordered(b),
    }));
    const sealingSteps: string[][] = [];
    const roots: bigint[] = [];
    const receipts: bigint[] = [];
    let wakeUps = 0;
    for (let guard = 0; guard < 10_000; guard++) {
      const d = pending.shift();
      if (d === undefined) {
        // quiet: the coordinator's wake-up deadlines fire (its retry deadline is never needed here)
        const deadlines = (coordinator.actor.getSnapshot().context as { deadlines: Record<string, number> })
          .deadlines;
        const names = Object.keys(deadlines).filter((n) => n.startsWith('resume-after-seal-'));
        if (names.length === 0) break;
        wakeUps++;
        for (const name of names)
          pending.push({ to: 'coordinator', event: { type: 'timeout', name, now: 0 } });
        continue;
      }
      const out = (d.to === 'coordinator' ? coordinator : shardActors[d.to]!).step(d.event);
      persist(w.storage, out);
      if (out.some((e) => e.type === 'receipts')) sealingSteps.push(out.map((e) => e.type));
      for (const e of out) {
        if (e.type === 'appRoot') roots.push((e.msg as { height: bigint }).height);
        else if (e.type === 'receipts') receipts.push((e.msg as BlockReceipts).height);
        else if (e.type.startsWith('shard'))
          pending.push({
            to: Number(e.type.slice('shard'.length)),
            event: { type: 'request', msg: e.msg, now: 0, from: 'coordinator' },
          });
        else if (e.type === 'reply')
          pending.push({ to: 'coordinator', event: { type: 'replies', msg: e.msg, now: 0, from: 'shard' } });
      }
    }
    expect(receipts).toEqual([1n, 2n, 3n]);
    expect(roots).toEqual([1n, 1n, 2n, 3n]);
    // block 2 changed nothing: it was sealed on the state block 1's seal wrote, not the one before
    const ledger = new Ledger(w.storage);
    expect(ledger.receipts(2n)!.root).toEqual(ledger.receipts(1n)!.root);
    // (the step that sealed block 2 first answered block 1's copy with its stored root)
    expect(sealingSteps.map((types) => types.slice(types.indexOf(PERSIST)))).toEqual(
      Array.from({ length: 3 }, () => [PERSIST, 'receipts', 'appRoot', 'shard0', 'shard1']),
    );
    // blocks 2 and 3 waited behind a seal and began in a step of their own
    expect(wakeUps).toBeGreaterThan(0);
    expect(new Ledger(w.storage).executedHeight()).toBe(3n);
    expect(toHex(new Ledger(w.storage).receipts(3n)!.root)).toBe(w.stateRoot());
  });
});

import { describe, expect, it } from 'vitest';
import { EngineGraph } from '../../runtime/graph.ts';
import { SimScheduler } from '../../runtime/scheduler.ts';
import { MemoryStorage } from '../../storage/memory.ts';
import { computeRoot } from '../../storage/merkle.ts';
import type { BatchOp } from '../../storage/types.ts';
import { multievaluate } from '../../vm/multievaluate.ts';
import { builtinNatives, nativeVm } from '../../vm/native.ts';
import { createVmTable } from '../../vm/table.ts';
import type { VirtualMachine } from '../../vm/types.ts';
import { toHex } from '../../wire/commit.ts';
import { EXECUTED_HEIGHT_KEY, feeLedgerView, unpaidKey } from '../../wire/fees.ts';
import type { OrderedBlock } from '../../wire/ledger.ts';
import { encode } from '../../wire/schema.ts';
import { executorEngine } from './engine.ts';
import { Ledger } from './ledger.ts';
import { DECLARED_INPUTS, DECLARED_OUTPUTS } from './natives.ts';
import { Note, noteKey } from './notes.ts';
import { inProcessRunner, type PredicateRunner } from './parallel.ts';
import type { Multievaluate } from './phases.ts';
import type { BlockReceipts } from './ports.ts';
import { addShardedExecutor } from './sharded.ts';
import { NoteStore } from './state.ts';
import { ACCEPT, acceptedNote, declaredTx, orderedBlock } from './testing.ts';

const table = createVmTable([
  nativeVm(builtinNatives().register(DECLARED_INPUTS).register(DECLARED_OUTPUTS)) as VirtualMachine<never>,
]);
const mev: Multievaluate = (fn, args, gas) => multievaluate(fn, args, gas, { table });

/** The serial engine, or the sharded executor with that many shards (predicates inline or through a runner). */
type Kind = 'serial' | { shards: number; runner?: boolean | 'lossy' };

/** A predicate runner whose first batch is lost (never answered): the coordinator must ask again. */
function lossyRunner(): PredicateRunner {
  let calls = 0;
  const inner = inProcessRunner(mev);
  return (jobs) => (calls++ === 0 ? new Promise(() => {}) : inner(jobs));
}

/** `mev`: the VM dispatcher engines are given; `freezeContexts`: as in the simulator. */
interface SetupOptions {
  mev?: Multievaluate;
  freezeContexts?: boolean;
}

function setup(storage = new MemoryStorage(), kind: Kind = 'serial', opts: SetupOptions = {}) {
  const store = new NoteStore(storage);
  const A = store.registerCode(ACCEPT);
  const scheduler = new SimScheduler(1);
  const g = new EngineGraph({ node: 'n', scheduler, storage, freezeContexts: opts.freezeContexts ?? false });
  const evaluate = opts.mev ?? mev;
  const ex =
    kind === 'serial'
      ? g.add('executor', executorEngine(evaluate), { gasLimit: 1_000_000 })
      : addShardedExecutor(g, 'executor', {
          shards: kind.shards,
          mev: evaluate,
          gasLimit: 1_000_000,
          ...(kind.runner === true ? { runner: inProcessRunner(mev) } : {}),
          ...(kind.runner === 'lossy' ? { runner: lossyRunner(), retryMs: 100 } : {}),
        });
  const roots: { height: bigint; root: string }[] = [];
  const receipts: BlockReceipts[] = [];
  g.observe(ex.out.appRoot).subscribe((r) => roots.push({ height: r.height, root: toHex(r.root) }));
  g.observe(ex.out.receipts).subscribe((r) => receipts.push(r));
  g.start();
  const note = (k: number): Note => acceptedNote(A, k);
  const tx = declaredTx;
  const block = orderedBlock;
  const stateRoot = () =>
    toHex(computeRoot([...store.notes()].map(([key, n]) => ({ key, value: encode(Note, n) }))));
  return { g, ex, scheduler, store, roots, receipts, note, tx, block, stateRoot, storage };
}

const kinds: [string, Kind][] = [
  ['serial engine', 'serial'],
  ['sharded executor, 1 shard', { shards: 1 }],
  ['sharded executor, 3 shards', { shards: 3 }],
  ['sharded executor, 4 shards, predicates through a runner', { shards: 4, runner: true }],
  ['sharded executor, 2 shards, a runner that loses a batch', { shards: 2, runner: 'lossy' }],
];

/**
 * Runs the scheduler until nothing is pending. A predicate runner answers through a promise, so
 * virtual time only moves on (to the next timer) once the work due now is done and the runner's
 * promises had their turn: the runner answers "instantly" unless it lost the batch.
 */
async function settle(scheduler: SimScheduler): Promise<void> {
  for (;;) {
    scheduler.run({ maxTime: scheduler.now() });
    await new Promise((r) => setImmediate(r));
    const next = scheduler.nextTime();
    if (next === undefined) return;
    if (next > scheduler.now()) scheduler.step();
  }
}

describe.each(kinds)('executor: %s', (_label, kind) => {
  it('executes blocks in order, emits receipts and the Merkle root of the resulting state', async () => {
    const t = setup(undefined, kind);
    t.g.send(
      t.ex.in.ordered,
      t.block(1n, [t.tx([], [t.note(1), t.note(2)]), Uint8Array.of(9, 9, 9), 'share verification failed']),
    );
    t.g.send(t.ex.in.ordered, t.block(2n, [t.tx([t.note(1)], [t.note(3)]), t.tx([t.note(1)], [t.note(4)])]));
    await settle(t.scheduler);
    expect(t.receipts.map((r) => r.receipts.map((x) => `${x.accepted}:${x.phase}`))).toEqual([
      ['true:commit', 'false:decode', 'false:decrypt'],
      ['true:commit', 'false:lookup'],
    ]);
    expect(t.receipts[0]!.receipts[2]!.reason).toBe('share verification failed');
    expect(t.roots.map((r) => r.height)).toEqual([1n, 2n]);
    expect(t.roots[1]!.root).toBe(t.stateRoot());
    expect([...t.store.notes()].map(([, n]) => n.key[0])).toEqual([2, 3]);
    expect(t.store.spent(noteKey(t.note(1)))).toBe(true);
    if (kind !== 'serial') {
      // the notes were served and changed by the shard engines, with the predicates where configured
      const processed = t.g.describe().engines.filter((e) => e.name.startsWith('executor-shard-'));
      expect(processed).toHaveLength(kind.shards);
      expect(processed.reduce((n, e) => n + e.processed, 0)).toBeGreaterThan(0);
      expect(t.g.instance('executor').context<{ predicates: string }>().predicates).toBe(
        kind.runner === undefined ? 'inline' : 'port',
      );
    }
  });

  it('a re-announced block is not executed twice: the stored root is sent again', async () => {
    const t = setup(undefined, kind);
    const b = t.block(1n, [t.tx([], [t.note(1)])]);
    t.g.send(t.ex.in.ordered, b);
    await settle(t.scheduler);
    t.g.send(t.ex.in.ordered, b);
    await settle(t.scheduler);
    expect(t.receipts).toHaveLength(1);
    expect(t.roots).toHaveLength(2);
    expect(t.roots[1]).toEqual(t.roots[0]);
  });

  it('a restarted node resumes from its storage', async () => {
    const storage = new MemoryStorage();
    const first = setup(storage, kind);
    first.g.send(first.ex.in.ordered, first.block(1n, [first.tx([], [first.note(1)])]));
    await settle(first.scheduler);
    first.g.stop();
    const again = setup(storage, kind);
    again.g.send(again.ex.in.ordered, again.block(2n, [again.tx([again.note(1)], [again.note(5)])]));
    await settle(again.scheduler);
    expect(again.receipts[0]!.receipts[0]!.accepted).toBe(true);
    expect(again.roots[0]!.root).toBe(again.stateRoot());
  });
});

describe('executor statecharts', () => {
  it('the serial engine steps each transaction through the four phases', () => {
    const t = setup();
    const states = (t.g.describe().engines[0]!.machine as { states: { executing: { states: object } } })
      .states;
    expect(Object.keys(states.executing.states)).toEqual([
      'decode',
      'lookup',
      'calculation',
      'validity',
      'commit',
      'next',
    ]);
  });

  it('the coordinator runs each wave through the four phases; shards serve and apply', () => {
    const t = setup(undefined, { shards: 2 });
    const machines = Object.fromEntries(t.g.describe().engines.map((e) => [e.name, e.machine])) as Record<
      string,
      { states: Record<string, { states?: object }> }
    >;
    const coordinator = machines.executor!.states;
    expect(Object.keys(coordinator)).toEqual([
      'idle',
      'next',
      'lookup',
      'calculation',
      'validity',
      'commit',
      'sealing',
    ]);
    expect(Object.keys(coordinator.commit!.states!)).toEqual(['checking', 'applying']);
    expect(Object.keys(machines['executor-shard-1']!.states)).toEqual(['idle', 'serving', 'applying']);
    expect(t.g.describe().edges).toHaveLength(4);
  });
});

describe.each(kinds)('executor fees: %s', (_label, kind) => {
  const payer = new Uint8Array(32).fill(0xa1);
  const broke = new Uint8Array(32).fill(0xb2);
  const proposer = new Uint8Array(32).fill(0xc3);
  const envelope = (i: number) => new Uint8Array(32).fill(0x40 + i);
  const charge = (i: number, who: Uint8Array, fee: bigint, nonce = BigInt(i), expiry = 10n) => ({
    envelope: envelope(i),
    payer: who,
    nonce,
    fee,
    expiry,
  });
  const entry = (i: number, tx: Uint8Array | string, includedAt: bigint, encrypted = false) => ({
    envelope: envelope(i),
    includedAt,
    encrypted,
    tx: typeof tx === 'string' ? { tag: 'discarded' as const, value: tx } : { tag: 'ok' as const, value: tx },
  });

  it('charges every committed envelope before the block runs, even when its transaction then fails; the proposer is credited', async () => {
    const t = setup(undefined, kind);
    const ledger = new Ledger(t.storage);
    const genesis = ledger.seedGenesis([{ publicKey: payer, balance: 100n }]);
    const view = feeLedgerView(t.storage);
    t.g.send(t.ex.in.ordered, {
      height: 1n,
      blockHash: new Uint8Array(32).fill(1),
      proposer,
      charges: [charge(0, payer, 10n), charge(1, payer, 7n), charge(2, broke, 5n)],
      // 0 is accepted, 1 is not a transaction (still pays), 2 cannot pay (not executed)
      txs: [
        entry(0, t.tx([], [t.note(1)]), 1n),
        entry(1, Uint8Array.of(9), 1n),
        entry(2, t.tx([], [t.note(2)]), 1n),
      ],
    });
    await settle(t.scheduler);
    expect(t.receipts[0]!.receipts.map((r) => `${r.accepted}:${r.phase}`)).toEqual([
      'true:commit',
      'false:decode',
      'false:fee',
    ]);
    expect(view.feeBalance(payer)).toBe(83n);
    expect(view.feeBalance(broke)).toBe(0n);
    expect(view.feeBalance(proposer)).toBe(17n);
    expect([...t.store.notes()].map(([, n]) => n.key[0])).toEqual([1]);
    // used nonces are recorded, unpaid ones too (a replay cannot get it paid for later)
    expect(view.nonceUsedUntil(payer, 0n)).toBe(10n);
    expect(view.nonceUsedUntil(broke, 2n)).toBe(10n);
    // fee accounts are state: the root moved from the genesis root, and a different balance gives another
    expect(t.roots[0]!.root).not.toBe(toHex(genesis));
  });

  it('an encrypted envelope that could not pay when committed is refused when it is decrypted later', async () => {
    const t = setup(undefined, kind);
    new Ledger(t.storage).seedGenesis([{ publicKey: payer, balance: 5n }]);
    const block = (
      height: bigint,
      charges: ReturnType<typeof charge>[],
      txs: ReturnType<typeof entry>[],
    ) => ({
      height,
      blockHash: new Uint8Array(32).fill(Number(height)),
      proposer,
      charges,
      txs,
    });
    // height 1 carries two encrypted envelopes: the first pays 5, the second cannot pay
    t.g.send(t.ex.in.ordered, block(1n, [charge(0, payer, 5n), charge(1, payer, 5n)], []));
    // height 2 carries their plaintexts
    t.g.send(
      t.ex.in.ordered,
      block(2n, [], [entry(0, t.tx([], [t.note(1)]), 1n, true), entry(1, t.tx([], [t.note(2)]), 1n, true)]),
    );
    await settle(t.scheduler);
    expect(t.receipts[1]!.receipts.map((r) => `${r.accepted}:${r.phase}`)).toEqual([
      'true:commit',
      'false:fee',
    ]);
    expect(t.storage.read(unpaidKey(envelope(1)))).toBeUndefined();
  });

  it('forgets a used nonce once its envelope has expired', async () => {
    const t = setup(undefined, kind);
    new Ledger(t.storage).seedGenesis([{ publicKey: payer, balance: 50n }]);
    const view = feeLedgerView(t.storage);
    const empty = (height: bigint, charges: ReturnType<typeof charge>[]) => ({
      height,
      blockHash: new Uint8Array(32).fill(Number(height)),
      proposer,
      charges,
      txs: [],
    });
    t.g.send(t.ex.in.ordered, empty(1n, [charge(0, payer, 1n, 5n, 3n)]));
    t.g.send(t.ex.in.ordered, empty(2n, []));
    await settle(t.scheduler);
    expect(view.nonceUsedUntil(payer, 5n)).toBe(3n);
    t.g.send(t.ex.in.ordered, empty(3n, []));
    await settle(t.scheduler);
    expect(view.nonceUsedUntil(payer, 5n)).toBeUndefined();
  });
});

/** Memory storage whose next `failBatches` batches throw before any of their ops lands. */
class FlakyStorage extends MemoryStorage {
  failBatches = 0;
  /** the batches that failed */
  failed: (readonly BatchOp[])[] = [];
  override batch(ops: readonly BatchOp[]): void {
    if (this.failBatches > 0) {
      this.failBatches--;
      this.failed.push(ops);
      throw new Error('the disk failed to write the batch');
    }
    super.batch(ops);
  }
}

/** Every entry of `storage`, as text. */
function dump(storage: MemoryStorage): string[] {
  return [...storage.scan(new Uint8Array(0))].map(([k, v]) => `${toHex(k)}=${toHex(v)}`);
}

/** Whether a batch writes the executed height: a block's seal. */
const isSeal = (ops: readonly BatchOp[]) => ops.some((o) => toHex(o.key) === toHex(EXECUTED_HEIGHT_KEY));

/** What the executor (or coordinator) was before one scheduler task: its context and what it had emitted. */
interface Before {
  context: unknown;
  copy: unknown;
  state: string;
  emitted: number;
  roots: number;
  receipts: number;
  storage: string[];
}

/**
 * Like `settle`, one task at a time, noting before each what the engine `executor` is; stops after
 * the task in which it crashed (and was restarted) and returns what it was before that task. The
 * failed step must have left no trace: nothing emitted, the context before it, storage as it was.
 */
async function settleUntilCrash(t: ReturnType<typeof setup>): Promise<Before> {
  const inst = t.g.instance('executor');
  const restarts = inst.restarts;
  let emitted = 0;
  const sub = t.g.inspector.events$.subscribe((e) => {
    if (e.kind === 'emit' && e.engine === 'executor') emitted++;
  });
  try {
    for (;;) {
      if (t.scheduler.nextTime() !== t.scheduler.now()) {
        await new Promise((r) => setImmediate(r));
        if (t.scheduler.nextTime() === undefined) throw new Error('the executor never crashed');
      }
      const context = inst.context();
      const before: Before = {
        context,
        copy: structuredClone(context),
        state: inst.stateString(),
        emitted,
        roots: t.roots.length,
        receipts: t.receipts.length,
        storage: dump(t.storage),
      };
      t.scheduler.step();
      if (inst.restarts > restarts) {
        // the failed step emitted nothing, and the engine is back at exactly the context before it
        expect(inst.restarts).toBe(restarts + 1);
        expect(inst.status).toBe('running');
        expect(emitted).toBe(before.emitted);
        expect([t.roots.length, t.receipts.length]).toEqual([before.roots, before.receipts]);
        expect(inst.context()).toBe(before.context);
        expect(inst.context()).toEqual(before.copy);
        expect(inst.stateString()).toBe(before.state);
        expect(dump(t.storage)).toEqual(before.storage);
        return before;
      }
    }
  } finally {
    sub.unsubscribe();
  }
}

/** What a run of `blocks` without any fault gives: roots, receipts and the state root. */
/** The rest of the run, after one restart, ends as the fault-free reference did: same roots, receipts, state. */
async function expectRecoveredAs(
  t: ReturnType<typeof setup>,
  want: Awaited<ReturnType<typeof reference>>,
): Promise<void> {
  await settle(t.scheduler);
  expect(t.g.instance('executor').restarts).toBe(1);
  expect(t.roots).toEqual(want.roots);
  expect(t.receipts).toEqual(want.receipts);
  expect(t.stateRoot()).toBe(want.state);
}

async function reference(kind: Kind, blocks: (t: ReturnType<typeof setup>) => OrderedBlock[]) {
  const r = setup(undefined, kind);
  for (const b of blocks(r)) r.g.send(r.ex.in.ordered, b);
  await settle(r.scheduler);
  expect(r.g.instance('executor').restarts).toBe(0);
  return { roots: r.roots, receipts: r.receipts, state: r.stateRoot() };
}

/** A note value no other note has: the poisoned predicate below recognises its transaction by it. */
const POISON = Uint8Array.of(0xde, 0xad, 0xbe, 0xef, 0x50, 0x15, 0x0e, 0xd1);

function holdsPoison(v: unknown): boolean {
  if (v instanceof Uint8Array) {
    for (let i = 0; i + POISON.length <= v.length; i++)
      if (POISON.every((b, j) => v[i + j] === b)) return true;
    return false;
  }
  if (v === null || typeof v !== 'object') return false;
  return Object.values(v).some(holdsPoison);
}

/** `mev`, except that while `armed` the validity predicate of a transaction showing POISON throws. */
function poisonedMev(): { mev: Multievaluate; armed: { on: boolean; thrown: number } } {
  const armed = { on: true, thrown: 0 };
  const isAccept = (fn: unknown) => {
    const f = fn as { kind: string; value: { kind: string; code?: Uint8Array } };
    return f.kind === 'basic' && f.value.kind === 'function' && toHex(f.value.code!) === toHex(ACCEPT.code);
  };
  return {
    armed,
    mev: (fn, args, gas) => {
      if (armed.on && isAccept(fn) && holdsPoison(args)) {
        armed.thrown++;
        throw new Error('the predicate VM failed');
      }
      return mev(fn, args, gas);
    },
  };
}

describe.each(kinds)('executor, a step that throws half-way: %s', (_label, kind) => {
  const blocks = (t: ReturnType<typeof setup>) => [
    t.block(1n, [t.tx([], [t.note(1), t.note(2)])]),
    t.block(2n, [t.tx([t.note(1)], [t.note(3)]), t.tx([], [t.note(4)])]),
  ];
  /** the two blocks, and a third that spends what both created */
  const three = (t: ReturnType<typeof setup>) => [
    ...blocks(t),
    t.block(3n, [t.tx([t.note(2)], [t.note(5)]), t.tx([t.note(3)], [t.note(6)])]),
  ];

  it('sealing whose batch throws: context as before, no root or receipts, restarted; then the same root as without the fault', async () => {
    const want = await reference(kind, blocks);
    const storage = new FlakyStorage();
    const t = setup(storage, kind, { freezeContexts: true });
    const [b1, b2] = blocks(t);
    t.g.send(t.ex.in.ordered, b1!);
    await settle(t.scheduler);
    expect(t.roots).toEqual(want.roots.slice(0, 1));
    // block 2 executes; writing its seal (every write of the block, its receipts, the root) fails
    storage.failBatches = 1;
    t.g.send(t.ex.in.ordered, b2!);
    const before = await settleUntilCrash(t);
    // (the serial engine failed taking the block; the coordinator taking the last shard's acknowledgement)
    expect(before.state).toBe(kind === 'serial' ? 'idle' : 'commit.applying');
    // the batch that failed was the runtime's write of the seal the step asked for: storage is as
    // before it (checked by settleUntilCrash), so height 1 is still the last executed
    expect(storage.failed).toHaveLength(1);
    expect(isSeal(storage.failed[0]!)).toBe(true);
    expect(new Ledger(storage).executedHeight()).toBe(1n);
    expect(t.roots).toHaveLength(1);
    expect(t.receipts).toHaveLength(1);
    // the serial engine's failed step was the one taking the block, so the block went with it: it
    // is announced again (as consensus does after a restart); the coordinator failed on a shard's
    // answer, and asks again by itself
    if (kind === 'serial') t.g.send(t.ex.in.ordered, b2!);
    await expectRecoveredAs(t, want);
  });

  it('a block lost with a failed step is not jumped over: the next one waits for it, then both run in order', async () => {
    const want = await reference(kind, three);
    const storage = new FlakyStorage();
    const t = setup(storage, kind, { freezeContexts: true });
    const [b1, b2, b3] = three(t);
    t.g.send(t.ex.in.ordered, b1!);
    await settle(t.scheduler);
    storage.failBatches = 1;
    t.g.send(t.ex.in.ordered, b2!);
    await settleUntilCrash(t);
    // block 3 arrives; where block 2 was lost with the failed step, 3 must not run on top of 1
    t.g.send(t.ex.in.ordered, b3!);
    await settle(t.scheduler);
    if (kind === 'serial') {
      expect(new Ledger(storage).executedHeight()).toBe(1n);
      expect(t.roots).toEqual(want.roots.slice(0, 1));
      t.g.send(t.ex.in.ordered, b2!);
      await settle(t.scheduler);
    }
    expect(t.roots).toEqual(want.roots);
    expect(t.receipts).toEqual(want.receipts);
    expect(t.stateRoot()).toBe(want.state);
  });

  // registered only where it applies (no skipped tests)
  if (kind === 'serial' || kind.runner === undefined)
    it("a predicate throws on a transaction after an earlier one was applied: context as before, nothing emitted, restarted; then the fault-free run's root", async () => {
      // 0 creates note 1; 1 spends it and creates the poison note (a later wave); 2 is independent
      const block = (t: ReturnType<typeof setup>) =>
        t.block(1n, [
          t.tx([], [t.note(1)]),
          t.tx([t.note(1)], [{ ...t.note(66), value: POISON }]),
          t.tx([], [t.note(3)]),
        ]);
      const want = await reference(kind, (r) => [block(r)]);
      expect(want.receipts[0]!.receipts.map((r) => r.accepted)).toEqual([true, true, true]);
      const poisoned = poisonedMev();
      const t = setup(undefined, kind, { mev: poisoned.mev, freezeContexts: true });
      const b = block(t);
      t.g.send(t.ex.in.ordered, b);
      const before = await settleUntilCrash(t);
      // (the serial engine failed taking the block; the coordinator taking a read of the second wave)
      expect(before.state).toBe(kind === 'serial' ? 'idle' : 'lookup');
      expect(poisoned.armed.thrown).toBe(1);
      expect(t.roots).toEqual([]);
      expect(t.receipts).toEqual([]);
      expect([...t.store.notes()]).toEqual([]);
      poisoned.armed.on = false;
      if (kind === 'serial') t.g.send(t.ex.in.ordered, b);
      await expectRecoveredAs(t, want);
    });

  // registered only where it applies (no skipped tests)
  if (kind === 'serial' || kind.runner === undefined)
    it('the step sealing block 2 ends there: its seal is written and its root leaves; block 3 begins in a step of its own, whose predicate throws and changes nothing; then each root once', async () => {
      const three = (t: ReturnType<typeof setup>) => [
        ...blocks(t),
        // no inputs: block 3's first wave reaches its predicates without asking a shard
        t.block(3n, [t.tx([], [{ ...t.note(66), value: POISON }])]),
      ];
      const want = await reference(kind, three);
      expect(want.roots.map((r) => r.height)).toEqual([1n, 2n, 3n]);
      const poisoned = poisonedMev();
      const t = setup(undefined, kind, { mev: poisoned.mev, freezeContexts: true });
      const [b1, b2, b3] = three(t);
      t.g.send(t.ex.in.ordered, b1!);
      await settle(t.scheduler);
      // block 3 waits behind block 2: the serial engine gets it first (it waits for 2), the
      // coordinator while it executes 2
      if (kind === 'serial') t.g.send(t.ex.in.ordered, b3!);
      t.g.send(t.ex.in.ordered, b2!);
      if (kind !== 'serial') t.g.send(t.ex.in.ordered, b3!);
      const before = await settleUntilCrash(t);
      // the step that sealed block 2 ended in idle with block 3 waiting: its batch was written and
      // its receipts and root left; block 3 began in the next step (the wake-up after the seal)
      // and threw in its predicate, which left nothing (settleUntilCrash)
      expect(before.state).toBe('idle');
      expect((before.copy as { queue: OrderedBlock[] }).queue.map((b) => b.height)).toEqual([3n]);
      expect(poisoned.armed.thrown).toBe(1);
      expect(t.roots).toEqual(want.roots.slice(0, 2));
      expect(t.receipts).toEqual(want.receipts.slice(0, 2));
      expect(new Ledger(t.storage).executedHeight()).toBe(2n);
      expect(new Ledger(t.storage).receipts(2n)).toEqual(want.receipts[1]);
      // the restarted engine is woken again (its deadline is re-armed) and, the fault gone, goes on
      poisoned.armed.on = false;
      await expectRecoveredAs(t, want);
    });

  it('a seal whose batch fails while block 3 waits behind it: nothing of either is emitted or written; then both in order', async () => {
    const want = await reference(kind, three);
    const storage = new FlakyStorage();
    const t = setup(storage, kind, { freezeContexts: true });
    const [b1, b2, b3] = three(t);
    t.g.send(t.ex.in.ordered, b1!);
    await settle(t.scheduler);
    const afterOne = dump(storage);
    storage.failBatches = 1;
    if (kind === 'serial') t.g.send(t.ex.in.ordered, b3!);
    t.g.send(t.ex.in.ordered, b2!);
    if (kind !== 'serial') t.g.send(t.ex.in.ordered, b3!);
    const before = await settleUntilCrash(t);
    expect(storage.failed).toHaveLength(1);
    expect(isSeal(storage.failed[0]!)).toBe(true);
    // block 3 is still waiting, nothing of it ran
    expect((before.copy as { queue: OrderedBlock[] }).queue.map((b) => b.height)).toEqual(
      kind === 'serial' ? [3n] : [2n, 3n],
    );
    expect(t.roots).toEqual(want.roots.slice(0, 1));
    expect(t.receipts).toEqual(want.receipts.slice(0, 1));
    expect(dump(storage)).toEqual(afterOne);
    // the serial engine lost block 2 with the step that took it (it is announced again); the
    // coordinator failed on a shard's answer and asks again by itself
    if (kind === 'serial') t.g.send(t.ex.in.ordered, b2!);
    await expectRecoveredAs(t, want);
  });

  it('a block sealed in the step that took it (nothing in it to execute) is lost when its batch fails; the next block waits for it', async () => {
    const three = (t: ReturnType<typeof setup>) => [
      blocks(t)[0]!,
      // only an entry that did not decrypt: no shard is asked, the block seals as it is taken
      t.block(2n, ['share verification failed']),
      t.block(3n, [t.tx([t.note(1)], [t.note(3)])]),
    ];
    const want = await reference(kind, three);
    const storage = new FlakyStorage();
    const t = setup(storage, kind, { freezeContexts: true });
    const [b1, b2, b3] = three(t);
    t.g.send(t.ex.in.ordered, b1!);
    await settle(t.scheduler);
    storage.failBatches = 1;
    t.g.send(t.ex.in.ordered, b2!);
    const before = await settleUntilCrash(t);
    expect(before.state).toBe('idle');
    expect(isSeal(storage.failed[0]!)).toBe(true);
    // block 3 must not run on top of block 1
    t.g.send(t.ex.in.ordered, b3!);
    await settle(t.scheduler);
    expect(new Ledger(storage).executedHeight()).toBe(1n);
    expect(t.roots).toEqual(want.roots.slice(0, 1));
    t.g.send(t.ex.in.ordered, b2!);
    await settle(t.scheduler);
    expect(t.roots).toEqual(want.roots);
    expect(t.receipts).toEqual(want.receipts);
    expect(t.stateRoot()).toBe(want.state);
  });
});

import { describe, expect, it } from 'vitest';
import { EngineGraph } from '../../runtime/graph.ts';
import { SimScheduler } from '../../runtime/scheduler.ts';
import { MemoryStorage } from '../../storage/memory.ts';
import { computeRoot } from '../../storage/merkle.ts';
import { multievaluate } from '../../vm/multievaluate.ts';
import { ALWAYS_ACCEPT, builtinNatives, nativeVm } from '../../vm/native.ts';
import { createVmTable } from '../../vm/table.ts';
import type { VirtualMachine } from '../../vm/types.ts';
import { toHex } from '../../wire/commit.ts';
import type { CommittedBlock } from '../../wire/ledger.ts';
import { encode } from '../../wire/schema.ts';
import { executorEngine } from './engine.ts';
import { DECLARED_INPUTS, DECLARED_OUTPUTS, Declared, nativeFn } from './natives.ts';
import { Note, noteKey, Transaction } from './notes.ts';
import type { Multievaluate } from './phases.ts';
import type { BlockReceipts } from './ports.ts';
import { NoteStore } from './state.ts';

const table = createVmTable([
  nativeVm(builtinNatives().register(DECLARED_INPUTS).register(DECLARED_OUTPUTS)) as VirtualMachine<never>,
]);
const mev: Multievaluate = (fn, args, gas) => multievaluate(fn, args, gas, { table });
const ACCEPT = nativeFn(ALWAYS_ACCEPT.name, ALWAYS_ACCEPT.version);
const LOOKUP = nativeFn(DECLARED_INPUTS.name, DECLARED_INPUTS.version);
const CALC = nativeFn(DECLARED_OUTPUTS.name, DECLARED_OUTPUTS.version);

function setup(storage = new MemoryStorage()) {
  const store = new NoteStore(storage);
  const A = store.registerCode(ACCEPT);
  const scheduler = new SimScheduler(1);
  const g = new EngineGraph({ node: 'n', scheduler, storage });
  const ex = g.add('executor', executorEngine(mev), { gasLimit: 1_000_000 });
  const roots: { height: bigint; root: string }[] = [];
  const receipts: BlockReceipts[] = [];
  g.observe(ex.out.appRoot).subscribe((r) => roots.push({ height: r.height, root: toHex(r.root) }));
  g.observe(ex.out.receipts).subscribe((r) => receipts.push(r));
  g.start();
  const note = (k: number): Note => ({
    provenance: [],
    application: A,
    owner: A,
    key: Uint8Array.of(k),
    value: Uint8Array.of(k),
  });
  const tx = (inputs: Note[], outputs: Note[]) =>
    encode(Transaction, {
      stateReadConstraints: inputs.map(noteKey),
      stateWriteConstraints: [...inputs, ...outputs].map(noteKey),
      lookupCode: LOOKUP,
      calculationCode: CALC,
      extradata: encode(Declared, { inputs: inputs.map(noteKey), outputs, payload: new Uint8Array(0) }),
    });
  const block = (height: bigint, txs: Uint8Array[]): CommittedBlock => ({
    block: {
      header: {
        chainId: 't',
        height,
        time: 0n,
        proposer: new Uint8Array(32),
        lastBlockHash: new Uint8Array(32),
        txsHash: new Uint8Array(32),
        appRoot: new Uint8Array(32),
        lastCommitHash: new Uint8Array(32),
        evidenceHash: new Uint8Array(32),
        validatorsHash: new Uint8Array(32),
      },
      txs,
      lastCommit: null,
      evidence: [],
    },
    certificate: { height, round: 0, blockHash: new Uint8Array(32), signatures: [] },
  });
  const stateRoot = () =>
    toHex(computeRoot([...store.notes()].map(([key, n]) => ({ key, value: encode(Note, n) }))));
  return { g, ex, scheduler, store, roots, receipts, note, tx, block, stateRoot, storage };
}

describe('executor engine', () => {
  it('executes blocks in order, emits receipts and the Merkle root of the resulting state', () => {
    const t = setup();
    t.g.send(t.ex.in.committed, t.block(1n, [t.tx([], [t.note(1), t.note(2)]), Uint8Array.of(9, 9, 9)]));
    t.g.send(
      t.ex.in.committed,
      t.block(2n, [t.tx([t.note(1)], [t.note(3)]), t.tx([t.note(1)], [t.note(4)])]),
    );
    t.scheduler.run();
    expect(t.receipts.map((r) => r.receipts.map((x) => `${x.accepted}:${x.phase}`))).toEqual([
      ['true:commit', 'false:decode'],
      ['true:commit', 'false:lookup'],
    ]);
    expect(t.roots.map((r) => r.height)).toEqual([1n, 2n]);
    expect(t.roots[1]!.root).toBe(t.stateRoot());
    expect([...t.store.notes()].map(([, n]) => n.key[0])).toEqual([2, 3]);
    expect(t.store.spent(noteKey(t.note(1)))).toBe(true);
  });

  it('its statechart has the four phases', () => {
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

  it('a re-announced block is not executed twice: the stored root is sent again', () => {
    const t = setup();
    const b = t.block(1n, [t.tx([], [t.note(1)])]);
    t.g.send(t.ex.in.committed, b);
    t.scheduler.run();
    t.g.send(t.ex.in.committed, b);
    t.scheduler.run();
    expect(t.receipts).toHaveLength(1);
    expect(t.roots).toHaveLength(2);
    expect(t.roots[1]).toEqual(t.roots[0]);
  });

  it('a restarted node resumes from its storage', () => {
    const storage = new MemoryStorage();
    const first = setup(storage);
    first.g.send(first.ex.in.committed, first.block(1n, [first.tx([], [first.note(1)])]));
    first.scheduler.run();
    first.g.stop();
    const again = setup(storage);
    again.g.send(again.ex.in.committed, again.block(2n, [again.tx([again.note(1)], [again.note(5)])]));
    again.scheduler.run();
    expect(again.receipts[0]!.receipts[0]!.accepted).toBe(true);
    expect(again.roots[0]!.root).toBe(again.stateRoot());
  });
});

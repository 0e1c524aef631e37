import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { propParams } from '../../props/config.ts';
import { MemoryStorage } from '../../storage/memory.ts';
import { multievaluate } from '../../vm/multievaluate.ts';
import {
  ALWAYS_ACCEPT,
  ALWAYS_REJECT,
  builtinNatives,
  type NativeDefinition,
  nativeVm,
} from '../../vm/native.ts';
import { createVmTable } from '../../vm/table.ts';
import type { VirtualMachine } from '../../vm/types.ts';
import { toHex } from '../../wire/commit.ts';
import { encode } from '../../wire/schema.ts';
import { type BlockResult, executeSerial, executeSharded } from './block.ts';
import { DECLARED_INPUTS, DECLARED_OUTPUTS, Declared, nativeFn, predicateCommitment } from './natives.ts';
import { type Note, noteKey, ownerPrefix, type Transaction } from './notes.ts';
import { executeParallel, type PredicateRunner } from './parallel.ts';
import { evaluateJob, type Multievaluate, validityJobs } from './phases.ts';
import { conflicts, waves } from './schedule.ts';
import { NoteStore } from './state.ts';

/** Accepts always; its config (an owner id) only makes the code, and so the commitment, distinct. */
const ACCEPT_AS: NativeDefinition = {
  name: 'test-accept-as',
  version: '1',
  baseGas: 10,
  perByteGas: 0,
  takesConfig: true,
  run: () => ({ ok: true, value: { kind: 'basic', value: { kind: 'boolean', value: true } }, gasUsed: 0 }),
};
const registry = builtinNatives().register(DECLARED_INPUTS).register(DECLARED_OUTPUTS).register(ACCEPT_AS);
const table = createVmTable([nativeVm(registry) as VirtualMachine<never>]);
const mev: Multievaluate = (fn, args, gas) => multievaluate(fn, args, gas, { table });

const ACCEPT = nativeFn(ALWAYS_ACCEPT.name, ALWAYS_ACCEPT.version);
const REJECT = nativeFn(ALWAYS_REJECT.name, ALWAYS_REJECT.version);
const A = predicateCommitment(ACCEPT);
const R = predicateCommitment(REJECT);
const LOOKUP = nativeFn(DECLARED_INPUTS.name, DECLARED_INPUTS.version);
const CALC = nativeFn(DECLARED_OUTPUTS.name, DECLARED_OUTPUTS.version);
const GAS = 1_000_000;

const OWNERS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) =>
  nativeFn(ACCEPT_AS.name, ACCEPT_AS.version, Uint8Array.of(i)),
);
const ownerCommitment = (i: number) => predicateCommitment(OWNERS[i]!);

function freshStore(initial: readonly Note[]): NoteStore {
  const store = new NoteStore(new MemoryStorage());
  expect(store.registerCode(ACCEPT)).toEqual(A);
  expect(store.registerCode(REJECT)).toEqual(R);
  for (const o of OWNERS) store.registerCode(o);
  store.putNotes(initial.map((note) => ({ key: noteKey(note), note })));
  return store;
}

const note = (owner: number, key: number, value = 0, app = A): Note => ({
  provenance: [],
  application: app,
  owner: ownerCommitment(owner),
  key: Uint8Array.of(key),
  value: Uint8Array.of(value),
});

function tx(
  inputs: readonly Note[],
  outputs: readonly Note[],
  constraints?: { read: Uint8Array[]; write: Uint8Array[] },
): Transaction {
  const keys = [...inputs, ...outputs].map((n) => noteKey(n));
  return {
    stateReadConstraints: constraints?.read ?? inputs.map((n) => noteKey(n)),
    stateWriteConstraints: constraints?.write ?? keys,
    lookupCode: LOOKUP,
    calculationCode: CALC,
    extradata: encode(Declared, {
      inputs: inputs.map((n) => noteKey(n)),
      outputs: [...outputs],
      payload: new Uint8Array(0),
    }),
  };
}

/** Applies a block result to a clone of the store's storage and lists the resulting notes. */
function finalState(storage: MemoryStorage, result: BlockResult): string[] {
  const copy = storage.clone();
  copy.batch(NoteStore.ops(result.writes));
  return [...new NoteStore(copy).notes()].map(([k, n]) => `${toHex(k)}=${toHex(n.value)}`);
}

describe('executor: four phases', () => {
  it('accepts a transfer: consumes the input, creates the output', () => {
    const a = note(1, 1, 5);
    const b = note(2, 1, 5);
    const store = freshStore([a]);
    const r = executeSerial([tx([a], [b])], store, mev, GAS);
    expect(r.receipts[0]).toMatchObject({ accepted: true, phase: 'commit' });
    expect(r.receipts[0]!.gasUsed).toBeGreaterThan(0);
    expect(r.writes[0]!.consume.map(toHex)).toEqual([toHex(noteKey(a))]);
  });

  it('explains rejections: which phase, which predicate, which note', () => {
    const bad = note(1, 2, 0, R);
    const store = freshStore([bad, note(1, 3)]);
    const [vp, missing, readOutside, spentTwice] = executeSerial(
      [
        tx([bad], [note(3, 9)]),
        tx([note(7, 7)], []),
        tx([note(1, 3)], [], { read: [], write: [] }),
        tx([note(1, 3), note(1, 3)], []),
      ],
      store,
      mev,
      GAS,
    ).receipts;
    expect(vp).toMatchObject({
      accepted: false,
      phase: 'validity',
      predicate: toHex(R),
      note: toHex(noteKey(bad)),
    });
    expect(missing).toMatchObject({
      accepted: false,
      phase: 'lookup',
      reason: 'input note missing or already spent',
    });
    expect(readOutside).toMatchObject({
      accepted: false,
      phase: 'lookup',
      reason: 'read outside the read constraints',
    });
    expect(spentTwice).toMatchObject({
      accepted: false,
      phase: 'lookup',
      reason: 'the same input note is named twice',
    });
  });

  it('small and large transactions (deduplicated by scanning, or through a set) are judged alike', () => {
    // n distinct owners' notes in, n out; a repeated input, a repeated output, a repeated predicate
    for (const n of [2, 8, 9, 40]) {
      const ins = Array.from({ length: n }, (_, i) => note(i % 10, 100 + i));
      const outs = Array.from({ length: n }, (_, i) => note((i + 1) % 10, 200 + i));
      const store = freshStore(ins);
      const twiceIn = [...ins.slice(0, n - 1), ins[0]!];
      const twiceOut = [...outs.slice(0, n - 1), outs[0]!];
      // each against the same state (none of them is applied)
      const [ok, dupIn, dupOut] = [
        tx(ins, outs),
        tx(twiceIn, outs.slice(0, 1)),
        tx(ins.slice(0, 1), twiceOut),
      ].map((t) => executeSerial([t], store, mev, GAS).receipts[0]);
      expect(ok).toMatchObject({ accepted: true });
      expect(dupIn).toMatchObject({
        phase: 'lookup',
        reason: 'the same input note is named twice',
        note: toHex(noteKey(ins[0]!)),
      });
      expect(dupOut).toMatchObject({
        phase: 'commit',
        reason: 'output note already exists',
        note: toHex(noteKey(outs[0]!)),
      });
      // one job per distinct commitment (the application, and each owner once), in note order
      const jobs = validityJobs(tx(ins, outs), ins, outs, store, GAS, 0, 0n);
      if (!jobs.ok) throw new Error('no jobs');
      const distinct = new Set([A, ...[...ins, ...outs].map((x) => x.owner)].map(toHex));
      expect(jobs.value.map((j) => toHex(j.commitment!))).toEqual([...distinct]);
      // a note of unregistered code is named, wherever it is
      const stray = { ...outs[n - 1]!, owner: new Uint8Array(32).fill(0xee) };
      const unknown = validityJobs(tx(ins, outs), ins, [...outs.slice(0, n - 1), stray], store, GAS, 0, 0n);
      expect(unknown.ok ? undefined : unknown.receipt).toMatchObject({
        phase: 'validity',
        reason: 'no code registered for this predicate',
        predicate: 'ee'.repeat(32),
        note: toHex(noteKey(stray)),
      });
    }
  });

  it('a note is spent once: the second spender fails, a re-created spent note is refused', () => {
    const a = note(1, 1);
    const store = freshStore([a]);
    const r = executeSerial(
      [tx([a], [note(2, 1)]), tx([a], [note(3, 1)]), tx([note(2, 1)], [a])],
      store,
      mev,
      GAS,
    );
    expect(r.receipts.map((x) => x.accepted)).toEqual([true, false, false]);
    expect(r.receipts[2]).toMatchObject({ phase: 'commit', reason: 'output would re-create a spent note' });
  });

  it('a failing transaction does not stop the block', () => {
    const store = freshStore([note(1, 1)]);
    const r = executeSerial([tx([note(9, 9)], []), tx([note(1, 1)], [note(2, 2)])], store, mev, GAS);
    expect(r.receipts.map((x) => x.accepted)).toEqual([false, true]);
  });

  it('out of gas is a rejection with the gas used', () => {
    const store = freshStore([note(1, 1)]);
    const r = executeSerial([tx([note(1, 1)], [note(2, 2)])], store, mev, 10);
    expect(r.receipts[0]).toMatchObject({ accepted: false, phase: 'lookup' });
    expect(r.receipts[0]!.reason).toMatch(/out-of-gas/);
  });
});

describe('executor: parallel equals serial', () => {
  // a small universe of owners and keys so that transactions conflict a lot
  const noteArb = fc
    .record({
      owner: fc.integer({ min: 0, max: 3 }),
      key: fc.integer({ min: 0, max: 5 }),
      value: fc.integer({ min: 0, max: 9 }),
      reject: fc.boolean(),
    })
    .map((x) => note(x.owner, x.key, x.value, x.reject && x.value === 0 ? R : A));
  const constraintMode = fc.constantFrom('exact', 'owner', 'too-narrow');
  const txArb = fc.record({
    inputs: fc.array(noteArb, { maxLength: 3 }),
    outputs: fc.array(noteArb, { maxLength: 3 }),
    mode: constraintMode,
  });

  it('for generated blocks with many conflicts, 1, 2, 4 and 8 shards give the serial result', () => {
    fc.assert(
      fc.property(
        fc.array(noteArb, { maxLength: 12 }),
        fc.array(txArb, { minLength: 1, maxLength: 16 }),
        fc.integer(),
        (initial, specs, seed) => {
          const unique = [...new Map(initial.map((n) => [toHex(noteKey(n)), n])).values()];
          const txs = specs.map((t) => {
            const keys = [...t.inputs, ...t.outputs];
            if (t.mode === 'exact') return tx(t.inputs, t.outputs);
            if (t.mode === 'owner') {
              const prefixes = keys.map((n) => ownerPrefix(n.provenance, n.application, n.owner));
              return tx(t.inputs, t.outputs, { read: prefixes, write: prefixes });
            }
            return tx(t.inputs, t.outputs, {
              read: t.inputs.slice(1).map(noteKey),
              write: t.outputs.slice(1).map(noteKey),
            });
          });
          const storage = freshStore(unique).storage as MemoryStorage;
          const serial = executeSerial(txs, new NoteStore(storage), mev, GAS);
          const expected = finalState(storage, serial);
          for (const shards of [1, 2, 4, 8]) {
            const sharded = executeSharded(txs, new NoteStore(storage), mev, GAS, shards, seed);
            expect(sharded.receipts).toEqual(serial.receipts);
            expect(finalState(storage, sharded)).toEqual(expected);
          }
          // no note consumed twice, within or across transactions
          const consumed = serial.writes.flatMap((w) => w.consume.map(toHex));
          expect(new Set(consumed).size).toBe(consumed.length);
        },
      ),
      propParams('executor.parallel-equals-serial', 150),
    );
  });

  /** `waves` against the pairwise definition (a transaction waits for every earlier one it conflicts with). */
  function wavesMatchPairwise(prefix: fc.Arbitrary<Uint8Array>, maxTxs: number, label: string): void {
    const txArb = fc.record({
      read: fc.array(prefix, { maxLength: 3 }),
      write: fc.array(prefix, { maxLength: 3 }),
    });
    fc.assert(
      fc.property(fc.array(txArb, { maxLength: maxTxs }), (specs) => {
        const txs = specs.map((c) => tx([], [], c));
        const waveOf: number[] = [];
        const expected: number[][] = [];
        for (let j = 0; j < txs.length; j++) {
          let w = 0;
          for (let i = 0; i < j; i++) if (conflicts(txs[i]!, txs[j]!)) w = Math.max(w, waveOf[i]! + 1);
          waveOf.push(w);
          expected[w] = [...(expected[w] ?? []), j];
        }
        expect(waves(txs)).toEqual(expected);
      }),
      propParams(label, 300),
    );
  }

  it('the trie schedule equals the pairwise definition', () => {
    // short prefixes over a tiny alphabet: equal, nested and disjoint prefixes all occur
    wavesMatchPairwise(fc.uint8Array({ min: 0, max: 2, maxLength: 3 }), 30, 'executor.waves-trie');
  });

  it('the trie schedule equals the pairwise definition for long prefixes sharing long stretches', () => {
    // two-letter alphabet, up to 12 bytes: edges of the compressed trie split at every depth
    wavesMatchPairwise(fc.uint8Array({ min: 0, max: 1, maxLength: 12 }), 40, 'executor.waves-trie-long');
  });

  it('executeParallel on a large block (one runner call per wave) equals executeSerial', async () => {
    // 300 transfers in one wave, some of them rejected (REJECT application), then
    // a second wave spending what the first created
    const initial = Array.from({ length: 300 }, (_, i) => note(i % 10, i, 1, i % 7 === 0 ? R : A));
    const first = initial.map((n, i) => tx([n], [note((i + 1) % 10, 1000 + i)]));
    const second = [tx([note(2, 1001)], [note(9, 255)])];
    const txs = [...first, ...second];
    const store = freshStore(initial);
    const serial = executeSerial(txs, store, mev, GAS);
    const calls: number[] = [];
    const runner: PredicateRunner = async (jobs) => {
      calls.push(jobs.length);
      return jobs.map((j) => evaluateJob(j, mev));
    };
    const sliced = await executeParallel(txs, store, mev, GAS, runner);
    expect(sliced).toEqual(serial);
    expect(serial.receipts.filter((r) => !r.accepted)).toHaveLength(43);
    expect(serial.receipts.at(-1)).toMatchObject({ accepted: true });
    // wave one: 300 transactions (two to four predicates each); wave two: one
    expect(calls).toHaveLength(2);
    expect(calls[0]).toBeGreaterThanOrEqual(2 * 300);
    expect(calls[0]).toBeLessThanOrEqual(4 * 300);
    expect(calls[1]).toBeGreaterThanOrEqual(2);
  });

  it('non-conflicting transactions share a wave; conflicting ones are ordered', () => {
    const [a, b, c] = [note(1, 1), note(2, 2), note(3, 3)];
    const txs = [tx([a], [note(1, 4)]), tx([b], [note(2, 4)]), tx([note(1, 4)], [c])];
    expect(waves(txs)).toEqual([[0, 1], [2]]);
  });
});

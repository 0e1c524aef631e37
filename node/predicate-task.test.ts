import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defineToken, mintTx, registerTokenCode, signTx, transferTx } from '../apps/token/index.ts';
import { nodeMultievaluate } from '../assembly/vm.ts';
import { executeSerial } from '../engines/executor/block.ts';
import type { Note } from '../engines/executor/notes.ts';
import {
  calculationPhase,
  evaluateJob,
  lookupPhase,
  type PredicateJob,
  validityJobs,
  validityVerdict,
  viewValue,
} from '../engines/executor/phases.ts';
import { NoteStore } from '../engines/executor/state.ts';
import { propParams } from '../props/config.ts';
import { MemoryStorage } from '../storage/memory.ts';
import { sha256 } from '../wire/commit.ts';
import { keyPairFromSeed } from '../wire/sign.ts';
import { V } from '../wire/types.ts';
import { CHUNKS_PER_WORKER, chunkBounds } from './predicate-pool.ts';
import evaluatePredicates, { packJobs, unpackJobs, unpackOutcomes } from './predicate-task.ts';

const seed = (label: string) => sha256(new TextEncoder().encode(label));
const authority = seed('task authority');
const token = defineToken(keyPairFromSeed(authority).publicKey);
const users = [0, 1, 2].map((i) => seed(`task user ${i}`));
const pk = (sk: Uint8Array) => keyPairFromSeed(sk).publicKey;
const GOLD = new Uint8Array(32).fill(5);
const GAS = 10_000_000;

/** The predicate jobs of three transfers: signed (accepted), unsigned (rejected), and one short of gas (failed). */
function jobs(): PredicateJob[] {
  const store = new NoteStore(new MemoryStorage());
  registerTokenCode(store, token, users.map(pk));
  const mint = signTx(
    mintTx(
      token,
      users.map((u) => ({ owner: pk(u), asset: GOLD, amount: 9n })),
      Uint8Array.of(1),
    ),
    [authority],
  );
  const minted = executeSerial([mint], store, nodeMultievaluate, GAS);
  store.storage.batch(NoteStore.ops(minted.writes));
  const notes: Note[] = minted.writes[0]!.create.map((c) => c.note);
  const out = [{ owner: pk(users[2]!), asset: GOLD, amount: 9n }];
  const signed = signTx(transferTx(token, [notes[0]!], out, Uint8Array.of(2)), [users[0]!]);
  const unsigned = transferTx(token, [notes[1]!], out, Uint8Array.of(3));
  const all: PredicateJob[] = [];
  for (const [tx, gas] of [
    [signed, GAS],
    [unsigned, GAS],
    [signed, 3_000],
  ] as const) {
    const looked = lookupPhase(tx, store, nodeMultievaluate, gas);
    if (!looked.ok) throw new Error('lookup failed');
    const calc = calculationPhase(tx, looked.value, nodeMultievaluate, gas, looked.gasUsed);
    if (!calc.ok) throw new Error('calculation failed');
    const js = validityJobs(tx, looked.value, calc.value, store, gas, calc.gasUsed, 1n);
    if (!js.ok) throw new Error('no jobs');
    all.push(...js.value);
  }
  return all;
}

describe('packed predicate chunks', () => {
  const all = jobs();

  it('send each view and function once, and evaluate to the verdicts of in-process evaluation', () => {
    const packed = packJobs(all);
    // three transactions: three views, however many predicates each has
    expect(packed.viewEnds).toHaveLength(3);
    expect(all.length).toBeGreaterThan(3);
    const again = unpackJobs(packed);
    expect(again.map((j) => [j.fn, j.gasLimit])).toEqual(all.map((j) => [j.fn, j.gasLimit]));
    // jobs of one transaction share one view object on the far side too
    expect(new Set(again.map((j) => j.view)).size).toBe(3);
    // and predicates there are called with the argument they get here (notes, extradata, height)
    expect(again.map((j) => viewValue(j.view))).toEqual(all.map((j) => viewValue(j.view)));

    const here = all.map((j) => evaluateJob(j, nodeMultievaluate));
    const there = unpackOutcomes(structuredClone(evaluatePredicates(structuredClone(packed))));
    expect(there.map((r) => r.gasUsed)).toEqual(here.map((r) => r.gasUsed));
    const outcomes = new Set(there.map((r) => (r.ok ? JSON.stringify(r.value) : 'failed')));
    expect(outcomes).toEqual(
      new Set([JSON.stringify(V.bool(true)), JSON.stringify(V.bool(false)), 'failed']),
    );
    // every job judged alone, as validityVerdict would judge it
    for (let i = 0; i < all.length; i++) {
      expect(validityVerdict([all[i]!], [there[i]!], GAS, 0)).toEqual(
        validityVerdict([all[i]!], [here[i]!], GAS, 0),
      );
    }
  });

  it('chunks cover every job once, in order, a few per worker', () => {
    fc.assert(
      fc.property(fc.nat({ max: 5000 }), fc.integer({ min: 1, max: 8 }), (n, workers) => {
        const chunks = chunkBounds(n, workers);
        let next = 0;
        for (const [lo, hi] of chunks) {
          expect(lo).toBe(next);
          expect(hi).toBeGreaterThan(lo);
          next = hi;
        }
        expect(next).toBe(n);
        expect(chunks.length).toBeLessThanOrEqual(CHUNKS_PER_WORKER * workers);
      }),
      propParams('node.predicate-pool chunks', 200),
    );
  });
});

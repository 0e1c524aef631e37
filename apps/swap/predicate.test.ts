import { describe, expect, it } from 'vitest';
import { executeOrderedSerial } from '../../engines/executor/block.ts';
import { type Note, noteKey, Transaction } from '../../engines/executor/notes.ts';
import { executeParallel, inProcessRunner } from '../../engines/executor/parallel.ts';
import { toHex } from '../../wire/commit.ts';
import type { OrderedBlock } from '../../wire/ledger.ts';
import { encode } from '../../wire/schema.ts';
import { sign } from '../../wire/sign.ts';
import { declaredTx, signTx, tokenNote, transferTx } from '../token/client.ts';
import { declaredDigest, TokenPayload } from '../token/format.ts';
import { type Order, type Settlement, settlementViolation } from './auction.ts';
import { type SignedSwapIntent, signIntent } from './format.ts';
import { SwapPayload, swapOwnerCommitment, swapPayloadOf } from './predicate.ts';
import { orderOf, settlementTx, swapNote, swapTx } from './settlement.ts';
import {
  authorityA,
  balance,
  GAS,
  held,
  intentOf,
  mev,
  run,
  solver,
  storeWith,
  supply,
  tokenA,
  users,
  X,
  Y,
  Z,
} from './testing.ts';

const [alice, bob, carol] = users as [(typeof users)[0], (typeof users)[0], (typeof users)[0]];
const a1 = held(alice, X, 100n, 'a1');
const a2 = held(alice, X, 5n, 'a2');
const b1 = held(bob, Y, 80n, 'b1');
const s1 = held(solver, Y, 10n, 's1');
const store = () => storeWith([a1, a2, b1, s1]);

// Alice gives 100 X for at least 50 Y (fill-or-kill); Bob gives 60 Y for at least 100 X (partial).
const ia = intentOf(alice, [a1], { give: [X, 100n], want: [Y, 50n] });
const ib = intentOf(bob, [b1], { give: [Y, 60n], want: [X, 100n], partial: true });
const key = (n: number) => new Uint8Array(32).fill(n);
const to = (who: typeof alice, asset: typeof X, amount: bigint, k: number): Note =>
  swapNote(who.publicKey, asset, amount, key(k));

/** The honest trade: Alice sells 100 X for 60 Y, Bob 60 Y (of his 80) for 100 X. */
const honestOutputs = [to(alice, Y, 60n, 1), to(bob, X, 100n, 2), to(bob, Y, 20n, 3)];

const rejectedBy = (who: typeof alice) => ({
  accepted: false,
  phase: 'validity',
  predicate: toHex(swapOwnerCommitment(who.publicKey)),
});

describe('swap-owner: an honest settlement', () => {
  it('is accepted, built by hand or from a Settlement, and moves exactly the filled amounts', () => {
    const orders = new Map<string, Order>([ia, ib].map((i) => [orderOf(i).id, orderOf(i)]));
    const settlement: Settlement = {
      prices: new Map([
        [orderOf(ia).sell, 3n],
        [orderOf(ia).buy, 5n],
      ]),
      fills: [
        { id: orderOf(ia).id, sold: 100n, bought: 60n },
        { id: orderOf(ib).id, sold: 60n, bought: 100n },
      ],
    };
    expect(settlementViolation(orders, settlement)).toBeUndefined();
    const built = settlementTx({
      settlement,
      offers: new Map([
        [orderOf(ia).id, { intent: ia, notes: [a1] }],
        [orderOf(ib).id, { intent: ib, notes: [b1] }],
      ]),
      solver: { secretKey: solver.secretKey, notes: [s1] },
    });
    expect(built.ok).toBe(true);
    if (!built.ok) return;
    const byHand = swapTx([a1, b1], honestOutputs, [ia, ib], []);
    for (const tx of [byHand, built.tx]) {
      const { result, after } = run(store(), [tx]);
      expect(result.receipts[0]).toMatchObject({ accepted: true });
      expect(balance(after, alice, X)).toBe(5n);
      expect(balance(after, alice, Y)).toBe(60n);
      expect(balance(after, bob, X)).toBe(100n);
      expect(balance(after, bob, Y)).toBe(20n);
      expect(balance(after, solver, Y)).toBe(10n);
      expect(supply(after, X)).toBe(105n);
      expect(supply(after, Y)).toBe(90n);
    }
  });

  it('a payload is read as a SwapPayload, else as a TokenPayload with no intents', () => {
    const sp = { signatures: [], intents: [ia], routes: [] };
    expect(swapPayloadOf(encode(SwapPayload, sp))).toEqual(sp);
    const entry = { publicKey: alice.publicKey, signature: new Uint8Array(64) };
    expect(swapPayloadOf(encode(TokenPayload, { signatures: [entry] }))).toEqual({
      signatures: [entry],
      intents: [],
      routes: [],
    });
    expect(swapPayloadOf(Uint8Array.of(1, 2, 3))).toEqual({ signatures: [], intents: [], routes: [] });
  });
});

describe('swap-owner: what a solver cannot do', () => {
  it("take more of an owner's notes than the intent lists, even if it gives them back", () => {
    const tx = swapTx([a1, a2, b1], [...honestOutputs, to(alice, X, 5n, 4)], [ia, ib], []);
    expect(run(store(), [tx]).result.receipts[0]).toMatchObject(rejectedBy(alice));
  });

  it('take fewer notes than the intent lists', () => {
    const both = intentOf(alice, [a1, a2], { give: [X, 100n], want: [Y, 50n] });
    const tx = swapTx([a1, b1], honestOutputs, [both, ib], []);
    expect(run(store(), [tx]).result.receipts[0]).toMatchObject(rejectedBy(alice));
  });

  it('pay less than the limit price, keeping the unit itself', () => {
    const outputs = [to(alice, Y, 49n, 1), to(bob, X, 100n, 2), to(bob, Y, 20n, 3), to(solver, Y, 11n, 5)];
    expect(run(store(), [swapTx([a1, b1], outputs, [ia, ib], [])]).result.receipts[0]).toMatchObject(
      rejectedBy(alice),
    );
    // at the limit exactly it is accepted (Bob keeps his terms in both)
    const atLimit = [to(alice, Y, 50n, 1), to(bob, X, 100n, 2), to(bob, Y, 30n, 3)];
    const tx = swapTx([a1, b1], atLimit, [ia, ib], []);
    expect(run(store(), [tx]).result.receipts[0]).toMatchObject({ accepted: true });
  });

  it('take an asset the intent does not give', () => {
    // Alice's intent gives X; her notes also hold Z here, which the solver keeps
    const az = held(alice, Z, 7n, 'az');
    const mixed = intentOf(alice, [a1, az], { give: [X, 100n], want: [Y, 50n] });
    const outputs = [to(alice, Y, 60n, 1), to(bob, X, 100n, 2), to(bob, Y, 20n, 3)];
    const kept = swapTx([a1, az, b1], [...outputs, to(solver, Z, 7n, 5)], [mixed, ib], []);
    expect(run(storeWith([a1, az, b1]), [kept]).result.receipts[0]).toMatchObject(rejectedBy(alice));
    const returned = swapTx([a1, az, b1], [...outputs, to(alice, Z, 7n, 5)], [mixed, ib], []);
    expect(run(storeWith([a1, az, b1]), [returned]).result.receipts[0]).toMatchObject({ accepted: true });
  });

  it('fill a fill-or-kill intent in part, though at its limit price', () => {
    // Alice sells 50 of her 100 X for 30 Y; Bob (partial) sells 30 Y for 50 X
    const outputs = [to(alice, X, 50n, 1), to(alice, Y, 30n, 2), to(bob, X, 50n, 3), to(bob, Y, 50n, 4)];
    expect(run(store(), [swapTx([a1, b1], outputs, [ia, ib], [])]).result.receipts[0]).toMatchObject(
      rejectedBy(alice),
    );
    // the same fill of a partial intent is accepted
    const pa = intentOf(alice, [a1], { give: [X, 100n], want: [Y, 50n], partial: true });
    const tx = swapTx([a1, b1], outputs, [pa, ib], []);
    expect(run(store(), [tx]).result.receipts[0]).toMatchObject({ accepted: true });
  });

  it('reuse an intent: its notes are spent, the executor refuses the second settlement', () => {
    const first = swapTx([a1, b1], honestOutputs, [ia, ib], []);
    const again = swapTx(
      [a1, b1],
      [to(alice, Y, 60n, 11), to(bob, X, 100n, 12), to(bob, Y, 20n, 13)],
      [ia, ib],
      [],
    );
    const { result, after } = run(store(), [first, again]);
    expect(result.receipts[0]).toMatchObject({ accepted: true });
    expect(result.receipts[1]).toMatchObject({ accepted: false, phase: 'lookup' });
    expect(run(storeWith(after), [again]).result.receipts[0]).toMatchObject({
      accepted: false,
      phase: 'lookup',
      reason: 'input note missing or already spent',
    });
  });

  it('use a forged intent: changed terms under the old signature, or signed by another key', () => {
    const forged: SignedSwapIntent = {
      terms: { ...ia.terms, want: { ...ia.terms.want, amount: 10n } },
      signature: ia.signature,
    };
    const cheap = [to(alice, Y, 20n, 1), to(bob, X, 100n, 2), to(bob, Y, 60n, 3)];
    expect(run(store(), [swapTx([a1, b1], cheap, [forged, ib], [])]).result.receipts[0]).toMatchObject(
      rejectedBy(alice),
    );
    const misSigned = signIntent({ ...ia.terms, want: { ...ia.terms.want, amount: 10n } }, bob.secretKey);
    expect(run(store(), [swapTx([a1, b1], cheap, [misSigned, ib], [])]).result.receipts[0]).toMatchObject(
      rejectedBy(alice),
    );
  });

  it("use another owner's intent, even one naming this owner's notes", () => {
    const carols = signIntent(
      { ...ia.terms, owner: carol.publicKey, want: { ...ia.terms.want, amount: 1n } },
      carol.secretKey,
    );
    const tx = swapTx([a1, b1], honestOutputs, [carols, ib], []);
    expect(run(store(), [tx]).result.receipts[0]).toMatchObject(rejectedBy(alice));
  });

  it('carry two intents of one owner (at most one per owner per transaction)', () => {
    const other = intentOf(alice, [a1], { give: [X, 100n], want: [Y, 50n], nonce: 1 });
    const tx = swapTx([a1, b1], honestOutputs, [ia, other, ib], []);
    expect(run(store(), [tx]).result.receipts[0]).toMatchObject(rejectedBy(alice));
  });

  it('mint: a mint authority signature inside a SwapPayload does not reach the token', () => {
    const extra = [...honestOutputs, to(solver, Y, 1n, 9)];
    const digest = declaredDigest({
      inputs: [a1, b1].map((n) => noteKey(n)),
      outputs: extra,
      payload: new Uint8Array(0),
    });
    const signatures = [{ publicKey: authorityA.publicKey, signature: sign(authorityA.secretKey, digest) }];
    const tx = declaredTx(
      [a1, b1],
      extra,
      encode(SwapPayload, { signatures, intents: [ia, ib], routes: [] }),
    );
    expect(run(store(), [tx]).result.receipts[0]).toMatchObject({
      accepted: false,
      phase: 'validity',
      predicate: toHex(tokenA.application),
    });
    // with a TokenPayload the same authority mints
    const mint = signTx(declaredTx([], [to(solver, Y, 1n, 9)]), [authorityA.secretKey]);
    expect(run(store(), [mint]).result.receipts[0]).toMatchObject({ accepted: true });
  });

  it('create value: a settlement that gives the solver an extra unit is refused by conservation', () => {
    const tx = swapTx([a1, b1], [...honestOutputs, to(solver, Y, 1n, 9)], [ia, ib], []);
    expect(run(store(), [tx]).result.receipts[0]).toMatchObject({
      accepted: false,
      predicate: toHex(tokenA.application),
    });
  });
});

describe('swap-owner: spending by signature', () => {
  it("a swap-owner note moves with its owner's signature over the digest, in either payload", () => {
    const outputs = [tokenNote(tokenA, { owner: bob.publicKey, asset: X.asset, amount: 100n, key: key(1) })];
    const unsigned = transferTx(
      tokenA,
      [a1],
      [{ owner: bob.publicKey, asset: X.asset, amount: 100n, key: key(1) }],
    );
    expect(run(store(), [unsigned]).result.receipts[0]).toMatchObject(rejectedBy(alice));
    expect(run(store(), [signTx(unsigned, [bob.secretKey])]).result.receipts[0]).toMatchObject(
      rejectedBy(alice),
    );
    expect(run(store(), [signTx(unsigned, [alice.secretKey])]).result.receipts[0]).toMatchObject({
      accepted: true,
    });
    expect(run(store(), [swapTx([a1], outputs, [], [alice.secretKey])]).result.receipts[0]).toMatchObject({
      accepted: true,
    });
  });
});

describe('swap-owner: expiry (inclusive: `expires` is the last height an intent may settle at)', () => {
  // Alice's intent expires at 100, Bob's at 1,000
  const soon = intentOf(alice, [a1], { give: [X, 100n], want: [Y, 50n], expires: 100n });
  const settle = (intents: SignedSwapIntent[], signers: Uint8Array[] = []) =>
    swapTx([a1, b1], honestOutputs, intents, signers);

  it('a settlement is accepted up to the expiry height and refused by the expired owner after it', () => {
    for (const height of [0n, 99n, 100n])
      expect(run(store(), [settle([soon, ib])], height).result.receipts[0]).toMatchObject({
        accepted: true,
      });
    for (const height of [101n, 2n ** 64n - 1n])
      expect(run(store(), [settle([soon, ib])], height).result.receipts[0]).toMatchObject(rejectedBy(alice));
    // the one whose intent expired is refused, whichever it is
    const bobSoon = intentOf(bob, [b1], { give: [Y, 60n], want: [X, 100n], partial: true, expires: 100n });
    expect(run(store(), [settle([ia, bobSoon])], 101n).result.receipts[0]).toMatchObject(rejectedBy(bob));
    expect(run(store(), [settle([ia, ib])], 1_000n).result.receipts[0]).toMatchObject({ accepted: true });
  });

  it("an owner's signature over the digest authorises the spend whatever its intent's expiry", () => {
    expect(run(store(), [settle([soon, ib], [alice.secretKey])], 101n).result.receipts[0]).toMatchObject({
      accepted: true,
    });
  });

  it('the wave-parallel path and an ordered block at that height give the same verdicts', async () => {
    for (const height of [100n, 101n]) {
      const tx = settle([soon, ib]);
      const serial = run(store(), [tx], height).result;
      const parallel = await executeParallel([tx], store(), mev, GAS, inProcessRunner(mev), height);
      expect(parallel.receipts).toEqual(serial.receipts);
      const block: OrderedBlock = {
        height,
        blockHash: new Uint8Array(32),
        proposer: new Uint8Array(32),
        charges: [],
        txs: [
          {
            envelope: new Uint8Array(32),
            includedAt: height,
            encrypted: false,
            tx: { tag: 'ok', value: encode(Transaction, tx) },
          },
        ],
      };
      expect(executeOrderedSerial(block, store(), mev, GAS).receipts).toEqual(serial.receipts);
      expect(serial.receipts[0]!.accepted).toBe(height <= 100n);
    }
  });
});

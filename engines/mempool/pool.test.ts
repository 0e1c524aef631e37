import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { propParams } from '../../props/config.ts';
import { toHex } from '../../wire/commit.ts';
import { envelopeHash, SignedEnvelope } from '../../wire/envelope.ts';
import type { FeeLedgerView } from '../../wire/fees.ts';
import { decode } from '../../wire/schema.ts';
import { verify } from '../../wire/sign.ts';
import {
  type Admission,
  addEpochKey,
  admit,
  batch,
  batchEntries,
  comparePriority,
  createPool,
  entries,
  has,
  isFull,
  knownEpochs,
  onCommitted,
  type PoolConfig,
  type PoolEnv,
  type PoolLimits,
  type PoolState,
  poolSize,
  REJECT_REASONS,
  type RejectReason,
  type Removal,
  replayMemory,
} from './pool.ts';
import { deepFreeze, encryptedBody, epochKey, INSTANCE, keyOf, signedBytes } from './testing.ts';

const alice = keyOf('alice');
const bob = keyOf('bob');
const carol = keyOf('carol');
const validator = keyOf('validator-0');
const KEY = epochKey();

/**
 * Drives the pure pool as a sequence of states: holds the latest one, deep-frozen, so that any
 * write to a state a function was given throws.
 */
class Pool {
  private state: PoolState;
  constructor(
    state: PoolState,
    private readonly env: PoolEnv,
  ) {
    this.state = deepFreeze(state);
  }
  private next<R extends { pool: PoolState }>(r: R): R {
    this.state = deepFreeze(r.pool);
    return r;
  }
  admit(bytes: Uint8Array): Admission {
    return this.next(admit(this.state, bytes, this.env)).admission;
  }
  onCommitted(height: bigint, txs: readonly Uint8Array[]): Removal[] {
    return this.next(onCommitted(this.state, height, txs, this.env)).removed;
  }
  addEpochKey(epoch: bigint, publicKey: Uint8Array): Removal[] {
    return this.next(addEpochKey(this.state, epoch, publicKey)).removed;
  }
  get size() {
    return poolSize(this.state);
  }
  get bytes() {
    return this.state.bytes;
  }
  get full() {
    return isFull(this.state);
  }
  get replayMemory() {
    return replayMemory(this.state);
  }
  has(hash: string) {
    return has(this.state, hash);
  }
  entries() {
    return entries(this.state);
  }
  batch(maxCount: number, maxBytes: number) {
    return batch(this.state, maxCount, maxBytes);
  }
  batchEntries(maxCount: number, maxBytes: number) {
    return batchEntries(this.state, maxCount, maxBytes);
  }
  knownEpochs() {
    return knownEpochs(this.state);
  }
}

function pool(
  limits: Partial<PoolLimits> = {},
  extra: Partial<PoolConfig> & { ledger?: FeeLedgerView } = {},
): Pool {
  const { ledger, ...config } = extra;
  const p = new Pool(
    createPool({ instance: INSTANCE, validators: [validator.publicKey], limits, ...config }),
    { verify, ledger },
  );
  p.addEpochKey(1n, KEY.publicKey);
  return p;
}

function rejects(p: Pool, bytes: Uint8Array, reason: RejectReason): void {
  const before = p.entries().map((e) => e.hash);
  const adm = p.admit(bytes);
  expect(adm.ok ? 'admitted' : adm.reason).toBe(reason);
  expect(p.entries().map((e) => e.hash)).toEqual(before);
}

function admits(p: Pool, bytes: Uint8Array) {
  const adm = p.admit(bytes);
  if (!adm.ok) throw new Error(`rejected: ${adm.reason} (${adm.detail})`);
  return adm;
}

/** (payer name, nonce) of a batch, for readable expectations. */
function order(p: Pool, maxCount = 10_000, maxBytes = 1 << 30): string[] {
  const names = new Map([alice, bob, carol, validator].map((k, i) => [toHex(k.publicKey), 'abcv'[i]!]));
  return p.batch(maxCount, maxBytes).map((b) => {
    const e = decode(SignedEnvelope, b).envelope;
    return `${names.get(toHex(e.payer)) ?? '?'}${e.nonce}`;
  });
}

describe('pool admission', () => {
  it('admits a signed plain envelope; its hash is envelopeHash', () => {
    const p = pool();
    const bytes = signedBytes({ key: alice });
    const adm = admits(p, bytes);
    expect(toHex(adm.entry.hashBytes)).toBe(toHex(envelopeHash(decode(SignedEnvelope, bytes))));
    expect(p.size).toBe(1);
    expect(p.bytes).toBe(bytes.length);
    expect(p.batch(10, 1 << 20)).toEqual([bytes]);
  });

  it('every reason is listed', () => {
    expect([...REJECT_REASONS].sort()).toEqual(
      [
        'bad-signature',
        'cannot-pay',
        'duplicate',
        'expired',
        'expiry-too-far',
        'fee-too-low',
        'invalid-body',
        'nonce-in-use',
        'not-a-validator',
        'oversize',
        'pool-full',
        'replay',
        'sender-limit',
        'undecodable',
        'unknown-epoch',
        'wrong-instance',
      ].sort(),
    );
  });

  it('oversize', () => {
    const p = pool({ maxEnvelopeBytes: 200 });
    rejects(p, signedBytes({ key: alice, body: { tag: 'plain', value: new Uint8Array(300) } }), 'oversize');
    admits(p, signedBytes({ key: alice, body: { tag: 'plain', value: new Uint8Array(10) } }));
  });

  it('undecodable', () => {
    const p = pool();
    rejects(p, Uint8Array.of(1, 2, 3), 'undecodable');
    const good = signedBytes({ key: alice });
    rejects(p, Uint8Array.of(...good, 0), 'undecodable'); // trailing byte
    rejects(p, good.subarray(0, good.length - 1), 'undecodable');
  });

  it('wrong-instance', () => {
    rejects(pool(), signedBytes({ key: alice, instance: 'other' }), 'wrong-instance');
  });

  it('bad-signature: signed by someone else, or a field changed after signing', () => {
    const p = pool();
    rejects(p, signedBytes({ key: alice }, bob), 'bad-signature');
    const bytes = signedBytes({ key: alice, fee: 10n });
    const signed = decode(SignedEnvelope, bytes);
    const tampered = signedBytes({ key: alice, fee: 11n }).slice();
    // put the fee-10 signature on the fee-11 envelope
    tampered.set(signed.signature, tampered.length - 64);
    rejects(p, tampered, 'bad-signature');
  });

  it('fee-too-low; validators may pay 0 for their own bodies', () => {
    const p = pool({ minFee: 5n });
    rejects(p, signedBytes({ key: alice, fee: 4n }), 'fee-too-low');
    admits(p, signedBytes({ key: alice, fee: 5n }));
    admits(p, signedBytes({ key: validator, fee: 0n, body: { tag: 'shares', value: Uint8Array.of(1) } }));
    admits(
      p,
      signedBytes({ key: validator, fee: 0n, nonce: 1n, body: { tag: 'dkg', value: Uint8Array.of(2) } }),
    );
    // a validator's plain transaction pays like anyone's
    rejects(p, signedBytes({ key: validator, fee: 0n, nonce: 2n }), 'fee-too-low');
  });

  it('not-a-validator: shares and dkg bodies only from validators', () => {
    const p = pool();
    rejects(
      p,
      signedBytes({ key: alice, body: { tag: 'shares', value: Uint8Array.of(1) } }),
      'not-a-validator',
    );
    rejects(p, signedBytes({ key: alice, body: { tag: 'dkg', value: Uint8Array.of(1) } }), 'not-a-validator');
  });

  it('expired and expiry-too-far', () => {
    const p = pool({ maxExpiryHorizon: 50n }, { height: 10n });
    rejects(p, signedBytes({ key: alice, expiry: 10n }), 'expired');
    rejects(p, signedBytes({ key: alice, expiry: 61n }), 'expiry-too-far');
    admits(p, signedBytes({ key: alice, expiry: 11n }));
    admits(p, signedBytes({ key: alice, nonce: 1n, expiry: 60n }));
  });

  it('duplicate', () => {
    const p = pool();
    const bytes = signedBytes({ key: alice });
    admits(p, bytes);
    rejects(p, bytes, 'duplicate');
  });

  it('nonce-in-use and replace-by-fee', () => {
    const p = pool();
    const first = admits(p, signedBytes({ key: alice, nonce: 7n, fee: 10n }));
    rejects(
      p,
      signedBytes({ key: alice, nonce: 7n, fee: 10n, body: { tag: 'plain', value: Uint8Array.of(9) } }),
      'nonce-in-use',
    );
    rejects(p, signedBytes({ key: alice, nonce: 7n, fee: 9n }), 'nonce-in-use');
    const second = admits(p, signedBytes({ key: alice, nonce: 7n, fee: 11n }));
    expect(second.removed).toEqual([{ hash: first.entry.hash, reason: 'replaced' }]);
    expect(p.size).toBe(1);
    expect(p.has(first.entry.hash)).toBe(false);
    // a forged replacement never replaces
    rejects(p, signedBytes({ key: alice, nonce: 7n, fee: 99n }, bob), 'bad-signature');
    expect(p.has(second.entry.hash)).toBe(true);
  });

  it('sender-limit (a replacement does not count twice)', () => {
    const p = pool({ perSenderLimit: 2 });
    admits(p, signedBytes({ key: alice, nonce: 0n }));
    admits(p, signedBytes({ key: alice, nonce: 1n }));
    rejects(p, signedBytes({ key: alice, nonce: 2n }), 'sender-limit');
    admits(p, signedBytes({ key: alice, nonce: 1n, fee: 20n }));
    admits(p, signedBytes({ key: bob, nonce: 2n }));
  });

  it('pool-full by count: a higher fee evicts the lowest priority, an equal fee does not', () => {
    const p = pool({ maxCount: 3 });
    admits(p, signedBytes({ key: alice, nonce: 0n, fee: 5n }));
    const low = admits(p, signedBytes({ key: bob, nonce: 0n, fee: 3n }));
    admits(p, signedBytes({ key: carol, nonce: 0n, fee: 4n }));
    expect(p.full).toBe(true);
    rejects(p, signedBytes({ key: alice, nonce: 1n, fee: 3n }), 'pool-full');
    rejects(p, signedBytes({ key: alice, nonce: 1n, fee: 2n }), 'pool-full');
    const high = admits(p, signedBytes({ key: alice, nonce: 1n, fee: 6n }));
    expect(high.removed).toEqual([{ hash: low.entry.hash, reason: 'evicted' }]);
    expect(order(p)).toEqual(['a1', 'a0', 'c0']);
  });

  it('pool-full by bytes: evicts as many as needed, or none', () => {
    const small = (key = alice, nonce = 0n, fee = 1n) =>
      signedBytes({ key, nonce, fee, body: { tag: 'plain', value: new Uint8Array(100) } });
    const size = small().length;
    const big = (fee: bigint) =>
      signedBytes({ key: carol, fee, body: { tag: 'plain', value: new Uint8Array(100 + (size >> 1)) } });
    const p = pool({ maxBytes: 3 * size, maxEnvelopeBytes: 3 * size });
    admits(p, small(alice, 0n, 1n));
    admits(p, small(bob, 0n, 2n));
    admits(p, small(alice, 1n, 9n));
    // needs two slots: both victims must pay less
    rejects(p, big(2n), 'pool-full');
    const adm = admits(p, big(3n));
    expect(adm.removed.map((r) => r.reason)).toEqual(['evicted', 'evicted']);
    expect(order(p)).toEqual(['a1', 'c0']);
    expect(p.bytes).toBeLessThanOrEqual(3 * size);
  });

  it("validators' bodies are never evicted by transactions and evict them", () => {
    const p = pool({ maxCount: 2 });
    admits(p, signedBytes({ key: validator, fee: 0n, body: { tag: 'shares', value: Uint8Array.of(1) } }));
    admits(p, signedBytes({ key: alice, fee: 1000n }));
    admits(
      p,
      signedBytes({ key: validator, fee: 0n, nonce: 1n, body: { tag: 'dkg', value: Uint8Array.of(1) } }),
    );
    expect(order(p)).toEqual(['v0', 'v1']);
    rejects(p, signedBytes({ key: bob, fee: 10_000n }), 'pool-full');
  });

  it('unknown-epoch', () => {
    const p = pool();
    const body = encryptedBody(KEY.publicKey, alice.publicKey, Uint8Array.of(1, 2), { epoch: 2n });
    rejects(p, signedBytes({ key: alice, body }), 'unknown-epoch');
    p.addEpochKey(2n, KEY.publicKey);
    admits(p, signedBytes({ key: alice, body }));
  });

  it('invalid-body: undecodable ciphertext, invalid ciphertext, wrong label', () => {
    const p = pool();
    const ok = encryptedBody(KEY.publicKey, alice.publicKey, Uint8Array.of(1, 2, 3));
    if (ok.tag !== 'encrypted') throw new Error('unreachable');
    const ct = ok.value.ciphertext;
    const junk = { tag: 'encrypted', value: { epoch: 1n, ciphertext: Uint8Array.of(1, 2, 3) } } as const;
    rejects(p, signedBytes({ key: alice, body: junk }), 'invalid-body');
    for (const at of [5, 40, 70, 100, ct.length - 1]) {
      const flipped = ct.slice();
      flipped[at]! ^= 1;
      const body = { tag: 'encrypted', value: { epoch: 1n, ciphertext: flipped } } as const;
      rejects(p, signedBytes({ key: alice, body }), 'invalid-body');
    }
    // a ciphertext copied from alice's envelope into bob's: the label names alice
    rejects(p, signedBytes({ key: bob, body: ok }), 'invalid-body');
    // a label for another instance
    const other = encryptedBody(KEY.publicKey, alice.publicKey, Uint8Array.of(1), { instance: 'other' });
    rejects(p, signedBytes({ key: alice, body: other }), 'invalid-body');
    admits(p, signedBytes({ key: alice, body: ok }));
  });

  it('replay: a committed (payer, nonce) is refused until its expiry passes', () => {
    const p = pool();
    const bytes = signedBytes({ key: alice, nonce: 3n, expiry: 20n });
    const adm = admits(p, bytes);
    expect(p.onCommitted(5n, [bytes])).toEqual([{ hash: adm.entry.hash, reason: 'included' }]);
    expect(p.size).toBe(0);
    expect(p.replayMemory).toBe(1);
    rejects(p, bytes, 'replay');
    rejects(p, signedBytes({ key: alice, nonce: 3n, fee: 50n, expiry: 30n }), 'replay');
    p.onCommitted(19n, []);
    rejects(p, bytes, 'replay');
    p.onCommitted(20n, []);
    expect(p.replayMemory).toBe(0);
    // the committed envelope itself is now expired; the nonce may be reused by a new envelope
    rejects(p, bytes, 'expired');
    admits(p, signedBytes({ key: alice, nonce: 3n, expiry: 40n }));
  });

  it('after commit: a pooled envelope whose nonce another committed envelope used leaves (replay)', () => {
    const p = pool();
    const ours = admits(p, signedBytes({ key: alice, nonce: 1n, fee: 10n }));
    const theirs = signedBytes({ key: alice, nonce: 1n, fee: 5n }); // never pooled here
    expect(p.onCommitted(1n, [theirs])).toEqual([{ hash: ours.entry.hash, reason: 'replay' }]);
    expect(p.size).toBe(0);
    rejects(p, signedBytes({ key: alice, nonce: 1n, fee: 100n }), 'replay');
  });

  it('a forged committed envelope does not poison replay memory', () => {
    const p = pool();
    const ours = admits(p, signedBytes({ key: alice, nonce: 1n }));
    const forged = signedBytes({ key: alice, nonce: 1n, fee: 5n }, bob);
    expect(p.onCommitted(1n, [forged, Uint8Array.of(9, 9)])).toEqual([]);
    expect(p.has(ours.entry.hash)).toBe(true);
    expect(p.replayMemory).toBe(0);
  });

  it('expired envelopes leave after commit', () => {
    const p = pool();
    const a = admits(p, signedBytes({ key: alice, expiry: 3n }));
    admits(p, signedBytes({ key: bob, expiry: 4n }));
    expect(p.onCommitted(3n, [])).toEqual([{ hash: a.entry.hash, reason: 'expired' }]);
    expect(order(p)).toEqual(['b0']);
  });

  it('forgetting an old epoch drops its envelopes', () => {
    const p = pool({ maxEpochs: 2 });
    const body = encryptedBody(KEY.publicKey, alice.publicKey, Uint8Array.of(1));
    const enc = admits(p, signedBytes({ key: alice, body }));
    admits(p, signedBytes({ key: bob }));
    expect(p.addEpochKey(2n, KEY.publicKey)).toEqual([]);
    expect(p.addEpochKey(3n, KEY.publicKey)).toEqual([{ hash: enc.entry.hash, reason: 'epoch-retired' }]);
    expect(p.knownEpochs()).toEqual([2n, 3n]);
    rejects(p, signedBytes({ key: alice, nonce: 5n, body }), 'unknown-epoch');
  });
});

describe('pool order and batch', () => {
  it("validators' bodies first, then fee descending, then (payer, nonce) ascending", () => {
    const p = pool();
    const [first, second] = [alice, bob].sort((x, y) => (toHex(x.publicKey) < toHex(y.publicKey) ? -1 : 1));
    const n = (k: typeof alice) => (k === alice ? 'a' : 'b');
    admits(p, signedBytes({ key: second!, nonce: 2n, fee: 5n }));
    admits(p, signedBytes({ key: first!, nonce: 9n, fee: 5n }));
    admits(p, signedBytes({ key: first!, nonce: 1n, fee: 5n }));
    admits(p, signedBytes({ key: carol, nonce: 0n, fee: 50n }));
    admits(p, signedBytes({ key: validator, fee: 0n, body: { tag: 'shares', value: Uint8Array.of(1) } }));
    expect(order(p)).toEqual(['v0', 'c0', `${n(first!)}1`, `${n(first!)}9`, `${n(second!)}2`]);
  });

  it('batch respects maxCount and maxBytes, skipping what does not fit', () => {
    const p = pool();
    const big = signedBytes({ key: alice, fee: 9n, body: { tag: 'plain', value: new Uint8Array(1000) } });
    const small1 = signedBytes({ key: bob, fee: 5n });
    const small2 = signedBytes({ key: carol, fee: 4n });
    for (const b of [big, small1, small2]) admits(p, b);
    expect(p.batch(2, 1 << 20)).toEqual([big, small1]);
    expect(p.batch(10, small1.length + small2.length)).toEqual([small1, small2]);
    expect(p.batch(0, 1 << 20)).toEqual([]);
  });

  it('property: ordering blindness — envelopes differing only in ciphertext bytes of equal length give the same order', () => {
    const payers = [alice, bob, carol];
    const spec = fc.record({
      payer: fc.integer({ min: 0, max: 2 }),
      nonce: fc.bigInt({ min: 0n, max: 5n }),
      fee: fc.bigInt({ min: 1n, max: 8n }),
      encrypted: fc.boolean(),
      length: fc.integer({ min: 0, max: 48 }),
    });
    fc.assert(
      fc.property(
        fc.array(spec, { minLength: 1, maxLength: 14 }),
        fc.integer({ min: 2, max: 8 }),
        fc.integer({ min: 0, max: 0xffff }),
        (specs, maxCount, salt) => {
          const plaintexts = (variant: number) =>
            specs.map((s, i) => {
              const out = new Uint8Array(s.length);
              for (let j = 0; j < s.length; j++) out[j] = (i * 31 + j * 7 + variant * 101 + salt) & 0xff;
              return out;
            });
          const feed = (variant: number) => {
            const p = pool({ maxCount, perSenderLimit: 4 });
            const texts = plaintexts(variant);
            const reasons: string[] = [];
            specs.forEach((s, i) => {
              const key = payers[s.payer]!;
              const randomness = new Uint8Array(64).fill((variant * 13 + i) & 0xff);
              const body = s.encrypted
                ? encryptedBody(KEY.publicKey, key.publicKey, texts[i]!, { randomness })
                : ({ tag: 'plain', value: Uint8Array.of(s.length) } as const);
              const adm = p.admit(signedBytes({ key, nonce: s.nonce, fee: s.fee, body }));
              reasons.push(adm.ok ? 'ok' : adm.reason);
            });
            const batch = p.batchEntries(maxCount, 1 << 30).map((e) => `${e.payer}:${e.nonce}:${e.fee}`);
            return { reasons, batch };
          };
          const a = feed(0);
          const b = feed(1);
          expect(b.reasons).toEqual(a.reasons);
          expect(b.batch).toEqual(a.batch);
        },
      ),
      propParams('mempool.ordering-blindness', 60),
    );
  });

  it('property: the pool keeps its invariants under any sequence of operations', () => {
    const payers = [alice, bob, carol, validator];
    const op = fc.oneof(
      fc.record({
        kind: fc.constant('submit' as const),
        payer: fc.integer({ min: 0, max: 3 }),
        nonce: fc.bigInt({ min: 0n, max: 6n }),
        fee: fc.bigInt({ min: 0n, max: 6n }),
        expiry: fc.bigInt({ min: 1n, max: 12n }),
        size: fc.integer({ min: 0, max: 300 }),
        shares: fc.boolean(),
      }),
      fc.record({ kind: fc.constant('commit' as const), take: fc.integer({ min: 0, max: 3 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const limits = { maxCount: 6, maxBytes: 1500, maxEnvelopeBytes: 500, perSenderLimit: 3 };
        const p = pool(limits);
        let height = 0n;
        const committed = new Map<string, bigint>();
        for (const o of ops) {
          if (o.kind === 'submit') {
            const key = payers[o.payer]!;
            const body = o.shares
              ? ({ tag: 'shares', value: new Uint8Array(o.size) } as const)
              : ({ tag: 'plain', value: new Uint8Array(o.size) } as const);
            const adm = p.admit(signedBytes({ key, nonce: o.nonce, fee: o.fee, expiry: o.expiry, body }));
            if (adm.ok) {
              const k = `${adm.entry.payer}:${adm.entry.nonce}`;
              expect(committed.has(k)).toBe(false);
              expect(adm.entry.expiry > height).toBe(true);
            }
          } else {
            height++;
            const block = p.batch(o.take, 1 << 20);
            for (const b of block) {
              const e = decode(SignedEnvelope, b).envelope;
              committed.set(`${toHex(e.payer)}:${e.nonce}`, e.expiry);
            }
            p.onCommitted(height, block);
            for (const [k, exp] of committed) if (exp <= height) committed.delete(k);
          }
          const entries = p.entries();
          expect(entries.length).toBeLessThanOrEqual(limits.maxCount);
          expect(entries.reduce((n, e) => n + e.bytes.length, 0)).toBe(p.bytes);
          expect(p.bytes).toBeLessThanOrEqual(limits.maxBytes);
          for (let i = 1; i < entries.length; i++) {
            expect(comparePriority(entries[i - 1]!, entries[i]!)).toBeLessThan(0);
          }
          const perPayer = new Map<string, number>();
          for (const e of entries) {
            perPayer.set(e.payer, (perPayer.get(e.payer) ?? 0) + 1);
            expect(e.expiry > height).toBe(true);
            expect(committed.has(`${e.payer}:${e.nonce}`)).toBe(false);
          }
          for (const n of perPayer.values()) expect(n).toBeLessThanOrEqual(limits.perSenderLimit);
        }
      }),
      propParams('mempool.pool-invariants', 100),
    );
  });
});

/** A ledger as the executor's records describe it: balances, used nonces, the executed height. */
function ledgerOf(balances: Record<string, bigint>) {
  const state = {
    balances: new Map(Object.entries(balances)),
    nonces: new Map<string, bigint>(),
    executed: 0n,
  };
  const view: FeeLedgerView = {
    feeBalance: (payer) => state.balances.get(toHex(payer)) ?? 0n,
    nonceUsedUntil: (payer, nonce) => state.nonces.get(`${toHex(payer)}:${nonce}`),
    executedHeight: () => state.executed,
  };
  return { state, view };
}

describe('pool admission against the ledger (fees and nonces survive restarts)', () => {
  const A = toHex(alice.publicKey);

  it('an unfunded payer cannot buy priority: cannot-pay, whatever fee it claims', () => {
    const { view } = ledgerOf({});
    const p = pool({}, { ledger: view });
    rejects(p, signedBytes({ key: bob, fee: 10n ** 12n }), 'cannot-pay');
    expect(p.size).toBe(0);
  });

  it("a payer's pooled fees together must fit its balance; replace-by-fee counts only the new fee", () => {
    const { view } = ledgerOf({ [A]: 25n });
    const p = pool({}, { ledger: view });
    admits(p, signedBytes({ key: alice, fee: 10n, nonce: 1n }));
    admits(p, signedBytes({ key: alice, fee: 10n, nonce: 2n }));
    rejects(p, signedBytes({ key: alice, fee: 10n, nonce: 3n }), 'cannot-pay');
    // replacing nonce 2 (fee 10) by fee 15 needs 10 + 15 = 25: it fits
    admits(p, signedBytes({ key: alice, fee: 15n, nonce: 2n }));
    rejects(p, signedBytes({ key: alice, fee: 16n, nonce: 2n }), 'cannot-pay');
  });

  it('fees committed but not yet executed are owed: the balance must cover them too', () => {
    const { state, view } = ledgerOf({ [A]: 25n });
    const p = pool({}, { ledger: view });
    const first = signedBytes({ key: alice, fee: 20n, nonce: 1n });
    admits(p, first);
    p.onCommitted(1n, [first]);
    // height 1 is committed, not executed: the balance still reads 25 but 20 of it is owed
    rejects(p, signedBytes({ key: alice, fee: 10n, nonce: 2n }), 'cannot-pay');
    state.executed = 1n;
    state.balances.set(A, 5n);
    rejects(p, signedBytes({ key: alice, fee: 10n, nonce: 2n }), 'cannot-pay');
    admits(p, signedBytes({ key: alice, fee: 5n, nonce: 2n }));
  });

  it('after a commit, envelopes whose payer can no longer pay leave the pool, lowest priority first', () => {
    const { state, view } = ledgerOf({ [A]: 30n });
    const p = pool({}, { ledger: view });
    admits(p, signedBytes({ key: alice, fee: 12n, nonce: 1n }));
    admits(p, signedBytes({ key: alice, fee: 10n, nonce: 2n }));
    // the payer spent its balance elsewhere (another node's mempool, say)
    state.balances.set(A, 15n);
    state.executed = 1n;
    const removed = p.onCommitted(1n, []);
    expect(removed.map((r) => r.reason)).toEqual(['unpayable']);
    expect(order(p)).toEqual(['a1']);
  });

  it("a restarted pool (empty memory) refuses a committed envelope again: the ledger's nonce record", () => {
    const { state, view } = ledgerOf({ [A]: 100n });
    const bytes = signedBytes({ key: alice, fee: 10n, nonce: 7n, expiry: 50n });
    const before = pool({}, { ledger: view });
    admits(before, bytes);
    before.onCommitted(1n, [bytes]);
    rejects(before, bytes, 'replay');
    // the executor recorded the nonce when it executed height 1; the node restarts
    state.nonces.set(`${A}:7`, 50n);
    state.executed = 1n;
    const after = pool({}, { ledger: view, height: 1n });
    rejects(after, bytes, 'replay');
    // past the envelope's expiry every copy is expired instead, and the record no longer blocks the nonce
    const later = pool({}, { ledger: view, height: 50n });
    rejects(later, bytes, 'expired');
    admits(later, signedBytes({ key: alice, fee: 10n, nonce: 7n, expiry: 90n }));
  });
});

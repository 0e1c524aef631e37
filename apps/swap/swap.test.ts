import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { propParams } from '../../props/config.ts';
import { encode } from '../../wire/schema.ts';
import { keyPairFromSeed } from '../../wire/sign.ts';
import { boughtAt, ceilDiv, fillViolation, type Limit, leastBought, limitOf, surplus } from './fill.ts';
import {
  type AssetRef,
  intentId,
  MAX_INTENT_BYTES,
  malformedTerms,
  readIntent,
  SignedSwapIntent,
  type SwapTerms,
  signIntent,
  swapTopic,
} from './format.ts';

const alice = keyPairFromSeed(new Uint8Array(32).fill(1));
const application = new Uint8Array(32).fill(9);
const asset = (n: number): AssetRef => ({ provenance: [], application, asset: new Uint8Array(32).fill(n) });

function terms(give: bigint, want: bigint, partial = true, from = 1, to = 2): SwapTerms {
  return {
    owner: alice.publicKey,
    give: { of: asset(from), amount: give },
    want: { of: asset(to), amount: want },
    partial,
    expires: 100n,
    inputs: [new Uint8Array(32).fill(7)],
    nonce: new Uint8Array(32),
    routeFee: 0n,
    entry: new Uint8Array(0),
  };
}

const amount = fc.bigInt({ min: 1n, max: 1n << 40n });

describe('swap intent format', () => {
  it('reads back what its owner signed, under the id it signed', () => {
    const intent = signIntent(terms(10n, 5n), alice.secretKey);
    const read = readIntent(encode(SignedSwapIntent, intent));
    expect(read.ok).toBe(true);
    if (read.ok) expect(read.id).toEqual(intentId(intent.terms));
  });

  it('refuses, with a reason and no throw, every single-byte change and any truncation', () => {
    const bytes = encode(SignedSwapIntent, signIntent(terms(10n, 5n), alice.secretKey));
    for (let i = 0; i < bytes.length; i++) {
      const bad = bytes.slice();
      bad[i]! ^= 0x01;
      expect(readIntent(bad).ok).toBe(false);
    }
    for (let n = 0; n < bytes.length; n += 7) expect(readIntent(bytes.subarray(0, n)).ok).toBe(false);
    expect(readIntent(new Uint8Array(MAX_INTENT_BYTES + 1))).toEqual({
      ok: false,
      reason: `intent is over ${MAX_INTENT_BYTES} bytes`,
    });
  });

  it('names what makes terms malformed, and will not sign them', () => {
    expect(malformedTerms(terms(0n, 5n))).toBe('gives nothing');
    expect(malformedTerms(terms(5n, 0n))).toBe('wants nothing');
    expect(malformedTerms(terms(5n, 5n, true, 3, 3))).toBe('gives and wants the same asset');
    expect(malformedTerms({ ...terms(5n, 5n), inputs: [] })).toBe('offers no notes');
    const twice = new Uint8Array(32).fill(4);
    expect(malformedTerms({ ...terms(5n, 5n), inputs: [twice, twice] })).toBe('offers a note twice');
    expect(() => signIntent(terms(0n, 5n), alice.secretKey)).toThrow(/gives nothing/);
  });

  it('has one topic per ordered asset pair', () => {
    expect(swapTopic(asset(1), asset(2))).toBe(swapTopic(asset(1), asset(2)));
    expect(swapTopic(asset(1), asset(2))).not.toBe(swapTopic(asset(2), asset(1)));
    expect(swapTopic(asset(1), asset(2))).not.toBe(
      swapTopic({ ...asset(1), provenance: [new Uint8Array(1)] }, asset(2)),
    );
    expect(swapTopic(asset(1), asset(2))).toMatch(/^swap\/v1\/[0-9a-f]{16}\/[0-9a-f]{16}$/);
  });
});

describe('swap trade rules', () => {
  it('leastBought is the least amount that keeps the limit price', () => {
    fc.assert(
      fc.property(amount, amount, fc.bigInt({ min: 1n, max: 1n << 40n }), (give, want, s0) => {
        const t: Limit = { give, want, partial: true };
        const sold = ((s0 - 1n) % give) + 1n;
        const least = leastBought(t, sold);
        expect(fillViolation(t, { sold, bought: least })).toBeUndefined();
        if (least > 0n)
          expect(fillViolation(t, { sold, bought: least - 1n })).toBe('buys less than the limit price');
      }),
      propParams('apps.swap.least-bought', 300),
    );
  });

  it('rounds the bought amount up at a price: never below the price, never a whole unit above', () => {
    fc.assert(
      fc.property(amount, amount, amount, (sold, num, den) => {
        const b = boughtAt(sold, { num, den });
        expect(b * den >= sold * num).toBe(true);
        expect((b - 1n) * den < sold * num).toBe(true);
      }),
      propParams('apps.swap.bought-at', 300),
    );
  });

  it('at any rate at least the limit price, the rounded fill keeps the terms and its surplus is not negative', () => {
    fc.assert(
      fc.property(amount, amount, amount, amount, (give, want, sold0, extra) => {
        const t: Limit = { give, want, partial: true };
        const sold = ((sold0 - 1n) % give) + 1n;
        // a clearing rate of (want + extra/2^20) per give: at or above the limit
        const rate = { num: want * (1n << 20n) + (extra % (1n << 30n)), den: give * (1n << 20n) };
        const fill = { sold, bought: boughtAt(sold, rate) };
        expect(fillViolation(t, fill)).toBeUndefined();
        expect(surplus(t, fill).num >= 0n).toBe(true);
      }),
      propParams('apps.swap.rate-fill', 300),
    );
  });

  it('keeps the fill rule: fill-or-kill sells all, nobody sells more than offered or nothing', () => {
    const fok = limitOf(terms(10n, 5n, false));
    expect(fillViolation(fok, { sold: 10n, bought: 5n })).toBeUndefined();
    expect(fillViolation(fok, { sold: 9n, bought: 5n })).toBe('fills a fill-or-kill intent in part');
    const partial = limitOf(terms(10n, 5n));
    expect(fillViolation(partial, { sold: 9n, bought: 5n })).toBeUndefined();
    expect(fillViolation(partial, { sold: 11n, bought: 6n })).toBe('sells more than the intent gives');
    expect(fillViolation(partial, { sold: 0n, bought: 6n })).toBe('sells nothing');
  });

  it('ceilDiv is the ceiling', () => {
    expect([ceilDiv(0n, 3n), ceilDiv(1n, 3n), ceilDiv(3n, 3n), ceilDiv(4n, 3n)]).toEqual([0n, 1n, 1n, 2n]);
  });
});

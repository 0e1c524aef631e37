import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { propParams } from '../../props/config.ts';
import type { Hop } from '../../wire/intent.ts';
import { MAX_PAID_HOPS, routePayouts, routeShares, share, sybilGain } from './rewards.ts';

const hop = (n: number): Hop => ({ node: new Uint8Array(32).fill(n), signature: new Uint8Array(64) });
const fee = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });

describe('liquidity routing rewards', () => {
  it('the red-balloon split: nearest the solver the most, each earlier hop half, the rest to the owner', () => {
    expect(routeShares(1024n, 1)).toEqual([512n]);
    // route order: [entry, ..., nearest the solver]
    expect(routeShares(1024n, 3)).toEqual([32n, 64n, 128n]);
    expect(routeShares(1024n, 3).reduce((a, b) => a + b, 0n)).toBeLessThan(1024n);
  });

  it('property: a party that splits its hop into m hops of its own never gains, and loses a quarter or more', () => {
    fc.assert(
      fc.property(
        fee,
        fc.integer({ min: 1, max: MAX_PAID_HOPS }),
        fc.integer({ min: 1, max: MAX_PAID_HOPS }),
        fc.integer({ min: 2, max: 8 }),
        (f, kRaw, tRaw, m) => {
          const k = Math.min(kRaw, MAX_PAID_HOPS - m + 1);
          const t = ((tRaw - 1) % k) + 1;
          const { honest, split } = sybilGain(f, t, k, m);
          expect(split <= honest).toBe(true);
          // exactly: split <= 3/4 of honest, up to the floors
          expect(4n * split <= 3n * honest + 4n * BigInt(m)).toBe(true);
        },
      ),
      propParams('swap.rewards-sybil', 500),
    );
  });

  it('property: shares never exceed the fee, and halve hop by hop away from the solver', () => {
    fc.assert(
      fc.property(fee, fc.integer({ min: 1, max: MAX_PAID_HOPS }), (f, k) => {
        const s = routeShares(f, k);
        expect(s.reduce((a, b) => a + b, 0n) <= f).toBe(true);
        for (let t = 1; t < k; t++) expect(share(f, t + 1, k)).toBe(share(f, t, k) / 2n);
      }),
      propParams('swap.rewards-split', 300),
    );
  });

  it('forwarding pays: with a fee of at least 2^(2k-1) every hop of a k-hop route gets something', () => {
    for (let k = 1; k <= 8; k++)
      for (const s of routeShares(1n << BigInt(2 * k - 1), k)) expect(s).toBeGreaterThan(0n);
  });

  it('the plain red-balloon split (F / 2^t) would reward a clone: the reason for the length discount', () => {
    const plain = (f: bigint, t: number) => f >> BigInt(t);
    // hop 2 of a route adds a clone behind itself: it now holds hops 2 and 3
    expect(plain(1024n, 2) + plain(1024n, 3)).toBeGreaterThan(plain(1024n, 2));
    const { honest, split } = sybilGain(1024n, 2, 3, 2);
    expect(split).toBeLessThan(honest);
  });

  it('payouts: one per node key (a key twice on a route is one party), zero shares left out', () => {
    const route = [hop(1), hop(2), hop(1)];
    const p = routePayouts(64n, route);
    expect(p.map((x) => [x.node[0], x.amount])).toEqual([
      [1, 2n + 8n],
      [2, 4n],
    ]);
    expect(routePayouts(1n, route)).toEqual([]);
    expect(() => routeShares(1n, MAX_PAID_HOPS + 1)).toThrow(RangeError);
  });
});

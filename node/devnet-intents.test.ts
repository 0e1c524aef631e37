import { describe, expect, it } from 'vitest';
import { surplusOf } from './devnet-intents.ts';

const fill = (sold: bigint, bought: bigint, give = 100n, want = 90n) => ({
  intent: '',
  owner: '',
  sold: sold.toString(),
  bought: bought.toString(),
  give: give.toString(),
  want: want.toString(),
});

describe('the devnet intent summary', () => {
  it('surplus: 0 at the limit price, the share above it otherwise, nothing when nothing was sold', () => {
    expect(surplusOf(fill(100n, 90n))).toBe(0);
    expect(surplusOf(fill(100n, 99n))).toBeCloseTo(0.1, 6);
    // a partial fill at the limit price: half sold, half the wanted amount bought
    expect(surplusOf(fill(50n, 45n))).toBe(0);
    expect(surplusOf(fill(0n, 0n))).toBeUndefined();
  });
});

/** Each checker passes a healthy picture and flags a planted violation of its invariant. */
import { describe, expect, it } from 'vitest';
import {
  type BlockView,
  type ChainView,
  checkChain,
  checkFees,
  checkReceipts,
  checkSigningLogs,
  checkSupply,
  type ReceiptView,
} from './invariants.ts';

const hex = (c: string) => c.repeat(64);

/** A chain of `n` blocks; block h carries envelope `e<h>`. */
function chain(
  node: string,
  n: number,
  edit: (h: number, b: BlockView) => BlockView = (_, b) => b,
): ChainView {
  const blocks = new Map<number, BlockView>();
  const roots = new Map<number, string>();
  for (let h = 1; h <= n; h++) {
    blocks.set(h, edit(h, { hash: `block-${h}`, txs: [`e${h}`], evidence: 0 }));
    roots.set(h, `root-${h}`);
  }
  return { node, blocks, roots };
}

describe('checkChain', () => {
  it('passes identical chains and finds where each envelope was first included', () => {
    const { violations, firstInclusion } = checkChain([chain('v0', 5), chain('v1', 5)], 5, 5);
    expect(violations).toEqual([]);
    expect(firstInclusion.get('e3')).toBe(3);
  });

  it('flags a fork in block hashes', () => {
    const forked = chain('v1', 5, (h, b) => (h === 4 ? { ...b, hash: 'other' } : b));
    const { violations } = checkChain([chain('v0', 5), forked], 5, 5);
    expect(violations).toEqual([
      { invariant: 'agreement', detail: expect.stringMatching(/fork at height 4/) },
    ]);
  });

  it('flags a missing block and a differing or missing state root', () => {
    const v1 = chain('v1', 5);
    (v1.blocks as Map<number, BlockView>).delete(2);
    (v1.roots as Map<number, string>).set(3, 'bad');
    (v1.roots as Map<number, string>).delete(5);
    const { violations } = checkChain([chain('v0', 5), v1], 5, 5);
    expect(violations.map((v) => v.invariant)).toEqual(['agreement', 'state roots', 'state roots']);
    expect(violations[0]!.detail).toMatch(/v1 has no readable block at height 2/);
    expect(violations[1]!.detail).toMatch(/roots differ after height 3/);
    expect(violations[2]!.detail).toMatch(/v1 has no state root for height 5/);
  });

  it('compares only up to the heights asked for', () => {
    expect(checkChain([chain('v0', 5), chain('v1', 3)], 3, 3).violations).toEqual([]);
  });

  it('flags an envelope carried twice and equivocation evidence', () => {
    const twice = (h: number, b: BlockView) =>
      h === 5 ? { ...b, txs: ['e5', 'e2'] } : h === 4 ? { ...b, evidence: 1 } : b;
    const { violations } = checkChain([chain('v0', 5, twice), chain('v1', 5, twice)], 5, 5);
    expect(violations).toEqual([
      { invariant: 'no double sign', detail: expect.stringMatching(/height 4 carries 1 piece/) },
      {
        invariant: 'exactly once',
        detail: expect.stringMatching(/e2 is carried by the blocks at heights 2 and 5/),
      },
    ]);
  });
});

describe('checkReceipts', () => {
  const accepted: ReceiptView = { height: '3', includedAt: '3', accepted: true, phase: 'commit', reason: '' };
  const replayed: ReceiptView = {
    height: '9',
    includedAt: '9',
    accepted: false,
    phase: 'decrypt',
    reason: 'replay',
  };
  const seen: ReceiptView = { height: '3', accepted: true, phase: 'commit', reason: '' };
  const base = {
    admitted: [hex('a')],
    firstInclusion: new Map([[hex('a'), 3]]),
    firstSeen: new Map([[hex('a'), seen]]),
  };

  it('passes one agreed first receipt on every node', () => {
    const receipts = new Map([
      ['v0', new Map([[hex('a'), accepted]])],
      ['v1', new Map([[hex('a'), accepted]])],
    ]);
    expect(checkReceipts({ ...base, receipts })).toEqual([]);
  });

  it('flags an overwritten first receipt (issue 13, finding 1)', () => {
    const receipts = new Map([
      ['v0', new Map([[hex('a'), replayed]])],
      ['v1', new Map([[hex('a'), replayed]])],
    ]);
    const v = checkReceipts({ ...base, receipts });
    expect(v.map((x) => x.invariant)).toEqual([
      'first receipt',
      'first receipt',
      'first receipt',
      'first receipt',
    ]);
    expect(v.some((x) => /overwritten: first announced h3 accepted commit, now h9/.test(x.detail))).toBe(
      true,
    );
    expect(v.some((x) => /inclusion at 9, but it was first included at 3/.test(x.detail))).toBe(true);
  });

  it('flags nodes that disagree, a node without the receipt, and an admitted envelope never included', () => {
    const receipts = new Map([
      ['v0', new Map([[hex('a'), accepted]])],
      ['v1', new Map([[hex('a'), { ...accepted, accepted: false, phase: 'validity' }]])],
      ['v2', new Map<string, ReceiptView>()],
    ]);
    const v = checkReceipts({ ...base, admitted: [hex('a'), hex('b')], receipts });
    expect(v).toEqual(
      expect.arrayContaining([
        { invariant: 'exactly once', detail: expect.stringMatching(/v2 has no receipt/) },
        { invariant: 'first receipt', detail: expect.stringMatching(/nodes answer different receipts/) },
        {
          invariant: 'exactly once',
          detail: expect.stringMatching(/admitted envelope bbbbbbbbbbbb was never included/),
        },
      ]),
    );
  });

  it('an envelope of unknown fate is checked only if it was included', () => {
    const receipts = new Map([['v0', new Map([[hex('a'), accepted]])]]);
    expect(checkReceipts({ ...base, admitted: [], unknown: [hex('a'), hex('c')], receipts })).toEqual([]);
    expect(
      checkReceipts({ ...base, admitted: [], unknown: [hex('a')], receipts: new Map([['v0', new Map()]]) }),
    ).toHaveLength(1);
  });
});

describe('supply, fees and signing logs', () => {
  it('flags a supply mismatch on the node that has it', () => {
    expect(checkSupply(100n, new Map([['v0', 100n]]))).toEqual([]);
    expect(
      checkSupply(
        100n,
        new Map([
          ['v0', 100n],
          ['v1', 99n],
        ]),
      ),
    ).toEqual([
      { invariant: 'supply', detail: expect.stringMatching(/^v1: .* 99 .* 100 was minted \(-1\)/) },
    ]);
  });

  it('flags fee balances that do not sum to the genesis total', () => {
    expect(checkFees(10n, new Map([['v0', 10n]]))).toEqual([]);
    expect(checkFees(10n, new Map([['v3', 12n]]))).toEqual([
      { invariant: 'fees', detail: expect.stringMatching(/v3: fee balances sum to 12, .* 10 \(\+2\)/) },
    ]);
  });

  it('flags a double-sign line, not the same bytes logged again nor different steps', () => {
    const e = (height: bigint, round: number, step: number, signBytes: string) => ({
      height,
      round,
      step,
      signBytes,
    });
    const clean = [e(1n, 0, 1, 'aa'), e(1n, 0, 2, 'bb'), e(1n, 1, 1, 'cc'), e(1n, 0, 1, 'aa')];
    expect(checkSigningLogs(new Map([['v0', clean]]))).toEqual([]);
    expect(
      checkSigningLogs(
        new Map([
          ['v0', clean],
          ['v1', [e(7n, 2, 2, 'dd'), e(7n, 2, 2, 'ee')]],
        ]),
      ),
    ).toEqual([
      {
        invariant: 'no double sign',
        detail: expect.stringMatching(/v1 signed two different precommits at height 7 round 2/),
      },
    ]);
  });
});

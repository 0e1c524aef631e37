/**
 * The light client accepts a header exactly when the Tendermint rules say it should: more than 2/3
 * of the header's own set's power signed it, and, if the set changed since the trusted state,
 * signers holding more than the trust level of the trusted set's power. The oracle recomputes both
 * from the generated powers with its own arithmetic (plain numbers and cross-multiplication, no
 * quorum() or certificate check). Validator sets of 4 to 10 with unequal powers, among them sets
 * where 2f+1 validators by count fall short of 2/3 by power and sets with one validator just under
 * 1/3; random signer subsets and random overlaps between the trusted and the new set.
 *
 * And: a frozen client refuses every header, every lookup and every further misbehaviour.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Client,
  type ClientHeader,
  consensusStateAt,
  createClient,
  submitMisbehaviour,
  verifyHeader,
} from '../apps/ibc/client.ts';
import { FakeInstance, testParams } from '../apps/ibc/testing.ts';
import { verify } from '../wire/sign.ts';
import { propParams } from './config.ts';

type Pattern = 'uniform' | 'equal' | 'whale' | 'under-third';

/** `count` positive powers of the given shape, from raw random numbers. */
function powersOf(pattern: Pattern, count: number, raw: readonly number[]): number[] {
  const r = (i: number) => raw[i % raw.length]!;
  if (count === 0) return [];
  switch (pattern) {
    case 'equal':
      return Array.from({ length: count }, () => 1 + (r(0) % 5));
    case 'uniform':
      return Array.from({ length: count }, (_, i) => 1 + (r(i) % 100));
    case 'whale': {
      // one validator outweighs all others together: every 2f+1 by count without it is short
      const rest = Array.from({ length: count - 1 }, (_, i) => 1 + (r(i) % 20));
      const sum = rest.reduce((a, b) => a + b, 0);
      return [sum + 1 + (r(count) % 10), ...rest];
    }
    case 'under-third': {
      // the first holds p of a total 3p + 1: just under a third
      const p = count + (r(0) % 40);
      const rest = Array.from({ length: count - 1 }, () => 1);
      let left = 2 * p + 1 - (count - 1);
      for (let i = 0; left > 0; i++, left--) rest[r(i + 1) % rest.length]! += 1;
      return [p, ...rest];
    }
  }
}

const pattern = fc.constantFrom<Pattern>('uniform', 'equal', 'whale', 'under-third');
const trustLevels = fc.constantFrom(
  [1n, 3n] as const,
  [1n, 2n] as const,
  [2n, 3n] as const,
  [3n, 4n] as const,
  [1n, 1n] as const,
  [5n, 13n] as const,
);

const scenario = fc.record({
  trustedCount: fc.integer({ min: 4, max: 10 }),
  newCount: fc.integer({ min: 4, max: 10 }),
  trustedPattern: pattern,
  newPattern: pattern,
  raw: fc.array(fc.nat({ max: 1_000 }), { minLength: 12, maxLength: 12 }),
  /** the header keeps the trusted set as it is */
  sameSet: fc.boolean(),
  /** which trusted validators stay in the new set, and whether they keep their power */
  keep: fc.array(fc.boolean(), { minLength: 10, maxLength: 10 }),
  keepPowers: fc.boolean(),
  /** which members of the header's set sign, by position in the member list */
  signs: fc.array(fc.boolean(), { minLength: 10, maxLength: 10 }),
  trustLevel: trustLevels,
  /** rotate the choice so the first validators are not always the ones kept */
  offset: fc.nat({ max: 9 }),
  /**
   * aim at the trust level's bound: equal trusted powers, and the trusted validators kept (all of
   * them signing) hold the trust level's share of the power exactly when it is a whole number of
   * validators, give or take `nudge`
   */
  boundary: fc.boolean(),
  nudge: fc.constantFrom(-1, 0, 1),
});

type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

interface Built {
  readonly trusted: ReadonlyMap<number, number>;
  readonly next: ReadonlyMap<number, number>;
  readonly signers: readonly number[];
}

/** The trusted set, the header's set and its signers, by validator number. */
function build(s: Scenario): Built {
  if (s.boundary && !s.sameSet) return buildAtBoundary(s);
  const trustedPowers = powersOf(s.trustedPattern, s.trustedCount, s.raw);
  const trusted = new Map(trustedPowers.map((p, i) => [i, p] as const));
  let next: Map<number, number>;
  if (s.sameSet) next = new Map(trusted);
  else {
    const kept = [...trusted.keys()].filter((n) => s.keep[(n + s.offset) % 10]).slice(0, s.newCount);
    const members = [...kept, ...Array.from({ length: s.newCount - kept.length }, (_, i) => 100 + i)];
    const fresh = powersOf(s.newPattern, members.length, [...s.raw].reverse());
    next = new Map(
      members.map((n, i) => [n, s.keepPowers && trusted.has(n) ? trusted.get(n)! : fresh[i]!] as const),
    );
  }
  const members = [...next.keys()];
  const signers = members.filter((_, i) => s.signs[(i + s.offset) % 10]);
  return { trusted, next, signers };
}

function buildAtBoundary(s: Scenario): Built {
  const power = 1 + (s.raw[0]! % 5);
  const trusted = new Map(Array.from({ length: s.trustedCount }, (_, i) => [i, power] as const));
  const share = Math.round((s.trustedCount * Number(s.trustLevel[0])) / Number(s.trustLevel[1])) + s.nudge;
  const k = Math.max(0, Math.min(share, s.trustedCount, s.newCount));
  const kept = Array.from({ length: k }, (_, i) => (i + s.offset) % s.trustedCount);
  const fresh = Array.from({ length: s.newCount - k }, (_, i) => 100 + i);
  const freshPowers = powersOf(s.newPattern, fresh.length, s.raw);
  const next = new Map<number, number>([
    ...kept.map((n) => [n, power] as const),
    ...fresh.map((n, i) => [n, freshPowers[i]!] as const),
  ]);
  const signers = [...kept, ...fresh.filter((_, i) => s.signs[i])];
  return { trusted, next, signers };
}

function unchanged(b: Built): boolean {
  return b.trusted.size === b.next.size && [...b.trusted].every(([n, p]) => b.next.get(n) === p);
}

/** What the rules say, from the powers alone. */
function oracle(
  b: Built,
  trustLevel: readonly [bigint, bigint],
): 'accepted' | 'too-little-power' | 'too-little-trust' {
  let nextTotal = 0;
  for (const p of b.next.values()) nextTotal += p;
  let signed = 0;
  for (const n of b.signers) signed += b.next.get(n)!;
  if (!(3 * signed > 2 * nextTotal)) return 'too-little-power';
  if (unchanged(b)) return 'accepted';
  let trustedTotal = 0;
  for (const p of b.trusted.values()) trustedTotal += p;
  let vouched = 0;
  for (const n of b.signers) vouched += b.trusted.get(n) ?? 0;
  const [num, den] = trustLevel.map(Number) as [number, number];
  return vouched * den > trustedTotal * num ? 'accepted' : 'too-little-trust';
}

/** The instance trusting `b.trusted` at height 1 whose header 3 has `b.next`, signed by `b.signers`. */
function run(s: Scenario, b: Built) {
  const instance = new FakeInstance({
    chainId: 'prop-b',
    validators: [...b.trusted].map(([n, p]) => [n, BigInt(p)] as const),
  });
  instance.produce();
  const changes: [number, bigint][] = [];
  for (const n of b.trusted.keys()) if (!b.next.has(n)) changes.push([n, 0n]);
  for (const [n, p] of b.next) changes.push([n, BigInt(p)]);
  instance.decide(changes);
  instance.produce();
  instance.produce({ signers: b.signers });
  const created = createClient(
    testParams('prop-b', { trustLevel: { numerator: s.trustLevel[0], denominator: s.trustLevel[1] } }),
    instance.trustedAt(1n),
  );
  if (!created.ok) throw new Error(`createClient: ${created.reason}`);
  const h = instance.update(3n, 1n);
  return verifyHeader(created.client, h, h.header.time + 1_000n, verify);
}

describe('light client properties', () => {
  it('accepts a header iff more than 2/3 of its set and (for a new set) the trust level signed', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const b = build(s);
        const expected = oracle(b, s.trustLevel);
        const r = run(s, b);
        const got = r.ok
          ? 'accepted'
          : r.reason === 'insufficient-power'
            ? 'too-little-power'
            : r.reason === 'insufficient-trust'
              ? 'too-little-trust'
              : r.reason;
        expect(got).toBe(expected);
      }),
      propParams('lightclient.accepts-iff-oracle', 200),
    );
  });

  it('the generator reaches every verdict and the sets it was asked for', () => {
    // not a property of the client: a check that the scenarios above cover what they claim
    const seen = new Set<string>();
    fc.assert(
      fc.property(scenario, (s) => {
        const b = build(s);
        seen.add(oracle(b, s.trustLevel));
        const powers = [...b.trusted.values()];
        const total = powers.reduce((a, x) => a + x, 0);
        if (powers.some((p) => 3 * p < total && 3 * (p + 1) >= total)) seen.add('just-under-third');
        // the 2f+1 smallest by count do not hold 2/3 of the power
        const sorted = [...powers].sort((x, y) => x - y);
        const f = Math.floor((sorted.length - 1) / 3);
        const smallest = sorted.slice(0, 2 * f + 1).reduce((a, x) => a + x, 0);
        if (3 * smallest <= 2 * total) seen.add('count-not-power');
        let vouched = 0;
        for (const n of b.signers) vouched += b.trusted.get(n) ?? 0;
        const [num, den] = s.trustLevel.map(Number) as [number, number];
        const atBound = vouched * den === total * num && !unchanged(b);
        if (atBound && oracle(b, s.trustLevel) !== 'too-little-power') seen.add('at-trust-bound');
      }),
      { ...propParams('lightclient.generator', 300), endOnFailure: false },
    );
    expect([...seen].sort()).toEqual(
      [
        'accepted',
        'at-trust-bound',
        'count-not-power',
        'just-under-third',
        'too-little-power',
        'too-little-trust',
      ].sort(),
    );
  });

  it('a frozen client refuses every header, every lookup and every misbehaviour', () => {
    const frozenCase = fc.record({
      validators: fc.integer({ min: 4, max: 7 }),
      heights: fc.integer({ min: 3, max: 8 }),
      forkAt: fc.nat(),
      how: fc.constantFrom('same-height', 'time', 'update-conflict'),
      probes: fc.array(fc.tuple(fc.nat(), fc.nat()), { minLength: 1, maxLength: 6 }),
    });
    fc.assert(
      fc.property(frozenCase, (c) => {
        const b = new FakeInstance({ chainId: 'prop-frozen', validators: c.validators });
        b.advance(c.heights + 4);
        const created = createClient(testParams(b.chainId), b.trustedAt(1n));
        if (!created.ok) throw new Error(created.reason);
        const trusted = BigInt(2 + (c.forkAt % (c.heights - 1)));
        const step = verifyHeader(
          created.client,
          b.update(trusted, 1n),
          b.signed(b.height).header.time,
          verify,
        );
        if (!step.ok) throw new Error(step.reason);
        let client: Client = step.client;
        const forkHeight = trusted + 1n;
        const now = b.signed(b.height).header.time + 1_000n;
        let frozen: Client;
        if (c.how === 'update-conflict') {
          client = accepted(client, b.update(forkHeight, trusted), now);
          const r = verifyHeader(client, b.update(b.equivocate(forkHeight), trusted), now, verify);
          if (r.ok || !('client' in r)) throw new Error('no freeze');
          frozen = r.client;
        } else {
          const second =
            c.how === 'same-height'
              ? b.equivocate(forkHeight)
              : b.equivocate(forkHeight + 1n, { time: b.signed(forkHeight).header.time });
          const r = submitMisbehaviour(
            client,
            { first: b.update(forkHeight, trusted), second: b.update(second, trusted) },
            now,
            verify,
          );
          if (!r.ok) throw new Error(r.reason);
          frozen = r.client;
        }
        expect(frozen.state.frozenAt).not.toBeNull();
        for (const [x, y] of c.probes) {
          const trustedHeight = frozen.consensus[x % frozen.consensus.length]!.height;
          const target = trustedHeight + 1n + BigInt(y % Number(b.height - trustedHeight));
          const h: ClientHeader = b.update(target, trustedHeight);
          // an honest header the client took before the freeze, refused after it
          expect(verifyHeader(client, h, now, verify).ok).toBe(true);
          expect(verifyHeader(frozen, h, now, verify)).toEqual({ ok: false, reason: 'frozen' });
          expect(consensusStateAt(frozen, target)).toEqual({ ok: false, reason: 'frozen' });
          expect(consensusStateAt(frozen, trustedHeight)).toEqual({ ok: false, reason: 'frozen' });
          const again = submitMisbehaviour(
            frozen,
            { first: b.update(forkHeight, trusted), second: b.update(b.equivocate(forkHeight), trusted) },
            now,
            verify,
          );
          expect(again).toEqual({ ok: false, reason: 'frozen' });
        }
      }),
      propParams('lightclient.frozen-refuses-all', 60),
    );
  });
});

function accepted(client: Client, h: ClientHeader, now: bigint): Client {
  const r = verifyHeader(client, h, now, verify);
  if (!r.ok) throw new Error(`refused: ${r.reason}`);
  return r.client;
}

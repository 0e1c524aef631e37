import { sha256 } from '@noble/hashes/sha2.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { propParams } from '../props/config.ts';
import { DecodeError } from '../wire/errors.ts';
import { decode, encode, tryDecode } from '../wire/schema.ts';
import { bytesEqual } from '../wire/types.ts';
import {
  applyComplaint,
  applyDeal,
  type Complaint,
  ComplaintWire,
  checkDeal,
  complain,
  type Deal,
  DealWire,
  type DkgKey,
  type DkgOutcome,
  type DkgParams,
  type DkgTranscript,
  deal,
  dealOf,
  dealWith,
  emptyTranscript,
  encryptionKeyPair,
  finalize,
  judgeComplaint,
  keyShare,
  openShare,
  secretShare,
} from './dkg.ts';
import {
  bytesToNumberLE,
  type Group,
  group,
  mod,
  nobleGroup,
  scalarFromCanonicalBytes,
  scalarToBytes,
} from './group.ts';
import { lagrangeAtZero } from './shamir.ts';

const text = new TextEncoder();
const seedOf = (label: string, i: number): Uint8Array => sha256(text.encode(`${label}/${i}`));

interface Setup {
  params: DkgParams;
  /** [j-1] = validator j's encryption secret */
  secrets: bigint[];
  /** [i-1] = dealer i's secret seed */
  seeds: Uint8Array[];
}

function setup(n: number, t: number, label = 'dkg', g: Group = group): Setup {
  const pairs = Array.from({ length: n }, (_, j) => encryptionKeyPair(seedOf(`${label}/enc`, j + 1), g));
  return {
    params: { instance: 'fractal-test', epoch: 7n, n, t, encryptionKeys: pairs.map((p) => p.publicKey) },
    secrets: pairs.map((p) => p.secret),
    seeds: Array.from({ length: n }, (_, i) => seedOf(`${label}/dealer`, i + 1)),
  };
}

const range = (a: number, b: number): number[] => Array.from({ length: b - a + 1 }, (_, k) => a + k);

function feed(
  tr: DkgTranscript,
  deals: readonly { sender: number; deal: Deal }[],
  complaints: readonly { sender: number; complaint: Complaint }[],
  g: Group = group,
): DkgTranscript {
  let out = tr;
  for (const m of deals) out = applyDeal(out, m.sender, m.deal, g);
  for (const m of complaints) out = applyComplaint(out, m.sender, m.complaint, g);
  return out;
}

/** Σ λⱼ·xⱼ over the given recipients. */
function interpolate(shares: readonly { index: number; secret: bigint }[]): bigint {
  const lambdas = lagrangeAtZero(shares.map((s) => BigInt(s.index)));
  return shares.reduce((acc, s, k) => mod(acc + (lambdas[k] as bigint) * s.secret), 0n);
}

function expectOk(o: DkgOutcome): DkgKey {
  if (!o.ok) throw new Error(`dkg failed: ${o.reason} (qualified ${o.qualified.join(',')})`);
  return o;
}

function sameOutcome(a: DkgOutcome, b: DkgOutcome): boolean {
  if (!a.ok || !b.ok) return a.ok === b.ok && a.qualified.join() === b.qualified.join();
  return (
    a.qualified.join() === b.qualified.join() &&
    a.threshold === b.threshold &&
    bytesEqual(a.publicKey, b.publicKey) &&
    a.verificationKeys.length === b.verificationKeys.length &&
    a.verificationKeys.every((vk, i) => bytesEqual(vk, b.verificationKeys[i] as Uint8Array))
  );
}

/** The honest run: everyone deals, nobody complains. */
function honestRun(n: number, t: number, g: Group = group, label = 'dkg') {
  const su = setup(n, t, label, g);
  const deals = range(1, n).map((i) => deal(su.params, i, su.seeds[i - 1] as Uint8Array, g));
  const tr = feed(
    emptyTranscript(su.params, g),
    deals.map((d) => ({ sender: d.dealer, deal: d })),
    [],
    g,
  );
  const outcome = finalize(tr, g);
  const key = expectOk(outcome);
  const shares = range(1, n).map((j) => secretShare(tr, key, j, su.secrets[j - 1] as bigint, g));
  return { ...su, deals, tr, outcome, key, shares };
}

describe('dkg: all honest', () => {
  it('every share matches its verification key; any t shares give the key, t-1 do not', () => {
    const n = 5;
    const t = 3;
    const run = honestRun(n, t);
    expect(run.key.qualified).toEqual([1, 2, 3, 4, 5]);
    expect(run.key.threshold).toBe(t);
    expect(run.key.verificationKeys).toHaveLength(n);
    expect(run.tr.events.every((e) => e.kind === 'deal-accepted')).toBe(true);
    // the public key is the sum of the constant-term commitments
    let pk = group.mulBase(0n);
    for (const d of run.deals) pk = group.add(pk, d.commitments[0] as Uint8Array);
    expect(bytesEqual(pk, run.key.publicKey)).toBe(true);

    const shares = run.shares.map((x, k) => {
      expect(x).toBeTypeOf('bigint');
      expect(bytesEqual(group.mulBase(x as bigint), run.key.verificationKeys[k] as Uint8Array)).toBe(true);
      return { index: k + 1, secret: x as bigint };
    });
    // every t-subset
    for (let a = 0; a < n; a++)
      for (let b = a + 1; b < n; b++)
        for (let c = b + 1; c < n; c++) {
          const x = interpolate([shares[a]!, shares[b]!, shares[c]!]);
          expect(bytesEqual(group.mulBase(x), run.key.publicKey)).toBe(true);
        }
    // t-1 shares interpolate to something else
    for (let a = 0; a < n; a++)
      for (let b = a + 1; b < n; b++) {
        const x = interpolate([shares[a]!, shares[b]!]);
        expect(bytesEqual(group.mulBase(x), run.key.publicKey)).toBe(false);
      }
    // the TDH2 key-share shape
    expect(keyShare(run.tr, run.key, 2, run.secrets[1]!)).toEqual({ index: 2, secret: shares[1]!.secret });
  });

  it('each recipient opens every share, and it matches the dealer polynomial', () => {
    const run = honestRun(4, 2);
    for (const d of run.deals) {
      expect(checkDeal(run.params, d)).toEqual({ ok: true });
      let sum = 0n;
      for (let j = 1; j <= 4; j++) {
        const r = openShare(run.params, d, j, run.secrets[j - 1]!);
        expect(r.ok).toBe(true);
        if (r.ok) sum = mod(sum + r.share * lagrangeAtZero([1n, 2n, 3n, 4n])[j - 1]!);
      }
      // the dealt shares interpolate to a₀, whose commitment is A₀
      expect(bytesEqual(group.mulBase(sum), d.commitments[0]!)).toBe(true);
    }
  });

  it('secretShare is undefined, not a throw, for a wrong secret or index', () => {
    const run = honestRun(4, 2);
    expect(secretShare(run.tr, run.key, 1, run.secrets[1]!)).toBeUndefined();
    expect(secretShare(run.tr, run.key, 0, run.secrets[0]!)).toBeUndefined();
    expect(secretShare(run.tr, run.key, 5, 1n)).toBeUndefined();
    expect(secretShare(run.tr, { ...run.key, qualified: [9] }, 1, run.secrets[0]!)).toBeUndefined();
  });
});

describe('dkg: public checks', () => {
  const su = setup(4, 2, 'checks');
  const good = deal(su.params, 2, su.seeds[1]!);
  const reason = (d: Deal) => {
    const c = checkDeal(su.params, d);
    return c.ok ? 'ok' : c.reason;
  };
  const nonCanonical = new Uint8Array(32).fill(0xff);

  it('names what is wrong with a malformed deal', () => {
    expect(reason(good)).toBe('ok');
    expect(reason({ ...good, epoch: 8n })).toBe('wrong-epoch');
    expect(reason({ ...good, dealer: 0 })).toBe('dealer-out-of-range');
    expect(reason({ ...good, dealer: 5 })).toBe('dealer-out-of-range');
    expect(reason({ ...good, commitments: good.commitments.slice(0, 1) })).toBe('wrong-commitment-count');
    expect(reason({ ...good, commitments: [...good.commitments, group.generator] })).toBe(
      'wrong-commitment-count',
    );
    expect(reason({ ...good, shares: good.shares.slice(1) })).toBe('wrong-share-count');
    expect(reason({ ...good, shares: [...good.shares, good.shares[0]!] })).toBe('wrong-share-count');
    expect(reason({ ...good, commitments: [good.commitments[0]!, nonCanonical] })).toBe('bad-point');
    expect(reason({ ...good, commitments: [new Uint8Array(32), good.commitments[1]!] })).toBe('bad-point');
    expect(reason({ ...good, ephemeral: { ...good.ephemeral, point: nonCanonical } })).toBe('bad-point');
    expect(reason({ ...good, ephemeral: { ...good.ephemeral, point: new Uint8Array(32) } })).toBe(
      'bad-point',
    );
    const shortSealed = good.shares.map((s, k) => (k === 1 ? s.slice(1) : s));
    expect(reason({ ...good, shares: shortSealed })).toBe('bad-share-encoding');
    const ez = scalarFromCanonicalBytes(good.ephemeral.z)!;
    expect(reason({ ...good, ephemeral: { ...good.ephemeral, z: scalarToBytes(ez + 1n) } })).toBe('bad-pok');
    expect(reason({ ...good, ephemeral: { ...good.ephemeral, r: nonCanonical } })).toBe('bad-pok');
    const z = scalarFromCanonicalBytes(good.pok.z)!;
    expect(reason({ ...good, pok: { ...good.pok, z: scalarToBytes(z + 1n) } })).toBe('bad-pok');
    expect(reason({ ...good, pok: { ...good.pok, z: nonCanonical } })).toBe('bad-pok');
    expect(reason({ ...good, pok: { ...good.pok, r: group.generator } })).toBe('bad-pok');
    // another dealer's commitments with its valid proof, claimed under index 2: the proof binds the index
    const other = deal(su.params, 3, su.seeds[2]!);
    expect(reason({ ...other, dealer: 2 })).toBe('bad-pok');
    // nor can a dealer borrow another dealer's ephemeral (whose eⱼ·R a complaint would reveal)
    expect(reason({ ...good, ephemeral: other.ephemeral })).toBe('bad-pok');
    // a deal for another instance or threshold does not verify here
    expect(reason(deal({ ...su.params, instance: 'other' }, 2, su.seeds[1]!))).toBe('bad-pok');
  });

  it('A₀ tampered fails the proof of knowledge; a higher coefficient tampered passes, then every recipient complains', () => {
    const a0 = [group.add(good.commitments[0]!, group.generator), good.commitments[1]!];
    expect(reason({ ...good, commitments: a0 })).toBe('bad-pok');
    const a1 = {
      ...good,
      commitments: [good.commitments[0]!, group.add(good.commitments[1]!, group.generator)],
    };
    expect(reason(a1)).toBe('ok');
    for (let j = 1; j <= 4; j++) {
      const r = openShare(su.params, a1, j, su.secrets[j - 1]!);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(judgeComplaint(su.params, a1, r.complaint)).toBe('dealer-guilty');
    }
  });

  it('openShare refuses caller errors', () => {
    expect(() => openShare(su.params, good, 1, su.secrets[1]!)).toThrow(RangeError);
    expect(() => openShare(su.params, good, 0, su.secrets[0]!)).toThrow(RangeError);
    expect(() => openShare(su.params, { ...good, epoch: 1n }, 1, su.secrets[0]!)).toThrow(RangeError);
    expect(() => deal(su.params, 5, su.seeds[0]!)).toThrow(RangeError);
    expect(() => deal(su.params, 1, new Uint8Array(31))).toThrow(RangeError);
    expect(() => emptyTranscript({ ...su.params, t: 5 })).toThrow(RangeError);
    expect(() =>
      emptyTranscript({ ...su.params, encryptionKeys: su.params.encryptionKeys.slice(1) }),
    ).toThrow(RangeError);
    const identityKey = [new Uint8Array(32), ...su.params.encryptionKeys.slice(1)];
    expect(() => emptyTranscript({ ...su.params, encryptionKeys: identityKey })).toThrow(RangeError);
  });

  it('the transcript keeps the first valid deal per dealer and records why others are ignored', () => {
    let tr = emptyTranscript(su.params);
    tr = applyDeal(tr, 3, good); // sent by another validator
    tr = applyDeal(tr, 2, { ...good, commitments: good.commitments.slice(0, 1) });
    tr = applyDeal(tr, 2, good);
    const second = deal(su.params, 2, seedOf('checks/second', 2));
    tr = applyDeal(tr, 2, second);
    expect(tr.deals[1]).toBe(good);
    expect(dealOf(tr, 2)).toBe(good);
    expect(dealOf(tr, 1)).toBeUndefined();
    expect(dealOf(tr, 9)).toBeUndefined();
    expect(tr.events.map((e) => (e.kind === 'deal-ignored' ? e.reason : e.kind))).toEqual([
      'not-sender',
      'wrong-commitment-count',
      'deal-accepted',
      'repeat',
    ]);
    // applying does not touch its argument
    const before = emptyTranscript(su.params);
    applyDeal(before, 2, good);
    expect(before.deals[1]).toBeNull();
    expect(before.events).toHaveLength(0);
  });

  it('too few qualified dealers is a typed failure', () => {
    const s3 = setup(4, 3, 'few');
    const deals = [1, 2].map((i) => ({ sender: i, deal: deal(s3.params, i, s3.seeds[i - 1]!) }));
    expect(finalize(feed(emptyTranscript(s3.params), deals, []))).toEqual({
      ok: false,
      reason: 'too-few-qualified',
      qualified: [1, 2],
    });
  });
});

describe('dkg: complaints', () => {
  const su = setup(4, 2, 'complaints');
  const honest = deal(su.params, 1, su.seeds[0]!);
  // dealer 2 seals garbage to recipient 3
  const base = deal(su.params, 2, su.seeds[1]!);
  const cheat: Deal = {
    ...base,
    shares: base.shares.map((s, k) => (k === 2 ? seedOf('garbage', 0) : s)),
  };

  it('a justified complaint convicts; a false complaint about an honest dealer is unjustified', () => {
    const r = openShare(su.params, cheat, 3, su.secrets[2]!);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.complaint).toMatchObject({ accuser: 3, dealer: 2, epoch: 7n });
    expect(judgeComplaint(su.params, cheat, r.complaint)).toBe('dealer-guilty');
    for (const j of [1, 2, 4]) expect(openShare(su.params, cheat, j, su.secrets[j - 1]!).ok).toBe(true);

    const falseComplaint = complain(su.params, honest, 4, su.secrets[3]!);
    expect(judgeComplaint(su.params, honest, falseComplaint)).toBe('unjustified');

    let tr = feed(
      emptyTranscript(su.params),
      [
        { sender: 1, deal: honest },
        { sender: 2, deal: cheat },
        { sender: 4, deal: deal(su.params, 4, su.seeds[3]!) },
      ],
      [
        { sender: 4, complaint: falseComplaint },
        { sender: 3, complaint: r.complaint },
      ],
    );
    expect(tr.disqualifiedBy).toEqual([null, 3, null, null]);
    expect(tr.falseAccusers).toEqual([4]);
    // once disqualified, further complaints about the dealer are not judged again
    tr = applyComplaint(tr, 3, r.complaint);
    expect(tr.events.at(-1)).toMatchObject({ kind: 'complaint-ignored', reason: 'already-disqualified' });
    tr = applyComplaint(tr, 4, falseComplaint);
    expect(tr.events.at(-1)).toMatchObject({ kind: 'complaint-ignored', reason: 'repeat' });
    // a complaint relayed by someone else, or about a dealer without a deal, is ignored
    tr = applyComplaint(tr, 2, falseComplaint);
    expect(tr.events.at(-1)).toMatchObject({ kind: 'complaint-ignored', reason: 'not-sender' });
    tr = applyComplaint(tr, 4, { ...falseComplaint, dealer: 3 });
    expect(tr.events.at(-1)).toMatchObject({ kind: 'complaint-ignored', reason: 'no-deal' });
    tr = applyComplaint(tr, 4, { ...falseComplaint, epoch: 6n });
    expect(tr.events.at(-1)).toMatchObject({ kind: 'complaint-ignored', reason: 'wrong-epoch' });
    const key = expectOk(finalize(tr));
    expect(key.qualified).toEqual([1, 4]);
    for (let j = 1; j <= 4; j++) {
      const x = secretShare(tr, key, j, su.secrets[j - 1]!);
      expect(x).toBeTypeOf('bigint');
      expect(bytesEqual(group.mulBase(x!), key.verificationKeys[j - 1]!)).toBe(true);
    }
  });

  it('a complaint with a forged or mismatched proof is unjustified, even against a cheating dealer', () => {
    const r = openShare(su.params, cheat, 3, su.secrets[2]!);
    if (r.ok) throw new Error('expected a complaint');
    const c = r.complaint;
    const f = scalarFromCanonicalBytes(c.proof.f)!;
    const e = scalarFromCanonicalBytes(c.proof.e)!;
    const forged: Complaint[] = [
      { ...c, proof: { ...c.proof, f: scalarToBytes(f + 1n) } },
      { ...c, proof: { ...c.proof, e: scalarToBytes(e + 1n) } },
      { ...c, proof: { e: c.proof.e, f: new Uint8Array(32).fill(0xff) } },
      { ...c, sharedPoint: group.add(c.sharedPoint, group.generator) },
      { ...c, sharedPoint: new Uint8Array(32).fill(0xff) },
      // a proof made with another validator's key, claimed by the accuser
      { ...complain(su.params, cheat, 3, su.secrets[0]!) },
      // the same complaint reattributed to another accuser
      { ...c, accuser: 4 },
      { ...c, accuser: 9 },
      { ...c, dealer: 1 },
      { ...c, epoch: 8n },
    ];
    for (const bad of forged) expect(judgeComplaint(su.params, cheat, bad)).toBe('unjustified');
    expect(judgeComplaint(su.params, cheat, c)).toBe('dealer-guilty');
    // and the transcript does not disqualify on them
    let tr = feed(emptyTranscript(su.params), [{ sender: 2, deal: cheat }], []);
    tr = applyComplaint(tr, 3, forged[0]!);
    expect(tr.disqualifiedBy[1]).toBeNull();
    expect(tr.falseAccusers).toEqual([3]);
  });
});

// ---------------------------------------------------------------------------------------------
// the property: up to t-1 misbehaving dealers

type Behaviour =
  | { kind: 'honest' }
  | { kind: 'tamper-commitment'; k: number }
  | { kind: 'wrong-length'; delta: -1 | 1 }
  | { kind: 'inconsistent'; victims: number[]; how: 'garbage' | 'other-polynomial'; garbage: Uint8Array }
  | { kind: 'bad-pok' }
  | { kind: 'absent' };

const behaviourArb = (n: number, t: number): fc.Arbitrary<Behaviour> =>
  fc.oneof(
    fc.record({ kind: fc.constant('tamper-commitment' as const), k: fc.integer({ min: 0, max: t - 1 }) }),
    fc.record({
      kind: fc.constant('wrong-length' as const),
      delta: fc.constantFrom(-1 as const, 1 as const),
    }),
    fc.record({
      kind: fc.constant('inconsistent' as const),
      victims: fc.uniqueArray(fc.integer({ min: 1, max: n }), { minLength: 1, maxLength: n }),
      how: fc.constantFrom('garbage' as const, 'other-polynomial' as const),
      garbage: fc.uint8Array({ minLength: 32, maxLength: 32 }),
    }),
    fc.record({ kind: fc.constant('bad-pok' as const) }),
    fc.record({ kind: fc.constant('absent' as const) }),
    fc.record({ kind: fc.constant('honest' as const) }),
  );

const scenarioArb = fc
  .constantFrom(4, 5, 6, 7)
  .chain((n) =>
    fc.integer({ min: Math.floor((n - 1) / 3) + 1, max: Math.floor((n + 1) / 2) }).map((t) => ({ n, t })),
  )
  .chain(({ n, t }) =>
    fc.record({
      n: fc.constant(n),
      t: fc.constant(t),
      // exactly t-1 byzantine validators; some may deal honestly, so 0..t-1 misbehave as dealers
      byzantine: fc.shuffledSubarray(range(1, n), { minLength: t - 1, maxLength: t - 1 }),
      behaviours: fc.array(behaviourArb(n, t), { minLength: t - 1, maxLength: t - 1 }),
      /** byzantine validators also complain falsely about this honest dealer (by rank) */
      falseTarget: fc.nat(),
      order: fc.infiniteStream(fc.double({ min: 0, max: 1, noNaN: true })),
      subsetSeed: fc.nat(),
    }),
  );

function misbehave(su: Setup, i: number, b: Behaviour): Deal | null {
  const g = group;
  const honest = deal(su.params, i, su.seeds[i - 1]!);
  const scalar = (what: string, k = 0) => mod(bytesToNumberLE(seedOf(`${what}/${i}`, k)));
  const randomness = { ephemeral: scalar('k'), pokNonce: scalar('w'), ephemeralNonce: scalar('v') };
  switch (b.kind) {
    case 'honest':
      return honest;
    case 'absent':
      return null;
    case 'bad-pok': {
      const z = scalarFromCanonicalBytes(honest.pok.z)!;
      return { ...honest, pok: { ...honest.pok, z: scalarToBytes(z + 1n) } };
    }
    case 'tamper-commitment':
      return {
        ...honest,
        commitments: honest.commitments.map((A, k) => (k === b.k ? g.add(A, g.generator) : A)),
      };
    case 'wrong-length':
      return deal({ ...su.params, t: su.params.t + b.delta }, i, su.seeds[i - 1]!);
    case 'inconsistent': {
      // a proper deal of f, then for the victims the garbage or f'(j), sealed under the same ephemeral
      const f = range(0, su.params.t - 1).map((k) => scalar('f', k));
      const f2 = range(0, su.params.t - 1).map((k) => scalar('f2', k));
      const base = dealWith(su.params, i, f, randomness);
      const other = dealWith(su.params, i, f2, randomness);
      return {
        ...base,
        shares: base.shares.map((s, k) => {
          if (!b.victims.includes(k + 1)) return s;
          return b.how === 'garbage' ? b.garbage : other.shares[k]!;
        }),
      };
    }
  }
}

describe('dkg: property', () => {
  it('with up to t-1 misbehaving dealers, honest validators agree on the key and their shares work', () => {
    fc.assert(
      fc.property(scenarioArb, (sc) => {
        const { n, t } = sc;
        const su = setup(n, t, `prop/${n}/${t}`);
        const byz = new Map<number, Behaviour>(sc.byzantine.map((i, k) => [i, sc.behaviours[k]!]));
        const honestIdx = range(1, n).filter((i) => !byz.has(i));

        // the deal phase
        const deals: { sender: number; deal: Deal }[] = [];
        for (let i = 1; i <= n; i++) {
          const b = byz.get(i);
          const d = b === undefined ? deal(su.params, i, su.seeds[i - 1]!) : misbehave(su, i, b);
          if (d !== null) deals.push({ sender: i, deal: d });
        }
        const afterDeals = feed(emptyTranscript(su.params), deals, []);

        // the complaint phase: honest recipients complain as openShare says; byzantine ones
        // complain falsely about one honest dealer
        const complaints: { sender: number; complaint: Complaint }[] = [];
        for (const j of honestIdx) {
          for (const d of afterDeals.deals) {
            if (d === null) continue;
            const r = openShare(su.params, d, j, su.secrets[j - 1]!);
            if (!r.ok) complaints.push({ sender: j, complaint: r.complaint });
          }
        }
        const target = honestIdx[sc.falseTarget % honestIdx.length]!;
        const targetDeal = afterDeals.deals[target - 1]!;
        for (const j of sc.byzantine) {
          complaints.push({ sender: j, complaint: complain(su.params, targetDeal, j, su.secrets[j - 1]!) });
        }

        // two honest nodes; the second sees the messages of each phase in another order
        const trA = feed(afterDeals, [], complaints);
        const order = sc.order.take(deals.length + complaints.length);
        const keys = [...order];
        const shuffle = <X>(xs: readonly X[], off: number) =>
          xs
            .map((x, k) => ({ x, r: keys[off + k] ?? 0 }))
            .sort((a, b) => a.r - b.r)
            .map((e) => e.x);
        const trB = feed(emptyTranscript(su.params), shuffle(deals, 0), shuffle(complaints, deals.length));
        const outA = finalize(trA);
        const outB = finalize(trB);
        expect(sameOutcome(outA, outB)).toBe(true);
        const key = expectOk(outA);

        // who is in QUAL
        for (const i of honestIdx) expect(key.qualified).toContain(i);
        for (const [i, b] of byz) {
          if (b.kind === 'honest') continue;
          const detectable = b.kind !== 'inconsistent' || b.victims.some((v) => !byz.has(v));
          if (detectable) expect(key.qualified).not.toContain(i);
        }
        for (const [i, b] of byz) {
          const ev = trA.events.find((e) => e.kind === 'deal-ignored' && e.sender === i);
          if (b.kind === 'wrong-length') expect(ev).toMatchObject({ reason: 'wrong-commitment-count' });
          if (b.kind === 'bad-pok' || (b.kind === 'tamper-commitment' && b.k === 0)) {
            expect(ev).toMatchObject({ reason: 'bad-pok' });
          }
        }
        // honest complaints are never unjustified; the byzantine false ones always are
        expect(trA.falseAccusers).toEqual([...sc.byzantine].sort((a, b) => a - b));

        // every honest share matches its verification key, and any t of them give the key
        const shares = honestIdx.map((j) => {
          const x = secretShare(trA, key, j, su.secrets[j - 1]!);
          expect(x).toBeTypeOf('bigint');
          expect(bytesEqual(group.mulBase(x!), key.verificationKeys[j - 1]!)).toBe(true);
          return { index: j, secret: x! };
        });
        const rot = sc.subsetSeed % shares.length;
        const pick = [...shares.slice(rot), ...shares.slice(0, rot)];
        expect(bytesEqual(group.mulBase(interpolate(pick.slice(0, t))), key.publicKey)).toBe(true);
        expect(bytesEqual(group.mulBase(interpolate(pick.slice(0, t - 1))), key.publicKey)).toBe(false);
      }),
      propParams('dkg.misbehaving-dealers', 60),
    );
  });
});

// ---------------------------------------------------------------------------------------------
// determinism and the two groups

describe('dkg: determinism', () => {
  it('the same inputs give byte-identical deals and outcomes', () => {
    const a = honestRun(4, 2, group, 'det');
    const b = honestRun(4, 2, group, 'det');
    for (let i = 0; i < 4; i++) {
      expect(bytesEqual(encode(DealWire, a.deals[i]!), encode(DealWire, b.deals[i]!))).toBe(true);
    }
    expect(sameOutcome(a.outcome, b.outcome)).toBe(true);
    expect(a.shares).toEqual(b.shares);
    // another seed deals something else
    const c = honestRun(4, 2, group, 'det2');
    expect(bytesEqual(c.key.publicKey, a.key.publicKey)).toBe(false);
  });

  it('libsodium and noble agree on every byte', () => {
    const a = honestRun(4, 2, group, 'groups');
    const b = honestRun(4, 2, nobleGroup, 'groups');
    expect(a.params.encryptionKeys).toEqual(b.params.encryptionKeys);
    for (let i = 0; i < 4; i++) {
      expect(bytesEqual(encode(DealWire, a.deals[i]!), encode(DealWire, b.deals[i]!))).toBe(true);
    }
    expect(sameOutcome(a.outcome, b.outcome)).toBe(true);
    expect(a.shares).toEqual(b.shares);
    // a complaint and its verdict
    const cheat: Deal = {
      ...a.deals[0]!,
      shares: a.deals[0]!.shares.map((s, k) => (k === 1 ? new Uint8Array(32) : s)),
    };
    const ra = openShare(a.params, cheat, 2, a.secrets[1]!, group);
    const rb = openShare(b.params, cheat, 2, b.secrets[1]!, nobleGroup);
    if (ra.ok || rb.ok) throw new Error('expected complaints');
    expect(bytesEqual(encode(ComplaintWire, ra.complaint), encode(ComplaintWire, rb.complaint))).toBe(true);
    expect(judgeComplaint(a.params, cheat, ra.complaint, nobleGroup)).toBe('dealer-guilty');
    expect(
      judgeComplaint(a.params, a.deals[1]!, complain(a.params, a.deals[1]!, 3, a.secrets[2]!), nobleGroup),
    ).toBe('unjustified');
  });
});

// ---------------------------------------------------------------------------------------------
// wire

describe('dkg: wire', () => {
  const su = setup(4, 2, 'wire');
  const d = deal(su.params, 1, su.seeds[0]!);
  const c = complain(su.params, d, 2, su.secrets[1]!);

  it('deals and complaints round-trip', () => {
    const bytes = encode(DealWire, d);
    const back = decode(DealWire, bytes);
    expect(back).toEqual(d);
    expect(checkDeal(su.params, back)).toEqual({ ok: true });
    expect(bytesEqual(encode(DealWire, back), bytes)).toBe(true);
    const cb = decode(ComplaintWire, encode(ComplaintWire, c));
    expect(cb).toEqual(c);
    expect(judgeComplaint(su.params, d, cb)).toBe('unjustified');
  });

  it('random bytes decode to a DecodeError, never a crash', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        for (const schema of [DealWire, ComplaintWire] as const) {
          const r = tryDecode<Deal | Complaint>(schema, bytes);
          if (!r.ok) expect(r.error).toBeInstanceOf(DecodeError);
        }
      }),
      propParams('dkg.wire.random', 300),
    );
  });

  it('a mutated deal or complaint never crashes the reducer', () => {
    const dealBytes = encode(DealWire, d);
    const complaintBytes = encode(ComplaintWire, c);
    const start = feed(emptyTranscript(su.params), [{ sender: 1, deal: d }], []);
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 3 }),
        (isDeal, flips) => {
          const bytes = (isDeal ? dealBytes : complaintBytes).slice();
          for (const [at, x] of flips) bytes[at % bytes.length]! ^= x;
          if (isDeal) {
            const r = tryDecode(DealWire, bytes);
            if (!r.ok) {
              expect(r.error).toBeInstanceOf(DecodeError);
              return;
            }
            const tr = applyDeal(emptyTranscript(su.params), r.value.dealer, r.value);
            expect(tr.events).toHaveLength(1);
          } else {
            const r = tryDecode(ComplaintWire, bytes);
            if (!r.ok) {
              expect(r.error).toBeInstanceOf(DecodeError);
              return;
            }
            const tr = applyComplaint(start, r.value.accuser, r.value);
            // whatever the bytes say, the honest dealer stays qualified
            expect(tr.disqualifiedBy[0]).toBeNull();
          }
        },
      ),
      propParams('dkg.wire.mutated', 200),
    );
  });
});

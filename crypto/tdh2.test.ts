import { sha256 } from '@noble/hashes/sha2.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { propParams } from '../props/config.ts';
import { MAX_BODY_BYTES } from '../wire/envelope.ts';
import { decode, encode, tryDecode } from '../wire/schema.ts';
import { TAG_BYTES } from './aead.ts';
import {
  type Group,
  hashToScalar,
  IDENTITY,
  mod,
  nobleGroup,
  ORDER,
  scalarToBytes,
  sodiumGroup,
} from './group.ts';
import {
  BlockSharesWire,
  blockShares,
  blockStatement,
  Ciphertext,
  ciphertextId,
  combine,
  DecryptionShareWire,
  dealKey,
  decryptionShare,
  decryptWithCombined,
  decryptWithSecret,
  encrypt,
  fastHashToScalar,
  gbar,
  type KeyShare,
  keyShareMatches,
  MAX_BLOCK_SHARES,
  MAX_LABEL_BYTES,
  MAX_PAYLOAD_BYTES,
  type ThresholdKey,
  verifyBlockShares,
  verifyCiphertext,
  verifyCiphertextCached,
  verifyShare,
} from './tdh2.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const bytes = (...xs: number[]) => new Uint8Array(xs);
const utf8 = (x: string) => new TextEncoder().encode(x);

const randomness = fc.uint8Array({ minLength: 64, maxLength: 80 });
const plaintextArb = fc.uint8Array({ maxLength: 200 });
const labelArb = fc.uint8Array({ maxLength: 48 });
const scalarArb = fc.bigInt({ min: 1n, max: ORDER - 1n });

/** Dealt afresh on every call (a few scalar multiplications), so each test exercises the dealer. */
function keysFor(t: number, n: number): { key: ThresholdKey; shares: KeyShare[] } {
  return dealKey(t, n, utf8(`tdh2-test-${t}/${n}`));
}

function flipBit(b: Uint8Array, bit: number): Uint8Array {
  const out = b.slice();
  out[bit >> 3] = (out[bit >> 3] as number) ^ (1 << (bit & 7));
  return out;
}

function subsets<T>(items: readonly T[], k: number): T[][] {
  if (k === 0) return [[]];
  if (items.length < k) return [];
  const [head, ...rest] = items as [T, ...T[]];
  return [...subsets(rest, k - 1).map((s) => [head, ...s]), ...subsets(rest, k)];
}

const FIELDS = ['u', 'ubar', 'e', 'f', 'label', 'payload'] as const;

// First in the file: the second generator and the caches are computed by the first test to use them.
describe('TDH2: known answers', () => {
  it('the second generator, hashes, ciphertexts, shares and block shares are the bytes every node makes', () => {
    // Nodes of different versions must make and accept the same bytes: a change to a domain tag,
    // an encoding (indices above 255 included) or a derivation breaks every ciphertext on chain.
    const digest = (b: Uint8Array) => hex(sha256(b));
    expect(hex(gbar())).toBe('74bc4af1826adf474136a1d7d39c878f4646d086badd55230740cea244319e21');
    expect(hex(gbar(nobleGroup))).toBe(hex(gbar()));
    expect(fastHashToScalar('kat', utf8('a'), utf8('bc')).toString(16)).toBe(
      '7862a4b3bf2939affd27f2e49e72941f9a439292280c7873a2eda0bec207ce9',
    );
    const { key, shares } = dealKey(2, 300, utf8('tdh2-kat'));
    expect(hex(key.publicKey)).toBe('f0bc44d86ab4579fc442fd4aa6030d0eb3fcc518a9d31de2ba1aa0bae869a355');
    expect(hex(key.verificationKeys[299]!)).toBe(
      '16e70958d4b08cb7db191fb920e6253e55e14182a5d78019932f46b6fa98ba01',
    );
    const ct = encrypt(key, utf8('known answer'), utf8('label'), new Uint8Array(64).fill(42));
    expect(digest(encode(Ciphertext, ct))).toBe(
      'a60a1850858f2f6c0f3fad2c562deb8d9cefc616f62db5f91c8402308a0eacaa',
    );
    expect(verifyCiphertextCached(ct)).toBe(true);
    expect(hex(ciphertextId(ct))).toBe('869c98bf12bdb405eb457222de934c1bdc403146540f9dd54442ead2dcf4cdda');
    const d1 = decryptionShare(ct, shares[0]!);
    const d300 = decryptionShare(ct, shares[299]!);
    expect(digest(encode(DecryptionShareWire, d1))).toBe(
      '365108a8d02146062c1b88b1cceb4d17e1bd44eb2bdee9f332f8035c31b62c35',
    );
    expect(digest(encode(DecryptionShareWire, d300))).toBe(
      'ab7b6172929baaad0b81c9813f750e3212fdeb8a888a73f6e8ffb7f522297dce',
    );
    expect(verifyShare(key, ct, d300)).toBe(true);
    const K = combine(key, ct, [d1, d300]);
    expect(hex(K)).toBe('a2aef46f129b6280c8cd0571b008d85f62115594a29bc117c4cbb551d44caf6f');
    expect(decryptWithCombined(ct, K)).toEqual({ ok: true, plaintext: utf8('known answer') });
    const bs = blockShares([ct, ct], shares[299]!, utf8('context'));
    expect(digest(encode(BlockSharesWire, bs))).toBe(
      '9c61e287853c5958eb01036546d38f803203be1a5b12ec62ea4d3d192d0ed70f',
    );
    expect(verifyBlockShares(key, [ct, ct], bs, utf8('context'))).toBe(true);
  });
});

describe('TDH2: encryption and ciphertext validity', () => {
  it('encrypt → valid ciphertext → decrypts with the secret; deterministic; wire round trip', () => {
    const { key } = keysFor(2, 4);
    const secret = mod(hashToScalar('never-used')); // a wrong secret
    fc.assert(
      fc.property(plaintextArb, labelArb, randomness, (plaintext, label, rnd) => {
        const ct = encrypt(key, plaintext, label, rnd);
        expect(verifyCiphertext(ct)).toBe(true);
        expect(ct.payload.length).toBe(plaintext.length + TAG_BYTES);
        expect(hex(encode(Ciphertext, encrypt(key, plaintext, label, rnd)))).toBe(
          hex(encode(Ciphertext, ct)),
        );
        const back = decode(Ciphertext, encode(Ciphertext, ct));
        expect(verifyCiphertext(back)).toBe(true);
        expect(decryptWithSecret(back, secret)).toEqual({ ok: false, reason: 'aead-failure' });
      }),
      propParams('tdh2.encrypt', 25),
    );
  });

  it('randomness reused for another message or label gives unrelated r and s (hedged derivation)', () => {
    const { key } = keysFor(2, 4);
    const rnd = new Uint8Array(64);
    const a = encrypt(key, utf8('a'), bytes(), rnd);
    const b = encrypt(key, utf8('b'), bytes(), rnd);
    const c = encrypt(key, utf8('a'), bytes(1), rnd);
    expect(new Set([hex(a.u), hex(b.u), hex(c.u)]).size).toBe(3);
    expect(new Set([hex(a.f), hex(b.f), hex(c.f)]).size).toBe(3);
  });

  it('every single bit flip of one encoded ciphertext fails to decode or to verify (exhaustive)', () => {
    const { key } = keysFor(2, 4);
    const ct = encrypt(key, utf8('front-run me'), utf8('label:x'), new Uint8Array(64).fill(7));
    const wire = encode(Ciphertext, ct);
    let decodeFailures = 0;
    for (let bit = 0; bit < wire.length * 8; bit++) {
      const r = tryDecode(Ciphertext, flipBit(wire, bit));
      if (!r.ok) decodeFailures++;
      else expect(verifyCiphertext(r.value), `bit ${bit}`).toBe(false);
    }
    expect(decodeFailures).toBeGreaterThan(0);
  });

  it('flipping any bit of any field of random ciphertexts makes verifyCiphertext false', () => {
    const { key } = keysFor(3, 5);
    fc.assert(
      fc.property(
        plaintextArb,
        labelArb,
        randomness,
        fc.constantFrom(...FIELDS),
        fc.nat(),
        (plaintext, label, rnd, field, bit) => {
          const ct = encrypt(key, plaintext, label, rnd);
          const value = ct[field];
          if (value.length === 0) {
            // nothing to flip in an empty label: appending a byte must invalidate it instead
            expect(verifyCiphertext({ ...ct, [field]: bytes(0) })).toBe(false);
            return;
          }
          const bad = { ...ct, [field]: flipBit(value, bit % (value.length * 8)) };
          expect(verifyCiphertext(bad)).toBe(false);
          expect(verifyCiphertext(bad, nobleGroup)).toBe(false);
        },
      ),
      propParams('tdh2.bit-flip', 60),
    );
  });

  it('verifyCiphertextCached answers as verifyCiphertext, also for a mauled copy of a ciphertext it accepted', () => {
    const { key } = keysFor(2, 4);
    const ct = encrypt(key, utf8('pay 5'), utf8('label'), new Uint8Array(64).fill(9));
    for (let round = 0; round < 2; round++) {
      expect(verifyCiphertextCached(ct)).toBe(true);
      for (const field of FIELDS) {
        const bad = { ...ct, [field]: flipBit(ct[field], 3) };
        expect(verifyCiphertextCached(bad)).toBe(verifyCiphertext(bad));
        expect(verifyCiphertextCached(bad)).toBe(false);
      }
      expect(verifyCiphertextCached({ ...ct, payload: ct.payload.slice(0, TAG_BYTES - 1) })).toBe(false);
    }
    expect(verifyCiphertextCached(null as unknown as Ciphertext)).toBe(false);
  });

  it('keyShareMatches: a key share is the one its verification key names', () => {
    const { key, shares } = keysFor(2, 4);
    for (const share of shares) expect(keyShareMatches(key, share)).toBe(true);
    const [first] = shares as [KeyShare];
    expect(keyShareMatches(key, { index: first.index, secret: mod(first.secret + 1n) })).toBe(false);
    expect(keyShareMatches(key, { index: 2, secret: first.secret })).toBe(false);
    expect(keyShareMatches(key, { index: 9, secret: first.secret })).toBe(false);
  });

  it('label binding: the same ciphertext under another label is invalid and does not open', () => {
    const { key, shares } = keysFor(2, 4);
    fc.assert(
      fc.property(plaintextArb, labelArb, labelArb, randomness, (plaintext, label, other, rnd) => {
        fc.pre(hex(label) !== hex(other));
        const ct = encrypt(key, plaintext, label, rnd);
        const moved = { ...ct, label: other };
        expect(verifyCiphertext(moved)).toBe(false);
        // even with the right KEM key, the AEAD and its key derivation bind the label
        const K = combine(key, ct, [decryptionShare(ct, shares[0]!), decryptionShare(ct, shares[1]!)]);
        expect(decryptWithCombined(ct, K)).toEqual({ ok: true, plaintext });
        expect(decryptWithCombined(moved, K)).toEqual({ ok: false, reason: 'aead-failure' });
      }),
      propParams('tdh2.label', 20),
    );
  });

  it('rejects malformed ciphertexts without throwing', () => {
    const { key } = keysFor(2, 4);
    const ct = encrypt(key, utf8('x'), bytes(), new Uint8Array(64));
    const g = sodiumGroup;
    const cases: unknown[] = [
      null,
      {},
      { ...ct, u: IDENTITY },
      { ...ct, ubar: IDENTITY },
      { ...ct, u: new Uint8Array(32).fill(0xff) }, // not canonical
      { ...ct, u: ct.u.subarray(0, 31) },
      { ...ct, e: scalarToBytes(0n).fill(0xff) }, // ≥ ORDER
      {
        ...ct,
        f: (() => {
          // f + ORDER, the same residue but not canonical, if it fits 32 bytes
          const x = BigInt(`0x${hex(ct.f.slice().reverse())}`) + ORDER;
          const out = new Uint8Array(32);
          let y = x;
          for (let i = 0; i < 32; i++) {
            out[i] = Number(y & 0xffn);
            y >>= 8n;
          }
          return out;
        })(),
      },
      { ...ct, payload: ct.payload.subarray(0, TAG_BYTES - 1) },
      { ...ct, label: new Uint8Array(MAX_LABEL_BYTES + 1) },
      { ...ct, payload: 'nope' },
      { ...ct, u: g.mulBase(5n) }, // a valid point, but not this ciphertext's
    ];
    for (const c of cases) {
      expect(() => verifyCiphertext(c as Ciphertext)).not.toThrow();
      expect(verifyCiphertext(c as Ciphertext)).toBe(false);
      expect(verifyCiphertext(c as Ciphertext, nobleGroup)).toBe(false);
    }
    expect(decryptWithCombined({ ...ct, payload: new Uint8Array(3) }, new Uint8Array(32))).toEqual({
      ok: false,
      reason: 'invalid-ciphertext',
    });
    expect(decryptWithCombined(ct, new Uint8Array(31))).toEqual({ ok: false, reason: 'invalid-ciphertext' });
  });

  it('size limits: randomness ≥ 64 bytes, label ≤ 256, payload ≤ 60 KiB', () => {
    const { key } = keysFor(2, 4);
    expect(() => encrypt(key, bytes(), bytes(), new Uint8Array(63))).toThrow(RangeError);
    expect(() => encrypt(key, bytes(), new Uint8Array(MAX_LABEL_BYTES + 1), new Uint8Array(64))).toThrow(
      RangeError,
    );
    expect(() => encrypt(key, new Uint8Array(MAX_PAYLOAD_BYTES), bytes(), new Uint8Array(64))).toThrow(
      RangeError,
    );
    expect(() => encrypt({ publicKey: IDENTITY }, bytes(), bytes(), new Uint8Array(64))).toThrow(RangeError);
    const big = encrypt(key, new Uint8Array(MAX_PAYLOAD_BYTES - TAG_BYTES), bytes(), new Uint8Array(64));
    expect(big.payload.length).toBe(MAX_PAYLOAD_BYTES);
    expect(verifyCiphertext(decode(Ciphertext, encode(Ciphertext, big)))).toBe(true);
  });
});

describe('TDH2: decryption shares and combination', () => {
  it('any t valid shares give the plaintext and every t-subset the same key; t-1 shares do not', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }).chain((t) => fc.tuple(fc.constant(t), fc.integer({ min: t, max: 5 }))),
        plaintextArb,
        labelArb,
        randomness,
        scalarArb,
        ([t, n], plaintext, label, rnd, junk) => {
          const { key, shares } = keysFor(t, n);
          const ct = encrypt(key, plaintext, label, rnd);
          expect(verifyCiphertext(ct)).toBe(true);
          const ds = shares.map((sh) => decryptionShare(ct, sh));
          for (const d of ds) expect(verifyShare(key, ct, d)).toBe(true);
          const keysSeen = new Set<string>();
          for (const subset of subsets(ds, t)) {
            const K = combine(key, ct, subset);
            keysSeen.add(hex(K));
            expect(decryptWithCombined(ct, K)).toEqual({ ok: true, plaintext });
          }
          expect(keysSeen.size).toBe(1);
          // order within the t shares does not matter
          expect(hex(combine(key, ct, [...ds.slice(0, t)].reverse()))).toBe([...keysSeen][0]);
          // t-1 shares are refused, and padding them with a fake share at an unused index fails
          expect(() => combine(key, ct, ds.slice(0, t - 1))).toThrow(RangeError);
          if (n > t - 1) {
            const fakeIndex = t; // ds[t-1] is the real share for index t; replace its point
            const fakes = [
              sodiumGroup.mulBase(junk),
              ds[0]!.ui, // a real share under another index
              IDENTITY,
            ];
            for (const ui of fakes) {
              if (t === 1 && ui === ds[0]!.ui) continue; // that one *is* the real share when t = 1
              const forged = [...ds.slice(0, t - 1), { index: fakeIndex, ui }];
              const r = decryptWithCombined(ct, combine(key, ct, forged));
              expect(r).toEqual({ ok: false, reason: 'aead-failure' });
            }
          }
        },
      ),
      propParams('tdh2.threshold', 15),
    );
  });

  it('combine refuses duplicates, out-of-range indices and non-points', () => {
    const { key, shares } = keysFor(2, 4);
    const ct = encrypt(key, utf8('x'), bytes(), new Uint8Array(64));
    const [a, b] = [decryptionShare(ct, shares[0]!), decryptionShare(ct, shares[1]!)];
    expect(() => combine(key, ct, [a, a])).toThrow(RangeError);
    expect(() => combine(key, ct, [a, { ...b, index: 5 }])).toThrow(RangeError);
    expect(() => combine(key, ct, [a, { ...b, index: 0 }])).toThrow(RangeError);
    expect(() => combine(key, ct, [a, { ...b, ui: new Uint8Array(32).fill(0xff) }])).toThrow(RangeError);
    // only the first t are used: a bad third share is ignored
    expect(hex(combine(key, ct, [a, b, { index: 9, ui: bytes() }]))).toBe(hex(combine(key, ct, [a, b])));
  });

  it('a share made with a wrong key share, for another ciphertext, or altered, is rejected', () => {
    const { key, shares } = keysFor(3, 5);
    fc.assert(
      fc.property(
        plaintextArb,
        randomness,
        randomness,
        fc.integer({ min: 0, max: 4 }),
        scalarArb,
        fc.nat(),
        (plaintext, r1, r2, who, wrong, bit) => {
          fc.pre(hex(r1) !== hex(r2));
          const ct = encrypt(key, plaintext, bytes(1), r1);
          const other = encrypt(key, plaintext, bytes(1), r2);
          const share = shares[who]!;
          const good = decryptionShare(ct, share);
          expect(verifyShare(key, ct, good)).toBe(true);
          fc.pre(wrong !== share.secret);
          expect(verifyShare(key, ct, decryptionShare(ct, { index: share.index, secret: wrong }))).toBe(
            false,
          );
          expect(verifyShare(key, ct, decryptionShare(other, share))).toBe(false);
          expect(verifyShare(key, other, good)).toBe(false);
          const otherIndex = (who + 1) % 5;
          expect(verifyShare(key, ct, { ...good, index: otherIndex + 1 })).toBe(false);
          // a real share of another validator presented under this index
          expect(verifyShare(key, ct, { ...good, ui: decryptionShare(ct, shares[otherIndex]!).ui })).toBe(
            false,
          );
          for (const field of ['ui', 'e', 'f'] as const) {
            const bad = { ...good, [field]: flipBit(good[field], bit % 256) };
            expect(verifyShare(key, ct, bad)).toBe(false);
          }
          expect(verifyShare(key, ct, { ...good, index: 0 })).toBe(false);
          expect(verifyShare(key, ct, { ...good, index: 6 })).toBe(false);
        },
      ),
      propParams('tdh2.share-reject', 15),
    );
  });

  it('DecryptionShare wire round trip', () => {
    const { key, shares } = keysFor(2, 4);
    const ct = encrypt(key, utf8('x'), bytes(), new Uint8Array(64));
    const d = decryptionShare(ct, shares[3]!);
    const back = decode(DecryptionShareWire, encode(DecryptionShareWire, d));
    expect(back).toEqual(d);
    expect(verifyShare(key, ct, back)).toBe(true);
  });
});

describe('TDH2: batched block shares', () => {
  const ctx = utf8('block-hash-1');
  const other = utf8('block-hash-2');

  function block(m: number, seed: number): Ciphertext[] {
    const { key } = keysFor(2, 4);
    return Array.from({ length: m }, (_, j) =>
      encrypt(key, utf8(`tx ${seed}/${j}`), utf8(`payer-${j}`), new Uint8Array(64).fill(seed + j)),
    );
  }

  it('honest block shares verify and combine to the plaintexts; every tampering is rejected', () => {
    const { key, shares } = keysFor(2, 4);
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 0, max: 200 }),
        fc.integer({ min: 0, max: 3 }),
        fc.nat(),
        scalarArb,
        (m, seed, who, pick, junk) => {
          const cts = block(m, seed);
          const all = shares.map((sh) => blockShares(cts, sh, ctx));
          const mine = all[who]!;
          for (const bs of all) expect(verifyBlockShares(key, cts, bs, ctx)).toBe(true);
          // the batched shares are the same points as the individual ones, and combine
          for (let j = 0; j < m; j++) {
            expect(hex(mine.shares[j]!)).toBe(hex(decryptionShare(cts[j]!, shares[who]!).ui));
            const K = combine(key, cts[j]!, [
              { index: all[0]!.index, ui: all[0]!.shares[j]! },
              { index: all[3]!.index, ui: all[3]!.shares[j]! },
            ]);
            expect(decryptWithCombined(cts[j]!, K)).toEqual({ ok: true, plaintext: utf8(`tx ${seed}/${j}`) });
          }
          const j = pick % m;
          const reject = (bs: typeof mine, c = cts, context = ctx) =>
            expect(verifyBlockShares(key, c, bs, context)).toBe(false);
          const withShare = (ui: Uint8Array) => ({
            ...mine,
            shares: mine.shares.map((x, k) => (k === j ? ui : x)),
          });
          // one share swapped for another validator's share of the same ciphertext
          reject(withShare(all[(who + 1) % 4]!.shares[j]!));
          // one share altered: a random point, the identity, a bit flip
          reject(withShare(sodiumGroup.mulBase(junk)));
          reject(withShare(IDENTITY));
          reject(withShare(flipBit(mine.shares[j]!, pick % 256)));
          reject(withShare(sodiumGroup.add(mine.shares[j]!, sodiumGroup.generator)));
          // reordered shares, and ciphertexts and shares reordered together
          if (m >= 2) {
            const k = (j + 1) % m;
            const swapped = mine.shares.map((x, i) =>
              i === j ? mine.shares[k]! : i === k ? mine.shares[j]! : x,
            );
            reject({ ...mine, shares: swapped });
            const swappedCts = cts.map((c, i) => (i === j ? cts[k]! : i === k ? cts[j]! : c));
            reject({ ...mine, shares: swapped }, swappedCts);
          }
          // other ciphertexts, another context, a missing or extra share, another index
          reject(mine, block(m, seed + 1));
          reject(
            mine,
            cts.map((c, i) => (i === j ? block(1, seed + 50)[0]! : c)),
          );
          reject(mine, cts, other);
          reject({ ...mine, shares: mine.shares.slice(1) });
          reject({ ...mine, shares: [...mine.shares, mine.shares[0]!] });
          reject({ ...mine, index: ((who + 1) % 4) + 1 });
          reject({ ...mine, e: flipBit(mine.e, pick % 256) });
          reject({ ...mine, f: flipBit(mine.f, pick % 256) });
          // made with a wrong key share
          fc.pre(junk !== shares[who]!.secret);
          reject(blockShares(cts, { index: who + 1, secret: junk }, ctx));
        },
      ),
      propParams('tdh2.block-shares', 12),
    );
  });

  it('a cancelling forgery (δ and -δ weighted by the coefficients) is caught because the coefficients hash the shares', () => {
    const { key, shares } = keysFor(2, 4);
    const cts = block(2, 9);
    const me = shares[1]!;
    const honest = blockShares(cts, me, ctx);
    const { coefficients: rho } = blockStatement(key, cts, honest.shares, ctx, me.index);
    const g = sodiumGroup;
    const P = g.mulBase(123456789n);
    // u'_0 = u_0 + ρ_1·P, u'_1 = u_1 − ρ_0·P: Σ ρ_j·u'_j is unchanged, so the old proof would still
    // verify against the old coefficients
    const forged = [g.add(honest.shares[0]!, g.mul(P, rho[1]!)), g.sub(honest.shares[1]!, g.mul(P, rho[0]!))];
    const sumOld = g.msm(honest.shares, rho);
    expect(hex(g.msm(forged, rho))).toBe(hex(sumOld));
    // ... but the forged shares change D, hence the coefficients, hence the statement
    const { coefficients: rho2 } = blockStatement(key, cts, forged, ctx, me.index);
    expect(rho2[0]).not.toBe(rho[0]);
    expect(verifyBlockShares(key, cts, { ...honest, shares: forged }, ctx)).toBe(false);
    // and a forged share gives garbage when combined
    const K = combine(key, cts[0]!, [
      { index: me.index, ui: forged[0]! },
      { index: 1, ui: decryptionShare(cts[0]!, shares[0]!).ui },
    ]);
    expect(decryptWithCombined(cts[0]!, K).ok).toBe(false);
  });

  it('an empty block, and malformed input never throws', () => {
    const { key, shares } = keysFor(2, 4);
    const empty = blockShares([], shares[0]!, ctx);
    expect(empty.shares).toEqual([]);
    expect(verifyBlockShares(key, [], empty, ctx)).toBe(true);
    expect(verifyBlockShares(key, [], empty, other)).toBe(false);
    const cts = block(2, 3);
    const bs = blockShares(cts, shares[0]!, ctx);
    const junk: unknown[] = [
      { ...bs, shares: null },
      { ...bs, shares: [bs.shares[0], 'x'] },
      { ...bs, shares: [bs.shares[0], new Uint8Array(32).fill(0xff)] },
      { ...bs, e: new Uint8Array(32).fill(0xff) },
      { ...bs, index: 1.5 },
    ];
    for (const b of junk) {
      expect(() => verifyBlockShares(key, cts, b as typeof bs, ctx)).not.toThrow();
      expect(verifyBlockShares(key, cts, b as typeof bs, ctx)).toBe(false);
    }
    const badCts = [cts[0]!, { ...cts[1]!, u: new Uint8Array(32).fill(0xff) }];
    expect(verifyBlockShares(key, badCts, bs, ctx)).toBe(false);
  });

  it('BlockShares wire round trip; the largest one fits an envelope body', () => {
    const { key, shares } = keysFor(2, 4);
    const cts = block(3, 1);
    const bs = blockShares(cts, shares[2]!, ctx);
    const back = decode(BlockSharesWire, encode(BlockSharesWire, bs));
    expect(back).toEqual(bs);
    expect(verifyBlockShares(key, cts, back, ctx)).toBe(true);
    const biggest = {
      ...bs,
      index: 0xffff,
      shares: Array.from({ length: MAX_BLOCK_SHARES }, () => bs.shares[0]!),
    };
    expect(encode(BlockSharesWire, biggest).length).toBeLessThanOrEqual(MAX_BODY_BYTES);
    expect(() =>
      encode(BlockSharesWire, {
        ...bs,
        shares: Array.from({ length: MAX_BLOCK_SHARES + 1 }, () => bs.shares[0]!),
      }),
    ).toThrow();
  });
});

describe('TDH2: libsodium and @noble/curves give identical bytes', () => {
  it('second generator, fast hash, dealt keys', () => {
    expect(hex(gbar(sodiumGroup))).toBe(hex(gbar(nobleGroup)));
    expect(hex(gbar())).not.toBe(hex(sodiumGroup.generator));
    expect(hex(gbar())).not.toBe(hex(IDENTITY));
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 70 }), { maxLength: 4 }), (parts) => {
        expect(fastHashToScalar('d', ...parts)).toBe(hashToScalar('d', ...parts));
      }),
      propParams('tdh2.fast-hash', 50),
    );
    const a = dealKey(3, 5, utf8('cross'), sodiumGroup);
    const b = dealKey(3, 5, utf8('cross'), nobleGroup);
    expect(a.shares).toEqual(b.shares);
    expect(hex(a.key.publicKey)).toBe(hex(b.key.publicKey));
    expect(a.key.verificationKeys.map(hex)).toEqual(b.key.verificationKeys.map(hex));
  });

  it('ciphertexts, shares, block shares and combined keys, cross-verified', () => {
    const { key, shares } = keysFor(2, 4);
    const groups: Group[] = [sodiumGroup, nobleGroup];
    fc.assert(
      fc.property(
        plaintextArb,
        labelArb,
        randomness,
        fc.integer({ min: 0, max: 3 }),
        (plaintext, label, rnd, who) => {
          const [cs, cn] = groups.map((g) => encrypt(key, plaintext, label, rnd, g)) as [
            Ciphertext,
            Ciphertext,
          ];
          expect(hex(encode(Ciphertext, cn))).toBe(hex(encode(Ciphertext, cs)));
          expect(verifyCiphertext(cs, nobleGroup)).toBe(true);
          const [ds, dn] = groups.map((g) => decryptionShare(cs, shares[who]!, g));
          expect(hex(encode(DecryptionShareWire, dn!))).toBe(hex(encode(DecryptionShareWire, ds!)));
          expect(verifyShare(key, cs, ds!, nobleGroup)).toBe(true);
          const cts = [cs, encrypt(key, label, plaintext, rnd)];
          const [bs, bn] = groups.map((g) => blockShares(cts, shares[who]!, label, g));
          expect(hex(encode(BlockSharesWire, bn!))).toBe(hex(encode(BlockSharesWire, bs!)));
          expect(verifyBlockShares(key, cts, bs!, label, nobleGroup)).toBe(true);
          const other = decryptionShare(cs, shares[(who + 1) % 4]!);
          const [ks, kn] = groups.map((g) => combine(key, cs, [ds!, other], g));
          expect(hex(kn!)).toBe(hex(ks!));
          expect(decryptWithCombined(cs, ks!)).toEqual({ ok: true, plaintext });
          expect(hex(ciphertextId(cs))).toBe(hex(ciphertextId(cn!)));
        },
      ),
      propParams('tdh2.cross-check', 6),
    );
  });
});

describe('TDH2: argument checks at their edges', () => {
  it('dealKey: 1 ≤ t ≤ n ≤ 65535, integers', () => {
    for (const [t, n] of [
      [1, 0],
      [1, 65_536],
      [0, 3],
      [4, 3],
      [1.5, 3],
      [1, 2.5],
    ] as const) {
      expect(() => dealKey(t, n, utf8('x')), `${t}/${n}`).toThrow(RangeError);
    }
    const one = dealKey(1, 1, utf8('x'));
    expect(one.shares).toEqual([{ index: 1, secret: one.shares[0]!.secret }]);
    expect(one.key.threshold).toBe(1);
    // t = 1: the key share is the secret itself
    expect(hex(one.key.publicKey)).toBe(hex(one.key.verificationKeys[0]!));
    const three = dealKey(3, 3, utf8('x'));
    expect(three.shares.map((s) => s.index)).toEqual([1, 2, 3]);
    expect(three.key.verificationKeys.length).toBe(3);
  });

  it('key shares: index 1..65535 and a reduced secret, else RangeError; a share changed in place is re-derived', () => {
    const { key, shares } = keysFor(2, 3);
    const ct = encrypt(key, utf8('x'), bytes(), new Uint8Array(64));
    for (const bad of [
      { index: 0, secret: 1n },
      { index: 65_536, secret: 1n },
      { index: 1.5, secret: 1n },
      { index: 1, secret: -1n },
      { index: 1, secret: ORDER },
    ]) {
      expect(() => decryptionShare(ct, bad), JSON.stringify({ ...bad, secret: `${bad.secret}` })).toThrow(
        RangeError,
      );
      expect(() => blockShares([ct], bad, bytes())).toThrow(RangeError);
    }
    expect(() => decryptionShare(ct, { index: 65_535, secret: ORDER - 1n })).not.toThrow();
    // the verification key h_i is cached per share object, but never for a secret it no longer has
    const share = { ...shares[0]! };
    expect(keyShareMatches(key, share)).toBe(true);
    expect(verifyShare(key, ct, decryptionShare(ct, share))).toBe(true);
    share.secret = shares[1]!.secret;
    expect(keyShareMatches(key, share)).toBe(false);
    expect(verifyShare(key, ct, decryptionShare(ct, share))).toBe(false);
    share.index = 2;
    expect(keyShareMatches(key, share)).toBe(true);
    expect(verifyShare(key, ct, decryptionShare(ct, share))).toBe(true);
  });

  it('verification keys exist for indices 1..n only', () => {
    const { key, shares } = keysFor(2, 3);
    const ct = encrypt(key, utf8('x'), bytes(), new Uint8Array(64));
    const d = decryptionShare(ct, shares[2]!);
    expect(verifyShare(key, ct, d)).toBe(true);
    for (const index of [0, 4, 1.5, -1]) {
      expect(verifyShare(key, ct, { ...d, index })).toBe(false);
      expect(() => blockStatement(key, [ct], [d.ui], bytes(), index)).toThrow(RangeError);
    }
    expect(keyShareMatches({ ...key, verificationKeys: key.verificationKeys.slice(0, 2) }, shares[2]!)).toBe(
      false,
    );
    expect(blockStatement(key, [ct], [d.ui], bytes(), 3).coefficients.length).toBe(1);
  });

  it('encrypt: exactly 64 bytes of randomness, a 256-byte label and the largest plaintext are fine', () => {
    const { key, shares } = keysFor(2, 3);
    const label = new Uint8Array(MAX_LABEL_BYTES).fill(3);
    const ct = encrypt(key, utf8('edge'), label, new Uint8Array(64).fill(1));
    expect(verifyCiphertext(ct)).toBe(true);
    expect(() =>
      encrypt(key, new Uint8Array(MAX_PAYLOAD_BYTES - TAG_BYTES + 1), bytes(), new Uint8Array(64)),
    ).toThrow(RangeError);
    expect(() => encrypt(key, 'text' as unknown as Uint8Array, bytes(), new Uint8Array(64))).toThrow(
      RangeError,
    );
    expect(() => encrypt(key, bytes(), 'label' as unknown as Uint8Array, new Uint8Array(64))).toThrow(
      RangeError,
    );
    expect(() =>
      encrypt({ publicKey: new Uint8Array(32).fill(0xff) }, bytes(), bytes(), new Uint8Array(64)),
    ).toThrow(RangeError);
    // an empty plaintext is a payload of just the tag: valid, and it opens to nothing
    const empty = encrypt(key, bytes(), bytes(), new Uint8Array(64));
    expect(empty.payload.length).toBe(TAG_BYTES);
    expect(verifyCiphertext(empty)).toBe(true);
    const K = combine(key, empty, [decryptionShare(empty, shares[0]!), decryptionShare(empty, shares[1]!)]);
    expect(decryptWithCombined(empty, K)).toEqual({ ok: true, plaintext: bytes() });
    expect(decryptWithSecret({ ...empty, e: empty.f }, 1n)).toEqual({
      ok: false,
      reason: 'invalid-ciphertext',
    });
  });

  it('combine: a threshold that is not a positive integer is refused', () => {
    const { key, shares } = keysFor(2, 3);
    const ct = encrypt(key, utf8('x'), bytes(), new Uint8Array(64));
    const ds = shares.map((s) => decryptionShare(ct, s));
    for (const threshold of [0, -1, 1.5]) {
      expect(() => combine({ ...key, threshold }, ct, ds)).toThrow(RangeError);
    }
    // with t = 1 any one share is the key; with t = 3 all three are needed
    const one = combine({ ...key, threshold: 1 }, ct, [ds[2]!]);
    expect(hex(one)).toBe(hex(ds[2]!.ui));
    expect(() => combine({ ...key, threshold: 3 }, ct, ds.slice(0, 2))).toThrow(RangeError);
  });

  it('block shares: at most MAX_BLOCK_SHARES ciphertexts', () => {
    const { key, shares } = keysFor(2, 3);
    const ct = encrypt(key, utf8('x'), bytes(), new Uint8Array(64));
    const full = Array.from({ length: MAX_BLOCK_SHARES }, () => ct);
    const bs = blockShares(full, shares[0]!, utf8('ctx'));
    expect(bs.shares.length).toBe(MAX_BLOCK_SHARES);
    expect(() => blockShares([...full, ct], shares[0]!, utf8('ctx'))).toThrow(RangeError);
  });
});

describe('TDH2: malformed and degenerate input', () => {
  it('u = ū = identity with a correct proof (a key anyone knows) is not a valid ciphertext', () => {
    const g = sodiumGroup;
    const label = utf8('L');
    const payload = new Uint8Array(TAG_BYTES + 4).fill(1);
    const s = 987654321n;
    // log_g(identity) = log_ḡ(identity) = 0: the proof of equal logs is easy with r = 0
    const w = g.mulBase(s);
    const wbar = g.mul(gbar(), s);
    const e = fastHashToScalar('fractal/tdh2/ciphertext', payload, label, IDENTITY, w, IDENTITY, wbar);
    const forged: Ciphertext = {
      u: IDENTITY,
      ubar: IDENTITY,
      e: scalarToBytes(e),
      f: scalarToBytes(s),
      label,
      payload,
    };
    expect(verifyCiphertext(forged)).toBe(false);
    expect(verifyCiphertext(forged, nobleGroup)).toBe(false);
    expect(verifyCiphertextCached(forged)).toBe(false);
    // the same construction with r ≠ 0 is an ordinary valid ciphertext: only the identity is refused
    const r = 5n;
    const [u, ubar] = [g.mulBase(r), g.mul(gbar(), r)];
    const e2 = fastHashToScalar('fractal/tdh2/ciphertext', payload, label, u, w, ubar, wbar);
    const honest = { ...forged, u, ubar, e: scalarToBytes(e2), f: scalarToBytes(mod(s + r * e2)) };
    expect(verifyCiphertext(honest)).toBe(true);
  });

  it('shares of a ciphertext that is not well formed never verify, though their proof would', () => {
    const { key, shares } = keysFor(2, 3);
    const ctx = utf8('ctx');
    const ct = encrypt(key, utf8('x'), utf8('L'), new Uint8Array(64));
    const d = decryptionShare(ct, shares[0]!);
    const bs = blockShares([ct], shares[0]!, ctx);
    expect(verifyShare(key, ct, d)).toBe(true);
    expect(verifyBlockShares(key, [ct], bs, ctx)).toBe(true);
    // the proofs bind (u, ū, e, f): a payload or label out of bounds leaves them intact
    const malformed = [
      { ...ct, payload: ct.payload.subarray(0, TAG_BYTES - 1) },
      { ...ct, payload: new Uint8Array(MAX_PAYLOAD_BYTES + 1) },
      { ...ct, label: new Uint8Array(MAX_LABEL_BYTES + 1) },
      { ...ct, label: 'L' as unknown as Uint8Array },
    ];
    for (const bad of malformed) {
      expect(verifyShare(key, bad, d)).toBe(false);
      expect(verifyBlockShares(key, [bad], bs, ctx)).toBe(false);
    }
  });

  it('decryptWithCombined refuses every field out of its wire size, before any key derivation', () => {
    const { key, shares } = keysFor(2, 3);
    const ct = encrypt(key, utf8('x'), utf8('L'), new Uint8Array(64));
    const K = combine(key, ct, [decryptionShare(ct, shares[0]!), decryptionShare(ct, shares[1]!)]);
    expect(decryptWithCombined(ct, K)).toEqual({ ok: true, plaintext: utf8('x') });
    const short = new Uint8Array(31);
    const cases: unknown[] = [
      null,
      'ct',
      { ...ct, u: short },
      { ...ct, ubar: short },
      { ...ct, e: short },
      { ...ct, f: short },
      { ...ct, u: [...ct.u] },
      { ...ct, label: new Uint8Array(MAX_LABEL_BYTES + 1) },
      { ...ct, payload: new Uint8Array(MAX_PAYLOAD_BYTES + 1) },
    ];
    for (const c of cases) {
      expect(decryptWithCombined(c as Ciphertext, K)).toEqual({ ok: false, reason: 'invalid-ciphertext' });
    }
    expect(decryptWithCombined(ct, [...K] as unknown as Uint8Array)).toEqual({
      ok: false,
      reason: 'invalid-ciphertext',
    });
    // at the limits, the sizes are fine: the label of 256 bytes opens
    const edge = encrypt(key, utf8('y'), new Uint8Array(MAX_LABEL_BYTES), new Uint8Array(64));
    const K2 = combine(key, edge, [decryptionShare(edge, shares[0]!), decryptionShare(edge, shares[2]!)]);
    expect(decryptWithCombined(edge, K2)).toEqual({ ok: true, plaintext: utf8('y') });
  });

  it('gbar() hands out a copy: changing it changes nothing', () => {
    const g1 = gbar();
    const before = hex(g1);
    g1.fill(0);
    expect(hex(gbar())).toBe(before);
    const { key } = keysFor(2, 3);
    const ct = encrypt(key, utf8('x'), bytes(), new Uint8Array(64));
    expect(verifyCiphertext(ct)).toBe(true);
  });
});

describe('TDH2: what a caller is told, and what never throws', () => {
  it('argument errors say what was wrong', () => {
    const { key, shares } = keysFor(2, 3);
    const ct = encrypt(key, utf8('x'), bytes(), new Uint8Array(64));
    const ds = shares.map((s) => decryptionShare(ct, s));
    const r64 = new Uint8Array(64);
    expect(() => encrypt(key, bytes(), bytes(), new Uint8Array(63))).toThrow(
      'encrypt needs at least 64 bytes of randomness',
    );
    expect(() => encrypt(key, bytes(), new Uint8Array(MAX_LABEL_BYTES + 1), r64)).toThrow(
      'label must be at most 256 bytes',
    );
    expect(() => encrypt(key, new Uint8Array(61_425), bytes(), r64)).toThrow(
      'plaintext must be at most 61424 bytes',
    );
    expect(() => encrypt({ publicKey: IDENTITY }, bytes(), bytes(), r64)).toThrow(
      'public key is not a non-identity point',
    );
    expect(() => decryptionShare(ct, { index: 0, secret: 1n })).toThrow(
      'key share: share index 0 is not in 1..65535',
    );
    expect(() => decryptionShare(ct, { index: 1, secret: ORDER })).toThrow(
      'key share secret must be a reduced scalar',
    );
    expect(() => blockStatement(key, [ct], [ds[0]!.ui], bytes(), 4)).toThrow(
      'share index 4 is not in the key',
    );
    const many = Array.from({ length: MAX_BLOCK_SHARES + 1 }, () => ct);
    expect(() => blockShares(many, shares[0]!, bytes())).toThrow(
      "a block's shares hold at most 1800 ciphertexts, got 1801",
    );
    expect(() => combine({ ...key, threshold: 0 }, ct, ds)).toThrow('threshold 0 is not a positive integer');
    expect(() => combine(key, ct, ds.slice(0, 1))).toThrow('combine needs 2 shares, got 1');
    expect(() => combine(key, ct, [ds[0]!, ds[0]!])).toThrow('combine: duplicate share index 1');
    expect(() => combine(key, ct, [ds[0]!, { ...ds[1]!, index: 4 }])).toThrow(
      'combine: share index 4 is not in 1..3',
    );
    expect(() => combine(key, ct, [ds[0]!, { ...ds[1]!, ui: bytes(1) }])).toThrow(
      'combine: share 2 is not a point',
    );
    expect(() => dealKey(1, 0, utf8('x'))).toThrow('n = 0 is not in 1..65535');
    expect(() => dealKey(0, 2, utf8('x'))).toThrow('t = 0 is not in 1..n');
  });

  it('a key share secret is any reduced scalar, zero included, and a bigint', () => {
    const { key } = keysFor(2, 3);
    const ct = encrypt(key, utf8('x'), bytes(), new Uint8Array(64));
    expect(decryptionShare(ct, { index: 1, secret: 0n }).ui).toEqual(IDENTITY);
    expect(() => decryptionShare(ct, { index: 1, secret: 1 as unknown as bigint })).toThrow(RangeError);
    expect(() => blockShares([ct], { index: 1, secret: '1' as unknown as bigint }, bytes())).toThrow(
      RangeError,
    );
  });

  it('the Lagrange coefficients of one index set are never reused for another', () => {
    // index sets {1, 23} and {12, 3}: written without a separator both would read "123"
    const { key, shares } = keysFor(2, 23);
    const ct = encrypt(key, utf8('secret'), bytes(), new Uint8Array(64));
    for (const pair of [
      [1, 23],
      [12, 3],
      [1, 23],
    ]) {
      const K = combine(
        key,
        ct,
        pair.map((i) => decryptionShare(ct, shares[i - 1]!)),
      );
      expect(decryptWithCombined(ct, K), pair.join(',')).toEqual({ ok: true, plaintext: utf8('secret') });
    }
  });

  it('the wire schema refuses points, scalars, labels and payloads of the wrong size', () => {
    const { key } = keysFor(2, 3);
    const ct = encrypt(key, utf8('x'), bytes(), new Uint8Array(64));
    expect(() => encode(Ciphertext, ct)).not.toThrow();
    for (const bad of [
      { ...ct, u: ct.u.subarray(0, 31) },
      { ...ct, ubar: new Uint8Array(33) },
      { ...ct, e: ct.e.subarray(0, 31) },
      { ...ct, f: new Uint8Array(33) },
      { ...ct, label: new Uint8Array(MAX_LABEL_BYTES + 1) },
      { ...ct, payload: new Uint8Array(MAX_PAYLOAD_BYTES + 1) },
    ]) {
      expect(() => encode(Ciphertext, bad)).toThrow();
    }
  });

  it('input that throws when read makes the checks answer false, not throw', () => {
    const { key, shares } = keysFor(2, 3);
    const ct = encrypt(key, utf8('x'), bytes(), new Uint8Array(64));
    const d = decryptionShare(ct, shares[0]!);
    const bs = blockShares([ct], shares[0]!, bytes());
    const trap = <T extends object>(o: T, field: string): T =>
      Object.defineProperty({ ...o }, field, {
        get() {
          throw new Error('trap');
        },
      });
    expect(keyShareMatches(key, trap(shares[0]!, 'index'))).toBe(false);
    expect(verifyCiphertext(trap(ct, 'f'))).toBe(false);
    expect(verifyShare(key, ct, trap(d, 'f'))).toBe(false);
    expect(verifyBlockShares(key, [ct], trap(bs, 'f'), bytes())).toBe(false);
    // and a share with a non-canonical challenge is simply false
    expect(verifyShare(key, ct, { ...d, e: new Uint8Array(32).fill(0xff) })).toBe(false);
    expect(verifyShare(key, ct, d)).toBe(true);
  });
});

import { createHash } from 'node:crypto';
import type { EdwardsPoint } from '@noble/curves/abstract/edwards.js';
import { ed25519 } from '@noble/curves/ed25519.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { propParams } from '../props/config.ts';
import { fromHex, toHex } from './commit.ts';
import {
  createSigner,
  generateKeyPair,
  isAcceptablePublicKey,
  keyPairFromSeed,
  noblePublicKey,
  nobleSign,
  nobleVerifier,
  nobleVerify,
  nodeVerifier,
  type Signer,
  sign,
  type Verifier,
  verify,
  verifyCached,
} from './sign.ts';

/** RFC 8032 section 7.1 test vectors for Ed25519. */
const RFC8032 = [
  {
    name: 'TEST 1',
    secret: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    public: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    message: '',
    signature:
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  },
  {
    name: 'TEST 2',
    secret: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
    public: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    message: '72',
    signature:
      '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
  },
  {
    name: 'TEST 3',
    secret: 'c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7',
    public: 'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025',
    message: 'af82',
    signature:
      '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a',
  },
  {
    name: 'TEST 1024',
    secret: 'f5e5767cf153319517630f226876b86c8160cc583bc013744c6bf255f5cc0ee5',
    public: '278117fc144c72340f67d0f2316e8386ceffbf2b2428c9c51fef7c597f1d426e',
    message: [
      '08b8b2b733424243760fe426a4b54908632110a66c2f6591eabd3345e3e4eb98fa6e264bf09efe12ee50f8f54e9f77b1',
      'e355f6c50544e23fb1433ddf73be84d879de7c0046dc4996d9e773f4bc9efe5738829adb26c81b37c93a1b270b20329d',
      '658675fc6ea534e0810a4432826bf58c941efb65d57a338bbd2e26640f89ffbc1a858efcb8550ee3a5e1998bd177e93a',
      '7363c344fe6b199ee5d02e82d522c4feba15452f80288a821a579116ec6dad2b3b310da903401aa62100ab5d1a36553e',
      '06203b33890cc9b832f79ef80560ccb9a39ce767967ed628c6ad573cb116dbefefd75499da96bd68a8a97b928a8bbc10',
      '3b6621fcde2beca1231d206be6cd9ec7aff6f6c94fcd7204ed3455c68c83f4a41da4af2b74ef5c53f1d8ac70bdcb7ed1',
      '85ce81bd84359d44254d95629e9855a94a7c1958d1f8ada5d0532ed8a5aa3fb2d17ba70eb6248e594e1a2297acbbb39d',
      '502f1a8c6eb6f1ce22b3de1a1f40cc24554119a831a9aad6079cad88425de6bde1a9187ebb6092cf67bf2b13fd65f270',
      '88d78b7e883c8759d2c4f5c65adb7553878ad575f9fad878e80a0c9ba63bcbcc2732e69485bbc9c90bfbd62481d9089b',
      'eccf80cfe2df16a2cf65bd92dd597b0707e0917af48bbb75fed413d238f5555a7a569d80c3414a8d0859dc65a46128ba',
      'b27af87a71314f318c782b23ebfe808b82b0ce26401d2e22f04d83d1255dc51addd3b75a2b1ae0784504df543af8969b',
      'e3ea7082ff7fc9888c144da2af58429ec96031dbcad3dad9af0dcbaaaf268cb8fcffead94f3c7ca495e056a9b47acdb7',
      '51fb73e666c6c655ade8297297d07ad1ba5e43f1bca32301651339e22904cc8c42f58c30c04aafdb038dda0847dd988d',
      'cda6f3bfd15c4b4c4525004aa06eeff8ca61783aacec57fb3d1f92b0fe2fd1a85f6724517b65e614ad6808d6f6ee34df',
      'f7310fdc82aebfd904b01e1dc54b2927094b2db68d6f903b68401adebf5a7e08d78ff4ef5d63653a65040cf9bfd4aca7',
      '984a74d37145986780fc0b16ac451649de6188a7dbdf191f64b5fc5e2ab47b57f7f7276cd419c17a3ca8e1b939ae49e4',
      '88acba6b965610b5480109c8b17b80e1b7b750dfc7598d5d5011fd2dcc5600a32ef5b52a1ecc820e308aa342721aac09',
      '43bf6686b64b2579376504ccc493d97e6aed3fb0f9cd71a43dd497f01f17c0e2cb3797aa2a2f256656168e6c496afc5f',
      'b93246f6b1116398a346f1a641f3b041e989f7914f90cc2c7fff357876e506b50d334ba77c225bc307ba537152f3f161',
      '0e4eafe595f6d9d90d11faa933a15ef1369546868a7f3a45a96768d40fd9d03412c091c6315cf4fde7cb68606937380d',
      'b2eaaa707b4c4185c32eddcdd306705e4dc1ffc872eeee475a64dfac86aba41c0618983f8741c5ef68d3a101e8a3b8ca',
      'c60c905c15fc910840b94c00a0b9d0',
    ].join(''),
    signature:
      '0aab4c900501b3e24d7cdf4663326a3a87df5e4843b2cbdb67cbf6e460fec350aa5371b1508f9f4528ecea23c436d94b5e8fcd4f681e30a6ac00a9704a188a03',
  },
  {
    name: 'TEST SHA(abc)',
    secret: '833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42',
    public: 'ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf',
    message:
      'ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f',
    signature:
      'dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704',
  },
];

describe('ed25519: RFC 8032 section 7.1 vectors', () => {
  it('has the message lengths of the RFC', () => {
    expect(RFC8032.map((v) => v.message.length / 2)).toEqual([0, 1, 2, 1023, 64]);
    // TEST SHA(abc) signs SHA-512("abc")
    expect(RFC8032[4]!.message).toBe(createHash('sha512').update('abc').digest('hex'));
  });

  for (const v of RFC8032) {
    it(`${v.name} through node:crypto and @noble/curves`, () => {
      const seed = fromHex(v.secret);
      const msg = fromHex(v.message);
      const pair = keyPairFromSeed(seed);
      expect(toHex(pair.publicKey)).toBe(v.public);
      expect(toHex(noblePublicKey(seed))).toBe(v.public);
      expect(toHex(sign(seed, msg))).toBe(v.signature);
      expect(toHex(nobleSign(seed, msg))).toBe(v.signature);
      expect(toHex(createSigner(seed).sign(msg))).toBe(v.signature);
      const pk = fromHex(v.public);
      const sig = fromHex(v.signature);
      expect(verify(pk, msg, sig)).toBe(true);
      expect(nobleVerify(pk, msg, sig)).toBe(true);
      // a changed message or signature no longer verifies
      const other = new Uint8Array([...msg, 0]);
      expect(verify(pk, other, sig)).toBe(false);
      expect(nobleVerify(pk, other, sig)).toBe(false);
      const bent = sig.slice();
      bent[10] = bent[10]! ^ 1;
      expect(verify(pk, msg, bent)).toBe(false);
      expect(nobleVerify(pk, msg, bent)).toBe(false);
    });
  }
});

describe('ed25519: node:crypto and noble agree', () => {
  it('on random keys and messages', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ maxLength: 200 }),
        fc.nat(63),
        (seed, msg, flip) => {
          const pair = keyPairFromSeed(seed);
          expect(toHex(noblePublicKey(seed))).toBe(toHex(pair.publicKey));
          const sig = sign(seed, msg);
          expect(toHex(nobleSign(seed, msg))).toBe(toHex(sig));
          expect(verify(pair.publicKey, msg, sig)).toBe(true);
          expect(nobleVerify(pair.publicKey, msg, sig)).toBe(true);
          const bad = sig.slice();
          bad[flip] = bad[flip]! ^ 0x40;
          expect(verify(pair.publicKey, msg, bad)).toBe(false);
          expect(nobleVerify(pair.publicKey, msg, bad)).toBe(false);
        },
      ),
      propParams('wire.sign.node-vs-noble', 60),
    );
  });

  it('on garbage: both say false and neither throws', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ maxLength: 40 }),
        fc.uint8Array({ minLength: 64, maxLength: 64 }),
        (pk, msg, sig) => {
          expect(verify(pk, msg, sig)).toBe(false);
          expect(nobleVerify(pk, msg, sig)).toBe(false);
        },
      ),
      propParams('wire.sign.garbage', 60),
    );
  });
});

describe('ed25519: API', () => {
  const seed = fromHex(RFC8032[0]!.secret);
  const pk = fromHex(RFC8032[0]!.public);
  const sig = fromHex(RFC8032[0]!.signature);
  const empty = new Uint8Array();

  it('verify returns false, never throws, for malformed inputs', () => {
    const weird = [
      [new Uint8Array(31), empty, sig],
      [new Uint8Array(33), empty, sig],
      [pk, empty, new Uint8Array(63)],
      [pk, empty, new Uint8Array(65)],
      [new Uint8Array(32).fill(0xff), empty, sig], // not a point encoding
      [pk, empty, new Uint8Array(64).fill(0xff)], // S not reduced
      [null, empty, sig],
      [pk, 'message', sig],
      [pk, empty, undefined],
    ] as unknown as [Uint8Array, Uint8Array, Uint8Array][];
    for (const [k, m, s] of weird) {
      expect(verify(k, m, s)).toBe(false);
      expect(nobleVerify(k, m, s)).toBe(false);
    }
  });

  it('rejects the non-canonical S = S + L that a lax verifier would accept', () => {
    // S' = S + L (the group order), same R: malleated signature, must be refused (RFC 8032 5.1.7)
    const L = 2n ** 252n + 27742317777372353535851937790883648493n;
    let S = 0n;
    for (let i = 63; i >= 32; i--) S = (S << 8n) | BigInt(sig[i]!);
    const S2 = S + L;
    const mal = sig.slice();
    let x = S2;
    for (let i = 32; i < 64; i++) {
      mal[i] = Number(x & 0xffn);
      x >>= 8n;
    }
    expect(x).toBe(0n);
    expect(verify(pk, empty, mal)).toBe(false);
    expect(nobleVerify(pk, empty, mal)).toBe(false);
  });

  it('Signer and Verifier plug in interchangeably', () => {
    const signers: Signer[] = [createSigner(seed), { publicKey: pk, sign: (m) => nobleSign(seed, m) }];
    const verifiers: Verifier[] = [nodeVerifier, nobleVerifier, verify];
    const msg = new TextEncoder().encode('prevote h=1 r=0');
    for (const signer of signers) {
      expect(toHex(signer.publicKey)).toBe(RFC8032[0]!.public);
      for (const v of verifiers) expect(v(signer.publicKey, msg, signer.sign(msg))).toBe(true);
    }
  });

  it('generateKeyPair draws its seed from the given source', () => {
    let calls = 0;
    const pair = generateKeyPair((n) => {
      calls++;
      expect(n).toBe(32);
      return seed.slice();
    });
    expect(calls).toBe(1);
    expect(toHex(pair.publicKey)).toBe(RFC8032[0]!.public);
    expect(toHex(pair.secretKey)).toBe(RFC8032[0]!.secret);
    expect(() => generateKeyPair(() => new Uint8Array(31))).toThrow();
  });

  it('notices a secret key array changed in place (no stale cached key)', () => {
    const key = seed.slice();
    const msg = fromHex('af82');
    expect(toHex(sign(key, msg))).toBe(toHex(nobleSign(seed, msg)));
    key.set(fromHex(RFC8032[2]!.secret));
    expect(toHex(sign(key, msg))).toBe(RFC8032[2]!.signature);
    // the public key too (keyPairFromSeed remembers it per array)
    const changing = seed.slice();
    expect(toHex(keyPairFromSeed(changing).publicKey)).toBe(RFC8032[0]!.public);
    changing.set(fromHex(RFC8032[2]!.secret));
    expect(toHex(keyPairFromSeed(changing).publicKey)).toBe(RFC8032[2]!.public);
  });

  it('verifyCached answers as verify, also for a triple it has seen and then one changed byte', () => {
    const msg = new TextEncoder().encode('envelope');
    const good = sign(seed, msg);
    for (let round = 0; round < 2; round++) {
      expect(verifyCached(pk, msg, good)).toBe(true);
      const flipped = good.slice();
      flipped[round * 40]! ^= 1;
      expect(verifyCached(pk, msg, flipped)).toBe(false);
      expect(verifyCached(pk, fromHex('af82'), good)).toBe(false);
      expect(verifyCached(fromHex(RFC8032[2]!.public), msg, good)).toBe(false);
    }
    expect(verifyCached(null as unknown as Uint8Array, msg, good)).toBe(false);
    expect(verifyCached(pk, msg, new Uint8Array(63))).toBe(false);
  });
});

// --- small-order, non-canonical and mixed-order public keys ------------------------------------

const Point = ed25519.Point;
const L = Point.CURVE().n;
const FIELD = Point.CURVE().p;

function le32(x: bigint): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  return out;
}

function fromLe(bytes: Uint8Array): bigint {
  let x = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) x = (x << 8n) | BigInt(bytes[i]!);
  return x;
}

/** [L]Q: what is left of Q once its prime-order part is gone (multiplyUnsafe takes scalars < L) */
const timesL = (q: EdwardsPoint) => q.multiplyUnsafe(L - 1n).add(q);

/**
 * The eight points of order dividing 8, derived here rather than listed: the torsion component
 * [L]Q of some curve point Q has order 8, and its multiples are the whole torsion subgroup.
 */
const TORSION: readonly EdwardsPoint[] = (() => {
  for (let y = 2n; ; y++) {
    let q: EdwardsPoint;
    try {
      q = Point.fromBytes(le32(y));
    } catch {
      continue;
    }
    const t = timesL(q);
    if (t.double().double().is0()) continue; // order < 8
    const all = [Point.ZERO];
    for (let i = 1; i < 8; i++) all.push(all[i - 1]!.add(t));
    return all;
  }
})();

/**
 * Every 32-byte string that a lax decoder (y reduced mod p, any sign bit when x = 0) reads as
 * `point`: y and y + p (when below 2^255), with the sign bit of x, or both bits when x = 0.
 */
function allEncodings(point: EdwardsPoint): Uint8Array[] {
  const { x, y } = point.toAffine();
  const ys = y + FIELD < 2n ** 255n ? [y, y + FIELD] : [y];
  const signs = x === 0n ? [0n, 1n] : [x & 1n];
  return ys.flatMap((yy) => signs.map((sign) => le32(yy | (sign << 255n))));
}

const challenge = (r: Uint8Array, publicKey: Uint8Array, msg: Uint8Array) =>
  fromLe(createHash('sha512').update(r).update(publicKey).update(msg).digest()) % L;

const signature = (r: Uint8Array, s: bigint) => new Uint8Array([...r, ...le32(s)]);

describe('ed25519: small-order and non-canonical public keys', () => {
  const messages = Array.from({ length: 16 }, (_, i) => new TextEncoder().encode(`message ${i}`));
  const everyVerifier = (publicKey: Uint8Array, msg: Uint8Array, sig: Uint8Array) => [
    verify(publicKey, msg, sig),
    verifyCached(publicKey, msg, sig),
    nodeVerifier(publicKey, msg, sig),
    nobleVerify(publicKey, msg, sig),
  ];

  it('the torsion subgroup derived with noble has eight points of order dividing 8', () => {
    const hexes = new Set(TORSION.map((t) => toHex(t.toBytes())));
    expect(hexes.size).toBe(8);
    for (const t of TORSION) {
      expect(t.multiplyUnsafe(8n).is0()).toBe(true);
      expect(t.isSmallOrder()).toBe(true);
    }
    expect(hexes).toContain(`01${'00'.repeat(31)}`); // the identity
    expect(hexes).toContain(`ec${'ff'.repeat(30)}7f`); // order 2: y = p - 1
  });

  it('no encoding of a small-order point is an acceptable key, nor verifies a forgery R = torsion, S = 0', () => {
    let encodings = 0;
    for (const t of TORSION)
      for (const publicKey of allEncodings(t)) {
        encodings++;
        expect(isAcceptablePublicKey(publicKey), toHex(publicKey)).toBe(false);
        for (const msg of messages.slice(0, 4))
          for (const r of TORSION)
            expect(everyVerifier(publicKey, msg, signature(r.toBytes(), 0n)), toHex(publicKey)).toEqual([
              false,
              false,
              false,
              false,
            ]);
      }
    // canonical 8, x = 0 with the sign bit set (identity, order 2), y + p for y = 0 (two signs) and
    // y = 1 (identity: both signs)
    expect(encodings).toBe(8 + 2 + 4);
  });

  it('the identity key 01 00..00 with R = identity and S = 0 verifies no message', () => {
    // before the fix OpenSSL accepted this for every message: [0]B - [k]identity = identity = R
    const identity = fromHex(`01${'00'.repeat(31)}`);
    for (const msg of messages)
      expect(everyVerifier(identity, msg, signature(identity, 0n))).toEqual([false, false, false, false]);
  });

  it('the order-2 key verifies no message with R in {identity, the key} and S = 0', () => {
    // [0]B - [k]A is the identity for even k and A itself for odd k, so for most messages one of
    // the two R satisfies the cofactorless equation: before the fix such a forgery verified
    const order2 = fromHex(`ec${'ff'.repeat(30)}7f`);
    const identity = fromHex(`01${'00'.repeat(31)}`);
    const a = Point.fromBytes(order2);
    const forgeries = messages.flatMap((msg) =>
      [identity, order2]
        .filter(
          (r) =>
            toHex(
              a
                .multiplyUnsafe(challenge(r, order2, msg))
                .negate()
                .toBytes(),
            ) === toHex(r),
        )
        .map((r) => ({ msg, sig: signature(r, 0n) })),
    );
    expect(forgeries.length).toBeGreaterThanOrEqual(messages.length / 2);
    for (const { msg, sig } of forgeries)
      expect(everyVerifier(order2, msg, sig)).toEqual([false, false, false, false]);
  });

  it('no encoding with y >= p is an acceptable key, whatever it decodes to', () => {
    for (let k = 0n; k < 19n; k++)
      for (const sign of [0n, 1n]) {
        const publicKey = le32((FIELD + k) | (sign << 255n));
        expect(isAcceptablePublicKey(publicKey), `y = p + ${k}`).toBe(false);
        for (const r of TORSION)
          expect(everyVerifier(publicKey, messages[0]!, signature(r.toBytes(), 0n))).toEqual([
            false,
            false,
            false,
            false,
          ]);
      }
  });

  it('isAcceptablePublicKey says what a strict noble decode and a small-order check say', () => {
    const keyBytes = fc.oneof(
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.bigInt({ min: 1n, max: L - 1n }).map((a) => Point.BASE.multiply(a).toBytes()),
      fc
        .tuple(fc.bigInt({ min: 1n, max: L - 1n }), fc.integer({ min: 0, max: 7 }))
        .map(([a, t]) => Point.BASE.multiply(a).add(TORSION[t]!).toBytes()),
    );
    fc.assert(
      fc.property(keyBytes, (publicKey) => {
        let strict: boolean;
        try {
          strict = !Point.fromBytes(publicKey, false).isSmallOrder();
        } catch {
          strict = false;
        }
        expect(isAcceptablePublicKey(publicKey)).toBe(strict);
      }),
      propParams('wire.sign.acceptable-key', 300),
    );
    expect(isAcceptablePublicKey(new Uint8Array(31))).toBe(false);
    expect(isAcceptablePublicKey(null as unknown as Uint8Array)).toBe(false);
  });
});

type KeyKind = 'valid' | 'mixed' | 'small' | 'non-canonical' | 'random';
interface KeyCase {
  kind: KeyKind;
  publicKey: Uint8Array;
  /** the discrete log of the key's prime-order part, when the case knows it */
  scalar?: bigint;
}

const scalarArb = fc.bigInt({ min: 1n, max: L - 1n });
const torsionIndex = fc.integer({ min: 0, max: 7 });

const keyCaseArb: fc.Arbitrary<KeyCase> = fc.oneof(
  scalarArb.map((a): KeyCase => ({ kind: 'valid', publicKey: Point.BASE.multiply(a).toBytes(), scalar: a })),
  fc.tuple(scalarArb, fc.integer({ min: 1, max: 7 })).map(
    ([a, t]): KeyCase => ({
      kind: 'mixed',
      publicKey: Point.BASE.multiply(a).add(TORSION[t]!).toBytes(),
      scalar: a,
    }),
  ),
  fc.tuple(torsionIndex, fc.nat()).map(([t, e]): KeyCase => {
    const encodings = allEncodings(TORSION[t]!);
    return { kind: 'small', publicKey: encodings[e % encodings.length]! };
  }),
  fc.tuple(fc.bigInt({ min: 0n, max: 18n }), fc.boolean()).map(
    ([k, sign]): KeyCase => ({
      kind: 'non-canonical',
      publicKey: le32((FIELD + k) | (sign ? 1n << 255n : 0n)),
    }),
  ),
  fc
    .uint8Array({ minLength: 32, maxLength: 32 })
    .map((publicKey): KeyCase => ({ kind: 'random', publicKey })),
);

/**
 * Signatures for a key: honest ones (R = [r]B, plus sometimes a torsion point, which the
 * cofactored equation ignores and the cofactorless one does not), forgeries with a small-order R
 * and S = 0, honest ones with S + L or a flipped bit, and random bytes.
 */
function signatureArb(key: KeyCase, msg: Uint8Array): fc.Arbitrary<{ sig: Uint8Array; how: string }> {
  const honest = fc
    .tuple(
      scalarArb,
      fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 2, arbitrary: torsionIndex }),
    )
    .map(([r, t]) => {
      const rBytes = Point.BASE.multiply(r).add(TORSION[t]!).toBytes();
      const a = key.scalar ?? 1n;
      const s = (r + challenge(rBytes, key.publicKey, msg) * a) % L;
      return { sig: signature(rBytes, s), how: t === 0 ? 'honest' : 'honest, torsion in R' };
    });
  return fc.oneof(
    { weight: 4, arbitrary: honest },
    {
      weight: 2,
      arbitrary: torsionIndex.map((t) => ({
        sig: signature(TORSION[t]!.toBytes(), 0n),
        how: 'small-order R, S = 0',
      })),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(honest, fc.nat(511)).map(([h, bit]) => {
        const sig = h.sig.slice();
        sig[bit >> 3] = sig[bit >> 3]! ^ (1 << (bit & 7));
        return { sig, how: 'bit flipped' };
      }),
    },
    {
      weight: 1,
      arbitrary: honest.map((h) => ({
        sig: signature(h.sig.subarray(0, 32), fromLe(h.sig.subarray(32)) + L),
        how: 'S + L',
      })),
    },
    {
      weight: 1,
      arbitrary: fc.uint8Array({ minLength: 64, maxLength: 64 }).map((sig) => ({ sig, how: 'random' })),
    },
  );
}

describe('ed25519: the fast path and the reference agree on every key, signature and message', () => {
  it('valid, mixed-order, small-order, non-canonical and random keys', () => {
    const accepted = new Set<string>();
    let cofactoredOnly = 0;
    fc.assert(
      fc.property(
        keyCaseArb.chain((key) =>
          fc
            .uint8Array({ maxLength: 64 })
            .chain((msg) => signatureArb(key, msg).map((s) => ({ key, msg, ...s }))),
        ),
        ({ key, msg, sig, how }) => {
          const fast = verify(key.publicKey, msg, sig);
          const label = `${key.kind} key ${toHex(key.publicKey)}, ${how}`;
          expect(nobleVerify(key.publicKey, msg, sig), label).toBe(fast);
          expect(verifyCached(key.publicKey, msg, sig), label).toBe(fast);
          if (fast) {
            expect(isAcceptablePublicKey(key.publicKey), label).toBe(true);
            expect(['valid', 'mixed']).toContain(key.kind);
            accepted.add(key.kind);
          }
          // noble's own verify (cofactored) accepts more: the property must reach such cases
          if (!fast && ed25519.verify(sig, msg, key.publicKey, { zip215: false })) cofactoredOnly++;
        },
      ),
      propParams('wire.sign.fast-vs-reference', 400),
    );
    expect([...accepted].sort()).toEqual(['mixed', 'valid']);
    expect(cofactoredOnly).toBeGreaterThan(0);
  });
});

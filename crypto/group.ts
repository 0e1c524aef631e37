/**
 * The ristretto255 prime-order group (RFC 9496) behind one small interface, in two implementations:
 * libsodium (WebAssembly, the hot path: about 7x faster scalar multiplication here) and
 * @noble/curves (the readable reference). Tests cross-check them on random inputs.
 *
 * Points are their canonical 32-byte encodings; scalars are bigints reduced modulo the group order
 * `ORDER`. Functions never mutate their arguments. Decoding untrusted bytes goes through
 * `isPoint`, which rejects non-canonical encodings; every other function assumes valid points.
 */
import { pippenger } from '@noble/curves/abstract/curve.js';
import { ristretto255, ristretto255_hasher } from '@noble/curves/ed25519.js';
import { sha512 } from '@noble/hashes/sha2.js';
import sodium from 'libsodium-wrappers-sumo';

await sodium.ready;

/** The order ℓ of ristretto255: 2^252 + 27742317777372353535851937790883648493. */
export const ORDER = 2n ** 252n + 27742317777372353535851937790883648493n;
export const POINT_BYTES = 32;
export const SCALAR_BYTES = 32;

/** The encoding of the identity element (all zero bytes). */
export const IDENTITY: Uint8Array = new Uint8Array(POINT_BYTES);

export interface Group {
  readonly name: string;
  /** The canonical generator. */
  readonly generator: Uint8Array;
  /** True iff `bytes` is the canonical encoding of a group element (identity included). */
  isPoint(bytes: Uint8Array): boolean;
  add(a: Uint8Array, b: Uint8Array): Uint8Array;
  sub(a: Uint8Array, b: Uint8Array): Uint8Array;
  /** k·P for any scalar k (reduced mod ORDER first). */
  mul(point: Uint8Array, k: bigint): Uint8Array;
  /** k·G. */
  mulBase(k: bigint): Uint8Array;
  /** Σ kᵢ·Pᵢ. */
  msm(points: readonly Uint8Array[], scalars: readonly bigint[]): Uint8Array;
  /** The one-way map of 64 uniform bytes to a point (RFC 9496 §4.3.4). */
  fromUniform(bytes64: Uint8Array): Uint8Array;
}

export function mod(a: bigint): bigint {
  const r = a % ORDER;
  return r < 0n ? r + ORDER : r;
}

/** Modular inverse by Fermat; throws on zero, which callers must rule out. */
export function invert(a: bigint): bigint {
  const x = mod(a);
  if (x === 0n) throw new RangeError('zero has no inverse');
  let result = 1n;
  let base = x;
  let e = ORDER - 2n;
  while (e > 0n) {
    if (e & 1n) result = (result * base) % ORDER;
    base = (base * base) % ORDER;
    e >>= 1n;
  }
  return result;
}

/** Little-endian 32-byte encoding of a reduced scalar. */
export function scalarToBytes(k: bigint): Uint8Array {
  let x = mod(k);
  const out = new Uint8Array(SCALAR_BYTES);
  for (let i = 0; i < SCALAR_BYTES; i++) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  return out;
}

/** Reads a little-endian integer of any length (no reduction). */
export function bytesToNumberLE(bytes: Uint8Array): bigint {
  let x = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) x = (x << 8n) | BigInt(bytes[i] as number);
  return x;
}

/** A 32-byte scalar encoding is canonical iff it is below ORDER. */
export function scalarFromCanonicalBytes(bytes: Uint8Array): bigint | undefined {
  if (bytes.length !== SCALAR_BYTES) return undefined;
  const x = bytesToNumberLE(bytes);
  return x < ORDER ? x : undefined;
}

const encoder = new TextEncoder();

/**
 * Hash to a scalar with domain separation: SHA-512 over the domain tag and each part, every one
 * length-prefixed so that no two part lists collide, reduced mod ORDER (bias below 2^-250).
 */
export function hashToScalar(domain: string, ...parts: readonly Uint8Array[]): bigint {
  return mod(bytesToNumberLE(framed(sha512.create(), domain, parts).digest()));
}

/** Hash to a point with domain separation (used for the second generator of TDH2). */
export function hashToPoint(group: Group, domain: string, ...parts: readonly Uint8Array[]): Uint8Array {
  return group.fromUniform(framed(sha512.create(), domain, parts).digest());
}

export function u32le(n: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n, true);
  return out;
}

/**
 * Feeds a domain tag and then each part into `h`, every one length-prefixed (u32 LE), so that no
 * two part lists collide. The framing of every domain-separated hash here (any hash function).
 */
export function framed<H extends { update(data: Uint8Array): unknown }>(
  h: H,
  domain: string,
  parts: readonly Uint8Array[],
): H {
  const tag = encoder.encode(domain);
  h.update(u32le(tag.length));
  h.update(tag);
  for (const part of parts) {
    h.update(u32le(part.length));
    h.update(part);
  }
  return h;
}

function isIdentity(p: Uint8Array): boolean {
  for (let i = 0; i < p.length; i++) if (p[i] !== 0) return false;
  return true;
}

/** libsodium: throws "result is identity element" for k·P = O, so those cases are answered first. */
export const sodiumGroup: Group = {
  name: 'libsodium',
  generator: sodium.crypto_scalarmult_ristretto255_base(scalarToBytes(1n)),
  isPoint(bytes) {
    return (
      bytes instanceof Uint8Array &&
      bytes.length === POINT_BYTES &&
      (isIdentity(bytes) || sodium.crypto_core_ristretto255_is_valid_point(bytes))
    );
  },
  add: (a, b) => sodium.crypto_core_ristretto255_add(a, b),
  sub: (a, b) => sodium.crypto_core_ristretto255_sub(a, b),
  mul(point, k) {
    const x = mod(k);
    if (x === 0n || isIdentity(point)) return IDENTITY.slice();
    return sodium.crypto_scalarmult_ristretto255(scalarToBytes(x), point);
  },
  mulBase(k) {
    const x = mod(k);
    if (x === 0n) return IDENTITY.slice();
    return sodium.crypto_scalarmult_ristretto255_base(scalarToBytes(x));
  },
  msm(points, scalars) {
    if (points.length !== scalars.length) throw new RangeError('msm: lengths differ');
    let acc: Uint8Array = IDENTITY.slice();
    for (let i = 0; i < points.length; i++) {
      acc = sodium.crypto_core_ristretto255_add(
        acc,
        sodiumGroup.mul(points[i] as Uint8Array, scalars[i] as bigint),
      );
    }
    return acc;
  },
  fromUniform: (bytes64) => sodium.crypto_core_ristretto255_from_hash(bytes64),
};

const NPoint = ristretto255.Point;
const derive = ristretto255_hasher.deriveToCurve;
if (derive === undefined) throw new Error('@noble/curves lacks ristretto255 element derivation');
const deriveToCurve = derive;
type NoblePoint = InstanceType<typeof NPoint>;
const decode = (p: Uint8Array): NoblePoint => NPoint.fromBytes(p);

/** @noble/curves: the reference. */
export const nobleGroup: Group = {
  name: 'noble',
  generator: NPoint.BASE.toBytes(),
  isPoint(bytes) {
    if (!(bytes instanceof Uint8Array) || bytes.length !== POINT_BYTES) return false;
    try {
      NPoint.fromBytes(bytes);
      return true;
    } catch {
      return false;
    }
  },
  add: (a, b) => decode(a).add(decode(b)).toBytes(),
  sub: (a, b) => decode(a).subtract(decode(b)).toBytes(),
  mul(point, k) {
    const x = mod(k);
    if (x === 0n) return IDENTITY.slice();
    return decode(point).multiply(x).toBytes();
  },
  mulBase(k) {
    const x = mod(k);
    if (x === 0n) return IDENTITY.slice();
    return NPoint.BASE.multiply(x).toBytes();
  },
  msm(points, scalars) {
    if (points.length !== scalars.length) throw new RangeError('msm: lengths differ');
    if (points.length === 0) return IDENTITY.slice();
    return pippenger(NPoint, points.map(decode), scalars.map(mod)).toBytes();
  },
  fromUniform: (bytes64) => deriveToCurve(bytes64).toBytes(),
};

/** The hot-path group. */
export const group: Group = sodiumGroup;

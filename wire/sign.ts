/**
 * Ed25519 (RFC 8032) keys and signatures.
 *
 * The hot path is node:crypto (OpenSSL), with KeyObjects built from the raw 32-byte keys (secret
 * seeds through a fixed PKCS#8 prefix, public keys as JWKs) and cached: public keys in a bounded
 * map, secret keys per seed array. The
 * `noble*` functions are a reference implementation on @noble/curves points, used to cross-check.
 * `verify` never throws: a malformed key or signature is simply not valid.
 *
 * Public keys: OpenSSL accepts any encoding that decodes to a curve point, so a small-order key
 * (the identity `01 00…00`, the order-2 point, …) verifies a forged signature for every message
 * (R a small-order point, S = 0), and some non-canonical encodings (y >= p) are accepted as the
 * point y mod p. Every verifier here first refuses both (`hasAcceptableKeyEncoding`). A key with a
 * torsion component added to a prime-order point (mixed order) is accepted, and its signatures are
 * judged by the cofactorless equation [S]B = R + [k]A as OpenSSL (and libsodium) do; the reference
 * checks the same equation, so both agree on every key, signature and message.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  type KeyObject,
  sign as nodeSignRaw,
  verify as nodeVerifyRaw,
} from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { concatBytes } from '@noble/hashes/utils.js';
import { BoundedSet } from './bounded-set.ts';
import { toHex } from './commit.ts';

export const PUBLIC_KEY_BYTES = 32;
export const SECRET_KEY_BYTES = 32;
export const SIGNATURE_BYTES = 64;

export interface KeyPair {
  /** the 32-byte encoded point A */
  readonly publicKey: Uint8Array;
  /** the 32-byte seed (RFC 8032's private key) */
  readonly secretKey: Uint8Array;
}

/** Something that signs with one key: node:crypto here, a keyed-hash stand-in in the simulator. */
export interface Signer {
  readonly publicKey: Uint8Array;
  sign(msg: Uint8Array): Uint8Array;
  /**
   * For a signer that keeps a durable record of what it signed (a validator key's double-sign
   * guard): the engine runtime says at the end of each engine step whether the step's writes
   * landed. true: the step's signatures become the record, durably, before any of them leaves;
   * false: the step failed, nothing it signed left, and the signer forgets it signed.
   */
  settle?(landed: boolean): void;
}

/** Checks a signature; never throws. */
export type Verifier = (publicKey: Uint8Array, msg: Uint8Array, sig: Uint8Array) => boolean;

// The DER wrapper of a raw Ed25519 seed (RFC 8410, PKCS#8).
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

function privateKeyObject(seed: Uint8Array): KeyObject {
  if (!(seed instanceof Uint8Array) || seed.length !== SECRET_KEY_BYTES) {
    throw new TypeError(`ed25519 secret key must be ${SECRET_KEY_BYTES} bytes`);
  }
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
}

/**
 * Per seed array, its KeyObject, a copy of the seed (to notice if the array was changed since) and
 * its public key once asked for (deriving it through node:crypto costs more than a signature).
 */
const secretCache = new WeakMap<
  Uint8Array,
  { seed: Uint8Array; key: KeyObject; publicKey: Uint8Array | undefined }
>();

function cachedSecret(seed: Uint8Array): { key: KeyObject; publicKey: Uint8Array | undefined } {
  const hit = secretCache.get(seed);
  if (hit !== undefined && equal32(hit.seed, seed)) return hit;
  const entry = { seed: seed.slice(), key: privateKeyObject(seed), publicKey: undefined };
  secretCache.set(seed, entry);
  return entry;
}

function cachedPrivateKey(seed: Uint8Array): KeyObject {
  return cachedSecret(seed).key;
}

function equal32(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

const PUBLIC_CACHE_MAX = 4096;
const publicCache = new Map<string, KeyObject>();

function cachedPublicKey(publicKey: Uint8Array): KeyObject {
  const id = toHex(publicKey);
  let key = publicCache.get(id);
  if (key !== undefined) return key;
  // as a JWK: the same raw key for OpenSSL, imported about ten times faster than its SPKI DER here
  // (8 against 85 µs, as much as the verification itself: every new sender paid it)
  key = createPublicKey({
    key: {
      kty: 'OKP',
      crv: 'Ed25519',
      x: Buffer.from(publicKey.buffer, publicKey.byteOffset, publicKey.length).toString('base64url'),
    },
    format: 'jwk',
  });
  if (publicCache.size >= PUBLIC_CACHE_MAX) {
    // drop the oldest entry (Map iterates in insertion order)
    const oldest = publicCache.keys().next().value;
    if (oldest !== undefined) publicCache.delete(oldest);
  }
  publicCache.set(id, key);
  return key;
}

function publicKeyOf(key: KeyObject): Uint8Array {
  const der = createPublicKey(key).export({ format: 'der', type: 'spki' });
  return new Uint8Array(der.subarray(der.length - PUBLIC_KEY_BYTES));
}

/** The key pair of a 32-byte seed. */
export function keyPairFromSeed(seed: Uint8Array): KeyPair {
  const entry = cachedSecret(seed);
  entry.publicKey ??= publicKeyOf(entry.key);
  return { publicKey: entry.publicKey.slice(), secretKey: seed.slice() };
}

/** A fresh key pair from a source of random bytes (the runtime's seeded randomness in simulation). */
export function generateKeyPair(random: (n: number) => Uint8Array): KeyPair {
  const seed = random(SECRET_KEY_BYTES);
  if (!(seed instanceof Uint8Array) || seed.length !== SECRET_KEY_BYTES) {
    throw new TypeError(`random(${SECRET_KEY_BYTES}) returned ${seed?.length} bytes`);
  }
  return keyPairFromSeed(seed);
}

/** The 64-byte signature of `msg` under the seed `secretKey`. */
export function sign(secretKey: Uint8Array, msg: Uint8Array): Uint8Array {
  return new Uint8Array(nodeSignRaw(null, msg, cachedPrivateKey(secretKey)));
}

// --- which public keys are acceptable ---------------------------------------------------------

/** p = 2^255 - 19, the field order; d = -121665/121666 mod p, the curve constant */
const FIELD_P = 2n ** 255n - 19n;
const CURVE_D = 37095705934669439343138083508754565189542113879843219016388785533085940283555n;

/**
 * The y coordinates (32 bytes little-endian, sign bit clear) of the eight points whose order
 * divides 8: the identity (y = 1), the point of order 2 (y = p - 1), the two of order 4 (y = 0)
 * and the four of order 8 (two y values, each with both signs of x). A key whose y is one of these
 * is small-order whatever its sign bit says (x = 0 with the sign bit set is also non-canonical).
 */
const SMALL_ORDER_Y: readonly Uint8Array[] = [
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
].map((hex) => Uint8Array.from(Buffer.from(hex, 'hex')));

/** Whether the 255-bit y of a 32-byte point encoding (sign bit ignored) equals `y`. */
function sameY(encoding: Uint8Array, y: Uint8Array): boolean {
  for (let i = 0; i < 31; i++) if (encoding[i] !== y[i]) return false;
  return (encoding[31]! & 0x7f) === y[31];
}

/** Whether the y of a 32-byte point encoding is >= p (a non-canonical encoding of y - p). */
function yNotReduced(encoding: Uint8Array): boolean {
  // p = 2^255 - 19 is 0xed, then 30 bytes 0xff, then 0x7f (little-endian)
  if ((encoding[31]! & 0x7f) !== 0x7f || encoding[0]! < 0xed) return false;
  for (let i = 1; i < 31; i++) if (encoding[i] !== 0xff) return false;
  return true;
}

/**
 * The cheap part of `isAcceptablePublicKey`, checked on every verification: 32 bytes, y < p, and
 * not one of the small-order points. (Whether y is on the curve at all is left to OpenSSL, which
 * refuses every signature under an encoding that is not a point.)
 */
function hasAcceptableKeyEncoding(publicKey: Uint8Array): boolean {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== PUBLIC_KEY_BYTES) return false;
  if (yNotReduced(publicKey)) return false;
  for (const y of SMALL_ORDER_Y) if (sameY(publicKey, y)) return false;
  return true;
}

function littleEndianToBigInt(bytes: Uint8Array): bigint {
  let x = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) x = (x << 8n) | BigInt(bytes[i]!);
  return x;
}

function modPow(base: bigint, exponent: bigint, modulus: bigint): bigint {
  let result = 1n;
  let b = base % modulus;
  for (let e = exponent; e > 0n; e >>= 1n) {
    if (e & 1n) result = (result * b) % modulus;
    b = (b * b) % modulus;
  }
  return result;
}

/** Whether some x makes (x, y) a point of edwards25519: x^2 = (y^2 - 1) / (d y^2 + 1) is a square. */
function yIsOnCurve(y: bigint): boolean {
  const y2 = (y * y) % FIELD_P;
  const u = (y2 - 1n + FIELD_P) % FIELD_P;
  const v = (CURVE_D * y2 + 1n) % FIELD_P; // never 0: -1/d is not a square
  // u/v is a square iff u*v is (Euler's criterion: (uv)^((p-1)/2) is 1, or 0 when u = 0)
  const euler = modPow(u * v, (FIELD_P - 1n) / 2n, FIELD_P);
  return euler === 0n || euler === 1n;
}

/**
 * Whether `publicKey` is an ed25519 public key that `verify` can ever accept a signature under:
 * 32 bytes, the canonical encoding (y < p) of a curve point, and not of small order (the eight
 * points of order dividing 8, under any of their encodings). For validating keys where they are
 * declared (a genesis' validators, an account) rather than at each signature.
 */
export function isAcceptablePublicKey(publicKey: Uint8Array): boolean {
  if (!hasAcceptableKeyEncoding(publicKey)) return false;
  return yIsOnCurve(littleEndianToBigInt(publicKey) & (2n ** 255n - 1n)); // without the sign bit of x
}

/** Whether `sig` is a valid signature of `msg` under `publicKey`; false (never a throw) for garbage. */
export function verify(publicKey: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
  if (!hasAcceptableKeyEncoding(publicKey)) return false;
  if (!(sig instanceof Uint8Array) || sig.length !== SIGNATURE_BYTES) return false;
  if (!(msg instanceof Uint8Array)) return false;
  try {
    return nodeVerifyRaw(null, msg, cachedPublicKey(publicKey), sig);
  } catch {
    return false;
  }
}

/** sha256(publicKey || signature || msg) of recently verified triples */
const verified = new BoundedSet<string>(1 << 16);

/**
 * `verify`, remembering the last 65 536 triples that verified (keyed by a SHA-256 digest of the
 * key, the signature and the whole message), so the same signed bytes checked again elsewhere in
 * the node (the mempool at admission, then the decryptor at commit) cost a hash instead of a
 * curve operation. The answer is always `verify`'s: it is a pure function of the triple.
 */
export function verifyCached(publicKey: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
  if (!hasAcceptableKeyEncoding(publicKey)) return false;
  if (!(sig instanceof Uint8Array) || sig.length !== SIGNATURE_BYTES) return false;
  if (!(msg instanceof Uint8Array)) return false;
  const id = createHash('sha256').update(publicKey).update(sig).update(msg).digest('base64');
  if (verified.has(id)) return true;
  if (!verify(publicKey, msg, sig)) return false;
  verified.add(id);
  return true;
}

/** A Signer holding its KeyObject (no per-call key setup). */
export function createSigner(secretKey: Uint8Array): Signer {
  const key = privateKeyObject(secretKey);
  const publicKey = publicKeyOf(key);
  return {
    publicKey,
    sign: (msg: Uint8Array) => new Uint8Array(nodeSignRaw(null, msg, key)),
  };
}

/** The node:crypto verifier as a `Verifier`. */
export const nodeVerifier: Verifier = verify;

// --- reference implementation (@noble/curves) --------------------------------------------------

export function noblePublicKey(secretKey: Uint8Array): Uint8Array {
  return ed25519.getPublicKey(secretKey);
}

export function nobleSign(secretKey: Uint8Array, msg: Uint8Array): Uint8Array {
  return ed25519.sign(msg, secretKey);
}

const GROUP_ORDER = ed25519.Point.CURVE().n;

/**
 * RFC 8032 verification on @noble/curves points, written to decide as `verify` does by another
 * road: the key must decode canonically (y < p, no x = 0 with the sign bit set) and must not be of
 * small order ([8]A = identity); S must be below the group order L; then the cofactorless check
 * that [S]B - [k]A, encoded, is the signature's R byte for byte (which also refuses a
 * non-canonical R). noble's own `ed25519.verify` checks the cofactored equation instead, which
 * accepts more than OpenSSL does under a mixed-order key or an R with a torsion component.
 * Never throws.
 */
export function nobleVerify(publicKey: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== PUBLIC_KEY_BYTES) return false;
  if (!(sig instanceof Uint8Array) || sig.length !== SIGNATURE_BYTES) return false;
  if (!(msg instanceof Uint8Array)) return false;
  let a: ReturnType<typeof ed25519.Point.fromBytes>;
  try {
    a = ed25519.Point.fromBytes(publicKey, false);
  } catch {
    return false;
  }
  if (a.isSmallOrder()) return false;
  const r = sig.subarray(0, 32);
  const s = littleEndianToBigInt(sig.subarray(32));
  if (s >= GROUP_ORDER) return false;
  const k = littleEndianToBigInt(sha512(concatBytes(r, publicKey, msg))) % GROUP_ORDER;
  const expectedR = ed25519.Point.BASE.multiplyUnsafe(s).subtract(a.multiplyUnsafe(k));
  return equal32(expectedR.toBytes(), r);
}

export const nobleVerifier: Verifier = nobleVerify;

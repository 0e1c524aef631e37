/**
 * Ed25519 (RFC 8032) keys and signatures.
 *
 * The hot path is node:crypto (OpenSSL), with KeyObjects built from the raw 32-byte keys through
 * fixed DER prefixes and cached: public keys in a bounded map, secret keys per seed array. The
 * `noble*` functions are the @noble/curves reference implementation, used to cross-check.
 * `verify` never throws: a malformed key or signature is simply not valid.
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
}

/** Checks a signature; never throws. */
export type Verifier = (publicKey: Uint8Array, msg: Uint8Array, sig: Uint8Array) => boolean;

// DER wrappers of raw Ed25519 keys (RFC 8410): PKCS#8 for the seed, SPKI for the public key.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

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
  key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' });
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

/** Whether `sig` is a valid signature of `msg` under `publicKey`; false (never a throw) for garbage. */
export function verify(publicKey: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== PUBLIC_KEY_BYTES) return false;
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
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== PUBLIC_KEY_BYTES) return false;
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

/** RFC 8032 verification (`zip215: false`: canonical encodings only, like OpenSSL); never throws. */
export function nobleVerify(publicKey: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== PUBLIC_KEY_BYTES) return false;
  if (!(sig instanceof Uint8Array) || sig.length !== SIGNATURE_BYTES) return false;
  try {
    return ed25519.verify(sig, msg, publicKey, { zip215: false });
  } catch {
    return false;
  }
}

export const nobleVerifier: Verifier = nobleVerify;

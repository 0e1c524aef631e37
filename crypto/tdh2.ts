/**
 * Shoup–Gennaro TDH2 threshold encryption ("Securing threshold cryptosystems against chosen
 * ciphertext attack", J. Cryptology 2002) on ristretto255, as a KEM with an AEAD payload, plus
 * Chaum–Pedersen decryption-share proofs, one per share or one batched proof per block.
 * The scheme and what each check defends against: engines/decryptor/README.md (## Scheme).
 *
 * Notation (additive, as ristretto255 is written): g the generator, ḡ a second generator whose
 * discrete log to g nobody knows, x the shared secret with public key h = x·g, x_i = F(i) the
 * key shares of a degree t-1 polynomial F with F(0) = x, h_i = x_i·g the verification keys.
 *
 * Everything is deterministic given its inputs (encryption takes its randomness from the caller;
 * proof nonces are derived from the secret and the statement), so simulations replay exactly.
 * The `g` parameter picks the group implementation; libsodium and @noble/curves give identical
 * bytes (tests cross-check).
 */
import { createHash, type Hash } from 'node:crypto';
import { BoundedSet } from '../wire/bounded-set.ts';
import { type Schema, s } from '../wire/schema.ts';
import { aead, KEY_BYTES, NONCE_BYTES, TAG_BYTES } from './aead.ts';
import {
  bytesToNumberLE,
  group as defaultGroup,
  framed,
  type Group,
  hashToPoint,
  mod,
  ORDER,
  POINT_BYTES,
  SCALAR_BYTES,
  scalarFromCanonicalBytes,
  scalarToBytes,
  u32le,
} from './group.ts';
import { evaluatePolynomial, lagrangeAtZero } from './shamir.ts';

export const MAX_LABEL_BYTES = 256;
/** The AEAD payload: plaintext plus the 16-byte tag. */
export const MAX_PAYLOAD_BYTES = 60 * 1024;
export const MAX_PLAINTEXT_BYTES = MAX_PAYLOAD_BYTES - TAG_BYTES;
/** Most shares in one BlockShares: its encoding then fits an envelope body (60 KiB). */
export const MAX_BLOCK_SHARES = 1800;
/** Share indices are u16 on the wire. */
export const MAX_SHARES = 0xffff;
export const MIN_RANDOMNESS_BYTES = 64;

// ---------------------------------------------------------------------------------------------
// wire formats

const point = s.bytes({ length: POINT_BYTES });
const scalar = s.bytes({ length: SCALAR_BYTES });

/** A TDH2 ciphertext (u, ū, e, f, L, c): the KEM part, the validity proof, the label, the AEAD payload. */
export interface Ciphertext {
  u: Uint8Array;
  ubar: Uint8Array;
  e: Uint8Array;
  f: Uint8Array;
  label: Uint8Array;
  payload: Uint8Array;
}

export const Ciphertext: Schema<Ciphertext> = s.struct(
  {
    u: point,
    ubar: point,
    e: scalar,
    f: scalar,
    label: s.bytes({ max: MAX_LABEL_BYTES }),
    payload: s.bytes({ max: MAX_PAYLOAD_BYTES }),
  },
  'Tdh2Ciphertext',
);

/** Shoup–Gennaro share: u_i = x_i·u with a Chaum–Pedersen proof (e, f) that log_g h_i = log_u u_i. */
export interface DecryptionShare {
  index: number;
  ui: Uint8Array;
  e: Uint8Array;
  f: Uint8Array;
}

export const DecryptionShareWire: Schema<DecryptionShare> = s.struct(
  { index: s.u16(), ui: point, e: scalar, f: scalar },
  'Tdh2DecryptionShare',
);

/**
 * One validator's shares for every ciphertext of a block (shares[j] = x_i·u_j, in the block's
 * order) with one batched Chaum–Pedersen proof (e, f).
 */
export interface BlockShares {
  index: number;
  shares: readonly Uint8Array[];
  e: Uint8Array;
  f: Uint8Array;
}

export const BlockSharesWire: Schema<BlockShares> = s.struct(
  { index: s.u16(), shares: s.list(point, { max: MAX_BLOCK_SHARES }), e: scalar, f: scalar },
  'Tdh2BlockShares',
);

export interface KeyShare {
  /** 1..n */
  index: number;
  /** x_i = F(i) */
  secret: bigint;
}

export interface ThresholdKey {
  /** h = x·g */
  publicKey: Uint8Array;
  /** [i-1] = h_i = x_i·g */
  verificationKeys: readonly Uint8Array[];
  /** t: the number of shares needed (the polynomial has degree t-1) */
  threshold: number;
}

export type DecryptResult =
  | { ok: true; plaintext: Uint8Array }
  | { ok: false; reason: 'invalid-ciphertext' | 'aead-failure' };

// ---------------------------------------------------------------------------------------------
// hashing: SHA-512 over a domain tag and length-prefixed parts (the construction of
// group.hashToScalar, through node:crypto, which is about 3x faster than @noble/hashes here)

/** node:crypto's SHA-512 (the hot path) with the framing of group.hashToScalar. */
function hasher(domain: string, parts: readonly Uint8Array[]): Hash {
  return framed(createHash('sha512'), domain, parts);
}

/** The same value as group.hashToScalar(domain, ...parts). */
export function fastHashToScalar(domain: string, ...parts: readonly Uint8Array[]): bigint {
  return mod(bytesToNumberLE(hasher(domain, parts).digest()));
}

function hashBytes(domain: string, ...parts: readonly Uint8Array[]): Uint8Array {
  return new Uint8Array(hasher(domain, parts).digest());
}

/** A nonzero scalar from a seed (zero has probability 2^-252; a counter steps past it). */
function nonzeroScalar(domain: string, seed: Uint8Array): bigint {
  for (let i = 0; ; i++) {
    const k = fastHashToScalar(domain, seed, u32le(i));
    if (k !== 0n) return k;
  }
}

function u16le(n: number): Uint8Array {
  return new Uint8Array([n & 0xff, n >>> 8]);
}

// ---------------------------------------------------------------------------------------------
// helpers

const gbarCache = new Map<string, Uint8Array>();

function gbarOf(g: Group): Uint8Array {
  let p = gbarCache.get(g.name);
  if (p === undefined) {
    p = hashToPoint(g, 'fractal/tdh2/gbar');
    gbarCache.set(g.name, p);
  }
  return p;
}

/** ḡ = hashToPoint('fractal/tdh2/gbar'): nobody knows its discrete log to g. */
export function gbar(g: Group = defaultGroup): Uint8Array {
  return gbarOf(g).slice();
}

function isIdentity(p: Uint8Array): boolean {
  for (let i = 0; i < p.length; i++) if (p[i] !== 0) return false;
  return true;
}

function isBytes(x: unknown, length?: number, max?: number): x is Uint8Array {
  if (!(x instanceof Uint8Array)) return false;
  if (length !== undefined && x.length !== length) return false;
  if (max !== undefined && x.length > max) return false;
  return true;
}

/** The shape the wire schema guarantees (sizes only; no group operations). */
function wellFormed(ct: Ciphertext): boolean {
  return (
    typeof ct === 'object' &&
    ct !== null &&
    isBytes(ct.u, POINT_BYTES) &&
    isBytes(ct.ubar, POINT_BYTES) &&
    isBytes(ct.e, SCALAR_BYTES) &&
    isBytes(ct.f, SCALAR_BYTES) &&
    isBytes(ct.label, undefined, MAX_LABEL_BYTES) &&
    isBytes(ct.payload, undefined, MAX_PAYLOAD_BYTES) &&
    ct.payload.length >= TAG_BYTES
  );
}

/** The ciphertext's proof transcript binds payload and label through e, so (u, ū, e, f) names it. */
function ciphertextParts(ct: Ciphertext): Uint8Array[] {
  return [ct.u, ct.ubar, ct.e, ct.f];
}

/** A 32-byte identifier of a ciphertext: a hash of (u, ū, e, f), which e ties to payload and label. */
export function ciphertextId(ct: Ciphertext): Uint8Array {
  return hashBytes('fractal/tdh2/ciphertext-id', ...ciphertextParts(ct)).slice(0, 32);
}

/** The TDH2 validity challenge e = H(c, L, u, w, ū, w̄). */
function validityChallenge(
  payload: Uint8Array,
  label: Uint8Array,
  u: Uint8Array,
  w: Uint8Array,
  ubar: Uint8Array,
  wbar: Uint8Array,
): bigint {
  return fastHashToScalar('fractal/tdh2/ciphertext', payload, label, u, w, ubar, wbar);
}

/** AEAD key and nonce from the KEM key K = x·u = r·h, bound to u and the label. */
function kdf(K: Uint8Array, u: Uint8Array, label: Uint8Array): { key: Uint8Array; nonce: Uint8Array } {
  const okm = hashBytes('fractal/tdh2/kdf', K, u, label);
  return { key: okm.subarray(0, KEY_BYTES), nonce: okm.subarray(KEY_BYTES, KEY_BYTES + NONCE_BYTES) };
}

function checkIndex(index: number, n: number, what: string): void {
  if (!Number.isInteger(index) || index < 1 || index > n) {
    throw new RangeError(`${what}: share index ${index} is not in 1..${n}`);
  }
}

function checkKeyShare(share: KeyShare): void {
  checkIndex(share.index, MAX_SHARES, 'key share');
  if (typeof share.secret !== 'bigint' || share.secret < 0n || share.secret >= ORDER) {
    throw new RangeError('key share secret must be a reduced scalar');
  }
}

/** h_i = x_i·g, cached per key-share object (the proofs bind it). */
const verificationKeyCache = new WeakMap<KeyShare, { secret: bigint; group: string; h: Uint8Array }>();

function verificationKeyOf(share: KeyShare, g: Group): Uint8Array {
  const hit = verificationKeyCache.get(share);
  if (hit !== undefined && hit.secret === share.secret && hit.group === g.name) return hit.h;
  const h = g.mulBase(share.secret);
  verificationKeyCache.set(share, { secret: share.secret, group: g.name, h });
  return h;
}

function verificationKey(key: ThresholdKey, index: number): Uint8Array | undefined {
  if (!Number.isInteger(index) || index < 1 || index > key.verificationKeys.length) return undefined;
  return key.verificationKeys[index - 1];
}

/**
 * Whether a key share is the one the key's verification key h_i names (x_i·g = h_i). Shares made
 * with a share that matches are valid by construction, so their maker need not check its own
 * proof; one that does not match (a DKG share gone wrong) makes shares nobody accepts.
 */
export function keyShareMatches(key: ThresholdKey, share: KeyShare, g: Group = defaultGroup): boolean {
  try {
    checkKeyShare(share);
    const hi = verificationKey(key, share.index);
    if (hi === undefined) return false;
    const mine = verificationKeyOf(share, g);
    if (mine.length !== hi.length) return false;
    for (let i = 0; i < hi.length; i++) if (mine[i] !== hi[i]) return false;
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// encryption and validity

/**
 * Encrypts `plaintext` under the threshold public key with `label` bound in. `randomness` (at
 * least 64 bytes) comes from the caller; r and s are derived from it together with the key, the
 * label and the plaintext, so reusing randomness for another message does not reuse r or s.
 */
export function encrypt(
  key: { publicKey: Uint8Array },
  plaintext: Uint8Array,
  label: Uint8Array,
  randomness: Uint8Array,
  g: Group = defaultGroup,
): Ciphertext {
  if (!isBytes(randomness) || randomness.length < MIN_RANDOMNESS_BYTES) {
    throw new RangeError(`encrypt needs at least ${MIN_RANDOMNESS_BYTES} bytes of randomness`);
  }
  if (!isBytes(label, undefined, MAX_LABEL_BYTES)) {
    throw new RangeError(`label must be at most ${MAX_LABEL_BYTES} bytes`);
  }
  if (!isBytes(plaintext, undefined, MAX_PLAINTEXT_BYTES)) {
    throw new RangeError(`plaintext must be at most ${MAX_PLAINTEXT_BYTES} bytes`);
  }
  const h = key.publicKey;
  if (!g.isPoint(h) || isIdentity(h)) throw new RangeError('public key is not a non-identity point');
  const seed = hashBytes('fractal/tdh2/encrypt-seed', randomness, h, label, plaintext);
  const r = nonzeroScalar('fractal/tdh2/encrypt-r', seed);
  const sNonce = nonzeroScalar('fractal/tdh2/encrypt-s', seed);
  const gb = gbarOf(g);
  const u = g.mulBase(r);
  const ubar = g.mul(gb, r);
  const w = g.mulBase(sNonce);
  const wbar = g.mul(gb, sNonce);
  const K = g.mul(h, r);
  const { key: k, nonce } = kdf(K, u, label);
  const payload = aead.seal(k, nonce, plaintext, label);
  const e = validityChallenge(payload, label, u, w, ubar, wbar);
  const f = mod(sNonce + r * e);
  return { u, ubar, e: scalarToBytes(e), f: scalarToBytes(f), label, payload };
}

/**
 * TDH2 validity: sizes as the wire schema allows (payload at least a tag), u and ū canonical
 * non-identity points, e and f canonical scalars, and the proof that log_g u = log_ḡ ū holds:
 * e = H(c, L, u, f·g − e·u, ū, f·ḡ − e·ū). Never throws.
 */
export function verifyCiphertext(ct: Ciphertext, g: Group = defaultGroup): boolean {
  try {
    if (!wellFormed(ct)) return false;
    if (!g.isPoint(ct.u) || !g.isPoint(ct.ubar) || isIdentity(ct.u) || isIdentity(ct.ubar)) return false;
    const e = scalarFromCanonicalBytes(ct.e);
    const f = scalarFromCanonicalBytes(ct.f);
    if (e === undefined || f === undefined) return false;
    const w = g.sub(g.mulBase(f), g.mul(ct.u, e));
    const wbar = g.sub(g.mul(gbarOf(g), f), g.mul(ct.ubar, e));
    return validityChallenge(ct.payload, ct.label, ct.u, w, ct.ubar, wbar) === e;
  } catch {
    return false;
  }
}

/** digests of the last ciphertexts `verifyCiphertextCached` found valid */
const checkedValid = new BoundedSet<string>(1 << 14);

/**
 * `verifyCiphertext`, remembering the last 16 384 ciphertexts that passed, keyed by a hash of every
 * field (u, ū, e, f, the label and the payload: the whole ciphertext, not `ciphertextId`, which a
 * mauled payload would share) and the group. A node checks each ciphertext at mempool admission
 * and again when its block commits; the second check then costs a hash instead of 4 scalar
 * multiplications. The answer is always `verifyCiphertext`'s.
 */
export function verifyCiphertextCached(ct: Ciphertext, g: Group = defaultGroup): boolean {
  if (!wellFormed(ct)) return false;
  const id = hasher(`fractal/tdh2/checked/${g.name}`, [ct.u, ct.ubar, ct.e, ct.f, ct.label, ct.payload])
    .digest()
    .toString('base64');
  if (checkedValid.has(id)) return true;
  if (!verifyCiphertext(ct, g)) return false;
  checkedValid.add(id);
  return true;
}

// ---------------------------------------------------------------------------------------------
// one decryption share with its own proof

function shareChallenge(
  index: number,
  hi: Uint8Array,
  ct: Ciphertext,
  ui: Uint8Array,
  A: Uint8Array,
  B: Uint8Array,
) {
  return fastHashToScalar('fractal/tdh2/share-proof', u16le(index), hi, ...ciphertextParts(ct), ui, A, B);
}

/**
 * u_i = x_i·u with a Chaum–Pedersen proof: A = s·g, B = s·u, e = H(i, h_i, ct, u_i, A, B),
 * f = s + x_i·e; the nonce s is a hash of x_i and the ciphertext. The caller must have checked
 * verifyCiphertext (a share of an invalid ciphertext is a decryption oracle).
 */
export function decryptionShare(ct: Ciphertext, share: KeyShare, g: Group = defaultGroup): DecryptionShare {
  checkKeyShare(share);
  const x = share.secret;
  const hi = verificationKeyOf(share, g);
  const ui = g.mul(ct.u, x);
  const sNonce = nonzeroScalar(
    'fractal/tdh2/share-nonce',
    hashBytes('fractal/tdh2/share-nonce-seed', scalarToBytes(x), u16le(share.index), ...ciphertextParts(ct)),
  );
  const A = g.mulBase(sNonce);
  const B = g.mul(ct.u, sNonce);
  const e = shareChallenge(share.index, hi, ct, ui, A, B);
  return { index: share.index, ui, e: scalarToBytes(e), f: scalarToBytes(mod(sNonce + x * e)) };
}

/**
 * Checks a share's proof against the validator's verification key h_i: A = f·g − e·h_i,
 * B = f·u − e·u_i, e = H(i, h_i, ct, u_i, A, B). Never throws.
 */
export function verifyShare(
  key: ThresholdKey,
  ct: Ciphertext,
  share: DecryptionShare,
  g: Group = defaultGroup,
): boolean {
  try {
    const hi = verificationKey(key, share.index);
    if (hi === undefined || !wellFormed(ct)) return false;
    if (!isBytes(share.ui, POINT_BYTES) || !g.isPoint(share.ui) || !g.isPoint(ct.u)) return false;
    const e = scalarFromCanonicalBytes(share.e);
    const f = scalarFromCanonicalBytes(share.f);
    if (e === undefined || f === undefined) return false;
    const A = g.sub(g.mulBase(f), g.mul(hi, e));
    const B = g.sub(g.mul(ct.u, f), g.mul(share.ui, e));
    return shareChallenge(share.index, hi, ct, share.ui, A, B) === e;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// a block's shares with one batched proof

/**
 * D = H(context, i, h_i, m, (u_j, ū_j, e_j, f_j)_j, (u_ij)_j): everything the batched statement
 * is made of, the shares included, so the coefficients below are fixed only after the shares are.
 */
function blockDigest(
  cts: readonly Ciphertext[],
  shares: readonly Uint8Array[],
  context: Uint8Array,
  index: number,
  hi: Uint8Array,
): Uint8Array {
  const h = hasher('fractal/tdh2/block', [context, u16le(index), hi, u32le(cts.length)]);
  for (const ct of cts) for (const part of ciphertextParts(ct)) h.update(part);
  for (const ui of shares) h.update(ui);
  return new Uint8Array(h.digest());
}

/** ρ_j = H(D, j): the random linear combination. */
function blockCoefficients(D: Uint8Array, m: number): bigint[] {
  const out = new Array<bigint>(m);
  for (let j = 0; j < m; j++) out[j] = fastHashToScalar('fractal/tdh2/block-rho', D, u32le(j));
  return out;
}

/**
 * The batched statement of validator `index` over `cts` and `shares`: its digest D and the
 * coefficients ρ_j = H(D, j) (what blockShares and verifyBlockShares compute; exposed for tests
 * and tools). Throws RangeError for an index outside the key.
 */
export function blockStatement(
  key: ThresholdKey,
  cts: readonly Ciphertext[],
  shares: readonly Uint8Array[],
  context: Uint8Array,
  index: number,
): { digest: Uint8Array; coefficients: bigint[] } {
  const hi = verificationKey(key, index);
  if (hi === undefined) throw new RangeError(`share index ${index} is not in the key`);
  const digest = blockDigest(cts, shares, context, index, hi);
  return { digest, coefficients: blockCoefficients(digest, cts.length) };
}

/**
 * Shares u_ij = x_i·u_j for every ciphertext of a block, with one Chaum–Pedersen proof that
 * log_g h_i = log_U U_i for U = Σ ρ_j·u_j and U_i = Σ ρ_j·u_ij = x_i·U, where ρ_j = H(D, j)
 * and D hashes the context, the ciphertexts and the shares themselves: A = s·g, B = s·U,
 * e = H(D, A, B), f = s + x_i·e. The caller must have checked every ciphertext's validity.
 * Cost: 2m + 2 scalar multiplications for m ciphertexts.
 */
export function blockShares(
  cts: readonly Ciphertext[],
  share: KeyShare,
  context: Uint8Array,
  g: Group = defaultGroup,
): BlockShares {
  checkKeyShare(share);
  if (cts.length > MAX_BLOCK_SHARES) {
    throw new RangeError(`a block's shares hold at most ${MAX_BLOCK_SHARES} ciphertexts, got ${cts.length}`);
  }
  const x = share.secret;
  const hi = verificationKeyOf(share, g);
  const us = cts.map((ct) => ct.u);
  const shares = us.map((u) => g.mul(u, x));
  const D = blockDigest(cts, shares, context, share.index, hi);
  const rho = blockCoefficients(D, cts.length);
  const U = g.msm(us, rho);
  const sNonce = nonzeroScalar(
    'fractal/tdh2/block-nonce',
    hashBytes('fractal/tdh2/block-nonce-seed', scalarToBytes(x), D),
  );
  const A = g.mulBase(sNonce);
  const B = g.mul(U, sNonce);
  const e = fastHashToScalar('fractal/tdh2/block-proof', D, A, B);
  return { index: share.index, shares, e: scalarToBytes(e), f: scalarToBytes(mod(sNonce + x * e)) };
}

/**
 * Checks a block's shares against validator i's verification key: one share per ciphertext, all
 * canonical points, and e = H(D, f·g − e·h_i, Σ fρ_j·u_j − Σ eρ_j·u_ij). Never throws.
 * Cost: 2m + 2 scalar multiplications.
 */
export function verifyBlockShares(
  key: ThresholdKey,
  cts: readonly Ciphertext[],
  bs: BlockShares,
  context: Uint8Array,
  g: Group = defaultGroup,
): boolean {
  try {
    const hi = verificationKey(key, bs.index);
    if (hi === undefined || !Array.isArray(bs.shares) || bs.shares.length !== cts.length) return false;
    const m = cts.length;
    for (let j = 0; j < m; j++) {
      const ct = cts[j] as Ciphertext;
      const ui = bs.shares[j] as Uint8Array;
      if (!wellFormed(ct) || !isBytes(ui, POINT_BYTES) || !g.isPoint(ui)) return false;
    }
    const e = scalarFromCanonicalBytes(bs.e);
    const f = scalarFromCanonicalBytes(bs.f);
    if (e === undefined || f === undefined) return false;
    const D = blockDigest(cts, bs.shares, context, bs.index, hi);
    const rho = blockCoefficients(D, m);
    const points = new Array<Uint8Array>(2 * m);
    const scalars = new Array<bigint>(2 * m);
    for (let j = 0; j < m; j++) {
      const r = rho[j] as bigint;
      points[j] = (cts[j] as Ciphertext).u;
      scalars[j] = mod(f * r);
      points[m + j] = bs.shares[j] as Uint8Array;
      scalars[m + j] = mod(-e * r);
    }
    const A = g.sub(g.mulBase(f), g.mul(hi, e));
    const B = g.msm(points, scalars);
    return fastHashToScalar('fractal/tdh2/block-proof', D, A, B) === e;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// combination and decryption

/** λ_i(0) per index set: a block combines every transaction from the same validators. */
const lagrangeCache = new Map<string, bigint[]>();
const LAGRANGE_CACHE_SIZE = 256;

function lagrangeCached(indices: readonly number[]): bigint[] {
  const id = indices.join(',');
  let lambdas = lagrangeCache.get(id);
  if (lambdas === undefined) {
    lambdas = lagrangeAtZero(indices.map(BigInt));
    if (lagrangeCache.size >= LAGRANGE_CACHE_SIZE) lagrangeCache.clear();
    lagrangeCache.set(id, lambdas);
  }
  return lambdas;
}

/**
 * K = Σ λ_i·u_i over exactly the first t shares (Lagrange at zero). Since Σ λ_i = 1 this is
 * u_t + Σ_{i<t} λ_i·(u_i − u_t): t − 1 scalar multiplications. The shares must have been
 * verified; throws RangeError with fewer than t shares, a duplicate or out-of-range index, or a
 * share that is not a point. `ct` is not read: K depends only on the shares.
 */
export function combine(
  key: ThresholdKey,
  _ct: Ciphertext,
  shares: readonly { index: number; ui: Uint8Array }[],
  g: Group = defaultGroup,
): Uint8Array {
  const t = key.threshold;
  if (!Number.isInteger(t) || t < 1) throw new RangeError(`threshold ${t} is not a positive integer`);
  if (shares.length < t) throw new RangeError(`combine needs ${t} shares, got ${shares.length}`);
  const used = shares.slice(0, t);
  const seen = new Set<number>();
  for (const sh of used) {
    checkIndex(sh.index, key.verificationKeys.length, 'combine');
    if (seen.has(sh.index)) throw new RangeError(`combine: duplicate share index ${sh.index}`);
    seen.add(sh.index);
    if (!isBytes(sh.ui, POINT_BYTES) || !g.isPoint(sh.ui)) {
      throw new RangeError(`combine: share ${sh.index} is not a point`);
    }
  }
  const lambdas = lagrangeCached(used.map((sh) => sh.index));
  const last = (used[t - 1] as { ui: Uint8Array }).ui;
  let K = last;
  for (let k = 0; k < t - 1; k++) {
    K = g.add(K, g.mul(g.sub((used[k] as { ui: Uint8Array }).ui, last), lambdas[k] as bigint));
  }
  return K;
}

/**
 * Opens the AEAD payload with the combined KEM key K. 'invalid-ciphertext' when the ciphertext or
 * K do not have the sizes the wire format allows (no group operations here: the ciphertext's
 * validity is the caller's check, made before any share); 'aead-failure' when the tag does not
 * verify, e.g. because K came from a wrong share.
 */
export function decryptWithCombined(ct: Ciphertext, combined: Uint8Array): DecryptResult {
  if (!wellFormed(ct) || !isBytes(combined, POINT_BYTES)) return { ok: false, reason: 'invalid-ciphertext' };
  const { key, nonce } = kdf(combined, ct.u, ct.label);
  const plaintext = aead.open(key, nonce, ct.payload, ct.label);
  return plaintext === undefined ? { ok: false, reason: 'aead-failure' } : { ok: true, plaintext };
}

/** Decrypts with the secret key itself (K = x·u): for tests and single-key tools. */
export function decryptWithSecret(ct: Ciphertext, secret: bigint, g: Group = defaultGroup): DecryptResult {
  if (!verifyCiphertext(ct, g)) return { ok: false, reason: 'invalid-ciphertext' };
  return decryptWithCombined(ct, g.mul(ct.u, secret));
}

// ---------------------------------------------------------------------------------------------
// trusted dealer

/**
 * Trusted-dealer keys for tests, benchmarks and the simulator: F of degree t-1 with coefficients
 * H(seed, k), x_i = F(i) for i = 1..n. The DKG replaces this on a real network.
 */
export function dealKey(
  t: number,
  n: number,
  seed: Uint8Array,
  g: Group = defaultGroup,
): { key: ThresholdKey; shares: KeyShare[] } {
  if (!Number.isInteger(n) || n < 1 || n > MAX_SHARES)
    throw new RangeError(`n = ${n} is not in 1..${MAX_SHARES}`);
  if (!Number.isInteger(t) || t < 1 || t > n) throw new RangeError(`t = ${t} is not in 1..n`);
  const coefficients = Array.from({ length: t }, (_, k) =>
    nonzeroScalar('fractal/tdh2/deal', hashBytes('fractal/tdh2/deal-seed', seed, u32le(k))),
  );
  const shares: KeyShare[] = Array.from({ length: n }, (_, i) => ({
    index: i + 1,
    secret: evaluatePolynomial(coefficients, BigInt(i + 1)),
  }));
  const key: ThresholdKey = {
    publicKey: g.mulBase(coefficients[0] as bigint),
    verificationKeys: shares.map((sh) => g.mulBase(sh.secret)),
    threshold: t,
  };
  return { key, shares };
}

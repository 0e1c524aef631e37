/**
 * Joint-Feldman distributed key generation (Pedersen 1991; Gennaro, Jarecki, Krawczyk, Rabin
 * 1999, "JF-DKG"), made non-interactive and publicly verifiable so that its messages can travel
 * as transactions in consensus-ordered blocks:
 *
 * - dealer i deals a polynomial fᵢ of exactly t coefficients aᵢ₀…aᵢ,ₜ₋₁, derived from its secret
 *   seed and the session (so a crash-restarted dealer re-deals the same bytes); it publishes the
 *   Feldman commitments Aᵢₖ = g^aᵢₖ, a Schnorr proof of knowledge of aᵢ₀ bound to the session and
 *   its index (no rogue keys: a dealer cannot publish a function of the others' Aⱼ₀), and for each
 *   recipient j the share fᵢ(j) sealed to j's encryption key Eⱼ by hashed ElGamal with one
 *   ephemeral per deal: R = g^k, sealedⱼ = fᵢ(j) ⊕ H(k·Eⱼ, R, i, j, …). No MAC: the commitments
 *   check the share. R carries its own proof of knowledge of k, bound to the session and i: a
 *   complaint reveals eⱼ·R, and without that proof a cheating dealer could copy an honest dealer's
 *   R (or a multiple of it) into its own deal, make j complain, and so open the honest dealer's
 *   share to j — enough such complaints would give away the key;
 * - recipient j opens its share and checks g^fᵢ(j) = Σₖ jᵏ·Aᵢₖ; when the check fails it complains
 *   by revealing K = eⱼ·R with a Chaum–Pedersen proof that log_g(Eⱼ) = log_R(K), so anyone can
 *   open that one share and judge the dealer (and nothing else about eⱼ leaks);
 * - QUAL is every dealer with a publicly valid deal and no justified complaint; the key is
 *   Σ_QUAL Aᵢ₀, recipient j's share Σ_QUAL fᵢ(j), its verification key Σ_QUAL Σₖ jᵏ·Aᵢₖ.
 *
 * Everything is a pure function of its inputs; `applyDeal` / `applyComplaint` / `finalize` form a
 * deterministic reducer over the ordered DKG messages of one epoch, so every honest node that
 * sees the same chain computes byte-identical output. Known limit of Joint-Feldman: a rushing
 * adversary can bias the distribution of the public key (GJKR 1999), not learn the secret;
 * threshold encryption tolerates that (Gennaro, Jarecki, Krawczyk, Rabin 2003).
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { type Schema, s } from '../wire/schema.ts';
import { bytesEqual } from '../wire/types.ts';
import {
  group as defaultGroup,
  framed,
  type Group,
  hashToScalar,
  IDENTITY,
  mod,
  POINT_BYTES,
  SCALAR_BYTES,
  scalarFromCanonicalBytes,
  scalarToBytes,
  u32le,
} from './group.ts';
import { evaluatePolynomial } from './shamir.ts';

/** Most validators a DKG session may have (the wire lists are bounded by it). */
export const MAX_DKG_PARTIES = 1_000;
export const DKG_SEED_BYTES = 32;

const DOMAIN = 'fractal/dkg/v1';
const D_SESSION = `${DOMAIN}/session`;
const D_ENC_KEY = `${DOMAIN}/encryption-key`;
const D_COEFFICIENT = `${DOMAIN}/coefficient`;
const D_POK_NONCE = `${DOMAIN}/pok-nonce`;
const D_POK = `${DOMAIN}/pok`;
const D_EPHEMERAL = `${DOMAIN}/ephemeral`;
const D_EPHEMERAL_NONCE = `${DOMAIN}/ephemeral-nonce`;
const D_EPHEMERAL_POK = `${DOMAIN}/ephemeral-pok`;
const D_PAD = `${DOMAIN}/pad`;
const D_DLEQ_NONCE = `${DOMAIN}/dleq-nonce`;
const D_DLEQ = `${DOMAIN}/dleq`;

// ---------------------------------------------------------------------------------------------
// types and wire schemas

export interface DkgParams {
  /** the fractal instance (chain id) */
  instance: string;
  epoch: bigint;
  /** number of validators; indices are 1..n */
  n: number;
  /** threshold: t shares reconstruct, t-1 reveal nothing; every polynomial has t coefficients */
  t: number;
  /** [j-1] = Eⱼ, validator j's DKG encryption key (a canonical, non-identity point) */
  encryptionKeys: readonly Uint8Array[];
}

export interface Deal {
  dealer: number;
  epoch: bigint;
  /** [k] = Aₖ = g^aₖ, exactly t of them */
  commitments: readonly Uint8Array[];
  /** Schnorr proof of knowledge of a₀: r = g^w, z = w + c·a₀ (z a canonical scalar) */
  pok: { r: Uint8Array; z: Uint8Array };
  /** R = g^k, the ElGamal ephemeral of every sealed share, with a Schnorr proof of knowledge of k */
  ephemeral: { point: Uint8Array; r: Uint8Array; z: Uint8Array };
  /** [j-1] = the share f(j) sealed to Eⱼ (32 bytes), exactly n of them */
  shares: readonly Uint8Array[];
}

export interface Complaint {
  accuser: number;
  dealer: number;
  epoch: bigint;
  /** K = eⱼ·R for the deal's ephemeral R */
  sharedPoint: Uint8Array;
  /** Chaum–Pedersen proof that log_g(Eⱼ) = log_R(K): challenge e, response f (canonical scalars) */
  proof: { e: Uint8Array; f: Uint8Array };
}

const Point = s.bytes({ length: POINT_BYTES });
const Scalar = s.bytes({ length: SCALAR_BYTES });

export const DealWire: Schema<Deal> = s.struct({
  dealer: s.u16(),
  epoch: s.u64(),
  commitments: s.list(Point, { max: MAX_DKG_PARTIES }),
  pok: s.struct({ r: Point, z: Scalar }),
  ephemeral: s.struct({ point: Point, r: Point, z: Scalar }),
  shares: s.list(Scalar, { max: MAX_DKG_PARTIES }),
});

export const ComplaintWire: Schema<Complaint> = s.struct({
  accuser: s.u16(),
  dealer: s.u16(),
  epoch: s.u64(),
  sharedPoint: Point,
  proof: s.struct({ e: Scalar, f: Scalar }),
});

// ---------------------------------------------------------------------------------------------
// parameters and the session digest

export type ParamsCheck = { ok: true } | { ok: false; reason: string };

/** Structural validity of the parameters (what every entry point requires). */
export function checkParams(params: DkgParams, g: Group = defaultGroup): ParamsCheck {
  const { n, t, encryptionKeys } = params;
  if (typeof params.instance !== 'string') return { ok: false, reason: 'instance must be a string' };
  if (typeof params.epoch !== 'bigint' || params.epoch < 0n || params.epoch >= 1n << 64n) {
    return { ok: false, reason: 'epoch must be a u64 bigint' };
  }
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_DKG_PARTIES) {
    return { ok: false, reason: `n must be an integer in 1..${MAX_DKG_PARTIES}` };
  }
  if (!Number.isSafeInteger(t) || t < 1 || t > n)
    return { ok: false, reason: 't must be an integer in 1..n' };
  if (!Array.isArray(encryptionKeys) || encryptionKeys.length !== n) {
    return { ok: false, reason: 'encryptionKeys must hold exactly n keys' };
  }
  for (let j = 0; j < n; j++) {
    if (!isEncryptionKey(encryptionKeys[j] as Uint8Array, g)) {
      return { ok: false, reason: `encryption key ${j + 1} is not a canonical non-identity point` };
    }
  }
  return { ok: true };
}

/** Whether `bytes` may serve as a DKG encryption key: a canonical point other than the identity. */
export function isEncryptionKey(bytes: Uint8Array, g: Group = defaultGroup): boolean {
  return g.isPoint(bytes) && !bytesEqual(bytes, IDENTITY);
}

function assertParams(params: DkgParams, g: Group): void {
  const c = checkParams(params, g);
  if (!c.ok) throw new RangeError(`dkg: invalid parameters: ${c.reason}`);
}

const encoder = new TextEncoder();

function u64le(n: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, n, true);
  return out;
}

/** SHA-256 over a domain tag and parts, each length-prefixed (no two part lists collide). */
function hashBytes(domain: string, ...parts: readonly Uint8Array[]): Uint8Array {
  return framed(sha256.create(), domain, parts).digest();
}

/**
 * The session digest every derivation and proof is bound to: instance, epoch, n, t and every
 * encryption key. Two sessions that differ in any of them share no randomness and no proofs.
 */
export function sessionId(params: DkgParams): Uint8Array {
  return hashBytes(
    D_SESSION,
    encoder.encode(params.instance),
    u64le(params.epoch),
    u32le(params.n),
    u32le(params.t),
    ...params.encryptionKeys,
  );
}

// ---------------------------------------------------------------------------------------------
// keys and dealing

/** A recipient's DKG encryption key pair, derived from a 32-byte secret seed. */
export function encryptionKeyPair(
  seed: Uint8Array,
  g: Group = defaultGroup,
): { secret: bigint; publicKey: Uint8Array } {
  checkSeed(seed);
  // zero has probability 2^-252; re-hash rather than hand out the identity as a key
  const secret = nonzeroScalar(D_ENC_KEY, seed);
  return { secret, publicKey: g.mulBase(secret) };
}

function checkSeed(seed: Uint8Array): void {
  if (!(seed instanceof Uint8Array) || seed.length !== DKG_SEED_BYTES) {
    throw new RangeError(`dkg: a secret seed is ${DKG_SEED_BYTES} bytes`);
  }
}

function checkIndex(i: number, n: number): boolean {
  return Number.isSafeInteger(i) && i >= 1 && i <= n;
}

/** The dealer's polynomial: t coefficients hashed from its seed, the session and its index. */
function coefficients(params: DkgParams, sid: Uint8Array, dealer: number, seed: Uint8Array): bigint[] {
  const out: bigint[] = [];
  for (let k = 0; k < params.t; k++) {
    const parts = [seed, sid, u32le(dealer), u32le(k)];
    // a₀ = 0 would commit to the identity, which the public checks reject (probability 2^-252)
    out.push(k === 0 ? nonzeroScalar(D_COEFFICIENT, ...parts) : hashToScalar(D_COEFFICIENT, ...parts));
  }
  return out;
}

/** Schnorr proof of knowledge of x with X = g^x, bound to the session and the dealer. */
function schnorrProve(
  domain: string,
  sid: Uint8Array,
  dealer: number,
  x: bigint,
  X: Uint8Array,
  nonce: bigint,
  g: Group,
): { r: Uint8Array; z: Uint8Array } {
  const r = g.mulBase(nonce);
  const c = hashToScalar(domain, sid, u32le(dealer), X, r);
  return { r, z: scalarToBytes(mod(nonce + c * x)) };
}

/** g^z = r + c·X with c = H(domain, sid, dealer, X, r); never throws on malformed input. */
function schnorrVerify(
  domain: string,
  sid: Uint8Array,
  dealer: number,
  X: Uint8Array,
  proof: { r: Uint8Array; z: Uint8Array },
  g: Group,
): boolean {
  if (typeof proof !== 'object' || proof === null || !g.isPoint(proof.r)) return false;
  const z = proof.z instanceof Uint8Array ? scalarFromCanonicalBytes(proof.z) : undefined;
  if (z === undefined) return false;
  const c = hashToScalar(domain, sid, u32le(dealer), X, proof.r);
  return bytesEqual(g.mulBase(z), g.add(proof.r, g.mul(X, c)));
}

function sharePad(
  sid: Uint8Array,
  dealer: number,
  recipient: number,
  key: Uint8Array,
  ephemeral: Uint8Array,
  shared: Uint8Array,
): Uint8Array {
  return hashBytes(D_PAD, sid, u32le(dealer), u32le(recipient), key, ephemeral, shared);
}

function xor32(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = (a[i] as number) ^ (b[i] as number);
  return out;
}

function nonzeroScalar(domain: string, ...parts: readonly Uint8Array[]): bigint {
  let x = hashToScalar(domain, ...parts);
  for (let i = 1; x === 0n; i++) x = hashToScalar(domain, ...parts, u32le(i));
  return x;
}

/** The secret randomness of one deal. Each value must be fresh for each polynomial. */
export interface DealRandomness {
  /** k, the discrete log of the ephemeral R */
  ephemeral: bigint;
  /** the nonce of the proof of knowledge of a₀ */
  pokNonce: bigint;
  /** the nonce of the proof of knowledge of k */
  ephemeralNonce: bigint;
}

/**
 * Dealer `dealer`'s deal for the session. Deterministic: the same parameters, index and seed
 * give the same bytes (a restarted dealer re-deals exactly what it dealt). Throws RangeError on
 * invalid parameters, an index out of range or a seed that is not 32 bytes.
 */
export function deal(
  params: DkgParams,
  dealer: number,
  secretSeed: Uint8Array,
  g: Group = defaultGroup,
): Deal {
  assertParams(params, g);
  if (!checkIndex(dealer, params.n)) throw new RangeError(`dkg: dealer ${dealer} is not in 1..${params.n}`);
  checkSeed(secretSeed);
  const sid = sessionId(params);
  const who = u32le(dealer);
  return dealWith(
    params,
    dealer,
    coefficients(params, sid, dealer, secretSeed),
    {
      ephemeral: nonzeroScalar(D_EPHEMERAL, secretSeed, sid, who),
      pokNonce: nonzeroScalar(D_POK_NONCE, secretSeed, sid, who),
      ephemeralNonce: nonzeroScalar(D_EPHEMERAL_NONCE, secretSeed, sid, who),
    },
    g,
  );
}

/**
 * The deal of an explicit polynomial with explicit randomness: what `deal` computes once it has
 * derived both from the seed. For tools and tests (e.g. building a cheating dealer); reusing the
 * randomness for two polynomials reveals shares. Any number of coefficients is accepted (a deal
 * of another length fails the public checks).
 */
export function dealWith(
  params: DkgParams,
  dealer: number,
  coefficients: readonly bigint[],
  randomness: DealRandomness,
  g: Group = defaultGroup,
): Deal {
  assertParams(params, g);
  if (!checkIndex(dealer, params.n)) throw new RangeError(`dkg: dealer ${dealer} is not in 1..${params.n}`);
  if (coefficients.length === 0) throw new RangeError('dkg: a polynomial has at least one coefficient');
  const sid = sessionId(params);
  const coeffs = coefficients.map(mod);
  const commitments = coeffs.map((a) => g.mulBase(a));
  const pok = schnorrProve(
    D_POK,
    sid,
    dealer,
    coeffs[0] as bigint,
    commitments[0] as Uint8Array,
    randomness.pokNonce,
    g,
  );
  const k = randomness.ephemeral;
  const R = g.mulBase(k);
  const ephemeralPok = schnorrProve(D_EPHEMERAL_POK, sid, dealer, k, R, randomness.ephemeralNonce, g);
  const shares: Uint8Array[] = [];
  for (let j = 1; j <= params.n; j++) {
    const key = params.encryptionKeys[j - 1] as Uint8Array;
    const pad = sharePad(sid, dealer, j, key, R, g.mul(key, k));
    shares.push(xor32(scalarToBytes(evaluatePolynomial(coeffs, BigInt(j))), pad));
  }
  return { dealer, epoch: params.epoch, commitments, pok, ephemeral: { point: R, ...ephemeralPok }, shares };
}

// ---------------------------------------------------------------------------------------------
// public checks

export type DealRejectReason =
  | 'wrong-epoch'
  | 'dealer-out-of-range'
  | 'wrong-commitment-count'
  | 'bad-point'
  | 'bad-pok'
  | 'wrong-share-count'
  | 'bad-share-encoding';

export type DealCheck = { ok: true } | { ok: false; reason: DealRejectReason };

/**
 * The checks anyone can make on a deal, before anything else: the epoch, the dealer's index,
 * exactly t commitments and n sealed shares, every point canonical (neither A₀ nor R the
 * identity), every sealed share 32 bytes, and both proofs of knowledge (of a₀ and of R's
 * discrete log) under this session and dealer index ('bad-pok' for either). Never throws on a
 * malformed deal; throws RangeError on invalid parameters.
 */
export function checkDeal(params: DkgParams, deal: Deal, g: Group = defaultGroup): DealCheck {
  assertParams(params, g);
  return checkDealWith(params, sessionId(params), deal, g);
}

function checkDealWith(params: DkgParams, sid: Uint8Array, d: Deal, g: Group): DealCheck {
  if (typeof d !== 'object' || d === null) return { ok: false, reason: 'bad-point' };
  if (d.epoch !== params.epoch) return { ok: false, reason: 'wrong-epoch' };
  if (!checkIndex(d.dealer, params.n)) return { ok: false, reason: 'dealer-out-of-range' };
  if (!Array.isArray(d.commitments) || d.commitments.length !== params.t) {
    return { ok: false, reason: 'wrong-commitment-count' };
  }
  if (!Array.isArray(d.shares) || d.shares.length !== params.n)
    return { ok: false, reason: 'wrong-share-count' };
  for (const A of d.commitments) if (!g.isPoint(A)) return { ok: false, reason: 'bad-point' };
  const A0 = d.commitments[0] as Uint8Array;
  if (bytesEqual(A0, IDENTITY)) return { ok: false, reason: 'bad-point' };
  const eph = d.ephemeral;
  if (typeof eph !== 'object' || eph === null || !isEncryptionKey(eph.point, g)) {
    return { ok: false, reason: 'bad-point' };
  }
  for (const sealed of d.shares) {
    if (!(sealed instanceof Uint8Array) || sealed.length !== SCALAR_BYTES) {
      return { ok: false, reason: 'bad-share-encoding' };
    }
  }
  if (!schnorrVerify(D_POK, sid, d.dealer, A0, d.pok, g)) return { ok: false, reason: 'bad-pok' };
  if (!schnorrVerify(D_EPHEMERAL_POK, sid, d.dealer, eph.point, eph, g))
    return { ok: false, reason: 'bad-pok' };
  return { ok: true };
}

/** Σₖ jᵏ·Aₖ: what g^f(j) must equal. */
function expectedSharePoint(commitments: readonly Uint8Array[], j: number, g: Group): Uint8Array {
  const x = BigInt(j);
  const powers: bigint[] = [];
  let p = 1n;
  for (let k = 0; k < commitments.length; k++) {
    powers.push(p);
    p = mod(p * x);
  }
  return g.msm(commitments, powers);
}

/** Opens the sealed share with K = e·R; undefined when the plaintext is not a canonical scalar. */
function unseal(
  sid: Uint8Array,
  d: Deal,
  recipient: number,
  key: Uint8Array,
  shared: Uint8Array,
): bigint | undefined {
  const sealed = d.shares[recipient - 1] as Uint8Array;
  return scalarFromCanonicalBytes(
    xor32(sealed, sharePad(sid, d.dealer, recipient, key, d.ephemeral.point, shared)),
  );
}

/** Whether `share` is consistent with the deal's commitments for `recipient`. */
function shareMatches(d: Deal, recipient: number, share: bigint, g: Group): boolean {
  return bytesEqual(g.mulBase(share), expectedSharePoint(d.commitments, recipient, g));
}

// ---------------------------------------------------------------------------------------------
// opening shares and complaining

export type OpenResult = { ok: true; share: bigint } | { ok: false; complaint: Complaint };

/**
 * Recipient `recipient` opens its share of a publicly valid deal and checks it against the
 * commitments; when the share does not open to a canonical scalar or does not match, the result
 * is the complaint to publish. Throws RangeError on a caller error: invalid parameters, a deal
 * that fails `checkDeal` (it is not qualified; there is nothing to complain about), a recipient
 * out of range, or a secret that is not the recipient's encryption key.
 */
export function openShare(
  params: DkgParams,
  deal: Deal,
  recipient: number,
  encryptionSecret: bigint,
  g: Group = defaultGroup,
): OpenResult {
  assertParams(params, g);
  if (!checkIndex(recipient, params.n))
    throw new RangeError(`dkg: recipient ${recipient} is not in 1..${params.n}`);
  const key = params.encryptionKeys[recipient - 1] as Uint8Array;
  if (!bytesEqual(g.mulBase(encryptionSecret), key)) {
    throw new RangeError(`dkg: the secret is not recipient ${recipient}'s encryption key`);
  }
  const sid = sessionId(params);
  const check = checkDealWith(params, sid, deal, g);
  if (!check.ok)
    throw new RangeError(`dkg: openShare on a deal that fails the public checks (${check.reason})`);
  const shared = g.mul(deal.ephemeral.point, encryptionSecret);
  const share = unseal(sid, deal, recipient, key, shared);
  if (share !== undefined && shareMatches(deal, recipient, share, g)) return { ok: true, share };
  return { ok: false, complaint: proveComplaint(params, sid, deal, recipient, encryptionSecret, shared, g) };
}

/**
 * A complaint by `accuser` about `deal`, whatever the share holds: reveals K = e·R with its
 * DLEQ proof. `openShare` is what honest recipients use; this is for tools and tests (a complaint
 * about a good share is judged unjustified). Throws RangeError on invalid parameters, an accuser
 * out of range or a deal without a canonical ephemeral point.
 */
export function complain(
  params: DkgParams,
  deal: Deal,
  accuser: number,
  encryptionSecret: bigint,
  g: Group = defaultGroup,
): Complaint {
  assertParams(params, g);
  if (!checkIndex(accuser, params.n))
    throw new RangeError(`dkg: accuser ${accuser} is not in 1..${params.n}`);
  if (!g.isPoint(deal.ephemeral?.point))
    throw new RangeError('dkg: the deal has no canonical ephemeral point');
  const shared = g.mul(deal.ephemeral.point, encryptionSecret);
  return proveComplaint(params, sessionId(params), deal, accuser, encryptionSecret, shared, g);
}

function dleqChallenge(
  sid: Uint8Array,
  dealer: number,
  accuser: number,
  key: Uint8Array,
  ephemeral: Uint8Array,
  shared: Uint8Array,
  t1: Uint8Array,
  t2: Uint8Array,
): bigint {
  return hashToScalar(D_DLEQ, sid, u32le(dealer), u32le(accuser), key, ephemeral, shared, t1, t2);
}

/** Chaum–Pedersen: w derived from the secret, T₁ = g^w, T₂ = R^w, e = H(…, T₁, T₂), f = w − e·x. */
function proveComplaint(
  params: DkgParams,
  sid: Uint8Array,
  d: Deal,
  accuser: number,
  secret: bigint,
  shared: Uint8Array,
  g: Group,
): Complaint {
  const key = params.encryptionKeys[accuser - 1] as Uint8Array;
  const R = d.ephemeral.point;
  const w = nonzeroScalar(
    D_DLEQ_NONCE,
    scalarToBytes(secret),
    sid,
    u32le(d.dealer),
    u32le(accuser),
    R,
    shared,
  );
  const e = dleqChallenge(sid, d.dealer, accuser, key, R, shared, g.mulBase(w), g.mul(R, w));
  const f = mod(w - e * secret);
  return {
    accuser,
    dealer: d.dealer,
    epoch: params.epoch,
    sharedPoint: shared,
    proof: { e: scalarToBytes(e), f: scalarToBytes(f) },
  };
}

function verifyDleq(sid: Uint8Array, d: Deal, c: Complaint, key: Uint8Array, g: Group): boolean {
  if (typeof c.proof !== 'object' || c.proof === null) return false;
  const e = c.proof.e instanceof Uint8Array ? scalarFromCanonicalBytes(c.proof.e) : undefined;
  const f = c.proof.f instanceof Uint8Array ? scalarFromCanonicalBytes(c.proof.f) : undefined;
  if (e === undefined || f === undefined || !g.isPoint(c.sharedPoint)) return false;
  const R = d.ephemeral.point;
  const t1 = g.add(g.mulBase(f), g.mul(key, e));
  const t2 = g.add(g.mul(R, f), g.mul(c.sharedPoint, e));
  return dleqChallenge(sid, d.dealer, c.accuser, key, R, c.sharedPoint, t1, t2) === e;
}

export type Verdict = 'dealer-guilty' | 'unjustified';

/**
 * Judges a complaint about `deal`: 'dealer-guilty' when the DLEQ proof holds and the share it
 * opens is not a canonical scalar or does not match the commitments; 'unjustified' when the
 * complaint is about another dealer or epoch, names an accuser out of range, carries a bad
 * proof, or the share is fine. A deal that fails the public checks is 'dealer-guilty' whatever the
 * complaint (it is not qualified anyway). Never throws on malformed input; throws RangeError on
 * invalid parameters.
 */
export function judgeComplaint(
  params: DkgParams,
  deal: Deal,
  complaint: Complaint,
  g: Group = defaultGroup,
): Verdict {
  assertParams(params, g);
  const sid = sessionId(params);
  if (!checkDealWith(params, sid, deal, g).ok) return 'dealer-guilty';
  return judgeWith(params, sid, deal, complaint, g);
}

/** Judges a complaint about a publicly valid deal. */
function judgeWith(params: DkgParams, sid: Uint8Array, d: Deal, c: Complaint, g: Group): Verdict {
  if (typeof c !== 'object' || c === null) return 'unjustified';
  if (c.epoch !== params.epoch || c.dealer !== d.dealer || !checkIndex(c.accuser, params.n))
    return 'unjustified';
  const key = params.encryptionKeys[c.accuser - 1] as Uint8Array;
  if (!verifyDleq(sid, d, c, key, g)) return 'unjustified';
  const share = unseal(sid, d, c.accuser, key, c.sharedPoint);
  if (share === undefined) return 'dealer-guilty';
  return shareMatches(d, c.accuser, share, g) ? 'unjustified' : 'dealer-guilty';
}

// ---------------------------------------------------------------------------------------------
// the transcript: a deterministic reducer over one epoch's ordered DKG messages

export type DealIgnoredReason = DealRejectReason | 'not-sender' | 'repeat';
export type ComplaintIgnoredReason =
  | 'not-sender'
  | 'wrong-epoch'
  | 'accuser-out-of-range'
  | 'dealer-out-of-range'
  | 'no-deal'
  | 'repeat'
  | 'already-disqualified';

/** What happened to each message, in order (for reports, evidence and the visualiser). */
export type DkgEvent =
  | { kind: 'deal-accepted'; dealer: number }
  | { kind: 'deal-ignored'; sender: number; dealer: number; reason: DealIgnoredReason }
  | { kind: 'complaint-judged'; accuser: number; dealer: number; verdict: Verdict }
  | {
      kind: 'complaint-ignored';
      sender: number;
      accuser: number;
      dealer: number;
      reason: ComplaintIgnoredReason;
    };

/** Immutable plain data: every apply returns a new transcript and leaves its argument alone. */
export interface DkgTranscript {
  readonly params: DkgParams;
  /** [i-1] = dealer i's first publicly valid deal, or null */
  readonly deals: readonly (Deal | null)[];
  /** [i-1] = the accuser whose justified complaint disqualified dealer i, or null */
  readonly disqualifiedBy: readonly (number | null)[];
  /** [i-1] = the accusers whose complaint about dealer i has been judged, in order */
  readonly judged: readonly (readonly number[])[];
  /** accusers with at least one unjustified complaint, ascending */
  readonly falseAccusers: readonly number[];
  readonly events: readonly DkgEvent[];
}

/** The transcript before any message. Throws RangeError on invalid parameters. */
export function emptyTranscript(params: DkgParams, g: Group = defaultGroup): DkgTranscript {
  assertParams(params, g);
  const n = params.n;
  return {
    params,
    deals: new Array<Deal | null>(n).fill(null),
    disqualifiedBy: new Array<number | null>(n).fill(null),
    judged: Array.from({ length: n }, () => []),
    falseAccusers: [],
    events: [],
  };
}

function safeIndex(x: unknown): number {
  return typeof x === 'number' && Number.isSafeInteger(x) ? x : -1;
}

/**
 * Applies a deal carried by the chain from validator `sender`. Ignored (and recorded) when its
 * dealer is not the sender, the dealer already has a valid deal, or it fails the public checks.
 */
export function applyDeal(
  tr: DkgTranscript,
  sender: number,
  deal: Deal,
  g: Group = defaultGroup,
): DkgTranscript {
  const dealer = safeIndex(typeof deal === 'object' && deal !== null ? deal.dealer : undefined);
  const ignore = (reason: DealIgnoredReason): DkgTranscript => ({
    ...tr,
    events: [...tr.events, { kind: 'deal-ignored', sender, dealer, reason }],
  });
  if (dealer !== sender) return ignore('not-sender');
  if (checkIndex(dealer, tr.params.n) && tr.deals[dealer - 1] !== null) return ignore('repeat');
  const check = checkDealWith(tr.params, sessionId(tr.params), deal, g);
  if (!check.ok) return ignore(check.reason);
  const deals = tr.deals.slice();
  deals[dealer - 1] = deal;
  return { ...tr, deals, events: [...tr.events, { kind: 'deal-accepted', dealer }] };
}

/**
 * Applies a complaint carried by the chain from validator `sender`. It is judged when its accuser
 * is the sender, it is for this epoch, the dealer has a valid deal and is not yet disqualified,
 * and the accuser has not had a complaint about that dealer judged before; a justified one
 * disqualifies the dealer, an unjustified one marks the accuser in `falseAccusers`.
 */
export function applyComplaint(
  tr: DkgTranscript,
  sender: number,
  c: Complaint,
  g: Group = defaultGroup,
): DkgTranscript {
  const ok = typeof c === 'object' && c !== null;
  const accuser = safeIndex(ok ? c.accuser : undefined);
  const dealer = safeIndex(ok ? c.dealer : undefined);
  const ignore = (reason: ComplaintIgnoredReason): DkgTranscript => ({
    ...tr,
    events: [...tr.events, { kind: 'complaint-ignored', sender, accuser, dealer, reason }],
  });
  const { params } = tr;
  if (!ok || accuser !== sender) return ignore('not-sender');
  if (!checkIndex(accuser, params.n)) return ignore('accuser-out-of-range');
  if (c.epoch !== params.epoch) return ignore('wrong-epoch');
  if (!checkIndex(dealer, params.n)) return ignore('dealer-out-of-range');
  const d = tr.deals[dealer - 1];
  if (d === null || d === undefined) return ignore('no-deal');
  if (tr.disqualifiedBy[dealer - 1] !== null) return ignore('already-disqualified');
  const before = tr.judged[dealer - 1] as readonly number[];
  if (before.includes(accuser)) return ignore('repeat');

  const verdict = judgeWith(params, sessionId(params), d, c, g);
  const judged = tr.judged.slice();
  judged[dealer - 1] = [...before, accuser];
  const events: DkgEvent[] = [...tr.events, { kind: 'complaint-judged', accuser, dealer, verdict }];
  if (verdict === 'dealer-guilty') {
    const disqualifiedBy = tr.disqualifiedBy.slice();
    disqualifiedBy[dealer - 1] = accuser;
    return { ...tr, judged, disqualifiedBy, events };
  }
  const falseAccusers = tr.falseAccusers.includes(accuser)
    ? tr.falseAccusers
    : [...tr.falseAccusers, accuser].sort((a, b) => a - b);
  return { ...tr, judged, falseAccusers, events };
}

/** Dealer `dealer`'s accepted deal, if any (whether or not it was later disqualified). */
export function dealOf(tr: DkgTranscript, dealer: number): Deal | undefined {
  return checkIndex(dealer, tr.params.n) ? (tr.deals[dealer - 1] ?? undefined) : undefined;
}

/** Dealers with a valid deal and no justified complaint, ascending. */
export function qualifiedDealers(tr: DkgTranscript): number[] {
  const out: number[] = [];
  for (let i = 1; i <= tr.params.n; i++) {
    if (tr.deals[i - 1] !== null && tr.disqualifiedBy[i - 1] === null) out.push(i);
  }
  return out;
}

export type DkgOutcome =
  | {
      ok: true;
      qualified: number[];
      publicKey: Uint8Array;
      verificationKeys: Uint8Array[];
      threshold: number;
    }
  | { ok: false; reason: 'too-few-qualified'; qualified: number[] };

export type DkgKey = DkgOutcome & { ok: true };

/**
 * The epoch's key once the complaint phase is over: QUAL, the public key Σ_QUAL Aᵢ₀ and
 * verificationKeys[j-1] = Σ_QUAL Σₖ jᵏ·Aᵢₖ (the TDH2 key shape, with `threshold` = t). Fails
 * with 'too-few-qualified' when |QUAL| < t.
 */
export function finalize(tr: DkgTranscript, g: Group = defaultGroup): DkgOutcome {
  const qualified = qualifiedDealers(tr);
  const { n, t } = tr.params;
  if (qualified.length < t) return { ok: false, reason: 'too-few-qualified', qualified };
  // Cₖ = Σ_QUAL Aᵢₖ, summed in ascending dealer order
  const combined: Uint8Array[] = [];
  for (let k = 0; k < t; k++) {
    let acc: Uint8Array = IDENTITY.slice();
    for (const i of qualified) acc = g.add(acc, (tr.deals[i - 1] as Deal).commitments[k] as Uint8Array);
    combined.push(acc);
  }
  const verificationKeys: Uint8Array[] = [];
  for (let j = 1; j <= n; j++) verificationKeys.push(expectedSharePoint(combined, j, g));
  return { ok: true, qualified, publicKey: combined[0] as Uint8Array, verificationKeys, threshold: t };
}

/**
 * Recipient j's key share xⱼ = Σ_QUAL fᵢ(j), checked against verificationKeys[j-1]; undefined
 * when a qualified share cannot be opened or the sum does not match (an honest recipient that
 * complained as `openShare` said never sees that), or on any bad argument. Never throws.
 */
export function secretShare(
  tr: DkgTranscript,
  outcome: DkgKey,
  recipient: number,
  encryptionSecret: bigint,
  g: Group = defaultGroup,
): bigint | undefined {
  try {
    const { params } = tr;
    if (!checkIndex(recipient, params.n) || typeof encryptionSecret !== 'bigint') return undefined;
    const key = params.encryptionKeys[recipient - 1] as Uint8Array;
    if (!bytesEqual(g.mulBase(encryptionSecret), key)) return undefined;
    const vk = outcome.verificationKeys[recipient - 1];
    if (vk === undefined) return undefined;
    const sid = sessionId(params);
    let x = 0n;
    for (const i of outcome.qualified) {
      const d = checkIndex(i, params.n) ? tr.deals[i - 1] : undefined;
      if (d === null || d === undefined) return undefined;
      const share = unseal(sid, d, recipient, key, g.mul(d.ephemeral.point, encryptionSecret));
      if (share === undefined) return undefined;
      x = mod(x + share);
    }
    return bytesEqual(g.mulBase(x), vk) ? x : undefined;
  } catch {
    return undefined;
  }
}

/** The TDH2 key share of recipient j: `{ index, secret }`. */
export function keyShare(
  tr: DkgTranscript,
  outcome: DkgKey,
  recipient: number,
  encryptionSecret: bigint,
  g: Group = defaultGroup,
): { index: number; secret: bigint } | undefined {
  const secret = secretShare(tr, outcome, recipient, encryptionSecret, g);
  return secret === undefined ? undefined : { index: recipient, secret };
}

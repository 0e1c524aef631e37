/**
 * The transaction pool: admission, priority order, the proposer's batch, and cleanup after commit.
 * Pure logic (no clock, no randomness, no I/O); signatures are checked with the `Verifier` of the
 * `PoolEnv` it is given, fees and nonces read from its ledger view. The pool is an immutable value
 * (`PoolState`, persistent maps and a chunked priority order: persistent.ts); every function
 * returns a new state and never changes the one it was given, so a step that throws half-way
 * leaves the state it started from as it was. Admission is two steps: `checkAdmission` decides
 * (every check, the envelope to replace, the ones to evict) and `applyAdmission` pools it.
 *
 * Admission (cheapest checks first; the first failing one is the typed reason returned):
 *   oversize        more than `maxEnvelopeBytes` bytes
 *   duplicate       an envelope with the same hash (sha256 of its canonical bytes) is pooled
 *   undecodable     not a canonical SignedEnvelope
 *   wrong-instance  for another fractal instance
 *   expired         `expiry` <= the last committed height (it could never be included)
 *   expiry-too-far  `expiry` more than `maxExpiryHorizon` heights ahead (bounds replay memory)
 *   replay          (payer, nonce) was already committed and its expiry has not passed (the
 *                   pool's memory, then the ledger's nonce records, which survive a restart)
 *   not-a-validator a `shares` or `dkg` body from a key that is not a configured validator
 *   fee-too-low     fee below `minFee` (validators' own bodies may pay 0)
 *   nonce-in-use    another pooled envelope has this (payer, nonce) and a fee >= this one's
 *                   (a strictly higher fee replaces it: replace-by-fee)
 *   cannot-pay      the payer's fee balance (as of the last executed height) does not cover this
 *                   fee plus the fees of its other pooled envelopes and of its envelopes committed
 *                   but not yet executed
 *   sender-limit    the payer already has `perSenderLimit` envelopes pooled
 *   pool-full       the pool is full and this envelope does not beat the lowest-priority ones
 *                   (if it does, they are evicted)
 *   unknown-epoch   an encrypted body under an epoch whose key the pool does not know
 *   bad-signature   the payer's signature over `envelopeSigningBytes` does not verify
 *   invalid-body    an encrypted body whose ciphertext does not decode, is not a valid TDH2
 *                   ciphertext, or whose label is not (instance, epoch, payer)
 *
 * Replay protection: after a block commits, every (payer, nonce) it carried is remembered with the
 * envelope's expiry height, and admission rejects that pair (`replay`) until the committed height
 * reaches the expiry; from then on every copy of the committed envelope is `expired`, so the memory
 * can be dropped. Memory is bounded by the block space of `maxExpiryHorizon` heights. A committed
 * envelope the pool never saw is remembered only if its signature verifies, so a proposer cannot
 * block someone's nonce with a forged envelope.
 *
 * Payable fees only: with a ledger view, an envelope is admitted only if its payer can pay, and
 * after each commit the pool drops (`unpayable`) the lowest-priority envelopes of any payer whose
 * balance no longer covers them; so the order below ranks fees that will be paid.
 *
 * Priority (the proposer's order): validators' own bodies (shares, dkg) first, then fee
 * descending, then (payer bytes, nonce) ascending. Nothing derived from the body or the hash enters
 * the order, so the order is blind to what an encrypted transaction says (issue 5, "ordering
 * blindness"): two pools holding envelopes that differ only in ciphertext bytes of equal length
 * propose the same sequence of (payer, nonce).
 */
import { Ciphertext, verifyCiphertextCached } from '../../crypto/tdh2.ts';
import { sha256, toHex } from '../../wire/commit.ts';
import { envelopeSigningBytes, labelBytes, SignedEnvelope } from '../../wire/envelope.ts';
import type { FeeLedgerView } from '../../wire/fees.ts';
import { MAX_TX_BYTES } from '../../wire/ledger.ts';
import { tryDecode } from '../../wire/schema.ts';
import type { Verifier } from '../../wire/sign.ts';
import { bytesEqual } from '../../wire/types.ts';
import {
  emptyMap,
  emptySeq,
  type HashMap,
  mapDelete,
  mapForEach,
  mapGet,
  mapHas,
  mapSet,
  type Seq,
  seqInsert,
  seqRemove,
  seqReversed,
  seqToArray,
  seqValues,
} from './persistent.ts';

export const REJECT_REASONS = [
  'oversize',
  'undecodable',
  'wrong-instance',
  'bad-signature',
  'fee-too-low',
  'expired',
  'expiry-too-far',
  'duplicate',
  'replay',
  'nonce-in-use',
  'sender-limit',
  'pool-full',
  'invalid-body',
  'unknown-epoch',
  'not-a-validator',
  'cannot-pay',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

/** Why an envelope left the pool other than by being rejected. */
export type RemovalReason =
  | 'included'
  | 'replaced'
  | 'evicted'
  | 'replay'
  | 'expired'
  | 'epoch-retired'
  | 'unpayable';

export interface PoolLimits {
  /** envelopes in the pool */
  readonly maxCount: number;
  /** total encoded bytes in the pool */
  readonly maxBytes: number;
  /** one encoded SignedEnvelope */
  readonly maxEnvelopeBytes: number;
  /** the lowest fee accepted (validators' shares and dkg bodies are exempt) */
  readonly minFee: bigint;
  /** envelopes one payer may have pooled */
  readonly perSenderLimit: number;
  /** how far beyond the committed height an envelope's expiry may lie */
  readonly maxExpiryHorizon: bigint;
  /** epoch keys remembered; the oldest is forgotten (with its envelopes) beyond this */
  readonly maxEpochs: number;
}

export const DEFAULT_POOL_LIMITS: PoolLimits = Object.freeze({
  maxCount: 10_000,
  maxBytes: 64 * 1024 * 1024,
  maxEnvelopeBytes: MAX_TX_BYTES,
  minFee: 1n,
  perSenderLimit: 64,
  maxExpiryHorizon: 100_000n,
  maxEpochs: 4,
});

export interface PoolConfig {
  /** the fractal instance (chain id) envelopes must name */
  readonly instance: string;
  /** keys allowed to submit `shares` and `dkg` bodies */
  readonly validators: readonly Uint8Array[];
  readonly limits?: Partial<PoolLimits>;
  /** the last committed height when the pool starts (0 at genesis) */
  readonly height?: bigint;
}

/** What the pool's functions read from outside: never part of its state. */
export interface PoolEnv {
  readonly verify: Verifier;
  /**
   * The executor's fee accounts and nonce records (wire/fees.ts): admission checks that payers can
   * pay and that nonces are unused on the ledger, not only in the pool's memory. Without one the
   * pool checks only its memory (tests of gossip and order that model no ledger).
   */
  readonly ledger?: FeeLedgerView | undefined;
}

/** A pooled envelope. Entries are never mutated. */
export interface PoolEntry {
  /** hex of sha256(bytes), which equals `envelopeHash(signed)` (the codec is canonical) */
  readonly hash: string;
  readonly hashBytes: Uint8Array;
  /** the encoded SignedEnvelope, as it goes into blocks */
  readonly bytes: Uint8Array;
  readonly signed: SignedEnvelope;
  /** hex of the payer key */
  readonly payer: string;
  readonly nonce: bigint;
  readonly fee: bigint;
  readonly expiry: bigint;
  /** 0 for validators' own bodies (shares, dkg), 1 for transactions */
  readonly rank: 0 | 1;
  /** the key epoch of an encrypted body */
  readonly epoch: bigint | null;
}

export interface Removal {
  readonly hash: string;
  readonly reason: RemovalReason;
}

export type Admission =
  | { readonly ok: true; readonly entry: PoolEntry; readonly removed: readonly Removal[] }
  | {
      readonly ok: false;
      readonly reason: RejectReason;
      /** the envelope hash, when the bytes were within the size limit */
      readonly hash: Uint8Array | null;
      readonly detail: string;
    };

/** Priority order: negative when `a` goes before `b`. Never looks at bodies or hashes. */
export function comparePriority(a: PoolEntry, b: PoolEntry): number {
  if (a.rank !== b.rank) return a.rank - b.rank;
  if (a.fee !== b.fee) return a.fee > b.fee ? -1 : 1;
  // equal-length lower-case hex compares like the bytes it encodes
  if (a.payer !== b.payer) return a.payer < b.payer ? -1 : 1;
  if (a.nonce !== b.nonce) return a.nonce < b.nonce ? -1 : 1;
  return 0;
}

/** Whether `a` may evict `b` from a full pool: a better rank, or the same rank and a strictly higher fee. */
function beats(a: { rank: 0 | 1; fee: bigint }, b: PoolEntry): boolean {
  return a.rank < b.rank || (a.rank === b.rank && a.fee > b.fee);
}

const nonceKey = (payer: string, nonce: bigint): string => `${payer}:${nonce}`;

function resolveLimits(partial: Partial<PoolLimits> | undefined): PoolLimits {
  const l = { ...DEFAULT_POOL_LIMITS, ...partial };
  const positive = (n: number, what: string) => {
    if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`pool ${what} must be a positive integer`);
  };
  positive(l.maxCount, 'maxCount');
  positive(l.maxBytes, 'maxBytes');
  positive(l.maxEnvelopeBytes, 'maxEnvelopeBytes');
  positive(l.perSenderLimit, 'perSenderLimit');
  positive(l.maxEpochs, 'maxEpochs');
  if (l.maxEnvelopeBytes > l.maxBytes) throw new RangeError('pool maxEnvelopeBytes exceeds maxBytes');
  if (l.minFee < 0n || l.maxExpiryHorizon < 1n) throw new RangeError('pool minFee / maxExpiryHorizon');
  return Object.freeze(l);
}

/** The pool's fixed settings. */
export interface PoolSettings {
  readonly instance: string;
  readonly limits: PoolLimits;
  /** hex keys allowed to submit `shares` and `dkg` bodies */
  readonly validators: readonly string[];
}

/** A payer's pooled envelopes: how many, the fees they pay together, and the entries. */
export interface SenderTotals {
  readonly count: number;
  readonly fees: bigint;
  /** its pooled entries (at most `perSenderLimit`), in the order they were pooled */
  readonly pooled: readonly PoolEntry[];
}

export interface EpochKeyEntry {
  readonly epoch: bigint;
  readonly publicKey: Uint8Array;
}

/** Fees payers owe for a committed block not executed yet. */
export interface InflightFees {
  readonly height: bigint;
  /** payer (hex) -> the fees its envelopes in that block pay */
  readonly owed: HashMap<bigint>;
}

/** The pool: an immutable value. */
export interface PoolState {
  readonly settings: PoolSettings;
  readonly byHash: HashMap<PoolEntry>;
  /** payer (hex) -> its pooled envelopes (so by (payer, nonce) too) */
  readonly senders: HashMap<SenderTotals>;
  /** every entry, in priority order */
  readonly order: Seq<PoolEntry>;
  /** total encoded bytes pooled */
  readonly bytes: number;
  /** committed `payer:nonce` -> expiry height (replay protection) */
  readonly committed: HashMap<bigint>;
  /** known epoch keys, ascending */
  readonly epochs: readonly EpochKeyEntry[];
  readonly inflight: readonly InflightFees[];
  /** the last committed height seen */
  readonly height: bigint;
  /** counts changes to the contents (a caller tells from it when the batch may have changed) */
  readonly version: number;
}

/** What an admission check decided: the entry to pool, or why not. */
export type Check =
  | {
      readonly ok: true;
      readonly entry: PoolEntry;
      /** the pooled envelope of the same (payer, nonce) it replaces (replace-by-fee) */
      readonly replaces: PoolEntry | undefined;
      /** the lowest-priority envelopes it evicts from a full pool */
      readonly evicts: readonly PoolEntry[];
      /** the fees owed for committed blocks, less those executed by now (as the check read) */
      readonly inflight: readonly InflightFees[];
    }
  | Rejection;

export type Rejection = Extract<Admission, { ok: false }>;

export function createPool(config: PoolConfig): PoolState {
  return {
    settings: {
      instance: config.instance,
      limits: resolveLimits(config.limits),
      validators: [...new Set(config.validators.map(toHex))],
    },
    byHash: emptyMap(),
    senders: emptyMap(),
    order: emptySeq(),
    bytes: 0,
    committed: emptyMap(),
    epochs: [],
    inflight: [],
    height: config.height ?? 0n,
    version: 0,
  };
}

// --- queries ------------------------------------------------------------------------------------

/** Envelopes pooled. */
export const poolSize = (p: PoolState): number => p.order.size;

/** At capacity: a new envelope (of the largest admissible size) may have to evict others. */
export function isFull(p: PoolState): boolean {
  const L = p.settings.limits;
  return p.order.size >= L.maxCount || p.bytes + L.maxEnvelopeBytes > L.maxBytes;
}

/** Committed (payer, nonce) pairs remembered for replay protection. */
export const replayMemory = (p: PoolState): number => p.committed.size;

export const has = (p: PoolState, hash: string): boolean => mapHas(p.byHash, hash);

export const get = (p: PoolState, hash: string): PoolEntry | undefined => mapGet(p.byHash, hash);

/** Every pooled entry in priority order. */
export const entries = (p: PoolState): PoolEntry[] => seqToArray(p.order);

export const knowsEpoch = (p: PoolState, epoch: bigint): boolean => epochKeyOf(p, epoch) !== undefined;

const epochKeyOf = (p: PoolState, epoch: bigint): Uint8Array | undefined =>
  p.epochs.find((e) => e.epoch === epoch)?.publicKey;

/** Epochs whose keys the pool knows, ascending. */
export const knownEpochs = (p: PoolState): bigint[] => p.epochs.map((e) => e.epoch);

export const isValidator = (p: PoolState, publicKey: Uint8Array): boolean =>
  p.settings.validators.includes(toHex(publicKey));

/**
 * The proposer's batch: encoded envelopes in priority order, at most `maxCount` of them and
 * `maxBytes` in total (an envelope that does not fit is skipped; smaller ones after it may go in).
 */
export function batch(p: PoolState, maxCount: number, maxBytes: number): Uint8Array[] {
  return batchEntries(p, maxCount, maxBytes).map((e) => e.bytes);
}

/** The entries of `batch(p, maxCount, maxBytes)`. */
export function batchEntries(p: PoolState, maxCount: number, maxBytes: number): PoolEntry[] {
  const out: PoolEntry[] = [];
  let total = 0;
  if (maxCount <= 0) return out;
  for (const chunk of p.order.chunks) {
    for (const entry of chunk) {
      if (total + entry.bytes.length > maxBytes) continue;
      out.push(entry);
      total += entry.bytes.length;
      if (out.length >= maxCount) return out;
    }
  }
  return out;
}

// --- admission ----------------------------------------------------------------------------------

/** Every admission check, cheapest first: what admitting `bytes` would do, or why it is refused. */
export function checkAdmission(p: PoolState, bytes: Uint8Array, env: PoolEnv): Check {
  const { limits: L, instance } = p.settings;
  if (bytes.length > L.maxEnvelopeBytes) {
    return reject('oversize', null, `${bytes.length} bytes, limit ${L.maxEnvelopeBytes}`);
  }
  const hashBytes = sha256(bytes);
  const hash = toHex(hashBytes);
  if (mapHas(p.byHash, hash)) return reject('duplicate', hashBytes, 'already pooled');
  const decoded = tryDecode(SignedEnvelope, bytes);
  if (!decoded.ok) return reject('undecodable', hashBytes, decoded.error.message);
  const signed = decoded.value;
  const e = signed.envelope;
  if (e.instance !== instance) {
    return reject('wrong-instance', hashBytes, `for ${JSON.stringify(e.instance)}`);
  }
  if (e.expiry <= p.height) {
    return reject('expired', hashBytes, `expiry ${e.expiry}, committed height ${p.height}`);
  }
  if (e.expiry > p.height + L.maxExpiryHorizon) {
    return reject('expiry-too-far', hashBytes, `expiry ${e.expiry} beyond ${p.height + L.maxExpiryHorizon}`);
  }
  const payer = toHex(e.payer);
  const nk = nonceKey(payer, e.nonce);
  const until = mapGet(p.committed, nk) ?? env.ledger?.nonceUsedUntil(e.payer, e.nonce);
  if (until !== undefined && until > p.height)
    return reject('replay', hashBytes, `nonce ${e.nonce} committed (until ${until})`);
  const tag = e.body.tag;
  const rank: 0 | 1 = tag === 'shares' || tag === 'dkg' ? 0 : 1;
  if (rank === 0 && !p.settings.validators.includes(payer)) {
    return reject('not-a-validator', hashBytes, `${tag} body from a non-validator`);
  }
  if (rank === 1 && e.fee < L.minFee) return reject('fee-too-low', hashBytes, `fee ${e.fee} < ${L.minFee}`);
  const sender = mapGet(p.senders, payer);
  const existing = sender?.pooled.find((x) => x.nonce === e.nonce);
  if (existing !== undefined && e.fee <= existing.fee) {
    return reject('nonce-in-use', hashBytes, `pooled with fee ${existing.fee}; replacing needs more`);
  }
  if (existing === undefined && (sender?.count ?? 0) >= L.perSenderLimit) {
    return reject('sender-limit', hashBytes, `${L.perSenderLimit} envelopes pooled`);
  }
  let inflight = p.inflight;
  if (env.ledger !== undefined && e.fee > 0n) {
    // fees of committed blocks not executed yet are owed (the executed ones are forgotten)
    if (inflight.length > 0) {
      const executed = env.ledger.executedHeight();
      inflight = inflight.filter((f) => f.height > executed);
      if (inflight.length === p.inflight.length) inflight = p.inflight;
    }
    let owedInflight = 0n;
    for (const f of inflight) owedInflight += mapGet(f.owed, payer) ?? 0n;
    const owed = (sender?.fees ?? 0n) - (existing?.fee ?? 0n) + owedInflight;
    const balance = env.ledger.feeBalance(e.payer);
    if (balance < owed + e.fee) {
      return reject('cannot-pay', hashBytes, `fee ${e.fee}, balance ${balance}, already owed ${owed}`);
    }
  }
  const evicts = victims(p, { rank, fee: e.fee }, bytes.length, existing);
  if (evicts === null) return reject('pool-full', hashBytes, 'the lowest-priority envelopes pay as much');
  const epoch = e.body.tag === 'encrypted' ? e.body.value.epoch : null;
  if (epoch !== null && !knowsEpoch(p, epoch)) {
    return reject('unknown-epoch', hashBytes, `no key for epoch ${epoch}`);
  }
  if (!env.verify(e.payer, envelopeSigningBytes(e), signed.signature)) {
    return reject('bad-signature', hashBytes, 'payer signature does not verify');
  }
  if (e.body.tag === 'encrypted') {
    const problem = ciphertextProblem(instance, e.body.value.ciphertext, e.body.value.epoch, e.payer);
    if (problem !== null) return reject('invalid-body', hashBytes, problem);
  }
  const entry: PoolEntry = {
    hash,
    hashBytes,
    bytes,
    signed,
    payer,
    nonce: e.nonce,
    fee: e.fee,
    expiry: e.expiry,
    rank,
    epoch,
  };
  return { ok: true, entry, replaces: existing, evicts, inflight };
}

/** Pools an envelope that passed every check (replacing and evicting what the check said). */
export function applyAdmission(
  p: PoolState,
  check: Extract<Check, { ok: true }>,
): { pool: PoolState; removed: Removal[] } {
  const removed: Removal[] = [];
  let next = check.inflight === p.inflight ? p : { ...p, inflight: check.inflight };
  if (check.replaces !== undefined) {
    next = removeEntry(next, check.replaces);
    removed.push({ hash: check.replaces.hash, reason: 'replaced' });
  }
  for (const v of check.evicts) {
    next = removeEntry(next, v);
    removed.push({ hash: v.hash, reason: 'evicted' });
  }
  return { pool: insertEntry(next, check.entry), removed };
}

/** Checks an encoded SignedEnvelope and pools it when every check passes. */
export function admit(
  p: PoolState,
  bytes: Uint8Array,
  env: PoolEnv,
): { pool: PoolState; admission: Admission } {
  const check = checkAdmission(p, bytes, env);
  if (!check.ok) return { pool: p, admission: check };
  const { pool, removed } = applyAdmission(p, check);
  return { pool, admission: { ok: true, entry: check.entry, removed } };
}

// --- after a commit, epochs ---------------------------------------------------------------------

/**
 * Block `height` committed with these envelopes: remove the included ones, remember their
 * (payer, nonce) until expiry, forget expired memory, and recheck the rest (an envelope whose
 * nonce is now committed, that has expired, or whose payer can no longer pay leaves the pool).
 * Heights at or below the last one seen still remove and remember their envelopes (a
 * re-announced block changes nothing else). `takeCommitted` then `recheck`.
 */
export function onCommitted(
  p: PoolState,
  height: bigint,
  txs: readonly Uint8Array[],
  env: PoolEnv,
): { pool: PoolState; removed: Removal[] } {
  const taken = takeCommitted(p, height, txs, env);
  const rechecked = recheck(taken.pool, env);
  return { pool: rechecked.pool, removed: [...taken.removed, ...rechecked.removed] };
}

/**
 * A committed block's envelopes leave the pool (`included`), and so do pooled envelopes whose
 * (payer, nonce) one of them used (`replay`); their nonces are remembered until their expiry
 * (a foreign envelope's only if its signature verifies), and their fees owed until the block
 * executes.
 */
export function takeCommitted(
  p: PoolState,
  height: bigint,
  txs: readonly Uint8Array[],
  env: PoolEnv,
): { pool: PoolState; removed: Removal[] } {
  let next: PoolState = height > p.height ? { ...p, height } : p;
  const removed: Removal[] = [];
  let owed = emptyMap<bigint>();
  const owe = (payer: string, fee: bigint) => {
    owed = mapSet(owed, payer, (mapGet(owed, payer) ?? 0n) + fee);
  };
  for (const bytes of txs) {
    const hash = toHex(sha256(bytes));
    const pooled = mapGet(next.byHash, hash);
    if (pooled !== undefined) {
      next = remember(next, pooled.payer, pooled.nonce, pooled.expiry);
      owe(pooled.payer, pooled.fee);
      next = removeEntry(next, pooled);
      removed.push({ hash, reason: 'included' });
      continue;
    }
    // not ours: remember its nonce only if the payer really signed it
    const d = tryDecode(SignedEnvelope, bytes);
    if (!d.ok || d.value.envelope.instance !== p.settings.instance) continue;
    const e = d.value.envelope;
    if (!env.verify(e.payer, envelopeSigningBytes(e), d.value.signature)) continue;
    const payer = toHex(e.payer);
    next = remember(next, payer, e.nonce, e.expiry);
    owe(payer, e.fee);
    const same = mapGet(next.senders, payer)?.pooled.find((x) => x.nonce === e.nonce);
    if (same !== undefined) {
      next = removeEntry(next, same);
      removed.push({ hash: same.hash, reason: 'replay' });
    }
  }
  if (env.ledger !== undefined && owed.size > 0 && !next.inflight.some((f) => f.height === height)) {
    next = { ...next, inflight: [...next.inflight, { height, owed }] };
  }
  return { pool: next, removed };
}

/**
 * The recheck after a commit: replay memory past its expiry is forgotten, expired envelopes
 * leave (`expired`), and so do the lowest-priority envelopes of payers whose balance no longer
 * covers them (`unpayable`).
 */
export function recheck(p: PoolState, env: PoolEnv): { pool: PoolState; removed: Removal[] } {
  let next = p;
  const removed: Removal[] = [];
  let committed = p.committed;
  mapForEach(p.committed, (k, expiry) => {
    if (expiry <= p.height) committed = mapDelete(committed, k);
  });
  if (committed !== p.committed) next = { ...next, committed };
  for (const entry of seqValues(p.order)) {
    if (entry.expiry <= p.height) {
      next = removeEntry(next, entry);
      removed.push({ hash: entry.hash, reason: 'expired' });
    }
  }
  const { out, read } = unpayable(next, env);
  for (const entry of out) {
    next = removeEntry(next, entry);
    removed.push({ hash: entry.hash, reason: 'unpayable' });
  }
  // the ledger was read (its executed height): forget the fees of blocks executed since
  if (read) next = pruneInflight(next, env);
  return { pool: next, removed };
}

/**
 * Learns an epoch's encryption key. Beyond `maxEpochs` the oldest epochs are forgotten, and the
 * envelopes encrypted under them leave the pool.
 */
export function addEpochKey(
  p: PoolState,
  epoch: bigint,
  publicKey: Uint8Array,
): { pool: PoolState; removed: Removal[] } {
  const key = { epoch, publicKey: publicKey.slice() };
  const known = p.epochs.filter((e) => e.epoch !== epoch);
  known.push(key);
  known.sort((a, b) => (a.epoch < b.epoch ? -1 : a.epoch > b.epoch ? 1 : 0));
  const max = p.settings.limits.maxEpochs;
  if (known.length <= max) return { pool: { ...p, epochs: known }, removed: [] };
  const retired = new Set(known.slice(0, known.length - max).map((e) => e.epoch));
  let next: PoolState = { ...p, epochs: known.slice(known.length - max) };
  const removed: Removal[] = [];
  for (const entry of seqValues(p.order)) {
    if (entry.epoch !== null && retired.has(entry.epoch)) {
      next = removeEntry(next, entry);
      removed.push({ hash: entry.hash, reason: 'epoch-retired' });
    }
  }
  return { pool: next, removed };
}

// --- internals ----------------------------------------------------------------------------------

/** Fees `payer` (hex) owes for envelopes committed at heights not executed yet. */
function inflightFees(p: PoolState, payer: string, env: PoolEnv): bigint {
  if (env.ledger === undefined || p.inflight.length === 0) return 0n;
  const executed = env.ledger.executedHeight();
  let sum = 0n;
  for (const f of p.inflight) if (f.height > executed) sum += mapGet(f.owed, payer) ?? 0n;
  return sum;
}

/**
 * Pooled envelopes whose payer's balance no longer covers them (its balance fell, or its other
 * envelopes were committed): in priority order, each payer's envelopes are kept while its balance
 * covers them and the rest go.
 */
function unpayable(p: PoolState, env: PoolEnv): { out: PoolEntry[]; read: boolean } {
  const ledger = env.ledger;
  const out: PoolEntry[] = [];
  if (ledger === undefined || p.order.size === 0) return { out, read: false };
  const left = new Map<string, bigint>();
  let read = false;
  for (const entry of seqValues(p.order)) {
    if (entry.fee === 0n) continue;
    let budget = left.get(entry.payer);
    if (budget === undefined) {
      budget = ledger.feeBalance(entry.signed.envelope.payer) - inflightFees(p, entry.payer, env);
      read ||= p.inflight.length > 0;
    }
    if (budget >= entry.fee) left.set(entry.payer, budget - entry.fee);
    else {
      left.set(entry.payer, budget);
      out.push(entry);
    }
  }
  return { out, read };
}

/**
 * Without the fees of blocks executed by now. Called only where the ledger's executed height was
 * just read for a check, so that the pool reads the ledger no more often than its checks need.
 */
function pruneInflight(p: PoolState, env: PoolEnv): PoolState {
  if (env.ledger === undefined || p.inflight.length === 0) return p;
  const executed = env.ledger.executedHeight();
  const inflight = p.inflight.filter((f) => f.height > executed);
  return inflight.length === p.inflight.length ? p : { ...p, inflight };
}

function ciphertextProblem(
  instance: string,
  bytes: Uint8Array,
  epoch: bigint,
  payer: Uint8Array,
): string | null {
  const ct = tryDecode(Ciphertext, bytes);
  if (!ct.ok) return `ciphertext does not decode: ${ct.error.message}`;
  // validity first: nothing else about the ciphertext is trusted before it holds
  if (!verifyCiphertextCached(ct.value)) return 'ciphertext is not valid';
  if (!bytesEqual(ct.value.label, labelBytes({ instance, epoch, payer }))) {
    return 'ciphertext label is not (instance, epoch, payer)';
  }
  return null;
}

/**
 * The entries to evict so that an envelope of `size` bytes fits (replacing `replacing`, which
 * leaves anyway), or null when the pool is full and it does not beat them.
 */
function victims(
  p: PoolState,
  incoming: { rank: 0 | 1; fee: bigint },
  size: number,
  replacing: PoolEntry | undefined,
): PoolEntry[] | null {
  const L = p.settings.limits;
  let freeCount = L.maxCount - p.order.size + (replacing === undefined ? 0 : 1);
  let freeBytes = L.maxBytes - p.bytes + (replacing === undefined ? 0 : replacing.bytes.length);
  const out: PoolEntry[] = [];
  if (freeCount >= 1 && freeBytes >= size) return out;
  for (const victim of seqReversed(p.order)) {
    if (victim === replacing) continue;
    if (!beats(incoming, victim)) return null;
    out.push(victim);
    freeCount++;
    freeBytes += victim.bytes.length;
    if (freeCount >= 1 && freeBytes >= size) return out;
  }
  return null;
}

function remember(p: PoolState, payer: string, nonce: bigint, expiry: bigint): PoolState {
  const k = nonceKey(payer, nonce);
  const prev = mapGet(p.committed, k);
  if (prev !== undefined && expiry <= prev) return p;
  return { ...p, committed: mapSet(p.committed, k, expiry) };
}

function insertEntry(p: PoolState, entry: PoolEntry): PoolState {
  const sender = mapGet(p.senders, entry.payer);
  // an explicit literal of every field (not a spread): one object shape for every pool state
  return {
    settings: p.settings,
    byHash: mapSet(p.byHash, entry.hash, entry),
    senders: mapSet(p.senders, entry.payer, {
      count: (sender?.count ?? 0) + 1,
      fees: (sender?.fees ?? 0n) + entry.fee,
      pooled: sender === undefined ? [entry] : [...sender.pooled, entry],
    }),
    order: seqInsert(p.order, entry, comparePriority),
    bytes: p.bytes + entry.bytes.length,
    committed: p.committed,
    epochs: p.epochs,
    inflight: p.inflight,
    height: p.height,
    version: p.version + 1,
  };
}

function removeEntry(p: PoolState, entry: PoolEntry): PoolState {
  const sender = mapGet(p.senders, entry.payer);
  const count = (sender?.count ?? 1) - 1;
  return {
    settings: p.settings,
    byHash: mapDelete(p.byHash, entry.hash),
    senders:
      count === 0
        ? mapDelete(p.senders, entry.payer)
        : mapSet(p.senders, entry.payer, {
            count,
            fees: (sender?.fees ?? 0n) - entry.fee,
            pooled: sender!.pooled.filter((x) => x !== entry),
          }),
    order: seqRemove(p.order, entry, comparePriority),
    bytes: p.bytes - entry.bytes.length,
    committed: p.committed,
    epochs: p.epochs,
    inflight: p.inflight,
    height: p.height,
    version: p.version + 1,
  };
}

function reject(reason: RejectReason, hash: Uint8Array | null, detail: string): Rejection {
  return { ok: false, reason, hash, detail };
}

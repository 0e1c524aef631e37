/**
 * The transaction pool: admission, priority order, the proposer's batch, and cleanup after commit.
 * Pure logic (no clock, no randomness, no I/O); signatures are checked with the `Verifier` it is
 * given. One `Pool` is owned by one mempool engine, which is the only caller of its methods.
 * Every mutating method decides everything first and then applies changes that cannot fail, so
 * the pool is never left half-updated.
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
  /**
   * The executor's fee accounts and nonce records (wire/fees.ts): admission checks that payers can
   * pay and that nonces are unused on the ledger, not only in the pool's memory. Without one the
   * pool checks only its memory (tests of gossip and order that model no ledger).
   */
  readonly ledger?: FeeLedgerView;
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

export class Pool {
  readonly limits: PoolLimits;
  readonly instance: string;
  private readonly validators: ReadonlySet<string>;
  private readonly byHash = new Map<string, PoolEntry>();
  private readonly byNonce = new Map<string, PoolEntry>();
  private readonly perSender = new Map<string, number>();
  /** every entry, in priority order */
  private readonly order: PoolEntry[] = [];
  private totalBytes = 0;
  /** committed `payer:nonce` -> expiry height (replay protection) */
  private readonly committed = new Map<string, bigint>();
  /** epoch -> public key */
  private readonly epochs = new Map<bigint, Uint8Array>();
  /** payer (hex) -> the fees of its pooled envelopes */
  private readonly pooledFees = new Map<string, bigint>();
  /** committed height -> payer (hex) -> fees its envelopes in that block pay when it executes */
  private readonly inflight = new Map<bigint, Map<string, bigint>>();
  private readonly ledger: FeeLedgerView | undefined;
  private lastHeight: bigint;
  private changes = 0;

  constructor(
    config: PoolConfig,
    private readonly verify: Verifier,
  ) {
    this.instance = config.instance;
    this.limits = resolveLimits(config.limits);
    this.validators = new Set(config.validators.map(toHex));
    this.lastHeight = config.height ?? 0n;
    this.ledger = config.ledger;
  }

  /** Envelopes pooled. */
  get size(): number {
    return this.order.length;
  }

  /** Total encoded bytes pooled. */
  get bytes(): number {
    return this.totalBytes;
  }

  /** The last committed height the pool has seen. */
  get height(): bigint {
    return this.lastHeight;
  }

  /** Counts changes to the pool's contents (so a caller can tell when the batch may have changed). */
  get version(): number {
    return this.changes;
  }

  /** At capacity: a new envelope (of the largest admissible size) may have to evict others. */
  get full(): boolean {
    const L = this.limits;
    return this.order.length >= L.maxCount || this.totalBytes + L.maxEnvelopeBytes > L.maxBytes;
  }

  /** Committed (payer, nonce) pairs remembered for replay protection. */
  get replayMemory(): number {
    return this.committed.size;
  }

  has(hash: string): boolean {
    return this.byHash.has(hash);
  }

  get(hash: string): PoolEntry | undefined {
    return this.byHash.get(hash);
  }

  /** Every pooled entry in priority order. */
  entries(): readonly PoolEntry[] {
    return this.order.slice();
  }

  knowsEpoch(epoch: bigint): boolean {
    return this.epochs.has(epoch);
  }

  isValidator(publicKey: Uint8Array): boolean {
    return this.validators.has(toHex(publicKey));
  }

  /** Checks an encoded SignedEnvelope and pools it when every check passes. */
  admit(bytes: Uint8Array): Admission {
    const L = this.limits;
    if (bytes.length > L.maxEnvelopeBytes) {
      return reject('oversize', null, `${bytes.length} bytes, limit ${L.maxEnvelopeBytes}`);
    }
    const hashBytes = sha256(bytes);
    const hash = toHex(hashBytes);
    if (this.byHash.has(hash)) return reject('duplicate', hashBytes, 'already pooled');
    const decoded = tryDecode(SignedEnvelope, bytes);
    if (!decoded.ok) return reject('undecodable', hashBytes, decoded.error.message);
    const signed = decoded.value;
    const e = signed.envelope;
    if (e.instance !== this.instance) {
      return reject('wrong-instance', hashBytes, `for ${JSON.stringify(e.instance)}`);
    }
    if (e.expiry <= this.lastHeight) {
      return reject('expired', hashBytes, `expiry ${e.expiry}, committed height ${this.lastHeight}`);
    }
    if (e.expiry > this.lastHeight + L.maxExpiryHorizon) {
      return reject(
        'expiry-too-far',
        hashBytes,
        `expiry ${e.expiry} beyond ${this.lastHeight + L.maxExpiryHorizon}`,
      );
    }
    const payer = toHex(e.payer);
    const nk = nonceKey(payer, e.nonce);
    const until = this.committed.get(nk) ?? this.ledger?.nonceUsedUntil(e.payer, e.nonce);
    if (until !== undefined && until > this.lastHeight)
      return reject('replay', hashBytes, `nonce ${e.nonce} committed (until ${until})`);
    const tag = e.body.tag;
    const rank: 0 | 1 = tag === 'shares' || tag === 'dkg' ? 0 : 1;
    if (rank === 0 && !this.validators.has(payer)) {
      return reject('not-a-validator', hashBytes, `${tag} body from a non-validator`);
    }
    if (rank === 1 && e.fee < L.minFee) return reject('fee-too-low', hashBytes, `fee ${e.fee} < ${L.minFee}`);
    const existing = this.byNonce.get(nk);
    if (existing !== undefined && e.fee <= existing.fee) {
      return reject('nonce-in-use', hashBytes, `pooled with fee ${existing.fee}; replacing needs more`);
    }
    if (existing === undefined && (this.perSender.get(payer) ?? 0) >= L.perSenderLimit) {
      return reject('sender-limit', hashBytes, `${L.perSenderLimit} envelopes pooled`);
    }
    if (this.ledger !== undefined && e.fee > 0n) {
      const owed = (this.pooledFees.get(payer) ?? 0n) - (existing?.fee ?? 0n) + this.inflightFees(payer);
      const balance = this.ledger.feeBalance(e.payer);
      if (balance < owed + e.fee) {
        return reject('cannot-pay', hashBytes, `fee ${e.fee}, balance ${balance}, already owed ${owed}`);
      }
    }
    const evict = this.victims({ rank, fee: e.fee }, bytes.length, existing);
    if (evict === null) return reject('pool-full', hashBytes, 'the lowest-priority envelopes pay as much');
    const epoch = e.body.tag === 'encrypted' ? e.body.value.epoch : null;
    if (epoch !== null && !this.epochs.has(epoch)) {
      return reject('unknown-epoch', hashBytes, `no key for epoch ${epoch}`);
    }
    if (!this.verify(e.payer, envelopeSigningBytes(e), signed.signature)) {
      return reject('bad-signature', hashBytes, 'payer signature does not verify');
    }
    if (e.body.tag === 'encrypted') {
      const problem = this.ciphertextProblem(e.body.value.ciphertext, e.body.value.epoch, e.payer);
      if (problem !== null) return reject('invalid-body', hashBytes, problem);
    }
    // every check passed: apply
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
    const removed: Removal[] = [];
    if (existing !== undefined) {
      this.remove(existing);
      removed.push({ hash: existing.hash, reason: 'replaced' });
    }
    for (const v of evict) {
      this.remove(v);
      removed.push({ hash: v.hash, reason: 'evicted' });
    }
    this.insert(entry);
    return { ok: true, entry, removed };
  }

  /**
   * The proposer's batch: encoded envelopes in priority order, at most `maxCount` of them and
   * `maxBytes` in total (an envelope that does not fit is skipped; smaller ones after it may go in).
   */
  batch(maxCount: number, maxBytes: number): Uint8Array[] {
    return this.batchEntries(maxCount, maxBytes).map((e) => e.bytes);
  }

  /** The entries of `batch(maxCount, maxBytes)`. */
  batchEntries(maxCount: number, maxBytes: number): PoolEntry[] {
    const out: PoolEntry[] = [];
    let total = 0;
    for (const entry of this.order) {
      if (out.length >= maxCount) break;
      if (total + entry.bytes.length > maxBytes) continue;
      out.push(entry);
      total += entry.bytes.length;
    }
    return out;
  }

  /**
   * Block `height` committed with these envelopes: remove the included ones, remember their
   * (payer, nonce) until expiry, forget expired memory, and recheck the rest (an envelope whose
   * nonce is now committed or that has expired leaves the pool). Heights at or below the last one
   * seen still remove and remember their envelopes (a re-announced block changes nothing else).
   */
  onCommitted(height: bigint, txs: readonly Uint8Array[]): Removal[] {
    if (height > this.lastHeight) this.lastHeight = height;
    const removed: Removal[] = [];
    const owed = new Map<string, bigint>();
    for (const bytes of txs) {
      const hash = toHex(sha256(bytes));
      const pooled = this.byHash.get(hash);
      if (pooled !== undefined) {
        this.remember(pooled.payer, pooled.nonce, pooled.expiry);
        owed.set(pooled.payer, (owed.get(pooled.payer) ?? 0n) + pooled.fee);
        this.remove(pooled);
        removed.push({ hash, reason: 'included' });
        continue;
      }
      // not ours: remember its nonce only if the payer really signed it
      const d = tryDecode(SignedEnvelope, bytes);
      if (!d.ok || d.value.envelope.instance !== this.instance) continue;
      const e = d.value.envelope;
      if (!this.verify(e.payer, envelopeSigningBytes(e), d.value.signature)) continue;
      const payer = toHex(e.payer);
      this.remember(payer, e.nonce, e.expiry);
      owed.set(payer, (owed.get(payer) ?? 0n) + e.fee);
      const same = this.byNonce.get(nonceKey(payer, e.nonce));
      if (same !== undefined) {
        this.remove(same);
        removed.push({ hash: same.hash, reason: 'replay' });
      }
    }
    if (this.ledger !== undefined && owed.size > 0 && !this.inflight.has(height))
      this.inflight.set(height, owed);
    for (const [k, expiry] of this.committed) if (expiry <= this.lastHeight) this.committed.delete(k);
    for (const entry of this.order.slice()) {
      if (entry.expiry <= this.lastHeight) {
        this.remove(entry);
        removed.push({ hash: entry.hash, reason: 'expired' });
      }
    }
    for (const entry of this.unpayable()) {
      this.remove(entry);
      removed.push({ hash: entry.hash, reason: 'unpayable' });
    }
    return removed;
  }

  /**
   * Learns an epoch's encryption key. Beyond `maxEpochs` the oldest epochs are forgotten, and the
   * envelopes encrypted under them leave the pool.
   */
  addEpochKey(epoch: bigint, publicKey: Uint8Array): Removal[] {
    this.epochs.set(epoch, publicKey.slice());
    if (this.epochs.size <= this.limits.maxEpochs) return [];
    const sorted = [...this.epochs.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const retired = new Set(sorted.slice(0, sorted.length - this.limits.maxEpochs));
    for (const old of retired) this.epochs.delete(old);
    const removed: Removal[] = [];
    for (const entry of this.order.slice()) {
      if (entry.epoch !== null && retired.has(entry.epoch)) {
        this.remove(entry);
        removed.push({ hash: entry.hash, reason: 'epoch-retired' });
      }
    }
    return removed;
  }

  /** Epochs whose keys the pool knows, ascending. */
  knownEpochs(): bigint[] {
    return [...this.epochs.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  // --- internals --------------------------------------------------------------------------------

  /** Fees `payer` (hex) owes for envelopes committed at heights not executed yet. */
  private inflightFees(payer: string): bigint {
    if (this.ledger === undefined || this.inflight.size === 0) return 0n;
    const executed = this.ledger.executedHeight();
    let sum = 0n;
    for (const [height, owed] of this.inflight) {
      if (height <= executed) this.inflight.delete(height);
      else sum += owed.get(payer) ?? 0n;
    }
    return sum;
  }

  /**
   * Pooled envelopes whose payer's balance no longer covers them (its balance fell, or its other
   * envelopes were committed): in priority order, each payer's envelopes are kept while its balance
   * covers them and the rest go.
   */
  private unpayable(): PoolEntry[] {
    if (this.ledger === undefined || this.order.length === 0) return [];
    const left = new Map<string, bigint>();
    const out: PoolEntry[] = [];
    for (const entry of this.order) {
      if (entry.fee === 0n) continue;
      let budget = left.get(entry.payer);
      if (budget === undefined) {
        budget = this.ledger.feeBalance(entry.signed.envelope.payer) - this.inflightFees(entry.payer);
      }
      if (budget >= entry.fee) left.set(entry.payer, budget - entry.fee);
      else {
        left.set(entry.payer, budget);
        out.push(entry);
      }
    }
    return out;
  }

  private ciphertextProblem(bytes: Uint8Array, epoch: bigint, payer: Uint8Array): string | null {
    const ct = tryDecode(Ciphertext, bytes);
    if (!ct.ok) return `ciphertext does not decode: ${ct.error.message}`;
    // validity first: nothing else about the ciphertext is trusted before it holds
    if (!verifyCiphertextCached(ct.value)) return 'ciphertext is not valid';
    if (!bytesEqual(ct.value.label, labelBytes({ instance: this.instance, epoch, payer }))) {
      return 'ciphertext label is not (instance, epoch, payer)';
    }
    return null;
  }

  /**
   * The entries to evict so that an envelope of `size` bytes fits (replacing `replacing`, which
   * leaves anyway), or null when the pool is full and it does not beat them.
   */
  private victims(
    incoming: { rank: 0 | 1; fee: bigint },
    size: number,
    replacing: PoolEntry | undefined,
  ): PoolEntry[] | null {
    const L = this.limits;
    let freeCount = L.maxCount - this.order.length + (replacing === undefined ? 0 : 1);
    let freeBytes = L.maxBytes - this.totalBytes + (replacing === undefined ? 0 : replacing.bytes.length);
    const out: PoolEntry[] = [];
    for (let i = this.order.length - 1; freeCount < 1 || freeBytes < size; i--) {
      if (i < 0) return null;
      const victim = this.order[i]!;
      if (victim === replacing) continue;
      if (!beats(incoming, victim)) return null;
      out.push(victim);
      freeCount++;
      freeBytes += victim.bytes.length;
    }
    return out;
  }

  private remember(payer: string, nonce: bigint, expiry: bigint): void {
    const k = nonceKey(payer, nonce);
    const prev = this.committed.get(k);
    if (prev === undefined || expiry > prev) this.committed.set(k, expiry);
  }

  private position(entry: PoolEntry): number {
    // first index whose entry does not go before `entry`
    let lo = 0;
    let hi = this.order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (comparePriority(this.order[mid]!, entry) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private insert(entry: PoolEntry): void {
    this.order.splice(this.position(entry), 0, entry);
    this.byHash.set(entry.hash, entry);
    this.byNonce.set(nonceKey(entry.payer, entry.nonce), entry);
    this.perSender.set(entry.payer, (this.perSender.get(entry.payer) ?? 0) + 1);
    this.pooledFees.set(entry.payer, (this.pooledFees.get(entry.payer) ?? 0n) + entry.fee);
    this.totalBytes += entry.bytes.length;
    this.changes++;
  }

  private remove(entry: PoolEntry): void {
    const i = this.position(entry);
    if (this.order[i] !== entry) throw new Error(`pool: entry ${entry.hash} is not where its priority says`);
    this.order.splice(i, 1);
    this.byHash.delete(entry.hash);
    this.byNonce.delete(nonceKey(entry.payer, entry.nonce));
    const n = (this.perSender.get(entry.payer) ?? 1) - 1;
    if (n === 0) {
      this.perSender.delete(entry.payer);
      this.pooledFees.delete(entry.payer);
    } else {
      this.perSender.set(entry.payer, n);
      this.pooledFees.set(entry.payer, (this.pooledFees.get(entry.payer) ?? 0n) - entry.fee);
    }
    this.totalBytes -= entry.bytes.length;
    this.changes++;
  }
}

function reject(reason: RejectReason, hash: Uint8Array | null, detail: string): Admission {
  return { ok: false, reason, hash, detail };
}

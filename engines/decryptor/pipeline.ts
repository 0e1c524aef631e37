/**
 * The decryptor's logic, pure: committed blocks in, executable transactions out.
 *
 * For each committed block h, in block order, every envelope is checked the same way at every node
 * (signature, instance, expiry, replay); each that passes is charged its fee (the executor debits
 * the payer when it executes h, `OrderedBlock.charges`) and then:
 *   plain      -> executable at h, in block order;
 *   encrypted  -> its ciphertext is checked (label, epoch, TDH2 validity) and joins the pending batch
 *                 of h, to be decrypted once t validators' shares for h are on chain;
 *   shares     -> a validator's batched shares for an earlier block: verified, then counted;
 *   dkg        -> a deal or complaint of the key epoch's distributed key generation.
 * Pending batches are decrypted first-in first-out, so encrypted transactions execute in their
 * committed order; a batch decrypted at height k runs before k's plain transactions.
 *
 * After block h commits, and only then, a validator makes its own shares for h's valid ciphertexts
 * and submits them as an envelope; so no share ever exists for a transaction that is not committed.
 *
 * Everything here is a function of the committed chain, except what this validator submits (its
 * deal, complaints and shares), which depends on its secret. State values are never mutated.
 */
import {
  applyComplaint,
  applyDeal,
  type DkgParams,
  type DkgTranscript,
  deal,
  dealOf,
  emptyTranscript,
  encryptionKeyPair,
  finalize,
  openShare,
  secretShare,
} from '../../crypto/dkg.ts';
import {
  type BlockShares,
  blockShares,
  Ciphertext,
  combine,
  decryptWithCombined,
  type KeyShare,
  keyShareMatches,
  type ThresholdKey,
  verifyBlockShares,
  verifyCiphertextCached,
} from '../../crypto/tdh2.ts';
import { sha256, toHex } from '../../wire/commit.ts';
import { type Envelope, envelopeSigningBytes, labelBytes, SignedEnvelope } from '../../wire/envelope.ts';
import type { Charge } from '../../wire/fees.ts';
import { blockHash, type CommittedBlock, type OrderedBlock, type OrderedTx } from '../../wire/ledger.ts';
import { encode, tryDecode } from '../../wire/schema.ts';
import type { Signer, Verifier } from '../../wire/sign.ts';
import { bytesEqual } from '../../wire/types.ts';
import { DkgMessage, type EpochKey, SharesMessage } from './messages.ts';

export interface DecryptorValidator {
  /** The key that signs its envelopes (its consensus key). */
  readonly publicKey: Uint8Array;
  /** Its DKG encryption key (ristretto255 point), from `encryptionKeyPair(secret)`. */
  readonly encryptionKey: Uint8Array;
}

export interface DecryptorConfig {
  readonly instance: string;
  /** The DKG participants; validator i (1-based) is `validators[i - 1]`. */
  readonly validators: readonly DecryptorValidator[];
  /** Shares needed to decrypt (t); t - 1 colluding validators learn nothing. */
  readonly threshold: number;
  /** This validator's 32-byte secret (its DKG encryption key and dealing polynomial derive from it). */
  readonly secret?: Uint8Array;
  /** The key epoch whose DKG runs from `dkgStart` (default 0). */
  readonly epoch?: bigint;
  /** First height of the deal window (default 1). */
  readonly dkgStart?: bigint;
  /** Heights in which deals are accepted (default 6). */
  readonly dealWindow?: number;
  /** Heights after the deal window in which complaints are accepted (default 4). */
  readonly complaintWindow?: number;
  /** Re-submit own deal or shares if not on chain after this many heights (default 8). */
  readonly resubmitAfter?: number;
  /** Envelope lifetime in heights for own submissions (default 50). */
  readonly expiryHeights?: number;
}

export interface PendingEntry {
  readonly envelope: Uint8Array;
  readonly ciphertext: Ciphertext | undefined;
  /** why it will be discarded instead of decrypted */
  readonly discard: string | undefined;
}

export interface PendingBatch {
  readonly height: bigint;
  readonly blockHash: Uint8Array;
  readonly entries: readonly PendingEntry[];
  /** the valid ciphertexts, in block order: what shares are made for */
  readonly valid: readonly Ciphertext[];
  /** verified shares by validator index */
  readonly shares: ReadonlyMap<number, readonly Uint8Array[]>;
  /** when this validator last submitted its shares for the batch */
  readonly sentAt: bigint | undefined;
  /**
   * The shares this validator made for the batch, when its key share matches its verification key
   * (so they are valid by construction): the same shares on chain count without a proof check.
   */
  readonly mine?: readonly Uint8Array[] | undefined;
}

export interface DecryptorState {
  /** the last committed height processed */
  readonly height: bigint;
  readonly epoch: bigint;
  readonly transcript: DkgTranscript;
  readonly dealSentAt: bigint | undefined;
  readonly complainedAbout: readonly number[];
  readonly key: ThresholdKey | undefined;
  readonly keyFailure: string | undefined;
  readonly myShare: KeyShare | undefined;
  readonly pending: readonly PendingBatch[];
  /** `payer:nonce` of committed envelopes -> their expiry (replay protection, pruned after expiry) */
  readonly nonces: ReadonlyMap<string, bigint>;
  /** the last ordered block, re-sent when the same height is committed again (app replay) */
  readonly last: OrderedBlock | undefined;
}

/** What processing one block produced. */
export interface Output {
  ordered: OrderedBlock | undefined;
  /** signed envelopes this validator submits to the mempool */
  submit: Uint8Array[];
  epochKey: EpochKey | undefined;
}

export interface Env {
  readonly signer: Signer | undefined;
  readonly verify: Verifier;
}

export const DEFAULTS = {
  epoch: 0n,
  dkgStart: 1n,
  dealWindow: 6,
  complaintWindow: 4,
  resubmitAfter: 8,
  expiryHeights: 50,
};

const NONCE_SHARES = 1n << 62n;
const NONCE_DKG = 1n << 61n;

export function dkgParams(cfg: DecryptorConfig): DkgParams {
  return {
    instance: cfg.instance,
    epoch: cfg.epoch ?? DEFAULTS.epoch,
    n: cfg.validators.length,
    t: cfg.threshold,
    encryptionKeys: cfg.validators.map((v) => v.encryptionKey),
  };
}

export function initialState(cfg: DecryptorConfig): DecryptorState {
  if (cfg.threshold < 1 || cfg.threshold > cfg.validators.length) {
    throw new RangeError(`threshold ${cfg.threshold} must be in 1..${cfg.validators.length}`);
  }
  return {
    height: 0n,
    epoch: cfg.epoch ?? DEFAULTS.epoch,
    transcript: emptyTranscript(dkgParams(cfg)),
    dealSentAt: undefined,
    complainedAbout: [],
    key: undefined,
    keyFailure: undefined,
    myShare: undefined,
    pending: [],
    nonces: new Map(),
    last: undefined,
  };
}

/** This node's validator index (1-based) in the DKG set, if it is one. */
export function myIndex(cfg: DecryptorConfig, env: Env): number | undefined {
  if (env.signer === undefined || cfg.secret === undefined) return undefined;
  return senderIndex(cfg, env.signer.publicKey);
}

function senderIndex(cfg: DecryptorConfig, payer: Uint8Array): number | undefined {
  const i = cfg.validators.findIndex((v) => bytesEqual(v.publicKey, payer));
  return i < 0 ? undefined : i + 1;
}

const nonceKey = (payer: Uint8Array, nonce: bigint): string => `${toHex(payer)}:${nonce}`;

function discarded(envelope: Uint8Array, height: bigint, encrypted: boolean, reason: string): OrderedTx {
  return { envelope, includedAt: height, encrypted, tx: { tag: 'discarded', value: reason } };
}

/**
 * One committed block on its way through the decryptor: the state it arrived at and what the
 * block's steps built so far. The steps below are the protocol's; the engine's machine takes them
 * in the order its phase prescribes, and `onCommitted` takes all of them in that same order.
 * Every step returns a new value; none writes one it was given.
 */
export interface BlockWork {
  readonly block: CommittedBlock;
  readonly height: bigint;
  readonly hash: Uint8Array;
  /** this validator's DKG index, if it is one with a secret */
  readonly me: number | undefined;
  readonly transcript: DkgTranscript;
  /** dealers whose first valid deal is in this block */
  readonly newDeals: readonly number[];
  readonly nonces: ReadonlyMap<string, bigint>;
  readonly pending: readonly PendingBatch[];
  /** this block's shares envelopes, by the height of the batch they are for, not yet verified */
  readonly candidates: ReadonlyMap<bigint, readonly ShareCandidate[]>;
  readonly plain: readonly OrderedTx[];
  /** this block's encrypted transactions, checked */
  readonly entries: readonly PendingEntry[];
  readonly charges: readonly Charge[];
  readonly key: ThresholdKey | undefined;
  readonly keyFailure: string | undefined;
  readonly myShare: KeyShare | undefined;
  readonly dealSentAt: bigint | undefined;
  readonly complainedAbout: readonly number[];
  /** bodies this validator will sign and submit when the block is done */
  readonly envelopes: readonly Envelope['body'][];
  /** batches decrypted (or discarded) by this block, in committed order */
  readonly decrypted: readonly OrderedTx[];
  readonly epochKey: EpochKey | undefined;
}

/** The heights that bound the DKG of the configured epoch. */
export function dkgWindows(cfg: DecryptorConfig): { start: bigint; dealEnd: bigint; complaintEnd: bigint } {
  const start = cfg.dkgStart ?? DEFAULTS.dkgStart;
  const dealEnd = start + BigInt(cfg.dealWindow ?? DEFAULTS.dealWindow);
  return { start, dealEnd, complaintEnd: dealEnd + BigInt(cfg.complaintWindow ?? DEFAULTS.complaintWindow) };
}

/** Whether the block at `height` was processed already (the app asks for the last one again). */
export function alreadyProcessed(s: DecryptorState, height: bigint): boolean {
  return height <= s.height;
}

/** What a block already processed produces: the last ordered block again, if it is that one. */
export function replayed(s: DecryptorState, height: bigint): Output {
  return {
    ordered: height === s.height && s.last !== undefined ? s.last : undefined,
    submit: [],
    epochKey: undefined,
  };
}

/**
 * Step 1, every phase: checks every envelope of the block the same way at every node (signature,
 * instance, expiry, replay); charges each that passes; orders the plain ones; checks the encrypted
 * ones' ciphertexts; applies deals and complaints inside their windows; sets aside shares for
 * pending batches (verified when counted).
 */
export function checkEnvelopes(
  cfg: DecryptorConfig,
  s: DecryptorState,
  cb: CommittedBlock,
  env: Env,
): BlockWork {
  const h = cb.block.header.height;
  const { start: dkgStart, dealEnd, complaintEnd } = dkgWindows(cfg);
  let transcript = s.transcript;
  const nonces = new Map(s.nonces);
  for (const [k, expiry] of nonces) if (expiry < h) nonces.delete(k);
  const candidates = new Map<bigint, ShareCandidate[]>();
  const plain: OrderedTx[] = [];
  const entries: PendingEntry[] = [];
  const charges: Charge[] = [];
  const newDeals: number[] = [];

  for (const bytes of cb.block.txs) {
    // the codec is canonical, so this is envelopeHash() of whatever decodes
    const id = sha256(bytes);
    const decoded = tryDecode(SignedEnvelope, bytes);
    if (!decoded.ok) {
      plain.push(discarded(id, h, false, 'undecodable-envelope'));
      continue;
    }
    const signed = decoded.value;
    const e = signed.envelope;
    const problem = envelopeProblem(cfg, e, signed.signature, h, nonces, env);
    if (problem !== undefined) {
      // system messages that fail are dropped silently; client transactions get a receipt
      if (e.body.tag === 'plain') plain.push(discarded(id, h, false, problem));
      else if (e.body.tag === 'encrypted')
        entries.push({ envelope: id, ciphertext: undefined, discard: problem });
      continue;
    }
    nonces.set(nonceKey(e.payer, e.nonce), e.expiry);
    charges.push({ envelope: id, payer: e.payer, nonce: e.nonce, fee: e.fee, expiry: e.expiry });
    switch (e.body.tag) {
      case 'plain':
        plain.push({ envelope: id, includedAt: h, encrypted: false, tx: { tag: 'ok', value: e.body.value } });
        break;
      case 'encrypted':
        entries.push(checkEncrypted(cfg, s, e, id));
        break;
      case 'shares': {
        const sender = senderIndex(cfg, e.payer);
        const msg = tryDecode(SharesMessage, e.body.value);
        if (sender === undefined || !msg.ok || s.key === undefined || msg.value.epoch !== s.epoch) break;
        const m = msg.value;
        if (m.shares.index !== sender) break;
        const batch = s.pending.find((b) => b.height === m.height && bytesEqual(b.blockHash, m.blockHash));
        if (batch === undefined || batch.shares.has(sender)) break;
        // verified when counted (`countSharesAndDecrypt`): only as many as a batch decrypted now needs
        const list = candidates.get(batch.height) ?? [];
        list.push({ sender, shares: m.shares });
        candidates.set(batch.height, list);
        break;
      }
      case 'dkg': {
        const sender = senderIndex(cfg, e.payer);
        const msg = tryDecode(DkgMessage, e.body.value);
        if (sender === undefined || !msg.ok) break;
        if (msg.value.tag === 'deal' && h >= dkgStart && h < dealEnd) {
          const before = dealOf(transcript, sender);
          transcript = applyDeal(transcript, sender, msg.value.value);
          if (before === undefined && dealOf(transcript, sender) !== undefined) newDeals.push(sender);
        } else if (msg.value.tag === 'complaint' && h >= dkgStart && h < complaintEnd) {
          transcript = applyComplaint(transcript, sender, msg.value.value);
        }
        break;
      }
    }
  }
  return {
    block: cb,
    height: h,
    hash: blockHash(cb.block.header),
    me: myIndex(cfg, env),
    transcript,
    newDeals,
    nonces,
    pending: s.pending,
    candidates,
    plain,
    entries,
    charges,
    key: s.key,
    keyFailure: s.keyFailure,
    myShare: s.myShare,
    dealSentAt: s.dealSentAt,
    complainedAbout: s.complainedAbout,
    envelopes: [],
    decrypted: [],
    epochKey: undefined,
  };
}

/**
 * Step 2, while the deal window is open: this validator deals (again, if its deal is not on chain
 * `resubmitAfter` heights later) and complains about every new dealer whose share to it is bad.
 */
export function dealAndComplain(cfg: DecryptorConfig, w: BlockWork): BlockWork {
  const me = w.me;
  if (me === undefined || cfg.secret === undefined || w.key !== undefined || w.keyFailure !== undefined)
    return w;
  const { start: dkgStart, dealEnd, complaintEnd } = dkgWindows(cfg);
  const h = w.height;
  const params = dkgParams(cfg);
  const envelopes = [...w.envelopes];
  let dealSentAt = w.dealSentAt;
  let complainedAbout = w.complainedAbout;
  const resubmit = BigInt(cfg.resubmitAfter ?? DEFAULTS.resubmitAfter);
  const dealt = dealOf(w.transcript, me) !== undefined;
  if (
    !dealt &&
    h >= dkgStart &&
    h + 1n < dealEnd &&
    (dealSentAt === undefined || h - dealSentAt >= resubmit)
  ) {
    const d = deal(params, me, cfg.secret);
    envelopes.push({ tag: 'dkg', value: encode(DkgMessage, { tag: 'deal', value: d }) });
    dealSentAt = h;
  }
  const enc = encryptionKeyPair(cfg.secret);
  for (const dealer of w.newDeals) {
    const d = dealOf(w.transcript, dealer);
    if (d === undefined || complainedAbout.includes(dealer)) continue;
    const opened = openShare(params, d, me, enc.secret);
    if (!opened.ok && h + 1n < complaintEnd) {
      envelopes.push({
        tag: 'dkg',
        value: encode(DkgMessage, { tag: 'complaint', value: opened.complaint }),
      });
      complainedAbout = [...complainedAbout, dealer];
    }
  }
  return { ...w, envelopes, dealSentAt, complainedAbout };
}

/** Whether the DKG ends with this block: no key and no failure yet, the complaint window's last height. */
export function dkgEndsWith(cfg: DecryptorConfig, w: BlockWork): boolean {
  return w.key === undefined && w.keyFailure === undefined && w.height >= dkgWindows(cfg).complaintEnd - 1n;
}

/** Whether the next block still falls in the deal window. */
export function dealWindowOpenAfter(cfg: DecryptorConfig, w: BlockWork): boolean {
  return w.height + 1n < dkgWindows(cfg).dealEnd;
}

/**
 * Step 3, at the complaint window's last height: the qualified dealers' deals give the epoch key
 * and every validator's verification key, and this validator its key share; fewer than t
 * qualified dealers end the epoch keyless.
 */
export function finalizeDkg(cfg: DecryptorConfig, s: DecryptorState, w: BlockWork): BlockWork {
  const outcome = finalize(w.transcript);
  if (!outcome.ok) {
    return { ...w, keyFailure: `${outcome.reason} (qualified ${outcome.qualified.join(',') || 'none'})` };
  }
  const key: ThresholdKey = {
    publicKey: outcome.publicKey,
    verificationKeys: outcome.verificationKeys,
    threshold: outcome.threshold,
  };
  const epochKey: EpochKey = {
    epoch: s.epoch,
    publicKey: outcome.publicKey,
    threshold: outcome.threshold,
    verificationKeys: outcome.verificationKeys,
  };
  let myShare = w.myShare;
  if (w.me !== undefined && cfg.secret !== undefined) {
    const x = secretShare(w.transcript, outcome, w.me, encryptionKeyPair(cfg.secret).secret);
    if (x !== undefined) myShare = { index: w.me, secret: x };
  }
  return { ...w, key, epochKey, myShare };
}

/**
 * Step 4, every phase: the block's encrypted transactions become a pending batch (kept even if
 * every one is discarded, so that discards get their receipts in committed order).
 */
export function queueBatch(w: BlockWork): BlockWork {
  if (w.entries.length === 0) return w;
  const valid = w.entries.flatMap((x) =>
    x.ciphertext !== undefined && x.discard === undefined ? [x.ciphertext] : [],
  );
  const batch: PendingBatch = {
    height: w.height,
    blockHash: w.hash,
    entries: w.entries,
    valid,
    shares: new Map(),
    sentAt: undefined,
  };
  return { ...w, pending: [...w.pending, batch] };
}

/**
 * Step 5, every phase: pending batches are decrypted first-in first-out while each has t verified
 * shares (a batch without valid ciphertexts at once, as discards). A batch decrypted now checks this
 * block's shares only until it has t (any t valid shares combine to the same key x·u, so checking
 * more would change nothing); a batch that stays pending checks all of them, so the state is
 * exactly as if each were checked on arrival.
 */
export function countSharesAndDecrypt(w: BlockWork): BlockWork {
  const key = w.key;
  // working copies: `settle` fills in their share maps
  let pending = w.pending.map((b) => ({ ...b, shares: new Map(b.shares) }));
  const decrypted: OrderedTx[] = [...w.decrypted];
  while (pending.length > 0) {
    const batch = pending[0]!;
    if (batch.valid.length > 0) {
      if (key !== undefined) settle(key, batch, w.candidates.get(batch.height), key.threshold, w.me);
      if (key === undefined || batch.shares.size < key.threshold) break;
    }
    decrypted.push(...decryptBatch(key, batch));
    pending = pending.slice(1);
  }
  if (key !== undefined) {
    for (const batch of pending)
      settle(key, batch, w.candidates.get(batch.height), Number.POSITIVE_INFINITY, w.me);
  }
  return { ...w, pending, decrypted };
}

/**
 * Step 6, once keyed: this validator makes its shares for every pending batch lacking them (this
 * block's, or again when its earlier ones are not on chain `resubmitAfter` heights later).
 */
export function submitShares(cfg: DecryptorConfig, s: DecryptorState, w: BlockWork): BlockWork {
  const { me, myShare, key } = w;
  if (me === undefined || myShare === undefined || key === undefined) return w;
  const resubmit = BigInt(cfg.resubmitAfter ?? DEFAULTS.resubmitAfter);
  const trusted = keyShareMatches(key, myShare);
  const envelopes = [...w.envelopes];
  const pending = w.pending.map((b) => {
    if (b.valid.length === 0 || b.shares.has(me)) return b;
    if (b.sentAt !== undefined && w.height - b.sentAt < resubmit) return b;
    const bs = blockShares(b.valid, myShare, b.blockHash);
    const body = encode(SharesMessage, {
      epoch: s.epoch,
      height: b.height,
      blockHash: b.blockHash,
      shares: bs,
    });
    envelopes.push({ tag: 'shares', value: body });
    return { ...b, sentAt: w.height, mine: trusted ? bs.shares : undefined };
  });
  return { ...w, pending, envelopes };
}

/**
 * Last step, every phase: the block is done. The executable block is its decrypted batches, then
 * its plain transactions; this validator signs what it submits (not during a replay).
 */
export function finishBlock(
  cfg: DecryptorConfig,
  s: DecryptorState,
  w: BlockWork,
  env: Env,
  opts: { submit: boolean } = { submit: true },
): { state: DecryptorState; out: Output } {
  const submit: Uint8Array[] = [];
  if (opts.submit && env.signer !== undefined) {
    const expiry = w.height + BigInt(cfg.expiryHeights ?? DEFAULTS.expiryHeights);
    for (const body of w.envelopes) submit.push(signEnvelope(cfg, env.signer, body, expiry));
  }
  const ordered: OrderedBlock = {
    height: w.height,
    blockHash: w.hash,
    proposer: w.block.block.header.proposer,
    charges: [...w.charges],
    txs: [...w.decrypted, ...w.plain],
  };
  const state: DecryptorState = {
    ...s,
    height: w.height,
    transcript: w.transcript,
    dealSentAt: w.dealSentAt,
    complainedAbout: w.complainedAbout,
    key: w.key,
    keyFailure: w.keyFailure,
    myShare: w.myShare,
    pending: w.pending,
    nonces: w.nonces,
    last: ordered,
  };
  return { state, out: { ordered, submit, epochKey: w.epochKey } };
}

/**
 * Processes committed block `cb`: every step above, in the protocol's order (the engine's machine
 * takes the same steps, phase by phase). Returns the new state and what to emit.
 */
export function onCommitted(
  cfg: DecryptorConfig,
  s: DecryptorState,
  cb: CommittedBlock,
  env: Env,
  opts: { submit: boolean } = { submit: true },
): { state: DecryptorState; out: Output } {
  const h = cb.block.header.height;
  if (alreadyProcessed(s, h)) return { state: s, out: replayed(s, h) };
  let w = dealAndComplain(cfg, checkEnvelopes(cfg, s, cb, env));
  if (dkgEndsWith(cfg, w)) w = finalizeDkg(cfg, s, w);
  w = submitShares(cfg, s, countSharesAndDecrypt(queueBatch(w)));
  return finishBlock(cfg, s, w, env, opts);
}

/** A validator's shares for a pending batch, found in the block being processed, not yet verified. */
export interface ShareCandidate {
  readonly sender: number;
  readonly shares: BlockShares;
}

/**
 * Counts the share candidates of `batch` (a working copy: its `shares` map is filled in) until it
 * holds `need` validators' shares or the candidates run out: first this validator's own, when they
 * are exactly the shares it made (`mine`: valid by construction), then the others by ascending
 * index (block order among one validator's), each counting only if its proof verifies. A
 * validator's first valid shares count; later ones from it are skipped.
 */
function settle(
  key: ThresholdKey,
  batch: PendingBatch & { shares: Map<number, readonly Uint8Array[]> },
  list: readonly ShareCandidate[] | undefined,
  need: number,
  me: number | undefined,
): void {
  if (list === undefined || list.length === 0) return;
  const mine = batch.mine;
  const others: ShareCandidate[] = [];
  for (const c of list) {
    if (
      c.sender === me &&
      mine !== undefined &&
      !batch.shares.has(c.sender) &&
      sameShares(c.shares.shares, mine)
    ) {
      batch.shares.set(c.sender, c.shares.shares);
    } else others.push(c);
  }
  others.sort((a, b) => a.sender - b.sender); // stable: block order per sender
  for (const c of others) {
    if (batch.shares.size >= need) return;
    if (batch.shares.has(c.sender)) continue;
    if (!verifyBlockShares(key, batch.valid, c.shares, batch.blockHash)) continue;
    batch.shares.set(c.sender, c.shares.shares);
  }
}

function sameShares(a: readonly Uint8Array[], b: readonly Uint8Array[]): boolean {
  if (a.length !== b.length) return false;
  for (let j = 0; j < a.length; j++) if (!bytesEqual(a[j]!, b[j]!)) return false;
  return true;
}

function envelopeProblem(
  cfg: DecryptorConfig,
  e: Envelope,
  signature: Uint8Array,
  h: bigint,
  nonces: ReadonlyMap<string, bigint>,
  env: Env,
): string | undefined {
  if (e.instance !== cfg.instance) return 'wrong-instance';
  if (e.expiry < h) return 'expired';
  if (nonces.has(nonceKey(e.payer, e.nonce))) return 'replay';
  if (!env.verify(e.payer, envelopeSigningBytes(e), signature)) return 'bad-signature';
  return undefined;
}

function checkEncrypted(cfg: DecryptorConfig, s: DecryptorState, e: Envelope, id: Uint8Array): PendingEntry {
  if (e.body.tag !== 'encrypted') throw new Error('unreachable');
  const { epoch, ciphertext } = e.body.value;
  if (s.key === undefined || epoch !== s.epoch)
    return { envelope: id, ciphertext: undefined, discard: 'unknown-epoch' };
  const ct = tryDecode(Ciphertext, ciphertext);
  if (!ct.ok) return { envelope: id, ciphertext: undefined, discard: 'undecodable-ciphertext' };
  const label = labelBytes({ instance: cfg.instance, epoch, payer: e.payer });
  if (!bytesEqual(ct.value.label, label))
    return { envelope: id, ciphertext: undefined, discard: 'wrong-label' };
  if (!verifyCiphertextCached(ct.value))
    return { envelope: id, ciphertext: undefined, discard: 'invalid-ciphertext' };
  return { envelope: id, ciphertext: ct.value, discard: undefined };
}

function decryptBatch(key: ThresholdKey | undefined, batch: PendingBatch): OrderedTx[] {
  // any t verified shares give the same key; take the t lowest indices so the choice is canonical
  const indices = [...batch.shares.keys()].sort((a, b) => a - b).slice(0, key?.threshold ?? 0);
  let v = 0;
  return batch.entries.map((entry) => {
    if (entry.discard !== undefined || entry.ciphertext === undefined || key === undefined) {
      return discarded(entry.envelope, batch.height, true, entry.discard ?? 'no-key');
    }
    const at = v++;
    const shares = indices.map((index) => ({ index, ui: batch.shares.get(index)![at]! }));
    const result = decryptWithCombined(entry.ciphertext, combine(key, entry.ciphertext, shares));
    if (!result.ok) return discarded(entry.envelope, batch.height, true, result.reason);
    return {
      envelope: entry.envelope,
      includedAt: batch.height,
      encrypted: true,
      tx: { tag: 'ok', value: result.plaintext },
    };
  });
}

function signEnvelope(
  cfg: DecryptorConfig,
  signer: Signer,
  body: Envelope['body'],
  expiry: bigint,
): Uint8Array {
  // one nonce per purpose, so a re-submission can never be committed twice
  let nonce: bigint;
  if (body.tag === 'shares') nonce = NONCE_SHARES + sharesTarget(body.value);
  else if (body.tag === 'dkg') nonce = NONCE_DKG + dkgSlot(body.value);
  else throw new Error(`the decryptor submits only shares and dkg bodies, not ${body.tag}`);
  const envelope: Envelope = {
    instance: cfg.instance,
    payer: signer.publicKey,
    fee: 0n,
    nonce,
    expiry,
    body,
  };
  return encode(SignedEnvelope, { envelope, signature: signer.sign(envelopeSigningBytes(envelope)) });
}

/** A deal takes slot epoch·2^16; a complaint about dealer d slot epoch·2^16 + d. */
function dkgSlot(body: Uint8Array): bigint {
  const m = tryDecode(DkgMessage, body);
  if (!m.ok) return 0n;
  const epoch = m.value.value.epoch;
  return (epoch << 16n) + (m.value.tag === 'deal' ? 0n : BigInt(m.value.value.dealer));
}

function sharesTarget(body: Uint8Array): bigint {
  const m = tryDecode(SharesMessage, body);
  return m.ok ? m.value.height : 0n;
}

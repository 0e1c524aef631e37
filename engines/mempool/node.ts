/**
 * The mempool's pure core behind its ports: the pool (pool.ts), gossip (gossip.ts) and the batch
 * handed to consensus, as one immutable value (`MempoolState`). Each function takes a state and
 * one input and returns the next state with its effects (replies, batches, sends, penalties) as
 * values; none changes what it was given, reads a clock (time arrives as `now`) or does I/O
 * (signatures and the ledger come through the `PoolEnv`). The XState machine (machine.ts) names
 * which of these applies when, and emits the effects when the step settles.
 *
 * The batch (reaping for a proposal): whenever the pool's contents change, the proposer's batch
 * is recomputed and sent on `txs` if it differs from the last one sent, at most once per
 * `batch.interval` ms (a change inside the interval is sent when it ends, through the `batch`
 * deadline).
 */
import type { Deadlines } from '../../runtime/deadlines.ts';
import type { CommittedBlock } from '../../wire/ledger.ts';
import {
  createGossip,
  type GossipConfig,
  type GossipState,
  nextDeadline,
  onAdmitted,
  onAnnounce,
  onEnvelopes,
  onRequest,
  onTick,
} from './gossip.ts';
import {
  addEpochKey,
  applyAdmission,
  batchEntries,
  type Check,
  checkAdmission,
  createPool,
  type PoolEnv,
  type PoolLimits,
  type PoolState,
  takeCommitted as poolTakeCommitted,
  type Rejection,
  recheck,
} from './pool.ts';
import type { AdmitReply, NetOut, PeerPenalty, TxBatch } from './ports.ts';

export interface BatchLimits {
  /** envelopes in one batch (consensus's default block holds 1000) */
  readonly maxCount: number;
  /** bytes of envelopes in one batch */
  readonly maxBytes: number;
  /** least time between two batches sent on `txs`, ms */
  readonly interval: number;
}

export const DEFAULT_BATCH: BatchLimits = Object.freeze({
  maxCount: 1_000,
  maxBytes: 8 * 1024 * 1024,
  interval: 20,
});

export interface MempoolConfig {
  /** the fractal instance (chain id) */
  readonly instance: string;
  /** validators' public keys: they may submit shares and dkg bodies (fee 0 allowed) */
  readonly validators: readonly Uint8Array[];
  readonly limits?: Partial<PoolLimits>;
  readonly gossip?: Partial<GossipConfig>;
  readonly batch?: Partial<BatchLimits>;
}

/** What a step asks the engine to emit, by output port. */
export interface Effects {
  readonly replies: readonly AdmitReply[];
  readonly sends: readonly NetOut[];
  readonly penalties: readonly PeerPenalty[];
  readonly batches: readonly TxBatch[];
}

export const NO_EFFECTS: Effects = Object.freeze({
  replies: Object.freeze([]),
  sends: Object.freeze([]),
  penalties: Object.freeze([]),
  batches: Object.freeze([]),
});

/** `a` followed by `b` (the same object when `b` adds nothing). */
export function joinEffects(a: Effects, b: Partial<Effects>): Effects {
  const cat = <T>(x: readonly T[], y: readonly T[] | undefined): readonly T[] =>
    y === undefined || y.length === 0 ? x : x.length === 0 ? y : [...x, ...y];
  const out = {
    replies: cat(a.replies, b.replies),
    sends: cat(a.sends, b.sends),
    penalties: cat(a.penalties, b.penalties),
    batches: cat(a.batches, b.batches),
  };
  return out.replies === a.replies &&
    out.sends === a.sends &&
    out.penalties === a.penalties &&
    out.batches === a.batches
    ? a
    : out;
}

/** The batch last handed to consensus, and the throttle. */
export interface BatchState {
  readonly limits: BatchLimits;
  /** hashes of the last batch sent, in order */
  readonly last: readonly string[];
  readonly lastAt: number;
  /** the pool version the last batch decision saw */
  readonly seenVersion: number;
  /** when the throttled batch is due (the `batch` deadline), or null */
  readonly due: number | null;
}

export interface MempoolState {
  readonly pool: PoolState;
  readonly gossip: GossipState;
  readonly batch: BatchState;
}

/** A step's result: the next state and what it emits. */
export interface Step {
  readonly state: MempoolState;
  readonly effects: Partial<Effects>;
}

export function initialState(config: MempoolConfig): MempoolState {
  const pool = createPool({
    instance: config.instance,
    validators: config.validators,
    limits: config.limits,
  });
  return {
    pool,
    gossip: createGossip(config.instance, config.gossip),
    batch: {
      limits: Object.freeze({ ...DEFAULT_BATCH, ...config.batch }),
      last: [],
      lastAt: Number.NEGATIVE_INFINITY,
      seenVersion: pool.version,
      due: null,
    },
  };
}

// --- admission of a client's envelope ------------------------------------------------------------

/** Every admission check on a client's envelope (nothing changes yet). */
export const checkSubmission = (s: MempoolState, bytes: Uint8Array, env: PoolEnv): Check =>
  checkAdmission(s.pool, bytes, env);

/** Pools an envelope that passed every check, queues its announcement and answers the client. */
export function admitSubmission(
  s: MempoolState,
  id: string,
  check: Extract<Check, { ok: true }>,
  now: number,
): Step {
  const { pool } = applyAdmission(s.pool, check);
  const gossip = onAdmitted(s.gossip, check.entry.hash, null, now);
  return {
    state: { ...s, pool, gossip },
    effects: { replies: [{ id, ok: true, hash: check.entry.hashBytes, reason: null }] },
  };
}

/** The answer to a refused envelope: its reason. */
export const rejectionReply = (id: string, r: Rejection): AdmitReply => ({
  id,
  ok: false,
  hash: r.hash,
  reason: r.reason,
});

// --- gossip --------------------------------------------------------------------------------------

export function requestMissing(
  s: MempoolState,
  peer: string,
  hashes: readonly Uint8Array[],
  now: number,
): Step {
  const { gossip, sends } = onAnnounce(s.gossip, s.pool, peer, hashes, now);
  return { state: { ...s, gossip }, effects: { sends } };
}

export function serveRequested(
  s: MempoolState,
  peer: string,
  hashes: readonly Uint8Array[],
  now: number,
): Step {
  const { gossip, sends } = onRequest(s.gossip, s.pool, peer, hashes, now);
  return { state: { ...s, gossip }, effects: { sends } };
}

export function admitPulled(
  s: MempoolState,
  peer: string,
  bodies: readonly Uint8Array[],
  now: number,
  env: PoolEnv,
): Step {
  const { gossip, pool, penalties } = onEnvelopes(s.gossip, s.pool, peer, bodies, now, env);
  return { state: { ...s, gossip, pool }, effects: { penalties } };
}

/** The gossip deadline: due announcements go out, overdue requests are re-asked or dropped. */
export function gossipTick(s: MempoolState, now: number): Step {
  const { gossip, sends } = onTick(s.gossip, s.pool, now);
  return { state: { ...s, gossip }, effects: { sends } };
}

// --- recheck after a commit, epochs ---------------------------------------------------------------

/** A committed block: its envelopes (and those whose nonce it used) leave; its nonces are remembered. */
export function takeCommitted(s: MempoolState, block: CommittedBlock, env: PoolEnv): MempoolState {
  const { pool } = poolTakeCommitted(s.pool, block.block.header.height, block.block.txs, env);
  return { ...s, pool };
}

/** After a commit: expired and now unpayable envelopes leave. */
export function recheckPool(s: MempoolState, env: PoolEnv): MempoolState {
  const { pool } = recheck(s.pool, env);
  return pool === s.pool ? s : { ...s, pool };
}

export function learnEpochKey(s: MempoolState, epoch: bigint, publicKey: Uint8Array): MempoolState {
  return { ...s, pool: addEpochKey(s.pool, epoch, publicKey).pool };
}

// --- reaping the batch ----------------------------------------------------------------------------

/** The pool's contents changed since the last batch decision. */
export const poolChanged = (s: MempoolState): boolean => s.pool.version !== s.batch.seenVersion;

/** A batch was sent less than `interval` ago: the next one waits. */
export const withinBatchInterval = (s: MempoolState, now: number): boolean =>
  now < s.batch.lastAt + s.batch.limits.interval;

/** The batch deadline is armed. */
export const batchDue = (s: MempoolState): boolean => s.batch.due !== null;

function currentBatch(s: MempoolState) {
  return batchEntries(s.pool, s.batch.limits.maxCount, s.batch.limits.maxBytes);
}

/** The pool's batch differs from the last one sent. */
export function batchChanged(s: MempoolState): boolean {
  const entries = currentBatch(s);
  const last = s.batch.last;
  return entries.length !== last.length || entries.some((e, i) => e.hash !== last[i]);
}

/** Arms the batch deadline for the end of the interval (kept if armed). */
export function armBatchDeadline(s: MempoolState): MempoolState {
  if (s.batch.due !== null) return s;
  return { ...s, batch: { ...s.batch, due: s.batch.lastAt + s.batch.limits.interval } };
}

/** The batch deadline passed: the interval is over. */
export function endBatchInterval(s: MempoolState): MempoolState {
  return s.batch.due === null ? s : { ...s, batch: { ...s.batch, due: null } };
}

/** Sends the pool's batch to consensus. */
export function sendBatch(s: MempoolState, now: number): Step {
  const entries = currentBatch(s);
  return {
    state: {
      ...s,
      batch: {
        ...s.batch,
        last: entries.map((e) => e.hash),
        lastAt: now,
        seenVersion: s.pool.version,
        due: null,
      },
    },
    effects: { batches: [entries.map((e) => e.bytes)] },
  };
}

/** The batch consensus has is the pool's: nothing to send. */
export function markBatchCurrent(s: MempoolState): MempoolState {
  if (s.batch.seenVersion === s.pool.version && s.batch.due === null) return s;
  return { ...s, batch: { ...s.batch, seenVersion: s.pool.version, due: null } };
}

/** The timers this state wants armed. */
export function deadlinesOf(s: MempoolState): Deadlines {
  const d: Record<string, number> = {};
  if (s.batch.due !== null) d.batch = s.batch.due;
  const g = nextDeadline(s.gossip);
  if (g !== null) d.gossip = g;
  return d;
}

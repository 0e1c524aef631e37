/**
 * The mempool's logic behind its ports: the pool, gossip, and the batch handed to consensus.
 * Pure (time arrives as `now`, signatures through the given `Verifier`); the XState machine only
 * routes port events here and emits the effects.
 *
 * The batch: whenever the pool's contents change, the proposer's batch is recomputed and sent on
 * `txs` if it differs from the last one sent, at most once per `batch.interval` ms (a change
 * inside the interval is sent when it ends, through the `batch` deadline).
 */
import type { Deadlines } from '../../runtime/deadlines.ts';
import type { FeeLedgerView } from '../../wire/fees.ts';
import type { CommittedBlock } from '../../wire/ledger.ts';
import type { Verifier } from '../../wire/sign.ts';
import { Gossip, type GossipConfig, type GossipOut } from './gossip.ts';
import { type Admission, Pool, type PoolLimits } from './pool.ts';
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

export interface Effects {
  readonly replies: AdmitReply[];
  readonly sends: NetOut[];
  readonly penalties: PeerPenalty[];
  readonly batches: TxBatch[];
}

export function emptyEffects(): Effects {
  return { replies: [], sends: [], penalties: [], batches: [] };
}

export class Mempool {
  readonly pool: Pool;
  readonly gossip: Gossip;
  readonly batchLimits: BatchLimits;
  /** hashes of the last batch sent, joined */
  private lastBatchKey = '';
  private lastBatchAt = Number.NEGATIVE_INFINITY;
  /** the pool version the last batch decision saw */
  private seenVersion = 0;
  private batchDue: number | null = null;

  constructor(config: MempoolConfig, verify: Verifier, ledger?: FeeLedgerView) {
    this.pool = new Pool(
      {
        instance: config.instance,
        validators: config.validators,
        limits: config.limits,
        ...(ledger === undefined ? {} : { ledger }),
      },
      verify,
    );
    this.gossip = new Gossip(config.instance, config.gossip);
    this.batchLimits = Object.freeze({ ...DEFAULT_BATCH, ...config.batch });
    this.seenVersion = this.pool.version;
  }

  /** A client's envelope: admission, a reply, and an announcement when admitted. */
  submit(id: string, bytes: Uint8Array, now: number, fx: Effects): Admission {
    const adm = this.pool.admit(bytes);
    if (adm.ok) {
      this.gossip.onAdmitted(adm.entry.hash, null, now);
      fx.replies.push({ id, ok: true, hash: adm.entry.hashBytes, reason: null });
    } else {
      fx.replies.push({ id, ok: false, hash: adm.hash, reason: adm.reason });
    }
    this.refreshBatch(now, fx);
    return adm;
  }

  /** A gossip message from a peer. */
  net(peer: string, bytes: Uint8Array, now: number, fx: Effects): void {
    const out: GossipOut = { sends: fx.sends, penalties: fx.penalties, admitted: [] };
    this.gossip.onNet(peer, bytes, now, this.pool, out);
    this.refreshBatch(now, fx);
  }

  /** A committed block: included envelopes leave, the rest is rechecked. */
  committed(block: CommittedBlock, now: number, fx: Effects): void {
    this.pool.onCommitted(block.block.header.height, block.block.txs);
    this.refreshBatch(now, fx);
  }

  /** An epoch's encryption key. */
  epochKey(epoch: bigint, publicKey: Uint8Array, now: number, fx: Effects): void {
    this.pool.addEpochKey(epoch, publicKey);
    this.refreshBatch(now, fx);
  }

  timeout(name: string, now: number, fx: Effects): void {
    if (name === 'batch') {
      this.batchDue = null;
    } else if (name === 'gossip') {
      this.gossip.onTick(now, this.pool, { sends: fx.sends, penalties: fx.penalties, admitted: [] });
    }
    this.refreshBatch(now, fx);
  }

  /** The timers this state wants armed. */
  deadlines(): Deadlines {
    const d: Record<string, number> = {};
    if (this.batchDue !== null) d.batch = this.batchDue;
    const g = this.gossip.nextDeadline();
    if (g !== null) d.gossip = g;
    return d;
  }

  private refreshBatch(now: number, fx: Effects): void {
    if (this.pool.version === this.seenVersion) return;
    if (now < this.lastBatchAt + this.batchLimits.interval) {
      this.batchDue ??= this.lastBatchAt + this.batchLimits.interval;
      return;
    }
    this.seenVersion = this.pool.version;
    this.batchDue = null;
    const entries = this.pool.batchEntries(this.batchLimits.maxCount, this.batchLimits.maxBytes);
    const key = entries.map((e) => e.hash).join();
    if (key === this.lastBatchKey) return;
    this.lastBatchKey = key;
    this.lastBatchAt = now;
    fx.batches.push(entries.map((e) => e.bytes));
  }
}

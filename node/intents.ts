/**
 * The intent half of a live node (roles `gossip` and `solver`, issue 17): the gossip engine on its
 * own transport channel, fed the peers' links and what the ledger spends; on a solver, the solver
 * engine with the swap application's batch auction, whose solutions become envelopes (threshold
 * encrypted once the epoch key is known: solvers are front-run too) in this node's mempool. The
 * engines are the simulator's; this module only carries their ports to the transport, the
 * ledger and the RPC.
 */
import { offeredNotes, swapIntentBody } from '../apps/swap/body.ts';
import { assetKey, intentId as intentIdOf, readIntent } from '../apps/swap/format.ts';
import { ownerDeltas, SwapPayload, swapOwnerCommitment } from '../apps/swap/predicate.ts';
import { DEFAULT_GAS_LIMIT } from '../assembly/assemble.ts';
import {
  type GossipPorts,
  type SolverPorts,
  spentNoteIds,
  swapTopics,
  wireIntentApp,
} from '../assembly/intents.ts';
import { nodeMultievaluate } from '../assembly/vm.ts';
import { executeSerial } from '../engines/executor/block.ts';
import { Declared } from '../engines/executor/natives.ts';
import { type Note, noteKey, Transaction } from '../engines/executor/notes.ts';
import type { Multievaluate, Receipt } from '../engines/executor/phases.ts';
import type { BlockReceipts } from '../engines/executor/ports.ts';
import { NoteStore } from '../engines/executor/state.ts';
import type { GossipContext } from '../engines/gossip/machine.ts';
import type { IntentReply } from '../engines/gossip/ports.ts';
import type { AdmitReply } from '../engines/mempool/ports.ts';
import type { Solution } from '../engines/solver/ports.ts';
import type { EngineGraph } from '../runtime/graph.ts';
import type { Storage } from '../storage/types.ts';
import { fromHex, toHex } from '../wire/commit.ts';
import type { EpochKey } from '../wire/envelope.ts';
import type { OrderedBlock } from '../wire/ledger.ts';
import { decode, tryDecode } from '../wire/schema.ts';
import { keyPairFromSeed } from '../wire/sign.ts';
import { envelopeFor, tokenOf } from './client.ts';
import type { Genesis, NodeConfig } from './config.ts';
import type { Logger } from './log.ts';
import { ownerNotes } from './notes-query.ts';

/** The transport channel intent gossip travels on (consensus 0, mempool 1). */
export const CHANNEL_GOSSIP = 2;

/** Intent replies the node waits for at most, ms (the gossip engine answers in one step). */
const SUBMIT_TIMEOUT_MS = 10_000;
/** Ordered blocks kept until their receipts arrive (the executor runs a height or two behind). */
const MAX_ORDERED_KEPT = 64;
/** Settlement envelopes remembered until their receipt, at most. */
const MAX_SETTLEMENTS_KEPT = 4_096;
/** Heights a submitted settlement's notes stay reserved without it executing. */
const RESERVE_HEIGHTS = 32n;
/** Notes of its own a solver reads to pay rounding dust from, at most. */
const MAX_SOLVER_NOTES = 256;

/** What the intent services need of the node around them. */
export interface IntentHost {
  readonly graph: EngineGraph;
  readonly storage: Storage;
  readonly genesis: Genesis;
  readonly config: NodeConfig;
  /** the node's ed25519 seed: its gossip hops and a solver's settlements are signed with it */
  readonly identity: Uint8Array;
  readonly network: {
    send(peer: string, channel: number, bytes: Uint8Array): boolean;
    broadcast(channel: number, bytes: Uint8Array): number;
    penalise(peer: string, reason: string, weight: number): void;
  };
  /** hands an envelope to this node's mempool */
  submitEnvelope(bytes: Uint8Array): Promise<AdmitReply>;
  committedHeight(): bigint;
  epochKey(): EpochKey | undefined;
  publish(topic: 'settlements', value: unknown): void;
  readonly logger: Logger;
}

/** A pooled intent as `intents` lists it. */
export interface IntentJson {
  id: string;
  topic: string;
  expiry: string;
  fee: string | null;
  hops: number;
  local: boolean;
  /** the signed swap intent (hex), when the payload is one */
  payload: string;
}

/** What one intent got in a settlement: sold of what it gave, bought of what it wanted (decimal). */
export interface FillJson {
  /** the swap intent id (apps/swap `intentId`) */
  intent: string;
  owner: string;
  sold: string;
  bought: string;
  /** its limit: give up to `give`, want at least `want` for all of it */
  give: string;
  want: string;
}

/** A settlement as the `settlements` subscription announces it. */
export interface SettlementJson {
  hash: string;
  height: string;
  accepted: boolean;
  phase: string;
  reason: string;
  intents: string[];
  fills: FillJson[];
}

/**
 * Each intent's fill in a swap settlement, read from the transaction and the notes it offers as
 * state stands before it executes: sold is what its offered notes hold of the given asset less
 * the change back to its owner, bought what its owner's swap account receives of the wanted one.
 */
export function fillsOf(tx: Transaction, noteAt: (key: Uint8Array) => Note | undefined): FillJson[] {
  const d = tryDecode(Declared, tx.extradata);
  if (!d.ok) return [];
  const payload = tryDecode(SwapPayload, d.value.payload);
  if (!payload.ok) return [];
  return payload.value.intents.map((intent) => {
    const t = intent.terms;
    const offered = offeredNotes(t).flatMap((k) => noteAt(k) ?? []);
    // what the transaction does to the owner's notes, as its swap-owner predicate reads it
    const deltas = ownerDeltas(swapOwnerCommitment(t.owner), offered, d.value.outputs);
    return {
      intent: toHex(intentIdOf(t)),
      owner: toHex(t.owner),
      sold: (-(deltas?.get(assetKey(t.give.of)) ?? 0n)).toString(),
      bought: (deltas?.get(assetKey(t.want.of)) ?? 0n).toString(),
      give: t.give.amount.toString(),
      want: t.want.amount.toString(),
    };
  });
}

export interface IntentStats {
  /** intents submitted here and accepted by gossip */
  submitted: number;
  /** intents this node's filter wanted, delivered to its solver (if any) */
  delivered: number;
  /** solutions the solver found, those the predicates refused before submission, those the mempool admitted */
  solutions: number;
  refusedSolutions: number;
  submittedSolutions: number;
  /** settlements executed: accepted ones, and the intents they settled; failed ones */
  settlements: number;
  settledIntents: number;
  failedSettlements: number;
}

export class IntentRefused extends Error {
  constructor(readonly reason: string) {
    super(`intent refused: ${reason}`);
    this.name = 'IntentRefused';
  }
}

/**
 * A settlement run through the executor's own phases and predicates against state as it stands
 * (an overlay: nothing is written) at `height` (the next one: predicates check expiry against
 * it): the receipt the ledger would give it now. A solver submits only
 * what passes (issue 17: every candidate is checked by the predicates the executor runs).
 */
export function dryRun(
  tx: Transaction,
  notes: NoteStore,
  height: bigint,
  mev: Multievaluate = nodeMultievaluate,
): Receipt {
  return executeSerial([tx], notes, mev, DEFAULT_GAS_LIMIT, height).receipts[0]!;
}

/** The swap pairs of `assets` (hex ids of the genesis token's assets), both ways: the gossip topics. */
export function swapTopicsOf(genesis: Genesis, assets: readonly string[]): string[] {
  return swapTopics(tokenOf(genesis.mintAuthority).application, assets.map(fromHex));
}

export class IntentServices {
  readonly gossip: GossipPorts;
  readonly solver: SolverPorts | undefined;
  readonly stats: IntentStats = {
    submitted: 0,
    delivered: 0,
    solutions: 0,
    refusedSolutions: 0,
    submittedSolutions: 0,
    settlements: 0,
    settledIntents: 0,
    failedSettlements: 0,
  };
  private readonly notes: NoteStore;
  private readonly replies = new Map<string, (r: IntentReply) => void>();
  private readonly ordered = new Map<bigint, OrderedBlock>();
  /** settlement envelope hash -> the intents it uses, their fills and the notes it spends */
  private readonly settlements = new Map<
    string,
    { intents: string[]; fills: FillJson[]; spends: string[]; at: bigint }
  >();
  /** storage keys of the notes settlements in flight spend (the solver's float among them) */
  private readonly reserved = new Set<string>();
  private requests = 0;
  private stopped = false;

  constructor(private readonly host: IntentHost) {
    const { graph, genesis, config } = host;
    this.notes = new NoteStore(host.storage);
    const application = tokenOf(genesis.mintAuthority).application;
    const own = swapOwnerCommitment(keyPairFromSeed(host.identity).publicKey);
    const wired = wireIntentApp(graph, {
      overlay: genesis.instance,
      topics: swapTopicsOf(genesis, config.intents.assets),
      // a note a settlement in flight spends is as good as spent: no new batch offers it again
      noteAt: (key) => (this.reserved.has(toHex(key)) ? undefined : this.notes.note(key)),
      ...(config.roles.includes('solver')
        ? {
            solver: {
              secretKey: host.identity,
              // notes a settlement still in flight spends are not offered to the next batch
              notes: () =>
                [...ownerNotes(host.storage, { application, owner: own, maxRows: MAX_SOLVER_NOTES })]
                  .filter((r) => !this.reserved.has(toHex(noteKey(r.note))))
                  .map((r) => r.note),
              batchEvery: config.intents.batchEvery,
              batchSize: config.intents.batchSize,
              node: keyPairFromSeed(host.identity).publicKey,
            },
          }
        : {}),
    });
    this.gossip = wired.gossip;
    this.solver = wired.solver;
    const log = host.logger;
    const g = graph;
    g.observe(this.gossip.out.net).subscribe((m) => {
      if (m.to === '') host.network.broadcast(CHANNEL_GOSSIP, m.bytes);
      else if (!host.network.send(m.to, CHANNEL_GOSSIP, m.bytes))
        log.debug(
          { peer: m.to.slice(0, 16), bytes: m.bytes.length },
          'gossip frame not sent (peer not connected)',
        );
    });
    g.observe(this.gossip.out.submitted).subscribe((r) => {
      const resolve = this.replies.get(r.id);
      if (resolve === undefined) return;
      this.replies.delete(r.id);
      resolve(r);
    });
    g.observe(this.gossip.out.intents).subscribe(() => this.stats.delivered++);
    g.observe(this.gossip.out.penalty).subscribe((p) => {
      log.debug({ peer: p.peer.slice(0, 16), reason: p.reason }, 'gossip peer penalised');
      host.network.penalise(p.peer, `gossip:${p.reason}`, 10);
    });
    // the gossip core graylisted the peer: the transport bans it (a score far below its threshold)
    g.observe(this.gossip.out.disconnect).subscribe((d) => {
      log.info({ peer: d.peer.slice(0, 16), reason: d.reason }, 'gossip disconnects a peer');
      if (d.reason !== 'too-many-peers') host.network.penalise(d.peer, `gossip:${d.reason}`, 1_000);
    });
    if (this.solver === undefined) return;
    g.observe(this.solver.out.solution).subscribe((s) => {
      this.stats.solutions++;
      void this.submitSolution(s);
    });
  }

  /** A frame from a peer on the gossip channel. */
  onFrame(peer: string, bytes: Uint8Array): void {
    if (this.stopped) return;
    this.host.logger.trace?.({ peer: peer.slice(0, 16), bytes: bytes.length }, 'gossip frame');
    this.host.graph.send(this.gossip.in.net, { peer, bytes }, `net:${peer}`);
  }

  /** A peer's link came up or went down. */
  onLink(peer: string, up: boolean): void {
    if (this.stopped) return;
    this.host.graph.send(this.gossip.in.peers, { peer, up }, 'net');
  }

  /** A decrypted, ordered block: kept until its receipts say which of its transactions spent notes. */
  onOrdered(block: OrderedBlock): void {
    this.ordered.set(block.height, block);
    for (const h of this.ordered.keys()) {
      if (this.ordered.size <= MAX_ORDERED_KEPT) break;
      this.ordered.delete(h);
    }
  }

  /**
   * A height executed: the notes its accepted transactions spent go to gossip (pools drop the
   * intents offering them, and expire the old) and to the solver; settlements of this node's
   * solver are announced. `hashes` are the envelope hashes of the receipts, in order.
   */
  onReceipts(r: BlockReceipts, hashes: readonly string[]): void {
    if (this.stopped) return;
    const block = this.ordered.get(r.height);
    this.ordered.delete(r.height);
    const spent = spentNoteIds(block, r);
    for (const [i, rc] of r.receipts.entries()) {
      const hash = hashes[i];
      const mine = hash === undefined ? undefined : this.settlements.get(hash);
      if (mine === undefined) continue;
      this.forget(hash!);
      const { intents, fills } = mine;
      if (rc.accepted) {
        this.stats.settlements++;
        this.stats.settledIntents += intents.length;
      } else this.stats.failedSettlements++;
      const s: SettlementJson = {
        hash: hash!,
        height: r.height.toString(),
        accepted: rc.accepted,
        phase: rc.phase,
        reason: rc.reason,
        intents,
        fills,
      };
      this.host.logger.info(
        { hash: s.hash, height: s.height, intents: intents.length, reason: s.reason },
        rc.accepted ? 'settlement executed' : 'settlement failed',
      );
      this.host.publish('settlements', s);
    }
    // a settlement the chain has not executed for a while (dropped, or its envelope expired): its
    // notes are offered again; were it still to run, the one that runs second fails cleanly
    for (const [hash, s] of this.settlements)
      if (s.at + RESERVE_HEIGHTS < r.height) {
        this.host.logger.info(
          { hash, intents: s.intents.length },
          'settlement not executed in time: its notes are free again',
        );
        this.forget(hash);
      }
    const chain = { height: r.height, spent };
    this.host.graph.send(this.gossip.in.spent, chain, 'ledger');
    if (this.solver !== undefined) this.host.graph.send(this.solver.in.chain, chain, 'ledger');
  }

  /**
   * Publishes a signed swap intent (its wire bytes) to the overlay, with an optional
   * settlement-conditional fee; resolves with its gossip id (what pools and `settlements.intents`
   * name) and its swap intent id (what `settlements.fills` name), or rejects with `IntentRefused`.
   */
  submit(intentBytes: Uint8Array, expiresAt: bigint | null = null): Promise<{ id: string; swap: string }> {
    if (this.stopped) return Promise.reject(new IntentRefused('shutting-down'));
    const read = readIntent(intentBytes);
    if (!read.ok) return Promise.reject(new IntentRefused(read.reason));
    const t = read.intent.terms;
    const self = keyPairFromSeed(this.host.identity).publicKey;
    if (t.routeFee > 0n && toHex(t.entry) !== toHex(self))
      return Promise.reject(
        new IntentRefused(
          `its route fee pays the route from entry node ${toHex(t.entry).slice(0, 16)}…, not this node (${toHex(self).slice(0, 16)}…): submit it there`,
        ),
      );
    const missing = offeredNotes(t).findIndex((k) => this.notes.note(k) === undefined);
    if (missing >= 0)
      return Promise.reject(
        new IntentRefused(
          `offered note ${missing} is not an unspent swap-owner note of the intent's owner here (move the notes to the swap account first)`,
        ),
      );
    const id = `rpc:${++this.requests}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.replies.delete(id);
        reject(new IntentRefused('gossip-timeout'));
      }, SUBMIT_TIMEOUT_MS);
      this.replies.set(id, (r) => {
        clearTimeout(timer);
        if (!r.ok) reject(new IntentRefused(r.reason ?? 'refused'));
        else {
          this.stats.submitted++;
          resolve({ id: toHex(r.intent), swap: toHex(read.id) });
        }
      });
      const body = swapIntentBody(read.intent, expiresAt);
      this.host.graph.send(this.gossip.in.submit, { id, body, to: [] }, 'rpc');
    });
  }

  /** The intents in this node's gossip pool, at most `limit`. */
  pool(limit: number): IntentJson[] {
    const ctx = this.host.graph.instance('gossip').context<GossipContext>();
    const out: IntentJson[] = [];
    for (const [id, p] of Object.entries(ctx.pool)) {
      if (out.length >= limit) break;
      const b = p.intent.body;
      out.push({
        id,
        topic: b.topic,
        expiry: b.expiry.toString(),
        fee: b.fee === null ? null : b.fee.toString(),
        hops: p.intent.route.length,
        local: p.local,
        payload: toHex(b.payload),
      });
    }
    return out;
  }

  poolSize(): number {
    try {
      return this.host.graph.instance('gossip').context<GossipContext>().size;
    } catch {
      return 0;
    }
  }

  stop(): void {
    this.stopped = true;
  }

  /** A settlement's outcome is known (or it was refused): its notes are free again. */
  private forget(hash: string): void {
    for (const k of this.settlements.get(hash)?.spends ?? []) this.reserved.delete(k);
    this.settlements.delete(hash);
  }

  private async submitSolution(s: Solution): Promise<void> {
    const log = this.host.logger;
    const intents = s.intents.map(toHex);
    try {
      const tx = decode(Transaction, s.tx);
      const dry = dryRun(tx, this.notes, this.host.committedHeight() + 1n);
      if (!dry.accepted) {
        this.stats.refusedSolutions++;
        log.warn(
          { batch: s.batch.toString(), phase: dry.phase, reason: dry.reason },
          'a settlement fails the predicates against current state: not submitted',
        );
        return;
      }
      const key = this.host.epochKey();
      const { bytes, hash } = envelopeFor(tx, {
        instance: this.host.genesis.instance,
        payerKey: this.host.identity,
        fee: this.host.config.intents.fee,
        height: this.host.committedHeight(),
        ...(key === undefined
          ? {}
          : { epochKey: { epoch: key.epoch.toString(), publicKey: toHex(key.publicKey) } }),
      });
      if (this.settlements.size >= MAX_SETTLEMENTS_KEPT) {
        const oldest = this.settlements.keys().next().value;
        if (oldest !== undefined) this.forget(oldest);
      }
      const spends = tx.stateReadConstraints.map(toHex);
      for (const k of spends) this.reserved.add(k);
      this.settlements.set(hash, {
        intents,
        fills: fillsOf(tx, (k) => this.notes.note(k)),
        spends,
        at: this.host.committedHeight(),
      });
      const r = await this.host.submitEnvelope(bytes);
      if (!r.ok) {
        this.forget(hash);
        log.warn({ batch: s.batch.toString(), reason: r.reason }, 'the mempool refused a settlement');
        return;
      }
      this.stats.submittedSolutions++;
      log.info(
        { batch: s.batch.toString(), intents: intents.length, hash, encrypted: key !== undefined },
        'settlement submitted',
      );
    } catch (e) {
      log.warn({ batch: s.batch.toString(), error: (e as Error).message }, 'could not submit a settlement');
    }
  }
}

/**
 * The simulated network: nodes exchange byte strings through it, on the simulator's virtual clock,
 * subject to the fault plan (loss, duplication, delay and reordering, partitions). Every random
 * choice comes from the network's own seeded stream, so a seed fixes every delivery.
 */
import type { Random } from '../runtime/random.ts';
import type { SimScheduler } from '../runtime/scheduler.ts';
import { canReach, type FaultPlan } from './faults.ts';

/** `lamport` is the sender's Lamport time when it sent (0 when unknown), for happened-before. */
export type Deliver = (from: string, bytes: Uint8Array, lamport: number) => void;

export interface NetworkStats {
  sent: number;
  delivered: number;
  dropped: number;
  duplicated: number;
  partitioned: number;
  toDownNode: number;
  bytes: number;
}

/**
 * What a cluster needs of its network: `SimNetwork` (messages as datagrams) or `SimSessions`
 * (sim/sessions.ts: messages on peer sessions over simulated connections).
 */
export interface SimTransport {
  readonly stats: NetworkStats;
  /** Registers a node (or re-attaches it after a restart). */
  attach(node: string, deliver: Deliver): void;
  /** A crashed node: what is in flight to it is lost. */
  detach(node: string): void;
  isUp(node: string): boolean;
  nodes(): readonly string[];
  send(from: string, to: string, bytes: Uint8Array, lamport?: number): void;
  broadcast(from: string, bytes: Uint8Array, lamport?: number): void;
  /** An engine at `node` found a message from `peer` bad (sessions score it; datagrams do not). */
  penalise?(node: string, peer: string, reason: string): void;
}

export class SimNetwork implements SimTransport {
  private readonly endpoints = new Map<string, Deliver>();
  private readonly known: string[] = [];
  readonly stats: NetworkStats = {
    sent: 0,
    delivered: 0,
    dropped: 0,
    duplicated: 0,
    partitioned: 0,
    toDownNode: 0,
    bytes: 0,
  };

  constructor(
    private readonly scheduler: SimScheduler,
    private readonly random: Random,
    private readonly plan: FaultPlan,
  ) {}

  /** Registers a node (or re-attaches it after a restart). */
  attach(node: string, deliver: Deliver): void {
    if (!this.known.includes(node)) this.known.push(node);
    this.endpoints.set(node, deliver);
  }

  /** A crashed node: messages in flight to it are lost. */
  detach(node: string): void {
    this.endpoints.delete(node);
  }

  isUp(node: string): boolean {
    return this.endpoints.has(node);
  }

  nodes(): readonly string[] {
    return this.known;
  }

  send(from: string, to: string, bytes: Uint8Array, lamport = 0): void {
    this.stats.sent++;
    this.stats.bytes += bytes.length;
    if (!canReach(this.plan, from, to, this.scheduler.now())) {
      this.stats.partitioned++;
      return;
    }
    const links = this.plan.links;
    if (links.drop > 0 && this.random.float() < links.drop) {
      this.stats.dropped++;
      return;
    }
    const copies = links.duplicate > 0 && this.random.float() < links.duplicate ? 2 : 1;
    if (copies === 2) this.stats.duplicated++;
    for (let i = 0; i < copies; i++) {
      const span = links.maxDelay - links.minDelay;
      const delay = links.minDelay + (span > 0 ? this.random.int(span + 1) : 0);
      this.scheduler.at(this.scheduler.now() + delay, () => {
        const endpoint = this.endpoints.get(to);
        if (endpoint === undefined) {
          this.stats.toDownNode++;
          return;
        }
        // a partition that began while the message was in flight also cuts it
        if (!canReach(this.plan, from, to, this.scheduler.now())) {
          this.stats.partitioned++;
          return;
        }
        this.stats.delivered++;
        endpoint(from, bytes, lamport);
      });
    }
  }

  /** Sends to every other known node (up or down: a down node just loses it). */
  broadcast(from: string, bytes: Uint8Array, lamport = 0): void {
    for (const to of this.known) if (to !== from) this.send(from, to, bytes, lamport);
  }
}

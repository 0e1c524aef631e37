/**
 * An intent gossip overlay in the simulator: N nodes, each an engine graph holding one gossip
 * engine (engines/gossip) with its own simulated key, joined by the simulated network along the
 * edges of an overlay graph, on one virtual clock. Links come up at the start; a node tells its
 * engine which peers it has, carries its engine's sends, and records what it delivered locally,
 * what left its pool and whom it cut off. A seed fixes the run and its trace hash.
 */
import { createGossipEngine } from '../engines/gossip/engine.ts';
import type { GossipContext } from '../engines/gossip/machine.ts';
import type { Filter, IntentBody } from '../engines/gossip/messages.ts';
import type { GossipConfig, GossipEnv } from '../engines/gossip/node.ts';
import type { SubmitIntent } from '../engines/gossip/ports.ts';
import { EngineGraph, type EngineHandle } from '../runtime/graph.ts';
import { Inspector } from '../runtime/inspect.ts';
import { Random } from '../runtime/random.ts';
import { SimScheduler } from '../runtime/scheduler.ts';
import { sha256, toHex } from '../wire/commit.ts';
import { createSigner, verify as ed25519Verify } from '../wire/sign.ts';
import { type FaultPlan, NO_FAULTS } from './faults.ts';
import { SimNetwork } from './network.ts';
import { SimKeyring } from './signer.ts';

export type Edge = readonly [number, number];

export interface OverlayOptions {
  readonly seed: number;
  /** each node's filter, by index (the node count) */
  readonly filters: readonly Filter[];
  readonly edges: readonly Edge[];
  /** per-hop delivery time, virtual ms (the least, when `links` adds faults) */
  readonly latency: number;
  /** link faults: loss, duplicates, and delays up to `maxDelay` (none when absent) */
  readonly links?: { readonly drop: number; readonly duplicate: number; readonly maxDelay: number };
  readonly params?: GossipConfig['params'];
  readonly stillValid?: GossipEnv['stillValid'];
  /** keep the trace hash (default true) */
  readonly trace?: boolean;
  /**
   * sign hops with ed25519 (keys from `overlayNodeSeed`) instead of the keyed-hash stand-in: what a
   * settlement's predicate checks when it pays a route
   */
  readonly ed25519?: boolean;
  /** adds engines beside a node's gossip engine (a solver), before the graphs start */
  readonly attach?: (node: OverlayNode, index: number) => void;
}

type GossipHandle = EngineHandle<
  ReturnType<typeof createGossipEngine>['inputs'],
  ReturnType<typeof createGossipEngine>['outputs']
>;

export interface OverlayNode {
  readonly id: string;
  readonly graph: EngineGraph;
  readonly gossip: GossipHandle;
  /** intent id (hex) -> virtual time it was delivered to this node's subscribers */
  readonly delivered: Map<string, number>;
  /** intent id (hex) -> why it left this node's pool */
  readonly gone: Map<string, string>;
  /** peers this node asked the transport to cut off, with the reason */
  readonly disconnects: { peer: string; reason: string }[];
  readonly penalties: { peer: string; reason: string }[];
}

export const nodeName = (i: number): string => `g${i}`;

/** Node i's ed25519 seed when the overlay signs with ed25519. */
export const overlayNodeSeed = (i: number): Uint8Array =>
  sha256(new TextEncoder().encode(`overlay-node:${i}`));

export class GossipOverlay {
  readonly scheduler: SimScheduler;
  readonly network: SimNetwork;
  readonly inspector: Inspector;
  /** signs for node i under the label `nodeName(i)` (an adversary's traffic is signed with it too) */
  readonly keyring = new SimKeyring();
  readonly nodes: OverlayNode[] = [];
  private requests = 0;

  constructor(readonly o: OverlayOptions) {
    this.scheduler = new SimScheduler(o.seed);
    const plan: FaultPlan = {
      ...NO_FAULTS,
      links: {
        drop: o.links?.drop ?? 0,
        duplicate: o.links?.duplicate ?? 0,
        minDelay: o.latency,
        maxDelay: Math.max(o.latency, o.links?.maxDelay ?? o.latency),
      },
    };
    this.network = new SimNetwork(this.scheduler, new Random(`overlay-net/${o.seed}`), plan);
    this.inspector = new Inspector({ trace: o.trace ?? true });
    const engine = createGossipEngine(o.stillValid === undefined ? {} : { stillValid: o.stillValid });
    const neighbours = o.filters.map(() => new Set<number>());
    for (const [a, b] of o.edges) {
      if (a === b) continue;
      neighbours[a]!.add(b);
      neighbours[b]!.add(a);
    }
    for (const [i, filter] of o.filters.entries()) {
      const id = nodeName(i);
      const graph = new EngineGraph({
        node: id,
        scheduler: this.scheduler,
        inspector: this.inspector,
        seed: o.seed,
        signer: o.ed25519 ? createSigner(overlayNodeSeed(i)) : this.keyring.signer(id),
        verify: o.ed25519 ? ed25519Verify : this.keyring.verify,
        freezeContexts: true,
      });
      const gossip = graph.add('gossip', engine, {
        overlay: 'sim',
        filter,
        ...(o.params === undefined ? {} : { params: o.params }),
      });
      const node: OverlayNode = {
        id,
        graph,
        gossip,
        delivered: new Map(),
        gone: new Map(),
        disconnects: [],
        penalties: [],
      };
      graph.envelopes(gossip.out.net).subscribe((e) => {
        // a node talks only over its overlay links
        const to = Number(e.msg.to.slice(1));
        if (neighbours[i]!.has(to)) this.network.send(id, e.msg.to, e.msg.bytes, e.lamport);
      });
      graph
        .observe(gossip.out.intents)
        .subscribe((d) => node.delivered.set(toHex(d.id), this.scheduler.now()));
      graph.observe(gossip.out.gone).subscribe((g) => {
        for (const x of g.ids) node.gone.set(toHex(x), g.reason);
      });
      graph.observe(gossip.out.disconnect).subscribe((d) => {
        node.disconnects.push(d);
        // the transport closes the link on both sides
        const other = Number(d.peer.slice(1));
        if (neighbours[i]!.delete(other)) {
          neighbours[other]!.delete(i);
          this.nodes[other]?.graph.send(this.nodes[other]!.gossip.in.peers, { peer: id, up: false });
        }
      });
      graph.observe(gossip.out.penalty).subscribe((p) => node.penalties.push(p));
      this.network.attach(id, (from, bytes, lamport) =>
        graph.send(gossip.in.net, { peer: from, bytes }, `net:${from}`, lamport),
      );
      this.nodes.push(node);
      o.attach?.(node, i);
    }
    for (const [i, node] of this.nodes.entries()) {
      node.graph.start();
      for (const j of [...neighbours[i]!].sort((a, b) => a - b))
        node.graph.send(node.gossip.in.peers, { peer: nodeName(j), up: true });
    }
  }

  /** Submits an intent at node `i` (directed to `to` when given); returns the request id. */
  submit(i: number, body: IntentBody, to: readonly string[] = []): string {
    const node = this.nodes[i]!;
    const id = `r${this.requests++}`;
    const msg: SubmitIntent = { id, body, to: [...to] };
    node.graph.send(node.gossip.in.submit, msg, 'client');
    return id;
  }

  /** Every node learns that the chain reached `height` and spent `spent`. */
  chain(height: bigint, spent: readonly Uint8Array[] = []): void {
    for (const n of this.nodes) n.graph.send(n.gossip.in.spent, { height, spent: [...spent] }, 'chain');
  }

  /** Sends raw bytes to node `to` as if from `from` (an adversary's traffic). */
  inject(from: string, to: number, bytes: Uint8Array): void {
    const n = this.nodes[to]!;
    n.graph.send(n.gossip.in.net, { peer: from, bytes }, `net:${from}`);
  }

  /** Runs the simulation until virtual time `until` (or until nothing is left to do). */
  runUntil(until: number): void {
    this.scheduler.run({ maxTime: until });
  }

  context(i: number): GossipContext {
    return this.nodes[i]!.graph.instance('gossip').context<GossipContext>();
  }

  traceHash(): string {
    return this.inspector.traceHash();
  }
}

/**
 * A connected random overlay: a random tree (each node joins one earlier node), then random
 * extra links until the mean degree reaches `degree`.
 */
export function randomOverlay(n: number, degree: number, random: Random): Edge[] {
  const edges: Edge[] = [];
  const has = new Set<string>();
  const add = (a: number, b: number) => {
    const k = a < b ? `${a}-${b}` : `${b}-${a}`;
    if (a === b || has.has(k)) return false;
    has.add(k);
    edges.push(a < b ? [a, b] : [b, a]);
    return true;
  };
  for (let i = 1; i < n; i++) add(i, random.int(i));
  const target = Math.floor((n * degree) / 2);
  for (let tries = 0; edges.length < target && tries < target * 20; tries++)
    add(random.int(n), random.int(n));
  return edges;
}

/** Hop distances from `from` over `edges` among `n` nodes, restricted to nodes `allowed` admits (-1: unreachable). */
export function hopsFrom(
  n: number,
  edges: readonly Edge[],
  from: number,
  allowed: (i: number) => boolean = () => true,
): number[] {
  const adj = Array.from({ length: n }, () => [] as number[]);
  for (const [a, b] of edges) {
    adj[a]!.push(b);
    adj[b]!.push(a);
  }
  const dist = new Array<number>(n).fill(-1);
  dist[from] = 0;
  const queue = [from];
  for (let q = 0; q < queue.length; q++) {
    const u = queue[q]!;
    for (const v of adj[u]!) {
      if (dist[v] !== -1 || !allowed(v)) continue;
      dist[v] = dist[u]! + 1;
      queue.push(v);
    }
  }
  return dist;
}

/** The overlay's diameter in hops (the longest shortest path; Infinity when disconnected). */
export function diameter(n: number, edges: readonly Edge[]): number {
  let d = 0;
  for (let i = 0; i < n; i++) {
    for (const h of hopsFrom(n, edges, i)) {
      if (h === -1) return Number.POSITIVE_INFINITY;
      d = Math.max(d, h);
    }
  }
  return d;
}

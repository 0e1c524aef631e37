/**
 * The feed side of the visualiser: inspection events turned into what a page sees, filtered by
 * what the page asked for and capped by a budget, so a busy network never floods a browser. What
 * the budget holds back is counted and summarised in the next batch, never silently lost.
 */
import { CONSENSUS_LIMITS } from '../engines/consensus/messages.ts';
import { ConsensusStore } from '../engines/consensus/store.ts';
import type { EngineGraph } from '../runtime/graph.ts';
import type { InspectEvent, Inspector } from '../runtime/inspect.ts';
import type { SimScheduler } from '../runtime/scheduler.ts';
import type { Storage } from '../storage/types.ts';
import { blockHash, CommittedBlock } from '../wire/ledger.ts';
import { tryDecode } from '../wire/schema.ts';
import {
  type Batch,
  type ConsensusInfo,
  type EngineStatusInfo,
  eventType,
  FEED_EVENT_KINDS,
  type FeedEvent,
  type FeedEventKind,
  type FilterMessage,
  type IntentsInfo,
  type NodeInfo,
  type NodeStatus,
} from './protocol.ts';

/** An inspection event as the page sees it: message bodies replaced by their size. */
export function toFeedEvent(e: InspectEvent): FeedEvent {
  if (e.kind === 'deliver') {
    const { msg, ...rest } = e;
    return { ...rest, bytes: msg === undefined ? -1 : msg.length };
  }
  return { ...e };
}

export interface FeedFilter {
  nodes: ReadonlySet<string> | undefined;
  engines: ReadonlySet<string> | undefined;
  kinds: ReadonlySet<FeedEventKind> | undefined;
  types: ReadonlySet<string> | undefined;
}

export const NO_FILTER: FeedFilter = {
  nodes: undefined,
  engines: undefined,
  kinds: undefined,
  types: undefined,
};

const MAX_FILTER_ENTRIES = 1024;

export class FilterError extends Error {
  override readonly name = 'FilterError';
}

/** Reads a page's `filter` message; anything malformed is a FilterError naming the field. */
export function parseFilter(m: FilterMessage): FeedFilter {
  const set = <T extends string>(field: string, v: unknown, allowed?: readonly T[]): Set<T> | undefined => {
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v) || v.length > MAX_FILTER_ENTRIES || v.some((x) => typeof x !== 'string')) {
      throw new FilterError(`filter.${field} must be a list of at most ${MAX_FILTER_ENTRIES} strings`);
    }
    if (allowed !== undefined) {
      const bad = v.find((x) => !allowed.includes(x as T));
      if (bad !== undefined) throw new FilterError(`filter.${field}: unknown kind ${JSON.stringify(bad)}`);
    }
    return v.length === 0 ? undefined : new Set(v as T[]);
  };
  return {
    nodes: set('nodes', m.nodes),
    engines: set('engines', m.engines),
    kinds: set('kinds', m.kinds, FEED_EVENT_KINDS),
    types: set('types', m.types),
  };
}

export function matches(f: FeedFilter, e: FeedEvent): boolean {
  return (
    (f.nodes === undefined || f.nodes.has(e.node)) &&
    (f.engines === undefined || f.engines.has(e.engine)) &&
    (f.kinds === undefined || f.kinds.has(e.kind)) &&
    (f.types === undefined || f.types.has(eventType(e)))
  );
}

/**
 * One page's stream: events that pass its filter queue up to `perBatch`; the rest until the next
 * batch are counted as dropped, by node/engine/kind.
 */
export class PageStream {
  private filter: FeedFilter = NO_FILTER;
  private pending: FeedEvent[] = [];
  private dropped = 0;
  private droppedBy: Record<string, number> = {};
  /** totals since the page connected */
  streamed = 0;
  droppedTotal = 0;

  constructor(private readonly perBatch: number) {
    if (!(perBatch >= 1)) throw new RangeError(`PageStream: perBatch must be >= 1, got ${perBatch}`);
  }

  setFilter(f: FeedFilter): void {
    this.filter = f;
  }

  offer(e: FeedEvent): void {
    if (!matches(this.filter, e)) return;
    if (this.pending.length < this.perBatch) {
      this.pending.push(e);
      return;
    }
    this.drop(e, 1);
  }

  private drop(e: FeedEvent, n: number): void {
    this.dropped += n;
    this.droppedTotal += n;
    const key = `${e.node}/${e.engine}/${e.kind}`;
    this.droppedBy[key] = (this.droppedBy[key] ?? 0) + n;
  }

  /** The batch to send now, or undefined when there is nothing to say. */
  cut(time: number): Batch | undefined {
    if (this.pending.length === 0 && this.dropped === 0) return undefined;
    const batch: Batch = {
      type: 'batch',
      time,
      events: this.pending,
      dropped: this.dropped,
      droppedBy: this.droppedBy,
    };
    this.streamed += this.pending.length;
    this.pending = [];
    this.dropped = 0;
    this.droppedBy = {};
    return batch;
  }

  /** Forgets what is queued and summarised (a reset: it showed what no longer holds); keeps the filter. */
  clear(): void {
    this.pending = [];
    this.dropped = 0;
    this.droppedBy = {};
  }

  /**
   * The page could not take the batch (its socket is backed up): its events are summarised
   * with the next batch instead.
   */
  unsent(batch: Batch): void {
    this.streamed -= batch.events.length;
    for (const e of batch.events) this.drop(e, 1);
    for (const [key, n] of Object.entries(batch.droppedBy)) {
      this.dropped += n;
      this.droppedBy[key] = (this.droppedBy[key] ?? 0) + n;
    }
  }
}

// ------------------------------------------------------------------ graphs and their status

/** The structure of a node's engine graph (what `hello` carries). */
export function nodeInfoOf(graph: EngineGraph): NodeInfo {
  const d = graph.describe();
  return {
    node: d.node,
    engines: d.engines.map((e) => ({
      name: e.name,
      definition: e.definition,
      inputs: e.inputs.map((p) => ({ name: p.name, schema: p.schema })),
      outputs: e.outputs.map((p) => ({ name: p.name, schema: p.schema })),
    })),
    edges: d.edges,
  };
}

const short = (b: Uint8Array | string | null | undefined): string | null => {
  if (b === null || b === undefined) return null;
  const hex = typeof b === 'string' ? b : Buffer.from(b).toString('hex');
  return hex.slice(0, 12);
};

/** Committed blocks shown per node. */
const COMMITS_SHOWN = 12;

/** Block hashes by height, per store: a committed block never changes, so each is decoded once. */
const commitHashes = new WeakMap<Storage, Map<bigint, string>>();

/** The last `COMMITS_SHOWN` blocks committed below `height`, read from the node's block store. */
export function recentCommits(storage: Storage | undefined, height: bigint): ConsensusInfo['commits'] {
  if (storage === undefined) return [];
  let cache = commitHashes.get(storage);
  if (cache === undefined) {
    cache = new Map();
    commitHashes.set(storage, cache);
  }
  const store = new ConsensusStore(storage);
  const out: ConsensusInfo['commits'] = [];
  for (let h = height - BigInt(COMMITS_SHOWN); h < height; h++) {
    if (h < 1n) continue;
    let hash = cache.get(h);
    if (hash === undefined) {
      const bytes = store.block(h);
      const decoded = bytes === undefined ? undefined : tryDecode(CommittedBlock, bytes, CONSENSUS_LIMITS);
      if (decoded === undefined || !decoded.ok) continue;
      hash = short(blockHash(decoded.value.block.header))!;
      cache.set(h, hash);
    }
    out.push({ height: h.toString(), hash });
  }
  const oldest = height - BigInt(COMMITS_SHOWN);
  for (const h of cache.keys()) if (h < oldest) cache.delete(h);
  return out;
}

/** What the consensus view shows, read from a consensus engine's context (fields checked, not trusted). */
export function consensusInfoOf(context: unknown, storage?: Storage): ConsensusInfo | undefined {
  if (context === null || typeof context !== 'object') return undefined;
  const c = (context as { core?: unknown }).core as Record<string, unknown> | undefined;
  if (c === null || typeof c !== 'object') return undefined;
  const r = c.round as Record<string, unknown> | undefined;
  if (typeof c.height !== 'bigint' || r === undefined || typeof r.round !== 'number') return undefined;
  const last = c.lastBlockHash instanceof Uint8Array ? c.lastBlockHash : undefined;
  return {
    height: c.height.toString(),
    round: r.round,
    step: String(r.step),
    lockedRound: Number(r.lockedRound),
    lockedValue: short(r.lockedValue as string | null),
    validRound: Number(r.validRound),
    validValue: short(r.validValue as string | null),
    lastBlockHash: last === undefined || last.every((x) => x === 0) ? '' : short(last)!,
    self: Number(c.self),
    commits: recentCommits(storage, c.height),
  };
}

/** Pooled intents the status carries at most. */
const POOL_SHOWN = 12;

const hexShort = (b: unknown): string => (b instanceof Uint8Array ? short(b)! : '');

/**
 * What the intents view shows, from a gossip engine's context and a solver's (fields checked, not
 * trusted): the pool's first intents with the routes they came by, and the solver's last solutions.
 */
export function intentsInfoOf(gossip: unknown, solver: unknown, self?: Uint8Array): IntentsInfo | undefined {
  const g = gossip as { pool?: unknown; poolCount?: unknown } | null;
  if (g === null || typeof g !== 'object' || g.pool === null || typeof g.pool !== 'object') return undefined;
  const pool: IntentsInfo['pool'] = [];
  for (const [id, e] of Object.entries(g.pool as Record<string, unknown>)) {
    if (pool.length >= POOL_SHOWN) break;
    const entry = e as { intent?: { body?: { topic?: unknown }; route?: unknown }; local?: unknown };
    const route = Array.isArray(entry.intent?.route) ? entry.intent.route : [];
    pool.push({
      id: id.slice(0, 8),
      topic: String(entry.intent?.body?.topic ?? ''),
      route: route.map((h: { node?: unknown }) => hexShort(h?.node)),
      local: entry.local === true,
    });
  }
  const recent = (solver as { recent?: unknown } | null)?.recent;
  const solved: IntentsInfo['solved'] = Array.isArray(recent)
    ? recent.map((r: { batch?: unknown; height?: unknown; topics?: unknown }) => ({
        batch: Number(r.batch),
        height: String(r.height),
        topics: Array.isArray(r.topics) ? r.topics.map(String) : [],
      }))
    : [];
  return {
    self: hexShort(self),
    pool,
    poolSize: typeof g.poolCount === 'number' ? g.poolCount : pool.length,
    solved,
  };
}

/** Every engine's current state and counters; `undefined` graph = the node is down (as last seen). */
export function nodeStatusOf(info: NodeInfo, graph: EngineGraph | undefined): NodeStatus {
  if (graph === undefined) {
    return {
      node: info.node,
      up: false,
      engines: info.engines.map((e) => ({
        name: e.name,
        state: '',
        status: 'stopped',
        mailbox: 0,
        processed: 0,
        restarts: 0,
      })),
    };
  }
  let consensus: ConsensusInfo | undefined;
  let gossip: unknown;
  let solver: unknown;
  let gossipKey: Uint8Array | undefined;
  const engines: EngineStatusInfo[] = graph.engineNames().map((name) => {
    const e = graph.instance(name);
    if (e.definition.name === 'consensus' && e.status === 'running') {
      consensus = consensusInfoOf(e.snapshot()?.context, e.host.storage);
    }
    if (e.definition.name === 'gossip' && e.status === 'running') {
      gossip = e.snapshot()?.context;
      gossipKey = e.host.signer?.publicKey;
    }
    if (e.definition.name === 'solver' && e.status === 'running') solver = e.snapshot()?.context;
    const parts = e.partStates();
    return {
      name,
      state: e.stateString(),
      status: e.status,
      mailbox: e.mailboxDepth,
      processed: e.processed,
      restarts: e.restarts,
      ...(parts.size === 0 ? {} : { parts: Object.fromEntries(parts) }),
    };
  });
  const intents = gossip === undefined ? undefined : intentsInfoOf(gossip, solver, gossipKey);
  return {
    node: info.node,
    up: true,
    engines,
    ...(consensus === undefined ? {} : { consensus }),
    ...(intents === undefined ? {} : { intents }),
  };
}

/** A simulated node as far as the visualiser reads it. */
export interface SimulatedNode {
  readonly id: string;
  readonly up: boolean;
  /** absent while the node is down */
  readonly graph: EngineGraph | undefined;
}

/**
 * A simulated cluster as far as the visualiser reads it; sim/cluster.ts's `Cluster` is one. viz/
 * does not import the simulator, so the live node, which serves this page, does not depend on it.
 */
export interface SimulatedCluster {
  readonly nodes: readonly SimulatedNode[];
  readonly scheduler: SimScheduler;
  readonly inspector: Inspector;
  /** starts every node and schedules the plan, once (before the first step) */
  prepare(): void;
}

/**
 * A simulated cluster as the visualiser sees it: each node's graph structure (remembered while a
 * node is down, so it keeps its place) and status.
 */
export class ClusterView {
  private readonly infos = new Map<string, NodeInfo>();
  /** the graph each info was read from: a graph's structure is fixed once started, so it is read once */
  private readonly readFrom = new Map<string, EngineGraph>();

  constructor(private readonly cluster: SimulatedCluster) {}

  nodes(): NodeInfo[] {
    return this.cluster.nodes.map((n) => {
      if (n.graph !== undefined && this.readFrom.get(n.id) !== n.graph) {
        this.infos.set(n.id, nodeInfoOf(n.graph));
        this.readFrom.set(n.id, n.graph);
      }
      return this.infos.get(n.id) ?? { node: n.id, engines: [], edges: [] };
    });
  }

  statuses(): NodeStatus[] {
    const infos = this.nodes();
    return this.cluster.nodes.map((n, i) => nodeStatusOf(infos[i]!, n.up ? n.graph : undefined));
  }
}

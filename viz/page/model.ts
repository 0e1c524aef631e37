/**
 * What the page knows, merged over its feeds: the nodes (each owned by the first feed that
 * announced it), their laid-out graphs, the statecharts by definition, every node's latest status
 * with message rates derived from it, the committed blocks seen so far, and the latest events.
 * No DOM here: the views read this model when they render.
 */
import {
  type Batch,
  type ChartLayout,
  type ChartTransitionLayout,
  type EngineInfo,
  type EngineStatusInfo,
  eventType,
  type FeedEvent,
  type FeedMessage,
  type FeedMode,
  type FeedStats,
  type GraphLayout,
  type Hello,
  type NodeInfo,
  type NodeStatus,
  type PartStepInfo,
  type Status,
} from '../protocol.ts';
import type { FeedConnection } from './feed.ts';

/** events kept (the space-time view shows the newest of them that pass its filter) */
export const EVENT_CAP = 4000;
/** transitions kept per engine for the statechart's log */
export const LOG_CAP = 40;
/** committed heights kept per node */
const COMMIT_CAP = 64;
/** the message rate is measured over about this much feed time (ms) */
const RATE_WINDOW = 2000;

export const laneKey = (node: string, engine: string): string => `${node}/${engine}`;
/** The key of a part of an engine (its log, its last state): still `<node>/…` */
export const partKey = (node: string, engine: string, part: string): string =>
  `${laneKey(node, engine)}#${part}`;

/** The map's value for `key`, made and stored first if missing. */
function entry<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let v = map.get(key);
  if (v === undefined) {
    v = make();
    map.set(key, v);
  }
  return v;
}

/** Messages per feed second from successive `processed` counts at successive feed times. */
export class RateTracker {
  private samples: { t: number; p: number }[] = [];
  rate: number | null = null;

  update(t: number, p: number): void {
    const last = this.samples.at(-1);
    if (last !== undefined && (t < last.t || p < last.p)) {
      // a jump back in time or a restarted engine: measure afresh
      this.samples = [];
      this.rate = null;
    }
    const prev = this.samples.at(-1);
    if (prev !== undefined && prev.t === t) prev.p = p;
    else this.samples.push({ t, p });
    while (this.samples.length > 2 && t - this.samples[1]!.t >= RATE_WINDOW) this.samples.shift();
    const first = this.samples[0]!;
    if (t > first.t) this.rate = ((p - first.p) * 1000) / (t - first.t);
  }
}

export interface TransitionLogEntry {
  at: number;
  lamport: number;
  event: string;
  from: string;
  to: string;
  /** ids of the transitions taken (see FeedEvent), when the runtime named them */
  taken?: readonly string[];
}

/** What changed with a message, for the page to know which views to redraw. */
export interface Changes {
  structure: boolean;
  status: boolean;
  events: boolean;
  header: boolean;
}

const none = (): Changes => ({ structure: false, status: false, events: false, header: false });

export class Model {
  readonly feeds: FeedConnection[] = [];
  nodes: NodeInfo[] = [];
  /** node → engine → its description */
  engines = new Map<string, Map<string, EngineInfo>>();
  graphs = new Map<string, GraphLayout>();
  /** by definition */
  charts = new Map<string, ChartLayout>();
  owner = new Map<string, FeedConnection>();
  status = new Map<string, NodeStatus>();
  /** by `node/engine` */
  rates = new Map<string, RateTracker>();
  /** node → height (decimal) → short hash of the block committed there */
  commits = new Map<string, Map<string, string>>();
  /** by `node/engine`, or `partKey` for a part: recent state changes, oldest first */
  logs = new Map<string, TransitionLogEntry[]>();
  /** by `node/engine` (or `partKey`): how many steps changed nothing (a part: took only in-place rules) */
  inPlace = new Map<string, number>();
  /** by `partKey`: the part's state after the latest event that named it */
  partStates = new Map<string, string>();
  /** per part chart: its transitions by id (several targets share an id: the first is kept) */
  private readonly transitionsById = new WeakMap<ChartLayout, Map<string, ChartTransitionLayout>>();
  events: FeedEvent[] = [];
  /** counts every event ever appended (views compare it to know what is new) */
  eventSeq = 0;
  /** bumped when everything shown is void (reset, a feed's new hello) */
  epoch = 0;
  dropped = 0;
  droppedBy = new Map<string, number>();
  /** wall-clock ms of the last batch that summarised events */
  lastDropAt = 0;
  /** event types seen so far, for the filters */
  seenTypes = new Set<string>();
  error: { message: string; at: number } | null = null;

  /** Applies a feed's message; returns what changed. */
  apply(feed: FeedConnection, msg: FeedMessage): Changes {
    const changed = none();
    switch (msg.type) {
      case 'hello':
        this.onHello(feed, msg);
        changed.structure = changed.status = changed.events = changed.header = true;
        break;
      case 'reset':
        feed.hello = null;
        feed.status = null;
        this.clearAll();
        this.rebuild();
        changed.structure = changed.status = changed.events = changed.header = true;
        break;
      case 'batch':
        this.onBatch(msg);
        changed.events = msg.events.length > 0;
        changed.header = msg.dropped > 0;
        break;
      case 'status':
        this.onStatus(feed, msg);
        changed.status = changed.header = true;
        break;
      case 'error':
        this.error = { message: msg.message, at: Date.now() };
        changed.header = true;
        break;
    }
    return changed;
  }

  private onHello(feed: FeedConnection, hello: Hello): void {
    if (feed.hello !== null) {
      // a reconnection: what this feed showed before may not continue where it left off
      const mine = new Set(feed.hello.nodes.map((n) => n.node));
      this.clearNodes((n) => mine.has(n));
    }
    feed.hello = hello;
    feed.status = null;
    this.rebuild();
  }

  /** The merged structure, from every feed's hello in feed order (the first to name a node owns it). */
  rebuild(): void {
    this.nodes = [];
    this.engines.clear();
    this.graphs.clear();
    this.charts.clear();
    this.owner.clear();
    for (const feed of this.feeds) {
      const hello = feed.hello;
      if (hello === null) continue;
      for (const n of hello.nodes) {
        if (this.owner.has(n.node)) continue;
        this.owner.set(n.node, feed);
        this.nodes.push(n);
        this.engines.set(n.node, new Map(n.engines.map((e) => [e.name, e])));
        const g = hello.graphs.find((x) => x.node === n.node);
        if (g !== undefined) this.graphs.set(n.node, g);
      }
      for (const c of hello.charts) if (!this.charts.has(c.definition)) this.charts.set(c.definition, c);
    }
    for (const node of [...this.status.keys()]) if (!this.owner.has(node)) this.status.delete(node);
  }

  private onBatch(batch: Batch): void {
    for (const e of batch.events) {
      this.events.push(e);
      this.eventSeq++;
      this.seenTypes.add(eventType(e));
      if (e.kind === 'transition') {
        for (const p of e.parts ?? []) this.onPartStep(e, p);
        const key = laneKey(e.node, e.engine);
        if (e.from === e.to) {
          this.inPlace.set(key, (this.inPlace.get(key) ?? 0) + 1);
          continue;
        }
        const log = entry(this.logs, key, (): TransitionLogEntry[] => []);
        log.push({
          at: e.at,
          lamport: e.lamport,
          event: e.event,
          from: e.from,
          to: e.to,
          ...(e.taken === undefined ? {} : { taken: e.taken }),
        });
        if (log.length > LOG_CAP) log.splice(0, log.length - LOG_CAP);
      }
    }
    if (this.events.length > EVENT_CAP * 1.25) this.events.splice(0, this.events.length - EVENT_CAP);
    if (batch.dropped > 0) {
      this.dropped += batch.dropped;
      this.lastDropAt = Date.now();
      for (const [k, n] of Object.entries(batch.droppedBy)) {
        this.droppedBy.set(k, (this.droppedBy.get(k) ?? 0) + n);
      }
    }
  }

  /**
   * A part's share of a step: a change when its state changed or a rule took it out of its state
   * (a new round re-enters `propose`); otherwise, if it took rules, handled in place.
   */
  private onPartStep(e: Extract<FeedEvent, { kind: 'transition' }>, p: PartStepInfo): void {
    const key = partKey(e.node, e.engine, p.part);
    const before = this.partStates.get(key);
    this.partStates.set(key, p.state);
    const chart = this.partChart(e.node, e.engine, p.part);
    const left = chart === undefined ? undefined : this.firstMove(chart, p.taken);
    if (before === p.state && left === undefined) {
      if (p.taken.length > 0) this.inPlace.set(key, (this.inPlace.get(key) ?? 0) + 1);
      return;
    }
    // first sight of the part, and no rule that moved it: nothing is known to have changed
    if (before === undefined && left === undefined) return;
    const from =
      before ?? (left!.from.startsWith(`${chart!.id}.`) ? left!.from.slice(chart!.id.length + 1) : '');
    const log = entry(this.logs, key, (): TransitionLogEntry[] => []);
    log.push({ at: e.at, lamport: e.lamport, event: e.event, from, to: p.state, taken: p.taken });
    if (log.length > LOG_CAP) log.splice(0, log.length - LOG_CAP);
  }

  /** The first of `taken` that leaves its state (not handled in place), if any. */
  private firstMove(chart: ChartLayout, taken: readonly string[]): ChartTransitionLayout | undefined {
    let byId = this.transitionsById.get(chart);
    if (byId === undefined) {
      byId = new Map();
      for (const t of chart.transitions) if (!byId.has(t.id)) byId.set(t.id, t);
      this.transitionsById.set(chart, byId);
    }
    for (const id of taken) {
      const t = byId.get(id);
      if (t !== undefined && t.internal !== true) return t;
    }
    return undefined;
  }

  private onStatus(feed: FeedConnection, status: Status): void {
    feed.status = status;
    for (const ns of status.nodes) {
      if (this.owner.get(ns.node) !== feed) continue;
      const wasUp = this.status.get(ns.node)?.up ?? true;
      this.status.set(ns.node, ns);
      for (const e of ns.engines) {
        const key = laneKey(ns.node, e.name);
        // a node back up counts afresh: no rate across its time down
        if (ns.up && !wasUp) this.rates.delete(key);
        const r = entry(this.rates, key, () => new RateTracker());
        if (ns.up) r.update(status.time, e.processed);
        else r.rate = null;
      }
      const c = ns.consensus;
      if (c !== undefined && Array.isArray(c.commits) && c.commits.length > 0) {
        // the feed reads the node's block store: every recent commit, none missed between statuses
        const m = entry(this.commits, ns.node, () => new Map<string, string>());
        for (const { height, hash } of c.commits) {
          if (m.get(height) === hash) continue;
          m.delete(height);
          m.set(height, hash);
        }
        while (m.size > COMMIT_CAP) m.delete(m.keys().next().value!);
      } else if (c !== undefined && c.lastBlockHash !== '' && /^\d+$/.test(c.height)) {
        // at height h the last committed block is the one at h-1
        const h = BigInt(c.height) - 1n;
        if (h >= 0n) {
          const m = entry(this.commits, ns.node, () => new Map<string, string>());
          const key = h.toString();
          if (m.get(key) !== c.lastBlockHash) {
            m.delete(key);
            m.set(key, c.lastBlockHash);
          }
          while (m.size > COMMIT_CAP) m.delete(m.keys().next().value!);
        }
      }
    }
  }

  private clearAll(): void {
    this.clearNodes(() => true);
    this.dropped = 0;
    this.droppedBy.clear();
    this.lastDropAt = 0;
    this.error = null;
  }

  private clearNodes(which: (node: string) => boolean): void {
    this.events = this.events.filter((e) => !which(e.node));
    for (const map of [this.rates, this.logs, this.inPlace, this.partStates]) {
      for (const key of [...map.keys()]) if (which(key.slice(0, key.lastIndexOf('/')))) map.delete(key);
    }
    for (const node of [...this.commits.keys()]) if (which(node)) this.commits.delete(node);
    for (const node of [...this.status.keys()]) if (which(node)) this.status.delete(node);
    this.epoch++;
  }

  // ---------------------------------------------------------------- merged header facts

  private get hellos(): Hello[] {
    return this.feeds.flatMap((f) => (f.hello === null ? [] : [f.hello]));
  }

  /** The feed that takes controls: the first whose hello accepts them. */
  get controlFeed(): FeedConnection | undefined {
    return this.feeds.find((f) => f.hello?.controls === true);
  }

  get mode(): FeedMode | null {
    return this.hellos[0]?.mode ?? null;
  }

  get title(): string {
    return [...new Set(this.hellos.map((h) => h.title))].join(' · ');
  }

  get controls(): boolean {
    return this.controlFeed !== undefined;
  }

  /** events per second each feed streams before summarising */
  get budget(): number {
    return Math.max(0, ...this.hellos.map((h) => h.budget));
  }

  /** the controlled feed's status (else the first) */
  get mainStatus(): Status | null {
    return this.controlFeed?.status ?? this.feeds.find((f) => f.status !== null)?.status ?? null;
  }

  /** feed time: the latest over the feeds */
  get time(): number | null {
    const times = this.feeds.flatMap((f) => (f.status === null ? [] : [f.status.time]));
    return times.length === 0 ? null : Math.max(...times);
  }

  get stats(): FeedStats {
    const out: FeedStats = { produced: 0, streamed: 0, dropped: 0 };
    for (const f of this.feeds) {
      if (f.status === null) continue;
      out.produced += f.status.stats.produced;
      out.streamed += f.status.stats.streamed;
      out.dropped += f.status.stats.dropped;
    }
    return out;
  }

  /** A node is shown down when its status says so or its feed is disconnected. */
  isUp(node: string): boolean {
    const feed = this.owner.get(node);
    if (feed === undefined || feed.state !== 'open') return false;
    return this.status.get(node)?.up ?? true;
  }

  engine(node: string, engine: string): EngineInfo | undefined {
    return this.engines.get(node)?.get(engine);
  }

  chartOf(node: string, engine: string): ChartLayout | undefined {
    const info = this.engine(node, engine);
    return info === undefined ? undefined : this.charts.get(info.definition);
  }

  /** The charts of the machines an engine's core runs (its parts), by part name. */
  partChartsOf(node: string, engine: string): Map<string, ChartLayout> {
    const definition = this.engine(node, engine)?.definition;
    const out = new Map<string, ChartLayout>();
    if (definition === undefined) return out;
    for (const c of this.charts.values()) {
      if (c.partOf === definition && c.definition.startsWith(`${definition}.`)) {
        out.set(c.definition.slice(definition.length + 1), c);
      }
    }
    return out;
  }

  partChart(node: string, engine: string, part: string): ChartLayout | undefined {
    const definition = this.engine(node, engine)?.definition;
    const chart = definition === undefined ? undefined : this.charts.get(`${definition}.${part}`);
    return chart?.partOf === definition ? chart : undefined;
  }

  engineStatus(node: string, engine: string): EngineStatusInfo | undefined {
    return this.status.get(node)?.engines.find((e) => e.name === engine);
  }
}

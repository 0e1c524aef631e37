/**
 * The visualiser's wire protocol: JSON messages between a feed (a live node, the simulator, or a
 * recorded trace being played) and the page. The page bundles this file too, so it imports
 * nothing.
 *
 * A connection opens with `hello` (what the feed shows: nodes, engines, laid-out graphs and
 * statecharts), then receives `batch` (inspection events, filtered and capped by the feed) and
 * `status` (every engine's current state, mailbox and counters; consensus per node) a few times
 * a second. `reset` says everything shown so far is void (a jump back in time, a new trace);
 * a fresh `hello` follows.
 */

export type FeedMode = 'live' | 'sim' | 'trace';

// ------------------------------------------------------------------ what is shown

export interface PortInfo {
  name: string;
  /** the port's wire schema name */
  schema: string;
}

export interface EngineInfo {
  /** the engine's name in its node's graph */
  name: string;
  /** the engine definition's name (which statechart it has) */
  definition: string;
  inputs: PortInfo[];
  outputs: PortInfo[];
}

export interface EdgeInfo {
  from: { engine: string; port: string };
  to: { engine: string; port: string };
}

/** One node's engine graph. */
export interface NodeInfo {
  node: string;
  engines: EngineInfo[];
  edges: EdgeInfo[];
}

// ------------------------------------------------------------------ layouts (computed by the feed)

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

export type Point = [number, number];

export interface ChartStateLayout {
  /** dotted path from the machine id, as in `viz/statechart.ts` and the engines' state strings */
  id: string;
  /** the last path segment */
  label: string;
  type: 'atomic' | 'compound' | 'parallel' | 'final' | 'history';
  parent: string | null;
  /** its parent's initial state */
  initial: boolean;
  /** absolute position in the chart */
  box: Box;
}

export interface ChartTransitionLayout {
  /** index into the statechart's transitions (stable for one definition) */
  index: number;
  /** the transition's id, as the runtime records it when taken (several targets share one) */
  id: string;
  from: string;
  to: string;
  event: string;
  guard?: string;
  /** handled in place: drawn as a label on the state, not as an arrow */
  internal?: true;
  /** the route, absolute; empty for internal transitions */
  points: Point[];
  /** the centre of the `event [guard]` label */
  label?: Point;
}

/** An engine definition's statechart, laid out. */
export interface ChartLayout {
  /** the engine definition's name; `<engine>.<part>` for a machine the engine's core runs */
  definition: string;
  /** for a part: the engine definition whose core runs it (its state and steps come with that engine's) */
  partOf?: string;
  /** the machine id: the root state's id, and the first segment of every state id */
  id: string;
  width: number;
  height: number;
  states: ChartStateLayout[];
  transitions: ChartTransitionLayout[];
}

/** One node's engine graph, laid out: engines as boxes, connections as routed edges. */
export interface GraphLayout {
  node: string;
  width: number;
  height: number;
  engines: { name: string; box: Box }[];
  edges: (EdgeInfo & { points: Point[]; label?: Point })[];
}

// ------------------------------------------------------------------ feed -> page

/** A part's share of an engine step: the part machine's state after it, and what it took. */
export interface PartStepInfo {
  /** the part's name in its engine definition: its chart is `<definition>.<part>` */
  part: string;
  /** the part's state as a dotted path without the machine id (`prevote`) */
  state: string;
  /** ids of the part's transitions the step took, in order */
  taken: readonly string[];
}

export interface Hello {
  type: 'hello';
  mode: FeedMode;
  /** what is being shown, e.g. "sim seed 7: 4 validators, 1 Byzantine (equivocate)" */
  title: string;
  nodes: NodeInfo[];
  graphs: GraphLayout[];
  /** one per engine definition used by some node, and one per part of such a definition */
  charts: ChartLayout[];
  /** whether `control` messages are accepted (simulations and traces, not live nodes) */
  controls: boolean;
  /** events per second the feed streams to one page before it summarises the rest as `dropped` */
  budget: number;
}

interface EventCommon {
  /** scheduler time in ms (virtual in a simulation) */
  at: number;
  node: string;
  lamport: number;
  engine: string;
}

/** An inspection event as the page sees it (message bodies are replaced by their size). */
export type FeedEvent =
  | (EventCommon & {
      kind: 'deliver';
      port: string;
      /** `engine.port` for a connection inside the node; `external:<who>` otherwise (`external:net:<peer>`) */
      from: string;
      /** the sender's Lamport time when it sent (0 when unknown): the happened-before edge */
      sent: number;
      /** encoded size of the message, -1 when it has no wire form */
      bytes: number;
    })
  | (EventCommon & {
      kind: 'transition';
      event: string;
      from: string;
      to: string;
      /** ids of the transitions the step took (absent in traces recorded before they were kept) */
      taken?: readonly string[];
      /** for an engine with parts: each part whose state is known, with what it took in this step */
      parts?: readonly PartStepInfo[];
    })
  | (EventCommon & { kind: 'emit'; port: string })
  | (EventCommon & { kind: 'timer'; op: 'arm' | 'fire' | 'cancel'; name: string; deadline: number })
  | (EventCommon & { kind: 'crash'; error: string })
  | (EventCommon & { kind: 'restart'; restarts: number })
  | (EventCommon & { kind: 'failed'; reason: string })
  | (EventCommon & { kind: 'drop'; port: string; reason: string })
  | (EventCommon & { kind: 'start' | 'stop' });

export type FeedEventKind = FeedEvent['kind'];

export const FEED_EVENT_KINDS: readonly FeedEventKind[] = [
  'deliver',
  'transition',
  'emit',
  'timer',
  'crash',
  'restart',
  'failed',
  'drop',
  'start',
  'stop',
];

export interface Batch {
  type: 'batch';
  /** feed time (ms, virtual in a simulation) when the batch was cut */
  time: number;
  /** events that passed the filter and the budget, in order */
  events: FeedEvent[];
  /** events that passed the filter but not the budget since the last batch: summarised, not sent */
  dropped: number;
  /** `dropped` by `node/engine/kind` */
  droppedBy: Record<string, number>;
}

export interface EngineStatusInfo {
  name: string;
  /** the machine's current state as a dotted path without the machine id (`propose`, `executing.decode`) */
  state: string;
  status: 'idle' | 'running' | 'failed' | 'stopped';
  mailbox: number;
  /** messages and timeouts processed since the engine started */
  processed: number;
  restarts: number;
  /** for an engine with parts: each part's state by part name, when known */
  parts?: Record<string, string>;
}

export interface ConsensusInfo {
  /** decimal string: heights are u64 */
  height: string;
  round: number;
  step: string;
  lockedRound: number;
  /** short hex of the locked block hash, null when unlocked */
  lockedValue: string | null;
  validRound: number;
  validValue: string | null;
  /** short hex of the last committed block's hash ('' before the first commit) */
  lastBlockHash: string;
  /** this node's index in the validator set, -1 for a full node */
  self: number;
  /** the last few committed blocks, oldest first: height (decimal) and short hex of the block hash */
  commits: { height: string; hash: string }[];
}

/** What the intents view shows of a node running intent gossip (and perhaps a solver). */
export interface IntentsInfo {
  /** this node's gossip key, short (what routes name it by) */
  self: string;
  /** intents in the gossip pool, the first few: short id, topic, the route it came by (short node keys), submitted here */
  pool: { id: string; topic: string; route: string[]; local: boolean }[];
  poolSize: number;
  /** a solver's last solutions, newest last: batch number, height (decimal), the topics it matched in order */
  solved: { batch: number; height: string; topics: string[] }[];
}

export interface NodeStatus {
  node: string;
  /** false while a simulated node is crashed */
  up: boolean;
  engines: EngineStatusInfo[];
  consensus?: ConsensusInfo;
  intents?: IntentsInfo;
}

export interface FeedStats {
  /** inspection events produced since this page got its hello (all nodes, before any filter) */
  produced: number;
  /** events sent to this page */
  streamed: number;
  /** events this page's filter let through but the budget summarised */
  dropped: number;
}

export interface Status {
  type: 'status';
  time: number;
  /** simulations and traces: whether time is advancing */
  playing: boolean;
  /** virtual ms per wall ms while playing */
  speed: number;
  /** traces: the last event's time (the end of the timeline) */
  end?: number;
  nodes: NodeStatus[];
  stats: FeedStats;
}

export interface Reset {
  type: 'reset';
  reason: string;
}

export interface FeedError {
  type: 'error';
  message: string;
}

export type FeedMessage = Hello | Batch | Status | Reset | FeedError;

// ------------------------------------------------------------------ page -> feed

/** Which events to stream; an absent or empty list means all. Applies to later batches. */
export interface FilterMessage {
  type: 'filter';
  nodes?: string[];
  engines?: string[];
  kinds?: FeedEventKind[];
  /** ports (deliver, emit, drop), timer names, transition events */
  types?: string[];
}

export type ControlMessage =
  | { type: 'control'; op: 'play'; speed: number }
  | { type: 'control'; op: 'pause' }
  /** runs until the next inspection event is produced (the next engine step) */
  | { type: 'control'; op: 'step' }
  /** jumps to a virtual time; back in time replays from the seed (simulation) or the start (trace) */
  | { type: 'control'; op: 'jump'; time: number };

/** A recorded trace file's text, to be played instead of what is shown. */
export interface LoadMessage {
  type: 'load';
  name: string;
  text: string;
}

export type ClientMessage = FilterMessage | ControlMessage | LoadMessage;

// ------------------------------------------------------------------ what a transition reads

/** A transition in full: `event [guard]`. */
export function transitionText(t: { event: string; guard?: string }): string {
  return t.guard === undefined ? t.event : `${t.event} [${t.guard}]`;
}

/**
 * What a transition's arrow (or its line inside a state) reads: `event [guard]`, where a guard
 * named `<rule>: <what it checks>` (the round machine's `line 36: 2f+1 prevotes for the valid
 * proposal`) reads by its rule, `always [line 36]`; the whole name is in the arrow's tooltip and
 * in the log of state changes.
 */
export function transitionLabel(t: { event: string; guard?: string }): string {
  if (t.guard === undefined) return t.event;
  const colon = t.guard.indexOf(': ');
  return `${t.event} [${colon > 0 ? t.guard.slice(0, colon) : t.guard}]`;
}

/** The message type of an event, for filters and the space-time view's labels. */
export function eventType(e: FeedEvent): string {
  switch (e.kind) {
    case 'deliver':
    case 'emit':
    case 'drop':
      return e.port;
    case 'timer':
      return e.name;
    case 'transition':
      return e.event;
    default:
      return e.kind;
  }
}

// ------------------------------------------------------------------ recorded traces

/**
 * A recorded trace is JSON lines: this header, then, in order, every `FeedEvent` (lines with
 * `kind`) and a `Status` (lines with `type: "status"`) every few virtual milliseconds.
 */
export interface TraceHeader {
  type: 'fractal-trace';
  version: 1;
  title: string;
  nodes: NodeInfo[];
  /** the simulation's seed and the command that reruns it, when known */
  seed?: number;
  command?: string;
}

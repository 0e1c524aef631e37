/**
 * Recorded traces: a simulation's inspection events and periodic engine statuses as JSON lines
 * (format in `TraceHeader`, viz/protocol.ts), written while it runs and played back later in the
 * visualiser with the same controls as a live simulation.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import type { Subscription } from 'rxjs';
import { ClusterView, type SimulatedCluster, toFeedEvent } from './feed.ts';
import {
  type ControlMessage,
  FEED_EVENT_KINDS,
  type FeedEvent,
  type NodeInfo,
  type NodeStatus,
  type Status,
  type TraceHeader,
} from './protocol.ts';
import { ControlError, checkControl, Listeners, type SourceStatus, type VizSource } from './source.ts';

/** Virtual ms between recorded statuses. */
export const STATUS_EVERY_MS = 50;

export class TraceError extends Error {
  override readonly name = 'TraceError';
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(line > 0 ? `trace line ${line}: ${message}` : message);
  }
}

/**
 * Records a cluster's run to `path` from the moment it is attached: call before `prepare()`/`run()`,
 * and `close()` after. Writes are buffered and synchronous (a simulation has no event loop turns).
 */
export class TraceRecorder {
  private readonly fd: number;
  private buffer: string[] = [];
  private bufferedChars = 0;
  private nextStatus = 0;
  private headerWritten = false;
  private readonly view: ClusterView;
  private readonly subscription: Subscription;
  /** the first write that failed: recording stopped there, and `close()` throws it */
  private failure: Error | undefined;
  events = 0;

  constructor(
    private readonly cluster: SimulatedCluster,
    readonly path: string,
    private readonly header: Omit<TraceHeader, 'type' | 'version' | 'nodes'>,
  ) {
    this.view = new ClusterView(cluster);
    this.fd = openSync(path, 'w');
    this.subscription = cluster.inspector.events$.subscribe((e) => {
      if (this.failure !== undefined) return;
      try {
        if (!this.headerWritten) this.writeHeader();
        if (e.at >= this.nextStatus) {
          this.write(JSON.stringify(this.status(e.at)));
          this.nextStatus = (Math.floor(e.at / STATUS_EVERY_MS) + 1) * STATUS_EVERY_MS;
        }
        this.write(JSON.stringify(toFeedEvent(e)));
        this.events++;
      } catch (err) {
        // never into the simulation: stop recording and report it from close()
        this.failure = err as Error;
        this.subscription?.unsubscribe();
      }
    });
  }

  private writeHeader(): void {
    this.headerWritten = true;
    const h: TraceHeader = { type: 'fractal-trace', version: 1, ...this.header, nodes: this.view.nodes() };
    this.write(JSON.stringify(h));
  }

  private status(time: number): Status {
    return {
      type: 'status',
      time,
      playing: false,
      speed: 1,
      nodes: this.view.statuses(),
      stats: { produced: this.events, streamed: 0, dropped: 0 },
    };
  }

  private write(line: string): void {
    this.buffer.push(line);
    this.bufferedChars += line.length + 1;
    if (this.bufferedChars > 1 << 20) this.flush();
  }

  private flush(): void {
    if (this.buffer.length === 0) return;
    const text = `${this.buffer.join('\n')}\n`;
    this.buffer = [];
    this.bufferedChars = 0;
    writeSync(this.fd, text);
  }

  /** Writes a final status and closes the file; throws if a write failed along the way. */
  close(): void {
    this.subscription.unsubscribe();
    try {
      if (this.failure === undefined) {
        if (!this.headerWritten) this.writeHeader();
        this.write(JSON.stringify(this.status(this.cluster.scheduler.now())));
        this.flush();
      }
    } catch (err) {
      this.failure = err as Error;
    } finally {
      closeSync(this.fd);
    }
    if (this.failure !== undefined) {
      throw new Error(`recording the trace to ${this.path} failed: ${this.failure.message}`);
    }
  }
}

export interface Trace {
  header: TraceHeader;
  events: FeedEvent[];
  statuses: Status[];
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

/** Reads a trace file's text; anything malformed is a TraceError naming the line. */
const isString = (v: unknown): v is string => typeof v === 'string';
const isPorts = (v: unknown): boolean =>
  Array.isArray(v) && v.every((p) => isObject(p) && isString(p.name) && isString(p.schema));
const isEnd = (v: unknown): boolean => isObject(v) && isString(v.engine) && isString(v.port);

/** A node's graph as the page needs it: every field checked, so a bad file fails here, not in a view. */
function isNodeInfo(n: unknown): boolean {
  return (
    isObject(n) &&
    isString(n.node) &&
    Array.isArray(n.engines) &&
    n.engines.every(
      (e) =>
        isObject(e) && isString(e.name) && isString(e.definition) && isPorts(e.inputs) && isPorts(e.outputs),
    ) &&
    Array.isArray(n.edges) &&
    n.edges.every((e) => isObject(e) && isEnd(e.from) && isEnd(e.to))
  );
}

function isNodeStatus(n: unknown): boolean {
  return (
    isObject(n) &&
    isString(n.node) &&
    typeof n.up === 'boolean' &&
    Array.isArray(n.engines) &&
    n.engines.every(
      (e) =>
        isObject(e) &&
        isString(e.name) &&
        isString(e.state) &&
        isString(e.status) &&
        typeof e.mailbox === 'number' &&
        typeof e.processed === 'number' &&
        typeof e.restarts === 'number' &&
        (e.parts === undefined || (isObject(e.parts) && Object.values(e.parts).every(isString))),
    ) &&
    (n.consensus === undefined || (isObject(n.consensus) && isString(n.consensus.height)))
  );
}

const isStrings = (v: unknown): boolean => Array.isArray(v) && v.every(isString);

/** What a transition says it took, and its parts' steps, when it says so (the page reads them). */
function isTransitionDetail(v: Record<string, unknown>): boolean {
  if (v.kind !== 'transition') return true;
  return (
    (v.taken === undefined || isStrings(v.taken)) &&
    (v.parts === undefined ||
      (Array.isArray(v.parts) &&
        v.parts.every((p) => isObject(p) && isString(p.part) && isString(p.state) && isStrings(p.taken))))
  );
}

/** Reads a trace file's text; anything malformed is a TraceError naming the line. */
export function parseTrace(text: string): Trace {
  const lines = text.split('\n');
  const parse = (i: number): unknown => {
    try {
      return JSON.parse(lines[i]!);
    } catch {
      throw new TraceError('not JSON', i + 1);
    }
  };
  if (lines[0] === undefined || lines[0].trim() === '') throw new TraceError('the file is empty', 0);
  const header = parse(0);
  if (!isObject(header) || header.type !== 'fractal-trace') {
    throw new TraceError('not a Fractal trace (the first line must be its header)', 1);
  }
  if (header.version !== 1) {
    throw new TraceError(`trace version ${String(header.version)} is not supported`, 1);
  }
  if (!isString(header.title) || !Array.isArray(header.nodes)) {
    throw new TraceError('header needs a title and nodes', 1);
  }
  if (!header.nodes.every(isNodeInfo)) {
    throw new TraceError('header: every node needs node, engines (name, definition, ports) and edges', 1);
  }
  const events: FeedEvent[] = [];
  const statuses: Status[] = [];
  let last = 0;
  for (let i = 1; i < lines.length; i++) {
    if (lines[i]!.trim() === '') continue;
    const v = parse(i);
    if (!isObject(v)) throw new TraceError('neither an event nor a status', i + 1);
    const isStatus = v.type === 'status';
    const at = isStatus ? v.time : v.at;
    if (typeof at !== 'number' || !Number.isFinite(at)) {
      throw new TraceError(isStatus ? 'a status needs a time' : 'an event needs a time (at)', i + 1);
    }
    if (at < last) throw new TraceError(`time ${at} goes backwards (after ${last})`, i + 1);
    last = at;
    if (isStatus) {
      if (!Array.isArray(v.nodes) || !v.nodes.every(isNodeStatus)) {
        throw new TraceError('a status needs nodes, each with its engines (name, state, counters)', i + 1);
      }
      statuses.push(v as unknown as Status);
    } else {
      if (
        !FEED_EVENT_KINDS.includes(v.kind as FeedEvent['kind']) ||
        !isString(v.node) ||
        !isString(v.engine) ||
        typeof v.lamport !== 'number'
      ) {
        throw new TraceError('an event needs kind, node, engine and lamport', i + 1);
      }
      if (!isTransitionDetail(v)) {
        throw new TraceError('a transition names what it took (taken, parts) as lists of ids', i + 1);
      }
      events.push(v as unknown as FeedEvent);
    }
  }
  return { header: header as unknown as TraceHeader, events, statuses };
}

/** A recorded trace played back: a cursor over its events, on a virtual clock of its own. */
export class TraceSource implements VizSource {
  readonly mode = 'trace' as const;
  readonly controls = true;
  readonly title: string;
  private readonly listeners = new Listeners<FeedEvent>();
  private readonly resets = new Listeners<string>();
  private time = 0;
  private cursor = 0;
  private statusCursor = -1;
  private playing: boolean;
  private speed: number;
  readonly end: number;

  constructor(
    private readonly trace: Trace,
    o: { playing?: boolean; speed?: number; name?: string } = {},
  ) {
    this.title =
      o.name === undefined ? `trace: ${trace.header.title}` : `trace ${o.name}: ${trace.header.title}`;
    this.playing = o.playing ?? false;
    this.speed = o.speed ?? 1;
    const lastEvent = trace.events.at(-1)?.at ?? 0;
    const lastStatus = trace.statuses.at(-1)?.time ?? 0;
    this.end = Math.max(lastEvent, lastStatus);
  }

  nodes(): NodeInfo[] {
    return this.trace.header.nodes;
  }

  status(): SourceStatus {
    const recorded = this.trace.statuses[this.statusCursor];
    const nodes: NodeStatus[] =
      recorded?.nodes ??
      this.nodes().map((n) => ({
        node: n.node,
        up: true,
        engines: n.engines.map((e) => ({
          name: e.name,
          state: '',
          status: 'idle' as const,
          mailbox: 0,
          processed: 0,
          restarts: 0,
        })),
      }));
    return { time: this.time, playing: this.playing, speed: this.speed, end: this.end, nodes };
  }

  listen(fn: (e: FeedEvent) => void): () => void {
    return this.listeners.add(fn);
  }

  onReset(fn: (reason: string) => void): void {
    this.resets.add(fn);
  }

  /** Plays the events up to `time` (at most `limit` of them) and the statuses recorded by then. */
  private advance(time: number, limit = Number.POSITIVE_INFINITY): void {
    const { events, statuses } = this.trace;
    for (let n = 0; n < limit && this.cursor < events.length && events[this.cursor]!.at <= time; n++) {
      const e = events[this.cursor++]!;
      this.listeners.emit(e);
    }
    while (this.statusCursor + 1 < statuses.length && statuses[this.statusCursor + 1]!.time <= time) {
      this.statusCursor++;
    }
    this.time = Math.min(Math.max(this.time, time), this.end);
    if (this.time >= this.end) this.playing = false;
  }

  tick(wallMs: number): void {
    if (this.playing) this.advance(this.time + wallMs * this.speed);
  }

  control(c: ControlMessage): void {
    checkControl(c);
    switch (c.op) {
      case 'play':
        if (this.time >= this.end) throw new ControlError('the trace has ended: jump back to play it again');
        this.playing = true;
        this.speed = c.speed;
        return;
      case 'pause':
        this.playing = false;
        return;
      case 'step': {
        this.playing = false;
        const next = this.trace.events[this.cursor];
        if (next !== undefined) this.advance(next.at, 1);
        return;
      }
      case 'jump':
        this.playing = false;
        if (c.time < this.time) {
          this.time = 0;
          this.cursor = 0;
          this.statusCursor = -1;
          this.resets.emit(`jumped back to ${c.time} ms: replaying the trace`);
        }
        this.advance(c.time);
        return;
    }
  }

  close(): void {}
}

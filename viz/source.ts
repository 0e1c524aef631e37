/**
 * What a visualiser feed shows: a simulation it drives (pause, step, play at a speed, jump), a
 * live node it watches, or a recorded trace it plays (viz/trace.ts). The hub (viz/hub.ts) talks
 * to all three through `VizSource`.
 */
import type { Subscription } from 'rxjs';
import type { EngineGraph } from '../runtime/graph.ts';
import type { Inspector } from '../runtime/inspect.ts';
import { ClusterView, nodeInfoOf, nodeStatusOf, type SimulatedCluster, toFeedEvent } from './feed.ts';
import type { ControlMessage, FeedEvent, FeedMode, NodeInfo, NodeStatus } from './protocol.ts';

export interface SourceStatus {
  time: number;
  playing: boolean;
  speed: number;
  end?: number;
  nodes: NodeStatus[];
}

export interface VizSource {
  readonly mode: FeedMode;
  readonly title: string;
  /** whether `control` is accepted */
  readonly controls: boolean;
  nodes(): NodeInfo[];
  status(): SourceStatus;
  /** every event from now on; returns the way to stop listening */
  listen(fn: (e: FeedEvent) => void): () => void;
  /** a wall-clock tick of `wallMs`: a playing simulation or trace advances */
  tick(wallMs: number): void;
  /** throws ControlError on a bad request */
  control(c: ControlMessage): void;
  /** called when everything shown so far is void (a jump back in time) */
  onReset(fn: (reason: string) => void): void;
  close(): void;
}

export class ControlError extends Error {
  override readonly name = 'ControlError';
}

/** Longest virtual time a jump may cover, and the largest speed (virtual ms per wall ms). */
export const MAX_JUMP_MS = 24 * 3600 * 1000;
export const MAX_SPEED = 1000;

/** Checks a control request's numbers; returns it typed. */
export function checkControl(c: ControlMessage): ControlMessage {
  if (c.op === 'play' && !(Number.isFinite(c.speed) && c.speed > 0 && c.speed <= MAX_SPEED)) {
    throw new ControlError(`play: speed must be in (0, ${MAX_SPEED}], got ${String(c.speed)}`);
  }
  if (c.op === 'jump' && !(Number.isFinite(c.time) && c.time >= 0 && c.time <= MAX_JUMP_MS)) {
    throw new ControlError(`jump: time must be in [0, ${MAX_JUMP_MS}] ms, got ${String(c.time)}`);
  }
  if (!['play', 'pause', 'step', 'jump'].includes(c.op)) {
    throw new ControlError(`unknown control ${JSON.stringify((c as { op: unknown }).op)}`);
  }
  return c;
}

/** Listeners, called in order; one that throws is dropped rather than stopping the others. */
export class Listeners<T> {
  private readonly fns = new Set<(x: T) => void>();
  get size(): number {
    return this.fns.size;
  }
  add(fn: (x: T) => void): () => void {
    this.fns.add(fn);
    return () => this.fns.delete(fn);
  }
  emit(x: T): void {
    for (const fn of this.fns) {
      try {
        fn(x);
      } catch {
        this.fns.delete(fn);
      }
    }
  }
}

/** Most wall time a tick spends on a jump. */
const JUMP_BUDGET_MS = 80;

/** Most wall time one tick spends simulating by default, so the page and the sockets stay served. */
const TICK_BUDGET_MS = 40;

/**
 * A simulated cluster the page can drive. `make` builds the cluster for the seed: a jump back in
 * time builds it again and runs it to that time (the run is a function of the seed).
 */
export class SimSource<C extends SimulatedCluster = SimulatedCluster> implements VizSource {
  readonly mode = 'sim' as const;
  readonly controls = true;
  private cluster!: C;
  private view!: ClusterView;
  private subscription: Subscription | undefined;
  private readonly events = new Listeners<FeedEvent>();
  private readonly resets = new Listeners<string>();
  /** a jump in progress: ticks run towards it within their budget, so the server stays responsive */
  private jumpTo: number | undefined;
  private playing: boolean;
  private speed: number;
  private readonly tickBudgetMs: number;

  constructor(
    private readonly make: () => C,
    readonly title: string,
    o: { playing?: boolean; speed?: number; tickBudgetMs?: number } = {},
  ) {
    this.playing = o.playing ?? true;
    this.speed = o.speed ?? 1;
    this.tickBudgetMs = o.tickBudgetMs ?? TICK_BUDGET_MS;
    this.build();
  }

  /** The cluster being shown (tests read engines' real states from it). */
  get current(): C {
    return this.cluster;
  }

  private build(): void {
    this.subscription?.unsubscribe();
    this.cluster = this.make();
    this.view = new ClusterView(this.cluster);
    this.subscription = this.cluster.inspector.events$.subscribe((e) => this.events.emit(toFeedEvent(e)));
    this.cluster.prepare();
  }

  nodes(): NodeInfo[] {
    return this.view.nodes();
  }

  status(): SourceStatus {
    return {
      time: this.cluster.scheduler.now(),
      playing: this.playing,
      speed: this.speed,
      nodes: this.view.statuses(),
    };
  }

  /** Whether a jump is still under way. */
  get jumping(): boolean {
    return this.jumpTo !== undefined;
  }

  listen(fn: (e: FeedEvent) => void): () => void {
    return this.events.add(fn);
  }

  onReset(fn: (reason: string) => void): void {
    this.resets.add(fn);
  }

  tick(wallMs: number): void {
    const scheduler = this.cluster.scheduler;
    let target: number;
    if (this.jumpTo !== undefined) target = this.jumpTo;
    else if (this.playing) target = scheduler.now() + wallMs * this.speed;
    else return;
    const started = performance.now();
    // a jump is waited for: it may take most of the tick (the page still gets its status)
    const budget =
      this.jumpTo === undefined ? this.tickBudgetMs : Math.max(this.tickBudgetMs, JUMP_BUDGET_MS);
    // a simulation slower than the chosen speed falls behind it rather than piling up a backlog
    let why = scheduler.run({ maxTime: target, maxSteps: 200 });
    while (why === 'steps' && performance.now() - started < budget) {
      why = scheduler.run({ maxTime: target, maxSteps: 200 });
    }
    if (this.jumpTo !== undefined && why !== 'steps') this.jumpTo = undefined;
  }

  control(c: ControlMessage): void {
    checkControl(c);
    switch (c.op) {
      case 'play':
        this.jumpTo = undefined;
        this.playing = true;
        this.speed = c.speed;
        return;
      case 'pause':
        this.jumpTo = undefined;
        this.playing = false;
        return;
      case 'step':
        this.jumpTo = undefined;
        this.playing = false;
        this.stepOne();
        return;
      case 'jump':
        this.playing = false;
        this.jump(c.time);
        return;
    }
  }

  /** Runs until the next inspection event (the next engine step), or gives up after many idle tasks. */
  private stepOne(): void {
    const inspector = this.cluster.inspector;
    const before = inspector.eventCount;
    for (let i = 0; i < 100_000 && inspector.eventCount === before; i++) {
      if (!this.cluster.scheduler.step()) return;
    }
  }

  /** Jumps run over the following ticks (a long one takes a while, and the page sees it go). */
  private jump(time: number): void {
    if (time < this.cluster.scheduler.now()) {
      this.build();
      this.resets.emit(`jumped back to ${time} ms: replaying the seed`);
    }
    this.jumpTo = time;
    this.tick(0);
  }

  close(): void {
    this.subscription?.unsubscribe();
    this.subscription = undefined;
  }
}

/**
 * A live node: its inspection stream, subscribed only while a page listens (so a node nobody
 * watches does not build inspection events at all).
 */
export class LiveSource implements VizSource {
  readonly mode = 'live' as const;
  readonly controls = false;
  private readonly events = new Listeners<FeedEvent>();
  private subscription: Subscription | undefined;
  private info: NodeInfo | undefined;

  constructor(
    private readonly graph: EngineGraph,
    private readonly inspector: Inspector,
    readonly title: string,
  ) {}

  nodes(): NodeInfo[] {
    this.info ??= nodeInfoOf(this.graph);
    return [this.info];
  }

  status(): SourceStatus {
    return {
      time: this.graph.scheduler.now(),
      playing: true,
      speed: 1,
      nodes: [nodeStatusOf(this.nodes()[0]!, this.graph)],
    };
  }

  listen(fn: (e: FeedEvent) => void): () => void {
    const remove = this.events.add(fn);
    this.subscription ??= this.inspector.events$.subscribe((e) => {
      if (e.node !== this.graph.node) return;
      this.events.emit(toFeedEvent(e));
      if (this.events.size === 0) this.close();
    });
    return () => {
      remove();
      if (this.events.size === 0) {
        this.subscription?.unsubscribe();
        this.subscription = undefined;
      }
    };
  }

  tick(): void {}

  control(_c: ControlMessage): void {
    throw new ControlError('a live node cannot be paused or stepped (only simulations and traces)');
  }

  onReset(): void {}

  close(): void {
    this.subscription?.unsubscribe();
    this.subscription = undefined;
  }
}

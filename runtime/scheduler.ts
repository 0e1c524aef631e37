/**
 * Schedulers decide when and in which order work runs.
 *
 * - `SimScheduler`: virtual time and a seeded tie-break between tasks due at the same instant,
 *   so one seed fixes the whole interleaving of a run.
 * - `LiveScheduler`: wall-clock time; same-instant work runs first-in first-out.
 *
 * Work that must stay in order (the messages of one channel into one mailbox) goes through a
 * `Lane`: a lane is FIFO, and the scheduler interleaves lanes.
 */
import { Random } from './random.ts';

export interface TimerHandle {
  cancelled: boolean;
}

export interface Scheduler {
  readonly mode: 'sim' | 'live';
  /** Current time in milliseconds (virtual in simulation). */
  now(): number;
  /** Runs `task` at `time` (clamped to now). */
  at(time: number, task: () => void): TimerHandle;
  cancel(handle: TimerHandle): void;
  /** A FIFO queue whose head is scheduled as soon as possible. */
  lane(label: string): Lane;
  /** An XState `clock` backed by this scheduler. */
  readonly clock: XStateClock;
}

export interface XStateClock {
  setTimeout(fn: (...args: unknown[]) => void, timeout: number): unknown;
  clearTimeout(id: unknown): void;
}

/** A FIFO of tasks; at most one of its tasks is pending in the scheduler at a time. */
export class Lane {
  private readonly queue: (() => void)[] = [];
  private head = 0;
  private armed = false;

  constructor(
    readonly label: string,
    private readonly arm: (runOne: () => void) => void,
  ) {}

  get depth(): number {
    return this.queue.length - this.head;
  }

  push(task: () => void): void {
    this.queue.push(task);
    if (!this.armed) {
      this.armed = true;
      this.arm(this.runOne);
    }
  }

  private readonly runOne = (): void => {
    const task = this.queue[this.head];
    this.queue[this.head] = undefined as unknown as () => void;
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    if (this.depth > 0) this.arm(this.runOne);
    else this.armed = false;
    task?.();
  };
}

interface Entry extends TimerHandle {
  time: number;
  key: number;
  seq: number;
  task: () => void;
}

function before(a: Entry, b: Entry): boolean {
  if (a.time !== b.time) return a.time < b.time;
  if (a.key !== b.key) return a.key < b.key;
  return a.seq < b.seq;
}

/** Binary min-heap ordered by (time, random key, sequence). */
class EntryHeap {
  private readonly items: Entry[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): Entry | undefined {
    return this.items[0];
  }

  // sifts move a hole instead of swapping pairs: one write per level, no destructuring
  push(e: Entry): void {
    const a = this.items;
    let i = a.length;
    a.push(e);
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = a[p]!;
      if (!before(e, parent)) break;
      a[i] = parent;
      i = p;
    }
    a[i] = e;
  }

  pop(): Entry | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    const n = a.length;
    if (n > 0 && last !== undefined) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        let m = l;
        let child = a[l]!;
        if (r < n && before(a[r]!, child)) {
          m = r;
          child = a[r]!;
        }
        if (!before(child, last)) break;
        a[i] = child;
        i = m;
      }
      a[i] = last;
    }
    return top;
  }
}

export class SimScheduler implements Scheduler {
  readonly mode = 'sim' as const;
  private time = 0;
  private seq = 0;
  private steps = 0;
  private readonly heap = new EntryHeap();
  private readonly random: Random;

  constructor(seed: number | string) {
    this.random = new Random(`scheduler:${seed}`);
  }

  now(): number {
    return this.time;
  }

  /** Number of tasks run so far. */
  get executed(): number {
    return this.steps;
  }

  get pending(): number {
    return this.heap.size;
  }

  at(time: number, task: () => void): TimerHandle {
    if (!Number.isFinite(time)) throw new RangeError(`SimScheduler.at: time must be finite, got ${time}`);
    const entry: Entry = {
      time: Math.max(time, this.time),
      key: this.random.u32(),
      seq: this.seq++,
      task,
      cancelled: false,
    };
    this.heap.push(entry);
    return entry;
  }

  cancel(handle: TimerHandle): void {
    handle.cancelled = true;
  }

  lane(label: string): Lane {
    return new Lane(label, (runOne) => this.at(this.time, runOne));
  }

  readonly clock: XStateClock = {
    setTimeout: (fn, timeout) => this.at(this.time + timeout, () => fn()),
    clearTimeout: (id) => this.cancel(id as TimerHandle),
  };

  /** Runs the next task; false when nothing is pending. */
  step(): boolean {
    for (;;) {
      const e = this.heap.pop();
      if (e === undefined) return false;
      if (e.cancelled) continue;
      this.time = e.time;
      this.steps++;
      e.task();
      return true;
    }
  }

  /** Time of the next pending task, or undefined. */
  nextTime(): number | undefined {
    for (;;) {
      const e = this.heap.peek();
      if (e === undefined) return undefined;
      if (!e.cancelled) return e.time;
      this.heap.pop();
    }
  }

  /**
   * Runs tasks until `until()` holds, nothing is pending, virtual time would pass `maxTime`,
   * or `maxSteps` tasks ran. Returns why it stopped.
   */
  run(
    opts: { until?: () => boolean; maxTime?: number; maxSteps?: number } = {},
  ): 'done' | 'idle' | 'time' | 'steps' {
    const maxSteps = opts.maxSteps ?? Number.POSITIVE_INFINITY;
    const maxTime = opts.maxTime ?? Number.POSITIVE_INFINITY;
    let n = 0;
    for (;;) {
      if (opts.until?.()) return 'done';
      const next = this.nextTime();
      if (next === undefined) return 'idle';
      if (next > maxTime) {
        this.time = Math.max(this.time, maxTime);
        return 'time';
      }
      if (n >= maxSteps) return 'steps';
      this.step();
      n++;
    }
  }
}

/** Wall-clock scheduler: ready work drains on `setImmediate`, future work on `setTimeout`. */
export class LiveScheduler implements Scheduler {
  readonly mode = 'live' as const;
  private readonly ready: Entry[] = [];
  private readyHead = 0;
  private draining = false;
  private seq = 0;
  private readonly origin = Date.now() - performance.now();

  now(): number {
    return this.origin + performance.now();
  }

  at(time: number, task: () => void): TimerHandle {
    const entry: Entry = { time, key: 0, seq: this.seq++, task, cancelled: false };
    this.arm(entry);
    return entry;
  }

  /** Node's timers may wake a little early against this clock: never run a task before its time. */
  private arm(entry: Entry): void {
    const delay = entry.time - this.now();
    if (delay <= 0) this.enqueueReady(entry);
    else {
      const t = setTimeout(() => (entry.cancelled ? undefined : this.arm(entry)), Math.ceil(delay));
      t.unref?.();
    }
  }

  cancel(handle: TimerHandle): void {
    handle.cancelled = true;
  }

  lane(label: string): Lane {
    return new Lane(label, (runOne) => this.at(0, runOne));
  }

  readonly clock: XStateClock = {
    setTimeout: (fn, timeout) => this.at(this.now() + timeout, () => fn()),
    clearTimeout: (id) => this.cancel(id as TimerHandle),
  };

  private enqueueReady(e: Entry): void {
    this.ready.push(e);
    if (!this.draining) {
      this.draining = true;
      setImmediate(this.drain);
    }
  }

  private readonly drain = (): void => {
    // bounded slice per macrotask so I/O callbacks are not starved
    const sliceEnd = performance.now() + 8;
    while (this.readyHead < this.ready.length) {
      const e = this.ready[this.readyHead++]!;
      if (!e.cancelled) e.task();
      if (performance.now() > sliceEnd) break;
    }
    if (this.readyHead >= this.ready.length) {
      this.ready.length = 0;
      this.readyHead = 0;
      this.draining = false;
    } else setImmediate(this.drain);
  };

  /** Resolves once no ready work remains (timers in the future are not waited for). */
  async settle(): Promise<void> {
    while (this.draining) await new Promise((r) => setImmediate(r));
  }
}

/**
 * A pool of worker threads for CPU-heavy pure work (predicate evaluation, signature batches).
 * Each worker imports a task module whose default export is `(task) => result`; tasks and
 * results cross by structured clone. `run(tasks)` resolves with the results in task order, so
 * callers stay deterministic whatever the interleaving. In simulation, callers evaluate in
 * process instead: instantaneous, and ordered by the scheduler.
 */
import { cpus } from 'node:os';
import { Worker } from 'node:worker_threads';

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

const WORKER_SOURCE = `
import { parentPort, workerData } from 'node:worker_threads';
// task modules are TypeScript: load them through tsx's hooks, registered in this thread
const { register } = await import(workerData.tsx);
register();
const mod = await import(workerData.module);
const handle = mod.default;
parentPort.on('message', (m) => {
  try {
    parentPort.postMessage({ id: m.id, ok: true, value: handle(m.task) });
  } catch (e) {
    parentPort.postMessage({ id: m.id, ok: false, error: String(e && e.stack || e) });
  }
});
`;

const TSX_API = import.meta.resolve('tsx/esm/api');

export class WorkerPool {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, Pending>();
  private readonly load: number[] = [];
  private nextId = 0;
  private closed = false;

  /** `module`: a file URL of the task module; `size`: worker count (default: cores). */
  constructor(module: string, size = cpus().length) {
    if (!Number.isInteger(size) || size < 1)
      throw new RangeError(`worker pool size must be >= 1, got ${size}`);
    for (let i = 0; i < size; i++) {
      const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { module, tsx: TSX_API } });
      w.on('message', (m: { id: number; ok: boolean; value?: unknown; error?: string }) => {
        const p = this.pending.get(m.id);
        if (p === undefined) return;
        this.pending.delete(m.id);
        this.load[i]!--;
        // an idle worker must not keep the process alive; a busy one must
        if (this.load[i] === 0) w.unref();
        if (m.ok) p.resolve(m.value);
        else p.reject(new Error(`worker task failed: ${m.error}`));
      });
      w.on('error', (e) => {
        for (const p of this.pending.values()) p.reject(e);
        this.pending.clear();
      });
      w.unref();
      this.workers.push(w);
      this.load.push(0);
    }
  }

  get size(): number {
    return this.workers.length;
  }

  /** Runs every task; results come back in task order. */
  run<T, R>(tasks: readonly T[]): Promise<R[]> {
    if (this.closed) return Promise.reject(new Error('worker pool is closed'));
    return Promise.all(
      tasks.map(
        (task) =>
          new Promise<R>((resolve, reject) => {
            let best = 0;
            for (let i = 1; i < this.workers.length; i++) if (this.load[i]! < this.load[best]!) best = i;
            const id = this.nextId++;
            this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
            this.load[best]!++;
            this.workers[best]!.ref();
            this.workers[best]!.postMessage({ id, task });
          }),
      ),
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    // an idle worker is unref'd: its exit would not keep the process alive, so a caller awaiting
    // close() with nothing else pending could see the process end first (exit code 13)
    for (const w of this.workers) w.ref();
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

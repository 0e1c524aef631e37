/**
 * A `Storage` that stages its writes instead of applying them: reads, scans included, see the
 * staged writes over the base store; `take()` hands the staged writes over as one batch and
 * starts afresh. It lets an engine step run code written against `Storage` (read, then write,
 * then read its own write) while its writes leave the step as a value, a `persist` effect, for
 * the runtime to apply atomically before the messages they guard (runtime/instance.ts).
 *
 * The base is only read. Values are copied in and out, so a caller may keep and mutate what it
 * wrote or read, as the Storage contract allows.
 */
import { compareBytes, copyBytes, scanBounds } from './prefix.ts';
import {
  type BatchOp,
  checkBytes,
  checkOp,
  type Key,
  type ScanOptions,
  type Storage,
  StorageError,
  type Value,
} from './types.ts';

/** A staged write: the value to put, or null for a delete. */
type Staged = Value | null;

export class StagedStorage implements Storage {
  /** Staged writes by hex key (last one wins), and the ops in the order they were made. */
  #staged = new Map<string, { key: Key; value: Staged }>();
  #ops: BatchOp[] = [];
  #closed = false;

  constructor(private readonly base: Storage) {}

  /** Whether any write is staged. */
  get dirty(): boolean {
    return this.#ops.length > 0;
  }

  /** The staged writes as one batch (in the order made), leaving nothing staged. */
  take(): BatchOp[] {
    const ops = this.#ops;
    if (ops.length === 0) return [];
    this.#ops = [];
    this.#staged = new Map();
    return ops;
  }

  /** Forgets the staged writes (the step that made them failed). */
  discard(): void {
    this.take();
  }

  read(key: Key): Value | undefined {
    this.#open();
    checkBytes(key, 'key');
    // most steps read far more than they write: nothing staged, nothing to look up
    const staged = this.#staged.size === 0 ? undefined : this.#staged.get(hexKey(key));
    if (staged !== undefined) return staged.value === null ? undefined : copyBytes(staged.value);
    return this.base.read(key);
  }

  write(key: Key, value: Value): void {
    this.#open();
    checkBytes(key, 'key');
    checkBytes(value, 'value');
    this.#stage({ op: 'put', key: copyBytes(key), value: copyBytes(value) });
  }

  delete(key: Key): void {
    this.#open();
    checkBytes(key, 'key');
    this.#stage({ op: 'del', key: copyBytes(key) });
  }

  batch(ops: readonly BatchOp[]): void {
    this.#open();
    if (!Array.isArray(ops)) throw new StorageError('invalid-argument', 'batch ops must be an array');
    // all or nothing: every op is checked before any is staged
    for (let i = 0; i < ops.length; i++) checkOp(ops[i], i);
    for (const op of ops) {
      this.#stage(
        op.op === 'put'
          ? { op: 'put', key: copyBytes(op.key), value: copyBytes(op.value) }
          : { op: 'del', key: copyBytes(op.key) },
      );
    }
  }

  /**
   * The base's entries merged with the staged writes in the range, in key order (descending with
   * `reverse`), up to `limit`. The staged writes are taken as of this call (snapshot semantics);
   * the base keeps its own.
   */
  scan(prefix: Key, opts?: ScanOptions): IterableIterator<[Key, Value]> {
    this.#open();
    const bounds = scanBounds(prefix, opts);
    if (this.#staged.size === 0 || bounds === undefined) return this.base.scan(prefix, opts);
    const { lower, upper, limit, reverse } = bounds;
    const inRange: { key: Key; value: Staged }[] = [];
    for (const s of this.#staged.values()) {
      if (compareBytes(s.key, lower) < 0) continue;
      if (upper !== undefined && compareBytes(s.key, upper) >= 0) continue;
      inRange.push(s);
    }
    if (inRange.length === 0) return this.base.scan(prefix, opts);
    const sign = reverse ? -1 : 1;
    inRange.sort((a, b) => sign * compareBytes(a.key, b.key));
    const base = this.base.scan(prefix, {
      start: lower,
      ...(upper === undefined ? {} : { end: upper }),
      reverse,
    });
    return merged(base, inRange, sign, limit, () => this.#open());
  }

  close(): void {
    this.#closed = true;
    this.#staged = new Map();
    this.#ops = [];
  }

  #stage(op: BatchOp): void {
    this.#ops.push(op);
    this.#staged.set(hexKey(op.key), { key: op.key, value: op.op === 'put' ? op.value : null });
  }

  #open(): void {
    if (this.#closed) throw new StorageError('closed', 'staged store is closed');
  }
}

/** Merges a base scan with staged entries (both in the scan's order); a staged entry wins. */
function* merged(
  base: IterableIterator<[Key, Value]>,
  staged: readonly { key: Key; value: Staged }[],
  sign: number,
  limit: number | undefined,
  checkOpen: () => void,
): Generator<[Key, Value]> {
  let yielded = 0;
  let i = 0;
  let b = base.next();
  try {
    while (limit === undefined || yielded < limit) {
      checkOpen();
      const s = staged[i];
      if (b.done === true && s === undefined) return;
      const order = b.done === true ? 1 : s === undefined ? -1 : sign * compareBytes(b.value[0], s.key);
      if (order < 0) {
        yield b.value as [Key, Value];
        yielded++;
        b = base.next();
        continue;
      }
      if (order === 0) b = base.next(); // the staged write replaces the stored entry
      i++;
      if (s!.value === null) continue;
      yield [copyBytes(s!.key), copyBytes(s!.value)];
      yielded++;
    }
  } finally {
    base.return?.();
  }
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function hexKey(key: Key): string {
  let s = '';
  for (let i = 0; i < key.length; i++) s += HEX[key[i]!];
  return s;
}

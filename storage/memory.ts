/**
 * In-memory `Storage` for tests and the deterministic simulator.
 *
 * Layout: two parallel arrays, `keys` sorted by unsigned byte order and `vals`, searched by binary
 * search. With n entries and keys of length L:
 * - read, overwrite, delete of an absent key: O(L log n)
 * - insert of a new key or delete of a present one: O(L log n) search + O(n) array splice (a memmove
 *   of pointers: ~tens of microseconds at 10^5 entries, fine for simulation-sized stores)
 * - scan: O(L log n) to find the range, then O(1) per entry plus the copy of the yielded bytes
 * - clone: O(n) (pointer copies; stored byte arrays are never mutated so they are shared)
 *
 * The store keeps private copies of everything written and hands out fresh copies on read/scan,
 * so callers mutating their arrays can never corrupt it.
 *
 * Scan snapshot semantics: a scan iterator reads the live arrays lazily; just before any mutation
 * the store "detaches" every unfinished iterator by copying its remaining range of (immutable)
 * entries. So an iterator sees the contents as of the `scan` call, and costs nothing extra when
 * nobody writes during iteration.
 */
import { compareBytes, copyBytes, scanBounds } from './prefix.ts';
import {
  type BatchOp,
  checkBytes,
  checkOp,
  checkOps,
  type Key,
  type ScanOptions,
  type Storage,
  StorageError,
  type Value,
} from './types.ts';

const EMPTY: readonly [Key, Value][] = [];

export class MemoryStorage implements Storage {
  #keys: Uint8Array[] = [];
  #vals: Uint8Array[] = [];
  #closed = false;
  /** Unfinished scan iterators still reading the live arrays. */
  readonly #live = new Set<MemoryScan>();

  /** Number of entries. */
  get size(): number {
    this.#open();
    return this.#keys.length;
  }

  get closed(): boolean {
    return this.#closed;
  }

  read(key: Key): Value | undefined {
    this.#open();
    checkBytes(key, 'key');
    const i = this.#find(key);
    return i >= 0 ? copyBytes(this.#vals[i]!) : undefined;
  }

  write(key: Key, value: Value): void {
    this.#open();
    checkBytes(key, 'key');
    checkBytes(value, 'value');
    this.#detachScans();
    this.#put(key, value);
  }

  delete(key: Key): void {
    this.#open();
    checkBytes(key, 'key');
    this.#detachScans();
    this.#del(key);
  }

  batch(ops: readonly BatchOp[]): void {
    this.#open();
    checkOps(ops);
    // validate everything first: once we start applying, nothing can fail, so the batch is atomic
    for (let i = 0; i < ops.length; i++) checkOp(ops[i], i);
    this.#detachScans();
    for (const op of ops) {
      if (op.op === 'put') this.#put(op.key, op.value);
      else this.#del(op.key);
    }
  }

  scan(prefix: Key, opts?: ScanOptions): IterableIterator<[Key, Value]> {
    this.#open();
    const b = scanBounds(prefix, opts);
    if (b === undefined) return EMPTY.values();
    let lo = this.#lowerBound(b.lower);
    let hi = b.upper === undefined ? this.#keys.length : this.#lowerBound(b.upper);
    if (b.limit !== undefined && hi - lo > b.limit) {
      if (b.reverse) lo = hi - b.limit;
      else hi = lo + b.limit;
    }
    if (lo >= hi) return EMPTY.values();
    const it = new MemoryScan(this, this.#keys, this.#vals, lo, hi, b.reverse);
    this.#live.add(it);
    return it;
  }

  close(): void {
    this.#closed = true;
    this.#live.clear();
    this.#keys = [];
    this.#vals = [];
  }

  /**
   * An independent copy of the current contents, O(n). The simulator uses it to model a
   * crash-restart: the restarted node keeps only (a snapshot of) its storage.
   */
  clone(): MemoryStorage {
    this.#open();
    const c = new MemoryStorage();
    c.#keys = this.#keys.slice();
    c.#vals = this.#vals.slice();
    return c;
  }

  /** @internal called by iterators */
  _release(it: MemoryScan): void {
    this.#live.delete(it);
  }

  #open(): void {
    if (this.#closed) throw new StorageError('closed', 'memory store is closed');
  }

  #detachScans(): void {
    if (this.#live.size === 0) return;
    for (const it of this.#live) it.detach();
    this.#live.clear();
  }

  /** First index whose key is >= key. */
  #lowerBound(key: Uint8Array): number {
    const keys = this.#keys;
    let lo = 0;
    let hi = keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareBytes(keys[mid]!, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Index of key, or -(insertion point) - 1. */
  #find(key: Uint8Array): number {
    const i = this.#lowerBound(key);
    const k = this.#keys[i];
    return k !== undefined && compareBytes(k, key) === 0 ? i : -i - 1;
  }

  #put(key: Uint8Array, value: Uint8Array): void {
    const i = this.#find(key);
    if (i >= 0) {
      this.#vals[i] = copyBytes(value);
    } else {
      const at = -i - 1;
      this.#keys.splice(at, 0, copyBytes(key));
      this.#vals.splice(at, 0, copyBytes(value));
    }
  }

  #del(key: Uint8Array): void {
    const i = this.#find(key);
    if (i >= 0) {
      this.#keys.splice(i, 1);
      this.#vals.splice(i, 1);
    }
  }
}

/** Iterator over [lo, hi) of the store's arrays (or, once detached, of private copies). */
class MemoryScan implements IterableIterator<[Key, Value]> {
  #store: MemoryStorage | undefined;
  #keys: Uint8Array[];
  #vals: Uint8Array[];
  #lo: number;
  #hi: number;
  readonly #reverse: boolean;
  readonly #owner: MemoryStorage;

  constructor(
    store: MemoryStorage,
    keys: Uint8Array[],
    vals: Uint8Array[],
    lo: number,
    hi: number,
    reverse: boolean,
  ) {
    this.#store = store;
    this.#owner = store;
    this.#keys = keys;
    this.#vals = vals;
    this.#lo = lo;
    this.#hi = hi;
    this.#reverse = reverse;
  }

  /** Copy the remaining range so that later mutations of the store do not affect it. */
  detach(): void {
    this.#keys = this.#keys.slice(this.#lo, this.#hi);
    this.#vals = this.#vals.slice(this.#lo, this.#hi);
    this.#hi -= this.#lo;
    this.#lo = 0;
    this.#store = undefined;
  }

  next(): IteratorResult<[Key, Value]> {
    if (this.#owner.closed) throw new StorageError('closed', 'memory store closed during scan');
    if (this.#lo >= this.#hi) return this.#finish();
    const i = this.#reverse ? --this.#hi : this.#lo++;
    return { done: false, value: [copyBytes(this.#keys[i]!), copyBytes(this.#vals[i]!)] };
  }

  return(): IteratorResult<[Key, Value]> {
    this.#lo = this.#hi;
    return this.#finish();
  }

  #finish(): IteratorResult<[Key, Value]> {
    if (this.#store !== undefined) {
      this.#store._release(this);
      this.#store = undefined;
    }
    this.#keys = [];
    this.#vals = [];
    this.#lo = this.#hi = 0;
    return { done: true, value: undefined };
  }

  [Symbol.iterator](): IterableIterator<[Key, Value]> {
    return this;
  }
}

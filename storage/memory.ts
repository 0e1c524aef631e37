/**
 * In-memory `Storage` for tests and the deterministic simulator.
 *
 * Layout: two parallel arrays, `keys` sorted by unsigned byte order and `vals`, searched by binary
 * search. With n entries and keys of length L:
 * - read, overwrite, delete of an absent key: O(L log n)
 * - insert of a new key or delete of a present one: O(L log n) search + O(n) array splice (a memmove
 *   of pointers: ~tens of microseconds at 10^5 entries, fine for simulation-sized stores)
 * - batch of m ops: sorted by key (O(m log m) compares, skipped when already in order) and reduced
 *   to the last op per key, then merged in place (see `#merge`): O(m log n) searches plus one
 *   linear move of the entries after the first insertion or removal, instead of an O(n) splice
 *   per key. Batches of a few ops splice per key, which costs the same without the bookkeeping.
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
/** Placeholder while the arrays grow in `#merge` (always overwritten). */
const EMPTY_BYTES = new Uint8Array(0);

/** Batches up to this many ops splice per key; larger ones are merged (see `#merge`). */
const SPLICE_MAX = 4;

/** First index in [lo, hi) whose key is >= key (hi if none). */
function lowerBound(keys: readonly Uint8Array[], key: Uint8Array, lo: number, hi: number): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareBytes(keys[mid]!, key) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The batch's effect as one op per key, sorted by key: ops apply in order, so the last op on a
 * key is the one that counts. A stable sort keeps equal keys in batch order; it is skipped when
 * the batch is already in key order (the Merkle tree's batches are).
 */
function lastPerKey(ops: readonly BatchOp[]): BatchOp[] {
  let ordered: readonly BatchOp[] = ops;
  for (let j = 1; j < ops.length; j++) {
    if (compareBytes(ops[j - 1]!.key, ops[j]!.key) > 0) {
      const order = ops.map((_, t) => t).sort((x, y) => compareBytes(ops[x]!.key, ops[y]!.key) || x - y);
      ordered = order.map((t) => ops[t]!);
      break;
    }
  }
  const out: BatchOp[] = [];
  for (let t = 0; t < ordered.length; t++) {
    const op = ordered[t]!;
    const next = ordered[t + 1];
    if (next !== undefined && compareBytes(next.key, op.key) === 0) continue; // a later op wins
    out.push(op);
  }
  return out;
}

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
    if (ops.length <= SPLICE_MAX) {
      for (const op of ops) {
        if (op.op === 'put') this.#put(op.key, op.value);
        else this.#del(op.key);
      }
      return;
    }
    this.#merge(lastPerKey(ops));
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
    return lowerBound(this.#keys, key, 0, this.#keys.length);
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

  /**
   * Applies ops sorted by key, one per key (see `lastPerKey`), in place, in one linear pass per
   * kind of change: every op's position is found by a forward binary search; overwrites replace
   * the value; removals compact the arrays front to back; insertions then merge back to front
   * into the arrays grown by their number. Entries before the first removal or insertion do not
   * move, and no array of the store's size is allocated.
   */
  #merge(ops: readonly BatchOp[]): void {
    const keys = this.#keys;
    const vals = this.#vals;
    const n = keys.length;
    const removed: number[] = []; // indices of present keys deleted, ascending
    const inserts: { at: number; op: BatchOp & { op: 'put' } }[] = []; // insertion points, ascending
    let from = 0;
    for (const op of ops) {
      const i = lowerBound(keys, op.key, from, n);
      from = i;
      const hit = i < n && compareBytes(keys[i]!, op.key) === 0;
      if (op.op === 'put') {
        if (hit) vals[i] = copyBytes(op.value);
        else inserts.push({ at: i, op });
      } else if (hit) removed.push(i);
    }
    let len = n;
    if (removed.length > 0) {
      // front to back: shift the survivors over the removed entries, and move every insertion
      // point down by the removed entries before it
      let w = removed[0]!;
      let d = 0;
      for (let r = w; r < n; r++) {
        if (d < removed.length && removed[d] === r) {
          d++;
          continue;
        }
        keys[w] = keys[r]!;
        vals[w] = vals[r]!;
        w++;
      }
      d = 0;
      for (const x of inserts) {
        while (d < removed.length && removed[d]! < x.at) d++;
        x.at -= d;
      }
      len = n - removed.length;
      keys.length = len;
      vals.length = len;
    }
    if (inserts.length === 0) return;
    // back to front: grow by the insertions, then move each stretch of old entries up to its
    // final place and put the new entry below it
    for (let t = 0; t < inserts.length; t++) {
      keys.push(EMPTY_BYTES);
      vals.push(EMPTY_BYTES);
    }
    let r = len - 1;
    let w = len + inserts.length - 1;
    for (let j = inserts.length - 1; j >= 0; j--) {
      const x = inserts[j]!;
      for (; r >= x.at; r--, w--) {
        keys[w] = keys[r]!;
        vals[w] = vals[r]!;
      }
      keys[w] = copyBytes(x.op.key);
      vals[w] = copyBytes(x.op.value);
      w--;
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

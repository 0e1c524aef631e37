/**
 * In-memory `Storage` for tests, the deterministic simulator and the benchmarks.
 *
 * Layout: the bytes of every key and value live in two append-only arenas (one growing
 * Uint8Array each); the entries are four parallel typed arrays (key offset and length, value
 * offset and length), sorted by unsigned key byte order and searched by binary search. A store
 * of n entries is then a handful of objects whatever n is: held as a Uint8Array per key and per
 * value (the previous layout), a Merkle tree's two records per key made the collector copy and
 * scan millions of small objects, which cost more than the tree's hashing.
 *
 * With n entries and keys of length L:
 * - read, overwrite, delete of an absent key: O(L log n)
 * - insert of a new key or delete of a present one: O(L log n) search + an O(n) move of the
 *   typed arrays (a memmove: microseconds at 10^5 entries)
 * - batch of m ops: sorted by key (O(m log m) compares, skipped when already in order) and reduced
 *   to the last op per key, then merged in place (see `#merge`): O(m log n) searches plus one
 *   linear move of the entries after the first insertion or removal. Batches of a few ops splice
 *   per key, which costs the same without the bookkeeping.
 * - scan: O(L log n) to find the range, then O(1) per entry plus the copy of the yielded bytes
 * - clone: O(n + bytes) (typed array copies)
 *
 * An overwritten or deleted entry leaves its bytes in the arena; once more than half of an arena
 * is such garbage (and it is over a megabyte) the live bytes are copied into a fresh one, so the
 * arenas stay within about twice the live bytes. Bytes once written to an arena never change: a
 * fresh arena replaces a grown or compacted one.
 *
 * The store copies everything written into its arenas and hands out fresh copies on read/scan,
 * so callers mutating their arrays can never corrupt it.
 *
 * Scan snapshot semantics: a scan iterator reads the live entry arrays lazily; just before any
 * mutation the store "detaches" every unfinished iterator by copying its remaining range of
 * entries (the arenas it points into never change). So an iterator sees the contents as of the
 * `scan` call, and costs nothing extra when nobody writes during iteration.
 */
import { compareBytes, scanBounds } from './prefix.ts';
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

/** Batches up to this many ops splice per key; larger ones are merged (see `#merge`). */
const SPLICE_MAX = 4;
/** An arena is compacted only past this much garbage (and when garbage is over half of it). */
const COMPACT_MIN = 1 << 20;
/** Arenas hold byte offsets in Uint32Arrays. */
const ARENA_MAX = 2 ** 32 - 1;

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

/** Append-only bytes: `add` copies in and returns the offset; `bytes` only ever replaced, never changed. */
class Arena {
  bytes: Uint8Array;
  used = 0;
  /** bytes of entries overwritten or deleted */
  garbage = 0;

  constructor(capacity = 1024) {
    this.bytes = new Uint8Array(capacity);
  }

  add(b: Uint8Array): number {
    const at = this.used;
    const end = at + b.length;
    if (end > this.bytes.length) this.#grow(end);
    this.bytes.set(b, at);
    this.used = end;
    return at;
  }

  /** Worth compacting: over half garbage, and enough of it. */
  get wasteful(): boolean {
    return this.garbage > COMPACT_MIN && this.garbage * 2 > this.used;
  }

  #grow(need: number): void {
    if (need > ARENA_MAX) throw new StorageError('full', 'memory store arena is full (4 GiB)');
    const next = new Uint8Array(Math.min(ARENA_MAX, Math.max(need, this.bytes.length * 2)));
    next.set(this.bytes.subarray(0, this.used));
    this.bytes = next;
  }
}

/** The sorted entries: parallel arrays of key and value offsets and lengths into the arenas. */
class Entries {
  kOff: Uint32Array;
  kLen: Uint32Array;
  vOff: Uint32Array;
  vLen: Uint32Array;
  n = 0;

  constructor(capacity = 64) {
    this.kOff = new Uint32Array(capacity);
    this.kLen = new Uint32Array(capacity);
    this.vOff = new Uint32Array(capacity);
    this.vLen = new Uint32Array(capacity);
  }

  /** Room for `n` entries (the first `this.n` kept). */
  reserve(n: number): void {
    if (n <= this.kOff.length) return;
    const cap = Math.max(n, this.kOff.length * 2);
    const grow = (a: Uint32Array) => {
      const b = new Uint32Array(cap);
      b.set(a.subarray(0, this.n));
      return b;
    };
    this.kOff = grow(this.kOff);
    this.kLen = grow(this.kLen);
    this.vOff = grow(this.vOff);
    this.vLen = grow(this.vLen);
  }

  /** Moves entries [from, end) to start at `to`. */
  move(to: number, from: number, end: number): void {
    if (from === to || from >= end) return;
    this.kOff.copyWithin(to, from, end);
    this.kLen.copyWithin(to, from, end);
    this.vOff.copyWithin(to, from, end);
    this.vLen.copyWithin(to, from, end);
  }

  /** A copy of entries [lo, hi). */
  slice(lo: number, hi: number): Entries {
    const e = new Entries(0);
    e.kOff = this.kOff.slice(lo, hi);
    e.kLen = this.kLen.slice(lo, hi);
    e.vOff = this.vOff.slice(lo, hi);
    e.vLen = this.vLen.slice(lo, hi);
    e.n = hi - lo;
    return e;
  }
}

/** Compares the stored key at `at` (length `len`) with `key`, as `compareBytes` does. */
function compareAt(arena: Uint8Array, at: number, len: number, key: Uint8Array): number {
  const n = Math.min(len, key.length);
  for (let i = 0; i < n; i++) {
    const d = arena[at + i]! - key[i]!;
    if (d !== 0) return d;
  }
  return len - key.length;
}

export class MemoryStorage implements Storage {
  #keys = new Arena();
  #vals = new Arena();
  #e = new Entries();
  #closed = false;
  /** Unfinished scan iterators still reading the live entries. */
  readonly #live = new Set<MemoryScan>();

  /** Number of entries. */
  get size(): number {
    this.#open();
    return this.#e.n;
  }

  get closed(): boolean {
    return this.#closed;
  }

  read(key: Key): Value | undefined {
    this.#open();
    checkBytes(key, 'key');
    const i = this.#find(key);
    if (i < 0) return undefined;
    const at = this.#e.vOff[i]!;
    return this.#vals.bytes.slice(at, at + this.#e.vLen[i]!);
  }

  write(key: Key, value: Value): void {
    this.#open();
    checkBytes(key, 'key');
    checkBytes(value, 'value');
    this.#detachScans();
    this.#put(key, value);
    this.#compactIfWasteful();
  }

  delete(key: Key): void {
    this.#open();
    checkBytes(key, 'key');
    this.#detachScans();
    this.#del(key);
    this.#compactIfWasteful();
  }

  batch(ops: readonly BatchOp[]): void {
    this.#open();
    checkOps(ops);
    // validate everything first: once we start applying, nothing can fail, so the batch is atomic
    let bytes = 0;
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i];
      checkOp(op, i);
      bytes += op.key.length + (op.op === 'put' ? op.value.length : 0);
    }
    // (and the arenas can take it: growing them is the one thing that could fail midway)
    if (this.#keys.used + bytes > ARENA_MAX || this.#vals.used + bytes > ARENA_MAX) {
      throw new StorageError('full', 'memory store arena is full (4 GiB)');
    }
    this.#detachScans();
    if (ops.length <= SPLICE_MAX) {
      for (const op of ops) {
        if (op.op === 'put') this.#put(op.key, op.value);
        else this.#del(op.key);
      }
    } else this.#merge(lastPerKey(ops));
    this.#compactIfWasteful();
  }

  scan(prefix: Key, opts?: ScanOptions): IterableIterator<[Key, Value]> {
    this.#open();
    const b = scanBounds(prefix, opts);
    if (b === undefined) return EMPTY.values();
    let lo = this.#lowerBound(b.lower, 0);
    let hi = b.upper === undefined ? this.#e.n : this.#lowerBound(b.upper, lo);
    if (b.limit !== undefined && hi - lo > b.limit) {
      if (b.reverse) lo = hi - b.limit;
      else hi = lo + b.limit;
    }
    if (lo >= hi) return EMPTY.values();
    const it = new MemoryScan(this, this.#e, this.#keys.bytes, this.#vals.bytes, lo, hi, b.reverse);
    this.#live.add(it);
    return it;
  }

  close(): void {
    this.#closed = true;
    this.#live.clear();
    this.#keys = new Arena(0);
    this.#vals = new Arena(0);
    this.#e = new Entries(0);
  }

  /**
   * An independent copy of the current contents, O(n). The simulator uses it to model a
   * crash-restart: the restarted node keeps only (a snapshot of) its storage.
   */
  clone(): MemoryStorage {
    this.#open();
    const c = new MemoryStorage();
    const copy = (a: Arena) => {
      const b = new Arena(0);
      b.bytes = a.bytes.slice(0, Math.max(a.used, 1024));
      b.used = a.used;
      b.garbage = a.garbage;
      return b;
    };
    c.#keys = copy(this.#keys);
    c.#vals = copy(this.#vals);
    c.#e = this.#e.slice(0, this.#e.n);
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

  /** First index in [lo, n) whose key is >= key. */
  #lowerBound(key: Uint8Array, lo: number): number {
    const e = this.#e;
    const arena = this.#keys.bytes;
    let hi = e.n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareAt(arena, e.kOff[mid]!, e.kLen[mid]!, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * `#lowerBound(key, from)` for a key known to be >= every key before `from`, by galloping:
   * probing from+1, from+3, from+7, … then a binary search in the last step. A sorted batch's keys
   * land close to one another, and the probes stay within a few cache lines where a binary search
   * over the whole store would miss the cache at every step.
   */
  #gallop(key: Uint8Array, from: number): number {
    const e = this.#e;
    const arena = this.#keys.bytes;
    const n = e.n;
    let lo = from;
    let step = 1;
    while (lo + step <= n) {
      const probe = lo + step - 1;
      if (compareAt(arena, e.kOff[probe]!, e.kLen[probe]!, key) >= 0) {
        let hi = probe;
        while (lo < hi) {
          const mid = (lo + hi) >>> 1;
          if (compareAt(arena, e.kOff[mid]!, e.kLen[mid]!, key) < 0) lo = mid + 1;
          else hi = mid;
        }
        return lo;
      }
      lo = probe + 1;
      step *= 2;
    }
    return this.#lowerBound(key, lo);
  }

  #equalAt(i: number, key: Uint8Array): boolean {
    const e = this.#e;
    return i < e.n && compareAt(this.#keys.bytes, e.kOff[i]!, e.kLen[i]!, key) === 0;
  }

  /** Index of key, or -(insertion point) - 1. */
  #find(key: Uint8Array): number {
    const i = this.#lowerBound(key, 0);
    return this.#equalAt(i, key) ? i : -i - 1;
  }

  #setValue(i: number, value: Uint8Array): void {
    const e = this.#e;
    this.#vals.garbage += e.vLen[i]!;
    e.vOff[i] = this.#vals.add(value);
    e.vLen[i] = value.length;
  }

  #setEntry(i: number, key: Uint8Array, value: Uint8Array): void {
    const e = this.#e;
    e.kOff[i] = this.#keys.add(key);
    e.kLen[i] = key.length;
    e.vOff[i] = this.#vals.add(value);
    e.vLen[i] = value.length;
  }

  #put(key: Uint8Array, value: Uint8Array): void {
    const i = this.#find(key);
    if (i >= 0) {
      this.#setValue(i, value);
      return;
    }
    const at = -i - 1;
    const e = this.#e;
    e.reserve(e.n + 1);
    e.move(at + 1, at, e.n);
    e.n++;
    this.#setEntry(at, key, value);
  }

  #del(key: Uint8Array): void {
    const i = this.#find(key);
    if (i < 0) return;
    const e = this.#e;
    this.#keys.garbage += e.kLen[i]!;
    this.#vals.garbage += e.vLen[i]!;
    e.move(i, i + 1, e.n);
    e.n--;
  }

  /**
   * Applies ops sorted by key, one per key (see `lastPerKey`), in place, in one linear pass per
   * kind of change: every op's position is found by a forward binary search; overwrites replace
   * the value; removals compact the entries front to back; insertions then merge back to front
   * into the entries grown by their number. Entries before the first removal or insertion do not
   * move.
   */
  #merge(ops: readonly BatchOp[]): void {
    const e = this.#e;
    const n = e.n;
    const removed: number[] = []; // indices of present keys deleted, ascending
    const insertAt: number[] = []; // insertion points, ascending
    const inserts: (BatchOp & { op: 'put' })[] = [];
    let from = 0;
    for (const op of ops) {
      const i = this.#gallop(op.key, from);
      from = i;
      const hit = this.#equalAt(i, op.key);
      if (op.op === 'put') {
        if (hit) this.#setValue(i, op.value);
        else {
          insertAt.push(i);
          inserts.push(op);
        }
      } else if (hit) removed.push(i);
    }
    let len = n;
    if (removed.length > 0) {
      // front to back: shift the survivors over the removed entries, and move every insertion
      // point down by the removed entries before it
      let w = removed[0]!;
      for (let d = 0; d < removed.length; d++) {
        const r = removed[d]!;
        this.#keys.garbage += e.kLen[r]!;
        this.#vals.garbage += e.vLen[r]!;
        const end = d + 1 < removed.length ? removed[d + 1]! : n;
        e.move(w, r + 1, end);
        w += end - (r + 1);
      }
      let d = 0;
      for (let j = 0; j < insertAt.length; j++) {
        while (d < removed.length && removed[d]! < insertAt[j]!) d++;
        insertAt[j]! -= d;
      }
      len = n - removed.length;
      e.n = len;
    }
    if (inserts.length === 0) return;
    // back to front: grow by the insertions, then move each stretch of old entries up to its
    // final place and put the new entry below it
    e.reserve(len + inserts.length);
    let r = len; // old entries [x, r) still to move
    let w = len + inserts.length; // they end at w
    for (let j = inserts.length - 1; j >= 0; j--) {
      const at = insertAt[j]!;
      e.move(w - (r - at), at, r);
      w -= r - at;
      r = at;
      w--;
      const op = inserts[j]!;
      this.#setEntry(w, op.key, op.value);
    }
    e.n = len + inserts.length;
  }

  /** Copies the live bytes of a wasteful arena into a fresh one (in entry order). */
  #compactIfWasteful(): void {
    const e = this.#e;
    if (this.#keys.wasteful) this.#keys = compact(this.#keys, e.kOff, e.kLen, e.n);
    if (this.#vals.wasteful) this.#vals = compact(this.#vals, e.vOff, e.vLen, e.n);
  }
}

function compact(old: Arena, off: Uint32Array, len: Uint32Array, n: number): Arena {
  const fresh = new Arena(Math.max(1024, old.used - old.garbage));
  for (let i = 0; i < n; i++) {
    const at = off[i]!;
    off[i] = fresh.add(old.bytes.subarray(at, at + len[i]!));
  }
  return fresh;
}

/** Iterator over entries [lo, hi) of the store (or, once detached, of a private copy of them). */
class MemoryScan implements IterableIterator<[Key, Value]> {
  #store: MemoryStorage | undefined;
  #e: Entries;
  #keys: Uint8Array;
  #vals: Uint8Array;
  #lo: number;
  #hi: number;
  readonly #reverse: boolean;
  readonly #owner: MemoryStorage;

  constructor(
    store: MemoryStorage,
    entries: Entries,
    keys: Uint8Array,
    vals: Uint8Array,
    lo: number,
    hi: number,
    reverse: boolean,
  ) {
    this.#store = store;
    this.#owner = store;
    this.#e = entries;
    this.#keys = keys;
    this.#vals = vals;
    this.#lo = lo;
    this.#hi = hi;
    this.#reverse = reverse;
  }

  /** Copy the remaining range so that later mutations of the store do not affect it. */
  detach(): void {
    this.#e = this.#e.slice(this.#lo, this.#hi);
    this.#hi -= this.#lo;
    this.#lo = 0;
    this.#store = undefined;
  }

  next(): IteratorResult<[Key, Value]> {
    if (this.#owner.closed) throw new StorageError('closed', 'memory store closed during scan');
    if (this.#lo >= this.#hi) return this.#finish();
    const i = this.#reverse ? --this.#hi : this.#lo++;
    const e = this.#e;
    const k = e.kOff[i]!;
    const v = e.vOff[i]!;
    return {
      done: false,
      value: [this.#keys.slice(k, k + e.kLen[i]!), this.#vals.slice(v, v + e.vLen[i]!)],
    };
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
    this.#e = new Entries(0);
    this.#lo = this.#hi = 0;
    return { done: true, value: undefined };
  }

  [Symbol.iterator](): IterableIterator<[Key, Value]> {
    return this;
  }
}

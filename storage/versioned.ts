/**
 * Height-versioned key-value view over any `Storage`.
 *
 * A read at height h returns the latest version written at or below h. A delete at height h writes
 * a tombstone: reads at >= h see nothing (until a later put), reads below h still see the older
 * version. Writing the same key twice at the same height replaces that version.
 *
 * Layout of one version in the underlying store:
 *
 *   key   = namespace ++ escape(userKey) ++ 0x00 0x01 ++ height (8 bytes, big-endian)
 *   value = 0x01 ++ userValue      (a put)
 *         | 0x00                   (a tombstone)
 *
 * where escape() replaces every 0x00 byte with 0x00 0xff. The terminator 0x00 0x01 cannot occur
 * inside an escaped key (there, 0x00 is always followed by 0xff), so encoded keys are prefix-free
 * and preserve order: for user keys a < b, every version of a sorts before every version of b,
 * even when a is a prefix of b (a's terminator 0x00 0x01 sorts below both a 0x00 byte of b,
 * escaped 0x00 0xff, and any non-zero byte of b). Within one key, versions sort by height. Hence
 * a user-key range [lo, hi) is exactly the underlying range [ns ++ enc(lo), ns ++ enc(hi)), and
 * escape(p) is a byte prefix of enc(k) iff p is a prefix of k.
 *
 * One more record per namespace, the prune floor: key namespace ++ 0x00 0x00 (no encoded key
 * starts with 0x00 0x00, and it sorts before all of them), value BE64(floor). After
 * `prune(b)` the history below b is gone, so reads and writes at heights below the floor throw
 * StorageError('pruned') instead of silently answering from incomplete history.
 *
 * Costs: `get` is one reverse range read with limit 1 (O(log n) in either backend). `scanAt`
 * walks every version of the keys in range (O(versions in range)); `prune` keeps that bounded.
 */
import { bytesEqual, copyBytes, hasPrefix, prefixEnd, scanBounds } from './prefix.ts';
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

/** Heights are non-negative safe integers. */
export const MAX_HEIGHT = Number.MAX_SAFE_INTEGER;

const TERMINATOR_0 = 0x00;
const TERMINATOR_1 = 0x01;
const ESCAPED_ZERO = 0xff;
const HEIGHT_BYTES = 8;
const TAG_TOMBSTONE = 0x00;
const TAG_PUT = 0x01;

export function checkHeight(height: unknown, what = 'height'): asserts height is number {
  if (typeof height !== 'number' || !Number.isSafeInteger(height) || height < 0) {
    throw new StorageError(
      'invalid-argument',
      `${what} must be a non-negative safe integer, got ${String(height)}`,
    );
  }
}

function escapedLength(key: Uint8Array): number {
  let n = key.length;
  for (let i = 0; i < key.length; i++) if (key[i] === 0) n++;
  return n;
}

/** Writes escape(key) at `at`; returns the position after it. */
function writeEscaped(out: Uint8Array, at: number, key: Uint8Array): number {
  let j = at;
  for (let i = 0; i < key.length; i++) {
    const b = key[i]!;
    out[j++] = b;
    if (b === 0) out[j++] = ESCAPED_ZERO;
  }
  return j;
}

function writeHeight(out: Uint8Array, at: number, height: number): void {
  const hi = Math.floor(height / 0x1_0000_0000);
  const lo = height >>> 0;
  out[at] = hi >>> 24;
  out[at + 1] = (hi >>> 16) & 0xff;
  out[at + 2] = (hi >>> 8) & 0xff;
  out[at + 3] = hi & 0xff;
  out[at + 4] = lo >>> 24;
  out[at + 5] = (lo >>> 16) & 0xff;
  out[at + 6] = (lo >>> 8) & 0xff;
  out[at + 7] = lo & 0xff;
}

function readHeight(b: Uint8Array, at: number): number {
  const hi = ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
  const lo = ((b[at + 4]! << 24) | (b[at + 5]! << 16) | (b[at + 6]! << 8) | b[at + 7]!) >>> 0;
  return hi * 0x1_0000_0000 + lo;
}

/** namespace ++ escape(key), with the terminator (a key's full prefix) unless `open`. */
export function encodeKeyPrefix(namespace: Uint8Array, key: Uint8Array, open = false): Uint8Array {
  const out = new Uint8Array(namespace.length + escapedLength(key) + (open ? 0 : 2));
  out.set(namespace);
  const j = writeEscaped(out, namespace.length, key);
  if (!open) {
    out[j] = TERMINATOR_0;
    out[j + 1] = TERMINATOR_1;
  }
  return out;
}

/** The underlying key of `key` at `height`: namespace ++ escape(key) ++ 0x00 0x01 ++ BE64(height). */
export function encodeVersionKey(namespace: Uint8Array, key: Uint8Array, height: number): Uint8Array {
  const out = new Uint8Array(namespace.length + escapedLength(key) + 2 + HEIGHT_BYTES);
  out.set(namespace);
  let j = writeEscaped(out, namespace.length, key);
  out[j++] = TERMINATOR_0;
  out[j++] = TERMINATOR_1;
  writeHeight(out, j, height);
  return out;
}

/** Inverse of encodeVersionKey; throws StorageError('corrupt') for bytes it could not have produced. */
export function decodeVersionKey(namespace: Uint8Array, raw: Uint8Array): { key: Key; height: number } {
  if (!hasPrefix(raw, namespace)) throw new StorageError('corrupt', 'versioned key outside its namespace');
  const end = raw.length - HEIGHT_BYTES - 2;
  const key: number[] = [];
  let i = namespace.length;
  while (i < raw.length) {
    const b = raw[i]!;
    if (b !== 0) {
      key.push(b);
      i++;
      continue;
    }
    const next = raw[i + 1];
    if (next === ESCAPED_ZERO) {
      key.push(0);
      i += 2;
    } else if (next === TERMINATOR_1 && i === end) {
      return { key: Uint8Array.from(key), height: readHeight(raw, i + 2) };
    } else {
      break;
    }
  }
  throw new StorageError('corrupt', 'malformed versioned key');
}

function encodeRecord(value: Value | undefined): Uint8Array {
  if (value === undefined) return Uint8Array.of(TAG_TOMBSTONE);
  const out = new Uint8Array(value.length + 1);
  out[0] = TAG_PUT;
  out.set(value, 1);
  return out;
}

/** The user value of a stored record, or undefined for a tombstone. `rec` must be ours to keep. */
function decodeRecord(rec: Uint8Array): Value | undefined {
  if (rec.length === 1 && rec[0] === TAG_TOMBSTONE) return undefined;
  if (rec.length >= 1 && rec[0] === TAG_PUT) return rec.subarray(1);
  throw new StorageError('corrupt', 'malformed versioned record');
}

/** The encoded-key part of an underlying key (without the height). */
function keyPart(raw: Uint8Array): Uint8Array {
  return raw.subarray(0, raw.length - HEIGHT_BYTES);
}

function rawHeight(raw: Uint8Array): number {
  return readHeight(raw, raw.length - HEIGHT_BYTES);
}

export interface VersionedOptions {
  /** Bytes prepended to every underlying key, so that the view can share a store with other data. */
  namespace?: Key;
}

/**
 * The view. It caches the prune floor, so give each namespace one VersionedStore at a time (a
 * second instance would not see the first one's later prunes until it is re-created).
 */
export class VersionedStore {
  readonly storage: Storage;
  readonly #ns: Uint8Array;
  readonly #floorKey: Uint8Array;
  #floor: number;

  constructor(storage: Storage, opts: VersionedOptions = {}) {
    this.storage = storage;
    const ns = opts.namespace ?? new Uint8Array(0);
    checkBytes(ns, 'namespace');
    this.#ns = copyBytes(ns);
    this.#floorKey = new Uint8Array(ns.length + 2);
    this.#floorKey.set(ns);
    const raw = storage.read(this.#floorKey);
    if (raw === undefined) this.#floor = 0;
    else if (raw.length === HEIGHT_BYTES) this.#floor = readHeight(raw, 0);
    else throw new StorageError('corrupt', 'malformed prune floor record');
  }

  get namespace(): Uint8Array {
    return copyBytes(this.#ns);
  }

  /** Heights below this were pruned: reads and writes there throw StorageError('pruned'). */
  get prunedBelow(): number {
    return this.#floor;
  }

  #checkFloor(height: number, what: string): void {
    if (height < this.#floor) {
      throw new StorageError(
        'pruned',
        `${what} at height ${height}, but history below ${this.#floor} was pruned`,
      );
    }
  }

  /** Writes `value` for `key` at `height`. */
  put(key: Key, value: Value, height: number): void {
    this.commit(height, [{ op: 'put', key, value }]);
  }

  /** Writes a tombstone for `key` at `height`. */
  del(key: Key, height: number): void {
    this.commit(height, [{ op: 'del', key }]);
  }

  /** Applies `ops` at `height` atomically (one batch of the underlying store). */
  commit(height: number, ops: readonly BatchOp[]): void {
    checkHeight(height);
    checkOps(ops);
    this.#checkFloor(height, 'write');
    const out: BatchOp[] = new Array(ops.length);
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i];
      checkOp(op, i);
      out[i] = {
        op: 'put',
        key: encodeVersionKey(this.#ns, op.key, height),
        value: encodeRecord(op.op === 'put' ? op.value : undefined),
      };
    }
    this.storage.batch(out);
  }

  /** The latest version of `key` written at or below `height` (default: the latest of all). */
  get(key: Key, height: number = MAX_HEIGHT): Value | undefined {
    checkBytes(key, 'key');
    checkHeight(height);
    this.#checkFloor(height, 'read');
    const prefix = encodeKeyPrefix(this.#ns, key);
    const end = height >= MAX_HEIGHT ? undefined : encodeVersionKey(this.#ns, key, height + 1);
    for (const [, rec] of this.storage.scan(prefix, { end, reverse: true, limit: 1 })) {
      return decodeRecord(rec);
    }
    return undefined;
  }

  /** Every version of `key`, ascending by height; `value` undefined marks a tombstone. */
  *history(key: Key): IterableIterator<{ height: number; value: Value | undefined }> {
    checkBytes(key, 'key');
    for (const [raw, rec] of this.storage.scan(encodeKeyPrefix(this.#ns, key))) {
      yield { height: rawHeight(raw), value: decodeRecord(rec) };
    }
  }

  /**
   * The entries visible at `height` (latest version at or below it, tombstones hidden) whose key
   * starts with `prefix` and lies in [start, end), ordered by key (`reverse` for descending);
   * `limit` counts visible entries. Same snapshot semantics as the underlying `scan`.
   */
  *scanAt(prefix: Key, height: number = MAX_HEIGHT, opts?: ScanOptions): IterableIterator<[Key, Value]> {
    checkHeight(height);
    this.#checkFloor(height, 'scan');
    const b = scanBounds(prefix, opts);
    if (b === undefined) return;
    const ns = this.#ns;
    const lower = encodeKeyPrefix(ns, b.lower);
    const upper = b.upper === undefined ? prefixEnd(ns) : encodeKeyPrefix(ns, b.upper);
    let left = b.limit ?? Number.POSITIVE_INFINITY;
    const source = this.storage.scan(ns, { start: lower, end: upper, reverse: b.reverse });
    let group: Uint8Array | undefined; // encoded key of the versions being read
    let found = false; // reverse: the visible version of `group` was decided
    let candidate: [Uint8Array, Uint8Array] | undefined; // forward: latest version <= height so far
    for (const [raw, rec] of source) {
      const part = keyPart(raw);
      const same = group !== undefined && bytesEqual(part, group);
      if (!b.reverse) {
        if (!same) {
          if (candidate !== undefined) {
            const v = decodeRecord(candidate[1]);
            if (v !== undefined) {
              yield [decodeVersionKey(ns, candidate[0]).key, v];
              if (--left <= 0) return;
            }
            candidate = undefined;
          }
          group = part;
        }
        if (rawHeight(raw) <= height) candidate = [raw, rec];
      } else {
        // descending: the first version <= height of each key is the visible one
        if (!same) {
          group = part;
          found = false;
        }
        if (found || rawHeight(raw) > height) continue;
        found = true;
        const v = decodeRecord(rec);
        if (v !== undefined) {
          yield [decodeVersionKey(ns, raw).key, v];
          if (--left <= 0) return;
        }
      }
    }
    if (candidate !== undefined) {
      const v = decodeRecord(candidate[1]);
      if (v !== undefined) yield [decodeVersionKey(ns, candidate[0]).key, v];
    }
  }

  /**
   * Drops versions no read at a height >= `belowHeight` can see: for each key, every version below
   * `belowHeight` except the newest one, and that one too if it is a tombstone. Reads at heights
   * >= belowHeight are unchanged. The floor is raised to `belowHeight` first (reads and writes
   * below it then throw 'pruned'); deletes follow in batches of `chunk`, in key order, so an
   * interrupted prune (older versions of a key always go before its tombstone) never changes
   * what heights >= belowHeight see, and running it again finishes the job. Returns versions removed.
   */
  prune(belowHeight: number, chunk = 1024): number {
    checkHeight(belowHeight, 'belowHeight');
    if (!Number.isSafeInteger(chunk) || chunk < 1)
      throw new StorageError('invalid-argument', 'chunk must be >= 1');
    const ns = this.#ns;
    if (belowHeight > this.#floor) {
      const rec = new Uint8Array(HEIGHT_BYTES);
      writeHeight(rec, 0, belowHeight);
      this.storage.write(this.#floorKey, rec);
      this.#floor = belowHeight;
    }
    const end = prefixEnd(ns);
    // the first encoded key (of the empty key) is ns ++ 0x00 0x01: skips the floor record
    let start: Uint8Array = encodeKeyPrefix(ns, new Uint8Array(0));
    let group: Uint8Array | undefined;
    let newestBelow: [Uint8Array, boolean] | undefined; // [raw key, is tombstone]
    let removed = 0;
    const dels: BatchOp[] = [];
    const closeGroup = (): void => {
      if (newestBelow?.[1]) dels.push({ op: 'del', key: newestBelow[0] });
      newestBelow = undefined;
    };
    for (;;) {
      let n = 0;
      let last: Uint8Array | undefined;
      for (const [raw, rec] of this.storage.scan(ns, { start, end, limit: chunk })) {
        n++;
        last = raw;
        const part = keyPart(raw);
        if (group === undefined || !bytesEqual(part, group)) {
          closeGroup();
          group = part;
        }
        if (rawHeight(raw) < belowHeight) {
          if (newestBelow !== undefined) dels.push({ op: 'del', key: newestBelow[0] });
          newestBelow = [raw, decodeRecord(rec) === undefined];
        }
      }
      if (last === undefined || n < chunk) break;
      if (dels.length > 0) {
        this.storage.batch(dels);
        removed += dels.length;
        dels.length = 0;
      }
      const next = new Uint8Array(last.length + 1);
      next.set(last);
      start = next;
    }
    closeGroup();
    if (dels.length > 0) {
      this.storage.batch(dels);
      removed += dels.length;
    }
    return removed;
  }
}

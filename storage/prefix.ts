/**
 * Byte-order helpers shared by the backends: unsigned lexicographic comparison (the order of
 * SQLite BLOBs, i.e. memcmp then length), prefix upper bounds and scan-bound normalisation.
 */
import { checkBytes, type Key, type ScanBounds, type ScanOptions, StorageError } from './types.ts';

/** Unsigned lexicographic byte order: negative if a < b, 0 if equal, positive if a > b. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** True if `key` starts with `prefix`. */
export function hasPrefix(key: Uint8Array, prefix: Uint8Array): boolean {
  if (key.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (key[i] !== prefix[i]) return false;
  return true;
}

/**
 * The smallest key greater than every key starting with `prefix` (the exclusive upper bound of a
 * prefix scan): drop trailing 0xff bytes, then increment the last byte. `undefined` when no such
 * key exists (the prefix is empty or all 0xff), i.e. the range is unbounded above.
 */
export function prefixEnd(prefix: Uint8Array): Uint8Array | undefined {
  let n = prefix.length;
  while (n > 0 && prefix[n - 1] === 0xff) n--;
  if (n === 0) return undefined;
  const end = copyBytes(prefix, n);
  end[n - 1]! += 1;
  return end;
}

/**
 * A fresh plain Uint8Array holding the first `n` bytes of `b` (all by default). Unlike
 * `Buffer#slice`, this always copies, whatever subclass `b` is.
 */
export function copyBytes(b: Uint8Array, n: number = b.length): Uint8Array {
  const c = new Uint8Array(n);
  c.set(n === b.length ? b : b.subarray(0, n));
  return c;
}

/** The immediate successor of `key` in byte order: `key ++ 0x00`. */
export function keySuccessor(key: Uint8Array): Uint8Array {
  const s = new Uint8Array(key.length + 1);
  s.set(key);
  return s;
}

/**
 * Validates `prefix` and `opts` and turns them into one [lower, upper) range plus limit and
 * direction; returns `undefined` when the range is empty. Throws StorageError('invalid-argument').
 */
export function scanBounds(prefix: Key, opts: ScanOptions | undefined): ScanBounds | undefined {
  checkBytes(prefix, 'scan prefix');
  let lower: Key = prefix;
  let upper = prefixEnd(prefix);
  let limit: number | undefined;
  let reverse = false;
  if (opts !== undefined) {
    if (typeof opts !== 'object' || opts === null) {
      throw new StorageError('invalid-argument', 'scan options must be an object');
    }
    if (opts.start !== undefined) {
      checkBytes(opts.start, 'scan start');
      if (compareBytes(opts.start, lower) > 0) lower = opts.start;
    }
    if (opts.end !== undefined) {
      checkBytes(opts.end, 'scan end');
      if (upper === undefined || compareBytes(opts.end, upper) < 0) upper = opts.end;
    }
    if (opts.limit !== undefined) {
      if (!Number.isSafeInteger(opts.limit) || opts.limit < 0) {
        throw new StorageError(
          'invalid-argument',
          `scan limit must be a non-negative integer, got ${opts.limit}`,
        );
      }
      limit = opts.limit;
    }
    if (opts.reverse !== undefined) {
      if (typeof opts.reverse !== 'boolean')
        throw new StorageError('invalid-argument', 'scan reverse must be a boolean');
      reverse = opts.reverse;
    }
  }
  if (limit === 0) return undefined;
  if (upper !== undefined && compareBytes(lower, upper) >= 0) return undefined;
  // copies: the caller may mutate its arrays while the scan is still running
  return {
    lower: copyBytes(lower),
    upper: upper === undefined ? undefined : copyBytes(upper),
    limit,
    reverse,
  };
}

export { concatBytes, u32be, u64be } from '../wire/bytes.ts';

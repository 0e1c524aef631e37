/**
 * Seed 002's `Storage` primitive (`Storage.Read(k) -> IO v`, `Storage.Write(k, v) -> IO ()`,
 * `Storage.Delete(k) -> IO ()`), extended with an atomic batch and an ordered prefix scan.
 *
 * The API is synchronous on purpose: the engine runtime and the deterministic simulator need
 * storage calls that complete in program order, and better-sqlite3 is synchronous anyway.
 * See storage/README.md for the full contract.
 */

/** A storage key: arbitrary bytes (the empty key is allowed). Ordered by unsigned byte order. */
export type Key = Uint8Array;
/** A stored value: arbitrary bytes (the empty value is allowed and is distinct from absence). */
export type Value = Uint8Array;

/** One operation of an atomic batch. Operations apply in array order; the last one on a key wins. */
export type BatchOp = { op: 'put'; key: Key; value: Value } | { op: 'del'; key: Key };

/** Bounds of a scan. All bounds are absolute keys (not relative to the prefix). */
export interface ScanOptions {
  /** Inclusive lower bound. */
  start?: Key;
  /** Exclusive upper bound. */
  end?: Key;
  /** Maximum number of entries yielded (a non-negative safe integer). With `reverse`, the last ones. */
  limit?: number;
  /** Yield in descending key order. */
  reverse?: boolean;
}

export interface Storage {
  /** The value stored at `key`, or `undefined`. The returned array is the caller's to keep and mutate. */
  read(key: Key): Value | undefined;
  /** Stores a copy of `value` at `key`, replacing any previous value. */
  write(key: Key, value: Value): void;
  /** Removes `key`; deleting an absent key is a no-op. */
  delete(key: Key): void;
  /**
   * Applies `ops` in order, atomically: after a crash or an error either every op is visible or
   * none is. Every op is validated; an invalid op rejects the whole batch ('invalid-argument').
   */
  batch(ops: readonly BatchOp[]): void;
  /**
   * Entries whose key starts with `prefix` and lies in [start, end), ordered by unsigned byte
   * order (memcmp), ascending unless `reverse`. Snapshot semantics: the iterator yields the
   * store's contents as of the `scan` call, even if the store is written while iterating.
   * Continuing an iterator after `close()` throws StorageError('closed').
   */
  scan(prefix: Key, opts?: ScanOptions): IterableIterator<[Key, Value]>;
  /** Releases resources. Idempotent; any later call (other than close) throws StorageError('closed'). */
  close(): void;
}

export type StorageErrorCode =
  /** The file is not a valid database, or its contents are damaged. */
  | 'corrupt'
  /** The file is a database, but not a Fractal storage file of the schema version this code reads. */
  | 'schema-mismatch'
  /** The store was closed. */
  | 'closed'
  /** The file could not be opened, read or written (missing directory, permissions...). */
  | 'io'
  /** The disk (or the database's size limit) is full: nothing of the failed write landed. */
  | 'full'
  /** A key, value, op or option has the wrong type or range. */
  | 'invalid-argument'
  /** A write was attempted on a store opened read-only. */
  | 'read-only'
  /** The database is locked by another connection for longer than the busy timeout. */
  | 'busy'
  /** A versioned read or write at a height whose history was pruned. */
  | 'pruned'
  /** A record the store's own invariants require is missing or unreadable: the data is damaged. */
  | 'corrupt';

/** The one error type storage throws. `cause` holds the underlying error where there is one. */
export class StorageError extends Error {
  readonly code: StorageErrorCode;

  constructor(code: StorageErrorCode, message: string, options?: { cause?: unknown }) {
    super(`storage ${code}: ${message}`, options);
    this.name = 'StorageError';
    this.code = code;
  }
}

/** True if `e` is a StorageError (optionally with the given code). */
export function isStorageError(e: unknown, code?: StorageErrorCode): e is StorageError {
  return e instanceof StorageError && (code === undefined || e.code === code);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'object';
  return typeof v;
}

/** Throws StorageError('invalid-argument') unless `v` is a Uint8Array (Buffers are Uint8Arrays). */
export function checkBytes(v: unknown, what: string): asserts v is Uint8Array {
  if (!(v instanceof Uint8Array)) {
    throw new StorageError('invalid-argument', `${what} must be a Uint8Array, got ${describe(v)}`);
  }
}

/** Validated, normalised scan options. */
export interface ScanBounds {
  /** Inclusive lower bound (the larger of prefix and start). */
  lower: Key;
  /** Exclusive upper bound, or undefined for none. */
  upper: Key | undefined;
  /** Maximum entries, or undefined for no limit. */
  limit: number | undefined;
  reverse: boolean;
}

export function checkOp(op: unknown, index: number): asserts op is BatchOp {
  if (typeof op !== 'object' || op === null) {
    throw new StorageError('invalid-argument', `batch op ${index} must be an object, got ${describe(op)}`);
  }
  const o = op as { op?: unknown; key?: unknown; value?: unknown };
  // the messages are built only on failure: a batch may hold thousands of ops
  if (o.op === 'put') {
    if (!(o.key instanceof Uint8Array)) checkBytes(o.key, `batch op ${index} key`);
    if (!(o.value instanceof Uint8Array)) checkBytes(o.value, `batch op ${index} value`);
  } else if (o.op === 'del') {
    if (!(o.key instanceof Uint8Array)) checkBytes(o.key, `batch op ${index} key`);
  } else {
    throw new StorageError(
      'invalid-argument',
      `batch op ${index} has op ${String(o.op)}, expected 'put' or 'del'`,
    );
  }
}

export function checkOps(ops: unknown): asserts ops is readonly BatchOp[] {
  if (!Array.isArray(ops)) throw new StorageError('invalid-argument', `batch ops must be an array`);
}

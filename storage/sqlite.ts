/**
 * `Storage` on SQLite via better-sqlite3.
 *
 * File layout (schema version 2):
 *   fractal_meta(key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID
 *     ('format', 'fractal-kv'), ('schema_version', '2')
 *   fractal_kv(k BLOB PRIMARY KEY, v BLOB NOT NULL, c INTEGER NOT NULL) WITHOUT ROWID
 * Keys are always bound as BLOBs, and SQLite compares BLOBs with memcmp (then length), so the
 * table's primary-key order is exactly the unsigned byte order of the `Storage` contract.
 *
 * `c` is a CRC-32 of the key then the value, checked on every read and scan: SQLite notices a
 * damaged page structure (`integrityCheck`), not bytes flipped inside a value, and a flipped
 * amount in a stored note would otherwise be read back as a different, valid-looking note.
 * `verifyChecksums` checks every record (the node does it at start).
 *
 * Durability: journal_mode=WAL; synchronous=FULL by default, so the WAL is fsynced at every commit
 * and a batch that returned survives power loss. A batch is one SQLite transaction, so a process
 * kill or power loss leaves it entirely present or entirely absent. `synchronous: 'normal'` keeps
 * atomicity and consistency (WAL mode never corrupts on crash) but the last committed transactions
 * may roll back after a power loss (not after a mere process kill); use it only for data that can
 * be rebuilt. See storage/README.md and storage/durability.test.ts.
 *
 * Scans read in chunks through prepared range queries, so iterating a large range does not load it
 * all. Snapshot semantics match the memory backend: before any write through this store, every
 * unfinished scan iterator materialises its remaining rows (SQLite cannot write on a connection
 * with an open statement cursor, and reading the rest first is what makes the snapshot exact).
 */
import { crc32 } from 'node:zlib';
import Database from 'better-sqlite3';
import { keySuccessor, scanBounds } from './prefix.ts';
import {
  type BatchOp,
  checkBytes,
  checkOp,
  checkOps,
  type Key,
  type ScanBounds,
  type ScanOptions,
  type Storage,
  StorageError,
  type StorageErrorCode,
  type Value,
} from './types.ts';

/** SQLite page cache per connection unless `cacheBytes` says otherwise. */
const DEFAULT_CACHE_BYTES = 64 * 1024 * 1024;

/** The schema version this code reads and writes. */
export const SCHEMA_VERSION = 2;
/** The `format` value in fractal_meta that identifies a Fractal key-value file. */
export const FORMAT = 'fractal-kv';

export interface SqliteOptions {
  /** Open without writing anything; the file must exist and hold a Fractal store. */
  readonly?: boolean;
  /** 'full' (default): every commit is fsynced. 'normal': atomic, but recent commits may be lost on power loss. */
  synchronous?: 'full' | 'normal';
  /** Check the whole file on open: 'quick' (PRAGMA quick_check), 'full' (integrity_check) or 'none' (default). */
  integrityCheck?: 'none' | 'quick' | 'full';
  /** How long to wait for another connection's lock before failing with 'busy' (default 5000 ms). */
  busyTimeoutMs?: number;
  /**
   * WAL pages after which a commit copies the WAL back into the database file (SQLite's
   * `wal_autocheckpoint`; default 1000, SQLite's own). A store whose writes land on random keys
   * (content-addressed Merkle nodes) rewrites the same pages over and over; checkpointing less
   * often copies each page once for many commits. Durability is the same either way.
   */
  walAutocheckpoint?: number;
  /**
   * Bytes of SQLite's page cache for this connection (`cache_size`; default 64 MiB, SQLite's own is
   * 2 MiB). Point reads of notes and Merkle nodes land on random pages: with the small default, a
   * store of a few MiB already reads most of them from the OS, several times slower.
   */
  cacheBytes?: number;
  /**
   * Most pages the database may grow to (SQLite's `max_page_count`); a write beyond it fails with
   * 'full' exactly as on a full disk. For quotas and for testing what a full disk does.
   */
  maxPageCount?: number;
  /** The same limit in bytes (rounded down to whole pages); the smaller of the two applies. */
  maxBytes?: number;
}

type SqliteDb = Database.Database;
type Row = [Uint8Array, Uint8Array, number];

/** The checksum stored beside a record: CRC-32 over the key, then the value. */
function checksum(key: Uint8Array, value: Uint8Array): number {
  // zlib's crc32 answers 0 for an empty Buffer from SQLite, whatever the initial value
  const k = key.length === 0 ? 0 : crc32(key);
  return value.length === 0 ? k : crc32(value, k);
}

function checked(key: Uint8Array, value: Uint8Array, sum: number): Uint8Array {
  if (checksum(key, value) !== sum) {
    const k = Buffer.from(key.subarray(0, 24)).toString('hex');
    throw new StorageError(
      'corrupt',
      `the record at key ${k}${key.length > 24 ? '…' : ''} fails its checksum`,
    );
  }
  return value;
}

const EMPTY: readonly [Key, Value][] = [];

/** Maps better-sqlite3 / SQLite failures to StorageError. */
export function toStorageError(e: unknown, context: string): StorageError {
  if (e instanceof StorageError) return e;
  if (e instanceof Database.SqliteError) {
    const c = e.code;
    let code: StorageErrorCode = 'io';
    if (c.startsWith('SQLITE_NOTADB') || c.startsWith('SQLITE_CORRUPT')) code = 'corrupt';
    else if (c.startsWith('SQLITE_FULL')) code = 'full';
    else if (c.startsWith('SQLITE_BUSY') || c.startsWith('SQLITE_LOCKED')) code = 'busy';
    else if (c.startsWith('SQLITE_READONLY')) code = 'read-only';
    return new StorageError(code, `${context}: ${e.message} (${c})`, { cause: e });
  }
  const msg = e instanceof Error ? e.message : String(e);
  return new StorageError('io', `${context}: ${msg}`, { cause: e });
}

const SCAN_CHUNK_MIN = 64;
const VERIFY_CHUNK = 4096;
const SCAN_CHUNK_MAX = 1024;

interface Statements {
  get: Database.Statement<[Uint8Array], [Uint8Array, number]>;
  put: Database.Statement<[Uint8Array, Uint8Array, number]>;
  del: Database.Statement<[Uint8Array]>;
  /** (lower, limit) ascending */
  fwdOpen: Database.Statement<[Uint8Array, number], Row>;
  /** (lower, upper, limit) ascending */
  fwdRange: Database.Statement<[Uint8Array, Uint8Array, number], Row>;
  /** (lower, limit) descending */
  revOpen: Database.Statement<[Uint8Array, number], Row>;
  /** (lower, upper, limit) descending */
  revRange: Database.Statement<[Uint8Array, Uint8Array, number], Row>;
}

function tableNames(db: SqliteDb): string[] {
  return db
    .prepare<[], string>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    .pluck()
    .all();
}

function readMeta(db: SqliteDb, path: string): void {
  const rows = db.prepare<[], [unknown, unknown]>('SELECT key, value FROM fractal_meta').raw().all();
  const meta = new Map(rows.map(([k, v]) => [String(k), String(v)]));
  const format = meta.get('format');
  if (format !== FORMAT) {
    throw new StorageError(
      'schema-mismatch',
      `${path}: fractal_meta format is ${JSON.stringify(format)}, expected ${FORMAT}`,
    );
  }
  const version = meta.get('schema_version');
  if (version !== String(SCHEMA_VERSION)) {
    throw new StorageError(
      'schema-mismatch',
      `${path}: schema version ${JSON.stringify(version)} but this build reads version ${SCHEMA_VERSION}`,
    );
  }
  const cols = db
    .prepare<[string], string>('SELECT name FROM pragma_table_info(?) ORDER BY cid')
    .pluck()
    .all('fractal_kv');
  if (cols.length === 0)
    throw new StorageError('corrupt', `${path}: Fractal store without its fractal_kv table`);
  if (cols.join(',') !== 'k,v,c') {
    throw new StorageError(
      'schema-mismatch',
      `${path}: fractal_kv has columns ${cols.join(',')}, expected k,v,c`,
    );
  }
}

function createSchema(db: SqliteDb): void {
  db.exec(`
    BEGIN IMMEDIATE;
    CREATE TABLE IF NOT EXISTS fractal_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
    INSERT OR IGNORE INTO fractal_meta (key, value) VALUES ('format', '${FORMAT}'), ('schema_version', '${SCHEMA_VERSION}');
    CREATE TABLE IF NOT EXISTS fractal_kv (k BLOB PRIMARY KEY, v BLOB NOT NULL, c INTEGER NOT NULL) WITHOUT ROWID;
    COMMIT;
  `);
}

function integrityCheck(db: SqliteDb, kind: 'quick' | 'full', maxErrors = 100): string[] {
  const pragma = kind === 'quick' ? 'quick_check' : 'integrity_check';
  const rows = db.prepare<[], string>(`PRAGMA ${pragma}(${maxErrors})`).pluck().all();
  return rows.length === 1 && rows[0] === 'ok' ? [] : rows.map(String);
}

export class SqliteStorage implements Storage {
  readonly path: string;
  readonly readonly: boolean;
  #db: SqliteDb;
  #closed = false;
  readonly #s: Statements;
  readonly #batch: (ops: readonly BatchOp[]) => void;
  readonly #live = new Set<SqliteScan>();

  private constructor(path: string, db: SqliteDb, readonly: boolean) {
    this.path = path;
    this.readonly = readonly;
    this.#db = db;
    const kv = 'fractal_kv';
    this.#s = {
      get: db.prepare<[Uint8Array], [Uint8Array, number]>(`SELECT v, c FROM ${kv} WHERE k = ?`).raw(),
      put: db.prepare<[Uint8Array, Uint8Array, number]>(
        `INSERT INTO ${kv} (k, v, c) VALUES (?, ?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v, c = excluded.c`,
      ),
      del: db.prepare<[Uint8Array]>(`DELETE FROM ${kv} WHERE k = ?`),
      fwdOpen: db
        .prepare<[Uint8Array, number], Row>(`SELECT k, v, c FROM ${kv} WHERE k >= ? ORDER BY k LIMIT ?`)
        .raw(),
      fwdRange: db
        .prepare<[Uint8Array, Uint8Array, number], Row>(
          `SELECT k, v, c FROM ${kv} WHERE k >= ? AND k < ? ORDER BY k LIMIT ?`,
        )
        .raw(),
      revOpen: db
        .prepare<[Uint8Array, number], Row>(`SELECT k, v, c FROM ${kv} WHERE k >= ? ORDER BY k DESC LIMIT ?`)
        .raw(),
      revRange: db
        .prepare<[Uint8Array, Uint8Array, number], Row>(
          `SELECT k, v, c FROM ${kv} WHERE k >= ? AND k < ? ORDER BY k DESC LIMIT ?`,
        )
        .raw(),
    };
    const put = this.#s.put;
    const del = this.#s.del;
    this.#batch = db.transaction((ops: readonly BatchOp[]) => {
      // Validation happens inside the transaction: a bad op throws, and the transaction rolls back.
      for (let i = 0; i < ops.length; i++) {
        const op = ops[i]!;
        checkOp(op, i);
        if (op.op === 'put') put.run(op.key, op.value, checksum(op.key, op.value));
        else del.run(op.key);
      }
    });
  }

  /**
   * Opens (creating if needed, unless read-only) the store at `path` (`:memory:` gives a private
   * in-memory database, without WAL). Throws StorageError: 'corrupt' for a file that is not a
   * database (or fails the optional integrity check), 'schema-mismatch' for a database that is not
   * a Fractal store of this schema version (such files are left untouched), 'io' when the file
   * cannot be opened.
   */
  static open(path: string, opts: SqliteOptions = {}): SqliteStorage {
    if (typeof path !== 'string' || path === '') {
      throw new StorageError('invalid-argument', 'path must be a non-empty string');
    }
    const readonly = opts.readonly === true;
    const sync = opts.synchronous ?? 'full';
    if (sync !== 'full' && sync !== 'normal')
      throw new StorageError('invalid-argument', `synchronous: ${String(sync)}`);
    const check = opts.integrityCheck ?? 'none';
    if (check !== 'none' && check !== 'quick' && check !== 'full') {
      throw new StorageError('invalid-argument', `integrityCheck: ${String(check)}`);
    }
    const timeout = opts.busyTimeoutMs ?? 5000;
    if (!Number.isSafeInteger(timeout) || timeout < 0) {
      throw new StorageError('invalid-argument', `busyTimeoutMs: ${String(timeout)}`);
    }
    if (
      opts.maxPageCount !== undefined &&
      (!Number.isSafeInteger(opts.maxPageCount) || opts.maxPageCount < 1)
    ) {
      throw new StorageError('invalid-argument', `maxPageCount: ${String(opts.maxPageCount)}`);
    }
    const cacheBytes = opts.cacheBytes ?? DEFAULT_CACHE_BYTES;
    if (!Number.isSafeInteger(cacheBytes) || cacheBytes < 0) {
      throw new StorageError('invalid-argument', `cacheBytes: ${String(cacheBytes)}`);
    }
    const autocheckpoint = opts.walAutocheckpoint ?? 1000;
    if (!Number.isSafeInteger(autocheckpoint) || autocheckpoint < 1) {
      throw new StorageError('invalid-argument', `walAutocheckpoint: ${String(autocheckpoint)}`);
    }
    let db: SqliteDb;
    try {
      db = new Database(path, { readonly, fileMustExist: readonly, timeout });
    } catch (e) {
      throw toStorageError(e, `cannot open ${path}`);
    }
    try {
      // The first read parses the header: garbage gives SQLITE_NOTADB -> 'corrupt'.
      // Inspect before changing anything, so a foreign database is never modified.
      const tables = tableNames(db);
      const fresh = tables.length === 0;
      if (!fresh && !tables.includes('fractal_meta')) {
        throw new StorageError(
          'schema-mismatch',
          `${path} is an SQLite database but not a Fractal store (tables: ${tables.slice(0, 5).join(', ')})`,
        );
      }
      if (fresh && readonly)
        throw new StorageError('schema-mismatch', `${path} is not an initialised Fractal store`);
      if (!fresh) readMeta(db, path);
      if (check !== 'none') {
        const problems = integrityCheck(db, check);
        if (problems.length > 0) {
          throw new StorageError(
            'corrupt',
            `${path} failed ${check} integrity check: ${problems.slice(0, 3).join('; ')}`,
          );
        }
      }
      if (!readonly) {
        const mode = String(db.pragma('journal_mode = WAL', { simple: true }));
        if (mode !== 'wal' && !(db.memory && mode === 'memory')) {
          throw new StorageError('io', `${path}: could not enable WAL journal (got ${mode})`);
        }
        db.pragma(`synchronous = ${sync === 'full' ? 'FULL' : 'NORMAL'}`);
        db.pragma(`wal_autocheckpoint = ${autocheckpoint}`);
        db.pragma(`cache_size = ${-Math.floor(cacheBytes / 1024)}`);
        const pageSize = Number(db.pragma('page_size', { simple: true }));
        const limits = [
          opts.maxPageCount,
          opts.maxBytes === undefined ? undefined : Math.max(1, Math.floor(opts.maxBytes / pageSize)),
        ].filter((n): n is number => n !== undefined);
        if (limits.length > 0) db.pragma(`max_page_count = ${Math.min(...limits)}`);
        if (fresh) {
          createSchema(db);
          readMeta(db, path);
        }
      }
      return new SqliteStorage(path, db, readonly);
    } catch (e) {
      try {
        db.close();
      } catch {
        // already failing; the original error is the useful one
      }
      throw toStorageError(e, `cannot open ${path}`);
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  read(key: Key): Value | undefined {
    this.#open();
    checkBytes(key, 'key');
    let row: [Uint8Array, number] | undefined;
    try {
      row = this.#s.get.get(key);
    } catch (e) {
      throw toStorageError(e, 'read');
    }
    return row === undefined ? undefined : checked(key, plain(row[0]), row[1]);
  }

  write(key: Key, value: Value): void {
    this.#writable();
    checkBytes(key, 'key');
    checkBytes(value, 'value');
    this.#detachScans();
    try {
      this.#s.put.run(key, value, checksum(key, value));
    } catch (e) {
      throw toStorageError(e, 'write');
    }
  }

  delete(key: Key): void {
    this.#writable();
    checkBytes(key, 'key');
    this.#detachScans();
    try {
      this.#s.del.run(key);
    } catch (e) {
      throw toStorageError(e, 'delete');
    }
  }

  batch(ops: readonly BatchOp[]): void {
    this.#writable();
    checkOps(ops);
    if (ops.length === 0) return;
    this.#detachScans();
    try {
      this.#batch(ops);
    } catch (e) {
      throw toStorageError(e, 'batch');
    }
  }

  scan(prefix: Key, opts?: ScanOptions): IterableIterator<[Key, Value]> {
    this.#open();
    const b = scanBounds(prefix, opts);
    if (b === undefined) return EMPTY.values();
    const it = new SqliteScan(this, b);
    this.#live.add(it);
    return it;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#live.clear();
    try {
      this.#db.close();
    } catch (e) {
      throw toStorageError(e, 'close');
    }
  }

  /**
   * Runs SQLite's integrity check over the whole file; returns the problems found ([] = ok).
   * O(file size): meant for tests, tooling and recovery, not for every open.
   */
  integrityCheck(kind: 'quick' | 'full' = 'full'): string[] {
    this.#open();
    try {
      return integrityCheck(this.#db, kind);
    } catch (e) {
      const err = toStorageError(e, 'integrity check');
      // SQLite may abort the check itself on badly damaged pages: that is a finding, not a failure
      if (err.code === 'corrupt') return [err.message];
      throw err;
    }
  }

  /**
   * Checks every record against its checksum; returns the keys (hex, shortened) of those that fail,
   * at most `maxReported`, and how many records were checked. `progress` is called every
   * 100 000 records. O(file size).
   */
  verifyChecksums(opts: { maxReported?: number; progress?: (checked: number) => void } = {}): {
    checked: number;
    bad: string[];
  } {
    this.#open();
    const max = opts.maxReported ?? 10;
    const bad: string[] = [];
    let n = 0;
    try {
      // in chunks by key: one statement step per row costs more than the checksum itself
      const first = this.#db
        .prepare<[number], Row>('SELECT k, v, c FROM fractal_kv ORDER BY k LIMIT ?')
        .raw();
      const after = this.#db
        .prepare<[Uint8Array, number], Row>('SELECT k, v, c FROM fractal_kv WHERE k > ? ORDER BY k LIMIT ?')
        .raw();
      let rows = first.all(VERIFY_CHUNK);
      while (rows.length > 0) {
        for (const [k, v, c] of rows) {
          n++;
          if (checksum(k, v) !== c && bad.length < max)
            bad.push(Buffer.from(k.subarray(0, 24)).toString('hex'));
          if (n % 100_000 === 0) opts.progress?.(n);
        }
        rows = after.all(rows[rows.length - 1]![0], VERIFY_CHUNK);
      }
    } catch (e) {
      const err = toStorageError(e, 'checksum scan');
      if (err.code === 'corrupt') return { checked: n, bad: [...bad, err.message] };
      throw err;
    }
    return { checked: n, bad };
  }

  /** The connection's durability settings as SQLite reports them. */
  settings(): { journalMode: string; synchronous: 'off' | 'normal' | 'full' | 'extra' } {
    this.#open();
    try {
      const journalMode = String(this.#db.pragma('journal_mode', { simple: true }));
      const level = Number(this.#db.pragma('synchronous', { simple: true }));
      const synchronous = (['off', 'normal', 'full', 'extra'] as const)[level] ?? 'off';
      return { journalMode, synchronous };
    } catch (e) {
      throw toStorageError(e, 'settings');
    }
  }

  /** Copies the WAL into the main database file (SQLite also does this automatically). */
  checkpoint(): void {
    this.#writable();
    this.#detachScans();
    try {
      this.#db.pragma('wal_checkpoint(TRUNCATE)');
    } catch (e) {
      throw toStorageError(e, 'checkpoint');
    }
  }

  /** @internal one chunk of rows in [lower, upper), for SqliteScan. */
  _chunk(lower: Uint8Array, upper: Uint8Array | undefined, reverse: boolean, n: number): Row[] {
    this.#open();
    const s = this.#s;
    try {
      if (reverse) return upper === undefined ? s.revOpen.all(lower, n) : s.revRange.all(lower, upper, n);
      return upper === undefined ? s.fwdOpen.all(lower, n) : s.fwdRange.all(lower, upper, n);
    } catch (e) {
      throw toStorageError(e, 'scan');
    }
  }

  /** @internal */
  _release(it: SqliteScan): void {
    this.#live.delete(it);
  }

  #open(): void {
    if (this.#closed) throw new StorageError('closed', `${this.path} is closed`);
  }

  #writable(): void {
    this.#open();
    if (this.readonly) throw new StorageError('read-only', `${this.path} was opened read-only`);
  }

  #detachScans(): void {
    if (this.#live.size === 0) return;
    const live = [...this.#live];
    this.#live.clear();
    for (const it of live) it.detach();
  }
}

/** better-sqlite3 returns Buffers; hand out plain Uint8Arrays (a view, no copy: the Buffer is fresh). */
function plain(b: Uint8Array): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** Chunked range reader; `detach()` reads everything left so later writes cannot affect it. */
class SqliteScan implements IterableIterator<[Key, Value]> {
  #store: SqliteStorage | undefined;
  readonly #owner: SqliteStorage;
  #lower: Uint8Array;
  #upper: Uint8Array | undefined;
  /** Remaining entries allowed by the limit (Infinity for none). */
  #remaining: number;
  readonly #reverse: boolean;
  #rows: Row[] = [];
  #i = 0;
  /** True once the database has no more rows for us (all remaining rows are in #rows). */
  #exhausted = false;
  #chunk = SCAN_CHUNK_MIN;

  constructor(store: SqliteStorage, b: ScanBounds) {
    this.#store = store;
    this.#owner = store;
    this.#lower = b.lower;
    this.#upper = b.upper;
    this.#remaining = b.limit ?? Number.POSITIVE_INFINITY;
    this.#reverse = b.reverse;
  }

  /** Reads every remaining row now (called before the store is written). */
  detach(): void {
    if (!this.#exhausted) this.#fetch(Number.POSITIVE_INFINITY);
    this.#store = undefined;
  }

  #fetch(max: number): void {
    const want = Math.min(max, this.#remaining);
    // SQLite: a negative LIMIT means no limit
    const n = want === Number.POSITIVE_INFINITY ? -1 : want;
    const rows = this.#owner._chunk(this.#lower, this.#upper, this.#reverse, n);
    if (this.#i < this.#rows.length) {
      const rest = this.#rows.slice(this.#i);
      for (const r of rows) rest.push(r);
      this.#rows = rest;
    } else {
      this.#rows = rows;
    }
    this.#i = 0;
    this.#remaining -= rows.length;
    const last = rows[rows.length - 1];
    if (n === -1 || rows.length < n || this.#remaining <= 0 || last === undefined) {
      this.#exhausted = true;
    } else if (this.#reverse) {
      this.#upper = last[0];
    } else {
      this.#lower = keySuccessor(last[0]);
    }
  }

  next(): IteratorResult<[Key, Value]> {
    if (this.#owner.closed) throw new StorageError('closed', `${this.#owner.path} closed during scan`);
    if (this.#i >= this.#rows.length) {
      if (this.#exhausted) return this.#finish();
      this.#fetch(this.#chunk);
      if (this.#chunk < SCAN_CHUNK_MAX) this.#chunk *= 2;
      if (this.#i >= this.#rows.length) return this.#finish();
    }
    const row = this.#rows[this.#i++]!;
    const key = plain(row[0]);
    return { done: false, value: [key, checked(key, plain(row[1]), row[2])] };
  }

  return(): IteratorResult<[Key, Value]> {
    return this.#finish();
  }

  #finish(): IteratorResult<[Key, Value]> {
    if (this.#store !== undefined) {
      this.#store._release(this);
      this.#store = undefined;
    }
    this.#exhausted = true;
    this.#rows = [];
    this.#i = 0;
    return { done: true, value: undefined };
  }

  [Symbol.iterator](): IterableIterator<[Key, Value]> {
    return this;
  }
}

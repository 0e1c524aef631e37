/**
 * Bad input to the SQLite backend: garbage and damaged files, foreign databases, other schema
 * versions, unopenable paths, read-only and locked stores. Each gives a typed StorageError, never
 * a crash, and a file we refuse is left byte-for-byte untouched.
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStorage } from './sqlite.ts';
import { bytes } from './testing/gen.ts';
import { type BatchOp, StorageError, type StorageErrorCode } from './types.ts';

const dir = mkdtempSync(join(tmpdir(), 'fractal-storage-errors-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const fresh = (): string => join(dir, `e${n++}.sqlite`);

function codeOf(f: () => unknown): StorageErrorCode | 'no error' | 'not a StorageError' {
  try {
    f();
    return 'no error';
  } catch (e) {
    return e instanceof StorageError ? e.code : 'not a StorageError';
  }
}

/** A populated, checkpointed store file (all data in the main file, no WAL). */
function populated(count = 3000): string {
  const p = fresh();
  const s = SqliteStorage.open(p);
  const ops: BatchOp[] = [];
  for (let i = 0; i < count; i++) {
    ops.push({
      op: 'put',
      key: bytes(i >> 8, i & 0xff, 1, 2, 3, 4),
      value: new Uint8Array(100).fill(i & 0xff),
    });
  }
  s.batch(ops);
  s.checkpoint();
  s.close();
  return p;
}

function countAll(s: SqliteStorage): number {
  let c = 0;
  for (const _ of s.scan(bytes())) c++;
  return c;
}

describe('SqliteStorage: damaged and foreign files', () => {
  it('garbage bytes: corrupt, and the file is untouched', () => {
    const p = fresh();
    const garbage = Buffer.from('this is not a database, it is a text file '.repeat(200));
    writeFileSync(p, garbage);
    expect(codeOf(() => SqliteStorage.open(p))).toBe('corrupt');
    expect(codeOf(() => SqliteStorage.open(p, { readonly: true }))).toBe('corrupt');
    expect(readFileSync(p).equals(garbage)).toBe(true);
    expect(existsSync(`${p}-wal`)).toBe(false);
  });

  it('random binary garbage with a plausible length: corrupt', () => {
    const p = fresh();
    const g = Buffer.alloc(8192);
    for (let i = 0; i < g.length; i++) g[i] = (i * 131 + 17) & 0xff;
    writeFileSync(p, g);
    expect(codeOf(() => SqliteStorage.open(p))).toBe('corrupt');
    expect(readFileSync(p).equals(g)).toBe(true);
  });

  it('damaged header: corrupt', () => {
    const p = populated(100);
    const b = readFileSync(p);
    b.write('SQLite format 9', 0);
    writeFileSync(p, b);
    expect(codeOf(() => SqliteStorage.open(p))).toBe('corrupt');
  });

  it('truncated file: corrupt', () => {
    const p = populated();
    truncateSync(p, Math.floor(readFileSync(p).length / 2));
    expect(codeOf(() => SqliteStorage.open(p))).toBe('corrupt');
  });

  it('a damaged b-tree page: found by the open-time check, or as corrupt on read', () => {
    const p = populated();
    const b = readFileSync(p);
    b.fill(0xaa, 4096 * 5, 4096 * 5 + 600);
    writeFileSync(p, b);
    expect(codeOf(() => SqliteStorage.open(p, { integrityCheck: 'quick' }))).toBe('corrupt');
    expect(codeOf(() => SqliteStorage.open(p, { integrityCheck: 'full' }))).toBe('corrupt');
    // without the open-time check the damage surfaces as a typed error when the page is read
    const s = SqliteStorage.open(p);
    expect(codeOf(() => countAll(s))).toBe('corrupt');
    expect(s.integrityCheck().length).toBeGreaterThan(0);
    s.close();
    expect(readFileSync(p).equals(b)).toBe(true);
  });

  it('an intact file passes the integrity checks', () => {
    const p = populated();
    const s = SqliteStorage.open(p, { integrityCheck: 'full' });
    expect(s.integrityCheck('full')).toEqual([]);
    expect(s.integrityCheck('quick')).toEqual([]);
    expect(countAll(s)).toBe(3000);
    s.close();
  });

  it("another application's SQLite database: schema-mismatch, and it is not modified", () => {
    const p = fresh();
    const db = new Database(p);
    db.pragma('journal_mode = DELETE');
    db.exec(
      "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO users (name) VALUES ('ada');",
    );
    db.close();
    const before = readFileSync(p);
    expect(codeOf(() => SqliteStorage.open(p))).toBe('schema-mismatch');
    expect(codeOf(() => SqliteStorage.open(p, { readonly: true }))).toBe('schema-mismatch');
    expect(readFileSync(p).equals(before)).toBe(true); // not even switched to WAL
    expect(existsSync(`${p}-wal`)).toBe(false);
  });

  function tamper(sql: string): string {
    const p = populated(10);
    const db = new Database(p);
    db.exec(sql);
    db.close();
    return p;
  }

  it('a Fractal store of another schema version: schema-mismatch, data kept', () => {
    const p = tamper("UPDATE fractal_meta SET value = '3' WHERE key = 'schema_version'");
    const err = (() => {
      try {
        SqliteStorage.open(p);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(StorageError);
    expect((err as StorageError).code).toBe('schema-mismatch');
    expect((err as StorageError).message).toMatch(/schema version "3".*version 2/);
    const db = new Database(p, { readonly: true });
    expect(db.prepare('SELECT count(*) FROM fractal_kv').pluck().get()).toBe(10);
    db.close();
  });

  it('missing or wrong metadata: schema-mismatch', () => {
    expect(
      codeOf(() => SqliteStorage.open(tamper("DELETE FROM fractal_meta WHERE key = 'schema_version'"))),
    ).toBe('schema-mismatch');
    expect(
      codeOf(() =>
        SqliteStorage.open(tamper("UPDATE fractal_meta SET value = 'other' WHERE key = 'format'")),
      ),
    ).toBe('schema-mismatch');
    expect(
      codeOf(() =>
        SqliteStorage.open(
          tamper(
            'DROP TABLE fractal_kv; CREATE TABLE fractal_kv (key BLOB PRIMARY KEY, val BLOB) WITHOUT ROWID',
          ),
        ),
      ),
    ).toBe('schema-mismatch');
  });

  it('a Fractal store missing its data table: corrupt', () => {
    expect(codeOf(() => SqliteStorage.open(tamper('DROP TABLE fractal_kv')))).toBe('corrupt');
  });

  it('an empty (0-byte) file is initialised as a new store', () => {
    const p = fresh();
    writeFileSync(p, Buffer.alloc(0));
    const s = SqliteStorage.open(p);
    s.write(bytes(1), bytes(2));
    s.close();
    const r = SqliteStorage.open(p, { readonly: true });
    expect(Array.from(r.read(bytes(1)) ?? [])).toEqual([2]);
    r.close();
  });
});

describe('SqliteStorage: paths, modes and locks', () => {
  it('unopenable paths: io', () => {
    expect(codeOf(() => SqliteStorage.open(join(dir, 'no', 'such', 'dir', 'x.sqlite')))).toBe('io');
    const d = join(dir, 'a-directory');
    mkdirSync(d);
    expect(codeOf(() => SqliteStorage.open(d))).toBe('io');
    expect(codeOf(() => SqliteStorage.open(join(dir, 'missing.sqlite'), { readonly: true }))).toBe('io');
    expect(existsSync(join(dir, 'missing.sqlite'))).toBe(false);
  });

  it('bad options: invalid-argument', () => {
    expect(codeOf(() => SqliteStorage.open(''))).toBe('invalid-argument');
    expect(codeOf(() => SqliteStorage.open(42 as unknown as string))).toBe('invalid-argument');
    expect(codeOf(() => SqliteStorage.open(fresh(), { synchronous: 'off' as 'full' }))).toBe(
      'invalid-argument',
    );
    expect(codeOf(() => SqliteStorage.open(fresh(), { integrityCheck: 'deep' as 'full' }))).toBe(
      'invalid-argument',
    );
    expect(codeOf(() => SqliteStorage.open(fresh(), { busyTimeoutMs: -1 }))).toBe('invalid-argument');
    expect(codeOf(() => SqliteStorage.open(fresh(), { cacheBytes: -1 }))).toBe('invalid-argument');
    expect(codeOf(() => SqliteStorage.open(fresh(), { cacheBytes: 1.5 }))).toBe('invalid-argument');
  });

  it('any page cache size, the smallest included, reads what was written', () => {
    const p = fresh();
    const s = SqliteStorage.open(p, { cacheBytes: 0 });
    s.batch(
      Array.from({ length: 300 }, (_, i) => ({
        op: 'put' as const,
        key: bytes(i >> 8, i & 0xff),
        value: bytes(i & 0xff),
      })),
    );
    expect(s.read(bytes(1, 7))).toEqual(bytes(7));
    expect(countAll(s)).toBe(300);
    s.close();
  });

  it('read-only: reads work, writes are read-only errors, an uninitialised file is refused', () => {
    const p = populated(5);
    const s = SqliteStorage.open(p, { readonly: true });
    expect(countAll(s)).toBe(5);
    expect(codeOf(() => s.write(bytes(1), bytes(1)))).toBe('read-only');
    expect(codeOf(() => s.delete(bytes(0, 0, 1, 2, 3, 4)))).toBe('read-only');
    expect(codeOf(() => s.batch([]))).toBe('read-only');
    expect(countAll(s)).toBe(5);
    s.close();
    const empty = fresh();
    writeFileSync(empty, Buffer.alloc(0));
    expect(codeOf(() => SqliteStorage.open(empty, { readonly: true }))).toBe('schema-mismatch');
  });

  it('a database locked by another writer: busy after the timeout, and the batch is absent', () => {
    const p = populated(1);
    const s = SqliteStorage.open(p, { busyTimeoutMs: 20 });
    const other = new Database(p);
    other.exec('BEGIN IMMEDIATE');
    expect(codeOf(() => s.batch([{ op: 'put', key: bytes(9), value: bytes(9) }]))).toBe('busy');
    expect(codeOf(() => s.write(bytes(9), bytes(9)))).toBe('busy');
    other.exec('ROLLBACK');
    other.close();
    expect(s.read(bytes(9))).toBeUndefined();
    s.write(bytes(9), bytes(9));
    expect(Array.from(s.read(bytes(9)) ?? [])).toEqual([9]);
    s.close();
  });

  it('uses WAL with synchronous FULL by default, NORMAL on request', () => {
    const p = fresh();
    const a = SqliteStorage.open(p);
    expect(a.settings()).toEqual({ journalMode: 'wal', synchronous: 'full' });
    a.close();
    const b = SqliteStorage.open(p, { synchronous: 'normal' });
    expect(b.settings()).toEqual({ journalMode: 'wal', synchronous: 'normal' });
    b.close();
    const r = SqliteStorage.open(p, { readonly: true });
    expect(r.settings().journalMode).toBe('wal'); // persistent in the file
    r.close();
  });

  it('closed: every call throws closed, close is idempotent', () => {
    const s = SqliteStorage.open(fresh());
    s.close();
    s.close();
    expect(codeOf(() => s.read(bytes()))).toBe('closed');
    expect(codeOf(() => s.integrityCheck())).toBe('closed');
    expect(codeOf(() => s.checkpoint())).toBe('closed');
  });
});

describe('SqliteStorage: record checksums and a full disk', () => {
  it('a byte flipped inside a value (which SQLite does not notice) is a corrupt error on read, scan and verify', () => {
    const p = populated(10);
    const raw = new Database(p);
    raw.exec(
      "UPDATE fractal_kv SET v = X'00ff' WHERE k = (SELECT k FROM fractal_kv ORDER BY k LIMIT 1 OFFSET 4)",
    );
    raw.close();
    const s = SqliteStorage.open(p, { integrityCheck: 'full' }); // the file structure is fine
    const keys = [
      ...new Database(p, { readonly: true }).prepare('SELECT k FROM fractal_kv ORDER BY k').pluck().all(),
    ] as Uint8Array[];
    expect(codeOf(() => s.read(new Uint8Array(keys[4]!)))).toBe('corrupt');
    expect(Array.from(s.read(new Uint8Array(keys[3]!))!)).toHaveLength(100);
    expect(codeOf(() => countAll(s))).toBe('corrupt');
    const v = s.verifyChecksums();
    expect(v.checked).toBe(10);
    expect(v.bad).toEqual([Buffer.from(keys[4]!).toString('hex')]);
    s.close();
  });

  it('a database that cannot grow: full, and the batch left nothing behind', () => {
    const p = fresh();
    // a size limit on the connection: SQLite answers SQLITE_FULL as it does on a full disk
    const s = SqliteStorage.open(p, { maxPageCount: 8 });
    s.write(bytes(1), bytes(1));
    const big: BatchOp[] = Array.from({ length: 200 }, (_, i) => ({
      op: 'put',
      key: bytes(2, i),
      value: new Uint8Array(4000).fill(i),
    }));
    expect(codeOf(() => s.batch(big))).toBe('full');
    expect(s.read(bytes(2, 0))).toBeUndefined();
    expect(Array.from(s.read(bytes(1))!)).toEqual([1]);
    s.close();
  });
});

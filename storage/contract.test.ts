/**
 * The `Storage` contract, run against both backends: unit cases, then a model-based test
 * (fc.commands) against a Map model keyed by hex strings (hex order == unsigned byte order, so
 * the model's ordering does not depend on the code under test).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { propParams } from '../props/config.ts';
import { MemoryStorage } from './memory.ts';
import { compareBytes, prefixEnd } from './prefix.ts';
import { SqliteStorage } from './sqlite.ts';
import { StagedStorage } from './staged.ts';
import {
  arr,
  bytes,
  describeScan,
  hex,
  keyArb,
  modelScan,
  type ScanArgs,
  scanArgsArb,
  scanOpts,
  shrinkBudget,
  utf8,
  valueArb,
} from './testing/gen.ts';
import { type BatchOp, type Key, type Storage, StorageError, type Value } from './types.ts';

interface Backend {
  name: string;
  /** A fresh, empty store. */
  open(): Storage;
  /** Close and reopen (SQLite) / crash-restart via clone (memory): contents must persist. */
  reopen(s: Storage): Storage;
  /** Model-test runs in CI. */
  runs: number;
}

const dir = mkdtempSync(join(tmpdir(), 'fractal-storage-contract-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let fileNo = 0;
const stagedBases = new WeakMap<StagedStorage, MemoryStorage>();

const backends: Backend[] = [
  {
    name: 'memory',
    open: () => new MemoryStorage(),
    reopen: (s) => {
      const c = (s as MemoryStorage).clone();
      s.close();
      return c;
    },
    runs: 200,
  },
  {
    name: 'sqlite',
    open: () => SqliteStorage.open(join(dir, `c${fileNo++}.sqlite`)),
    reopen: (s) => {
      const path = (s as SqliteStorage).path;
      s.close();
      return SqliteStorage.open(path);
    },
    runs: 60,
  },
  {
    // writes staged over a memory store (what an engine step sees); "reopen" is the step's end:
    // the runtime applies the staged batch to the base and the next step stages afresh
    name: 'staged',
    open: () => {
      const base = new MemoryStorage();
      const s = new StagedStorage(base);
      stagedBases.set(s, base);
      return s;
    },
    reopen: (s) => {
      const base = stagedBases.get(s as StagedStorage)!;
      base.batch((s as StagedStorage).take());
      s.close();
      const next = new StagedStorage(base);
      stagedBases.set(next, base);
      return next;
    },
    runs: 200,
  },
];

function all(it: Iterable<[Key, Value]>): [string, string][] {
  return [...it].map(([k, v]) => [hex(k), hex(v)]);
}

function expectCode(f: () => unknown, code: StorageError['code']): void {
  let thrown: unknown;
  try {
    f();
  } catch (e) {
    thrown = e;
  }
  expect(thrown, `expected StorageError(${code})`).toBeInstanceOf(StorageError);
  expect((thrown as StorageError).code).toBe(code);
}

describe('byte order helpers', () => {
  it('compareBytes is unsigned lexicographic with shorter-prefix-first', () => {
    expect(compareBytes(bytes(), bytes())).toBe(0);
    expect(compareBytes(bytes(), bytes(0))).toBeLessThan(0);
    expect(compareBytes(bytes(0x7f), bytes(0x80))).toBeLessThan(0);
    expect(compareBytes(bytes(0xff), bytes(0x00, 0x00))).toBeGreaterThan(0);
    expect(compareBytes(bytes(1, 2), bytes(1, 2, 0))).toBeLessThan(0);
    fc.assert(
      fc.property(keyArb, keyArb, (a, b) => {
        const [x, y] = [hex(a), hex(b)];
        return Math.sign(compareBytes(a, b)) === (x < y ? -1 : x > y ? 1 : 0);
      }),
      propParams('storage.compareBytes-vs-hex', 300),
    );
  });

  it('prefixEnd is the least key above every key with the prefix', () => {
    expect(prefixEnd(bytes())).toBeUndefined();
    expect(prefixEnd(bytes(0xff, 0xff))).toBeUndefined();
    expect(arr(prefixEnd(bytes(1, 0xff)))).toEqual([2]);
    expect(arr(prefixEnd(bytes(0, 0)))).toEqual([0, 1]);
    const buf = Buffer.from([5, 6]);
    prefixEnd(buf);
    expect([...buf]).toEqual([5, 6]); // never mutates its argument (Buffer#slice is a view)
    fc.assert(
      fc.property(keyArb, keyArb, (p, k) => {
        const end = prefixEnd(p);
        const starts = hex(k).startsWith(hex(p));
        if (end === undefined) return p.every((b) => b === 0xff) && (starts || compareBytes(k, p) < 0);
        // k has the prefix iff p <= k < end
        return starts === (compareBytes(k, p) >= 0 && compareBytes(k, end) < 0);
      }),
      propParams('storage.prefixEnd', 500),
    );
  });
});

for (const backend of backends) {
  describe(`Storage contract: ${backend.name}`, () => {
    it('reads, writes, overwrites and deletes', () => {
      const s = backend.open();
      const k = utf8('alpha');
      expect(s.read(k)).toBeUndefined();
      s.write(k, utf8('one'));
      expect(arr(s.read(k))).toEqual(arr(utf8('one')));
      s.write(k, utf8('two'));
      expect(arr(s.read(k))).toEqual(arr(utf8('two')));
      s.delete(k);
      expect(s.read(k)).toBeUndefined();
      s.delete(k); // deleting an absent key is a no-op
      expect(s.read(k)).toBeUndefined();
      s.close();
    });

    it('returns plain Uint8Arrays and accepts Buffers', () => {
      const s = backend.open();
      s.write(Buffer.from([1, 2]), Buffer.from([3]));
      const v = s.read(bytes(1, 2));
      expect(v).toBeInstanceOf(Uint8Array);
      expect(Buffer.isBuffer(v)).toBe(false);
      expect(arr(v)).toEqual([3]);
      for (const [k, val] of s.scan(bytes())) {
        expect(Buffer.isBuffer(k)).toBe(false);
        expect(Buffer.isBuffer(val)).toBe(false);
      }
      s.close();
    });

    it('distinguishes the empty key and the empty value from absence', () => {
      const s = backend.open();
      expect(s.read(bytes())).toBeUndefined();
      s.write(bytes(), bytes());
      expect(arr(s.read(bytes()))).toEqual([]);
      s.write(bytes(0), bytes());
      expect(all(s.scan(bytes()))).toEqual([
        ['', ''],
        ['00', ''],
      ]);
      s.delete(bytes());
      expect(s.read(bytes())).toBeUndefined();
      expect(arr(s.read(bytes(0)))).toEqual([]);
      s.close();
    });

    it('orders binary keys by unsigned bytes, prefixes first', () => {
      const s = backend.open();
      const keys = [
        bytes(0xff, 0xff),
        bytes(0x00),
        bytes(),
        bytes(0xff),
        bytes(0x00, 0x00),
        bytes(0x80),
        bytes(0x7f, 0xff),
        bytes(0xff, 0x00),
        bytes(0x00, 0xff),
        bytes(0x01),
      ];
      s.batch(keys.map((key, i) => ({ op: 'put', key, value: bytes(i) })));
      const expected = ['', '00', '0000', '00ff', '01', '7fff', '80', 'ff', 'ff00', 'ffff'];
      expect(all(s.scan(bytes())).map(([k]) => k)).toEqual(expected);
      expect(all(s.scan(bytes(), { reverse: true })).map(([k]) => k)).toEqual([...expected].reverse());
      expect(all(s.scan(bytes(0xff))).map(([k]) => k)).toEqual(['ff', 'ff00', 'ffff']);
      expect(all(s.scan(bytes(0xff, 0xff))).map(([k]) => k)).toEqual(['ffff']);
      expect(all(s.scan(bytes(0x00))).map(([k]) => k)).toEqual(['00', '0000', '00ff']);
      expect(all(s.scan(bytes(0x00, 0x00))).map(([k]) => k)).toEqual(['0000']);
      s.close();
    });

    it('applies start/end/limit/reverse inside the prefix', () => {
      const s = backend.open();
      for (let i = 0; i < 10; i++) s.write(bytes(7, i), bytes(i));
      s.write(bytes(6), bytes(0));
      s.write(bytes(8), bytes(0));
      const ks = (p: Uint8Array, o: Parameters<Storage['scan']>[1]) => all(s.scan(p, o)).map(([k]) => k);
      expect(ks(bytes(7), { start: bytes(7, 3), end: bytes(7, 6) })).toEqual(['0703', '0704', '0705']);
      expect(ks(bytes(7), { start: bytes(7, 3), end: bytes(7, 6), reverse: true })).toEqual([
        '0705',
        '0704',
        '0703',
      ]);
      expect(ks(bytes(7), { limit: 2 })).toEqual(['0700', '0701']);
      expect(ks(bytes(7), { limit: 2, reverse: true })).toEqual(['0709', '0708']);
      expect(ks(bytes(7), { limit: 0 })).toEqual([]);
      // bounds outside the prefix are clipped to it
      expect(ks(bytes(7), { start: bytes(0), end: bytes(9) })).toHaveLength(10);
      expect(ks(bytes(7), { start: bytes(7, 5), end: bytes(7, 5) })).toEqual([]);
      expect(ks(bytes(7), { start: bytes(7, 6), end: bytes(7, 2) })).toEqual([]);
      expect(ks(bytes(), { start: bytes(6, 0), end: bytes(7, 1) })).toEqual(['0700']);
      s.close();
    });

    it('scans large ranges across chunk boundaries', () => {
      const s = backend.open();
      const n = 2500;
      const ops: BatchOp[] = [];
      for (let i = 0; i < n; i++)
        ops.push({ op: 'put', key: bytes(1, i >> 8, i & 0xff), value: bytes(i & 0xff) });
      s.batch(ops);
      const fwd = all(s.scan(bytes(1)));
      expect(fwd).toHaveLength(n);
      expect(fwd[0]![0]).toBe('010000');
      expect(fwd[n - 1]![0]).toBe('0109c3');
      for (let i = 1; i < n; i++) expect(fwd[i - 1]![0] < fwd[i]![0]).toBe(true);
      const rev = all(s.scan(bytes(1), { reverse: true }));
      expect(rev).toEqual([...fwd].reverse());
      expect(all(s.scan(bytes(1), { limit: 1500 }))).toEqual(fwd.slice(0, 1500));
      expect(all(s.scan(bytes(1), { limit: 1500, reverse: true }))).toEqual(rev.slice(0, 1500));
      s.close();
    });

    it('batches apply in order, last op on a key wins', () => {
      const s = backend.open();
      s.write(bytes(9), bytes(9));
      s.batch([
        { op: 'put', key: bytes(1), value: bytes(1) },
        { op: 'put', key: bytes(1), value: bytes(2) },
        { op: 'put', key: bytes(2), value: bytes(2) },
        { op: 'del', key: bytes(2) },
        { op: 'del', key: bytes(9) },
        { op: 'del', key: bytes(3) },
        { op: 'put', key: bytes(3), value: bytes(3) },
      ]);
      expect(all(s.scan(bytes()))).toEqual([
        ['01', '02'],
        ['03', '03'],
      ]);
      s.batch([]);
      expect(all(s.scan(bytes()))).toHaveLength(2);
      s.close();
    });

    it('rejects a batch with an invalid op as a whole', () => {
      const s = backend.open();
      s.write(bytes(1), bytes(1));
      const bad = [
        { op: 'put', key: bytes(2), value: bytes(2) },
        { op: 'del', key: bytes(1) },
        { op: 'put', key: bytes(3), value: 'not bytes' },
      ] as unknown as BatchOp[];
      expectCode(() => s.batch(bad), 'invalid-argument');
      expectCode(
        () => s.batch([{ op: 'put', key: bytes(4), value: bytes() }, { op: 'nope' }] as unknown as BatchOp[]),
        'invalid-argument',
      );
      expectCode(
        () => s.batch([{ op: 'del', key: bytes(1) }, null] as unknown as BatchOp[]),
        'invalid-argument',
      );
      expectCode(() => s.batch('ops' as unknown as BatchOp[]), 'invalid-argument');
      expect(all(s.scan(bytes()))).toEqual([['01', '01']]);
      s.close();
    });

    it('validates key, value, prefix and option types', () => {
      const s = backend.open();
      const no = (x: unknown) => x as Uint8Array;
      expectCode(() => s.read(no('k')), 'invalid-argument');
      expectCode(() => s.read(no([1, 2])), 'invalid-argument');
      expectCode(() => s.read(no(undefined)), 'invalid-argument');
      expectCode(() => s.write(no(new ArrayBuffer(2)), bytes()), 'invalid-argument');
      expectCode(() => s.write(bytes(1), no(null)), 'invalid-argument');
      expectCode(() => s.write(bytes(1), no(new Uint16Array(2))), 'invalid-argument');
      expectCode(() => s.delete(no(42)), 'invalid-argument');
      expectCode(() => s.scan(no('p')), 'invalid-argument');
      expectCode(() => s.scan(bytes(), { limit: -1 }), 'invalid-argument');
      expectCode(() => s.scan(bytes(), { limit: 1.5 }), 'invalid-argument');
      expectCode(() => s.scan(bytes(), { start: no('a') }), 'invalid-argument');
      expectCode(() => s.scan(bytes(), { end: no(1) }), 'invalid-argument');
      expect(s.read(bytes(1))).toBeUndefined(); // nothing was written
      s.close();
    });

    it('keeps private copies: caller mutations cannot corrupt the store', () => {
      const s = backend.open();
      const k = bytes(1, 2);
      const v = bytes(3, 4);
      s.write(k, v);
      k[0] = 9;
      v[0] = 9;
      expect(arr(s.read(bytes(1, 2)))).toEqual([3, 4]);
      const v2 = bytes(5, 6);
      s.write(bytes(1, 2), v2); // overwrite path
      v2[0] = 9;
      expect(arr(s.read(bytes(1, 2)))).toEqual([5, 6]);
      s.write(bytes(1, 2), bytes(3, 4));
      const out = s.read(bytes(1, 2))!;
      out[0] = 7;
      expect(arr(s.read(bytes(1, 2)))).toEqual([3, 4]);
      const bk = bytes(5);
      const bv = bytes(6);
      s.batch([{ op: 'put', key: bk, value: bv }]);
      bk[0] = 0;
      bv[0] = 0;
      expect(arr(s.read(bytes(5)))).toEqual([6]);
      for (const [sk, sv] of s.scan(bytes())) {
        sk.fill(0xee);
        sv.fill(0xee);
      }
      expect(all(s.scan(bytes()))).toEqual([
        ['0102', '0304'],
        ['05', '06'],
      ]);
      const prefix = bytes(1);
      const it = s.scan(prefix);
      prefix[0] = 5; // mutating the prefix after scan() does not change the scan
      expect(all(it)).toEqual([['0102', '0304']]);
      s.close();
    });

    it('scans are snapshots: writes during iteration do not affect them', () => {
      const s = backend.open();
      const n = 300; // more than one SQLite chunk
      for (let i = 0; i < n; i++) s.write(bytes(1, i >> 8, i & 0xff), bytes(i & 0xff));
      const expected = all(s.scan(bytes(1)));
      const it = s.scan(bytes(1));
      const got: [string, string][] = [];
      let i = 0;
      for (const [k, v] of it) {
        got.push([hex(k), hex(v)]);
        if (i === 10) {
          s.delete(bytes(1, 0, 200)); // ahead of the cursor
          s.write(bytes(1, 0, 5), bytes(0xaa)); // behind
          s.write(bytes(1, 0, 150), bytes(0xbb)); // ahead, overwrite
          s.batch([{ op: 'put', key: bytes(1, 0xff), value: bytes() }]); // new key ahead
        }
        if (i === 100) s.write(bytes(1, 0, 250), bytes(0xcc));
        i++;
      }
      expect(got).toEqual(expected);
      // a scan started now sees the writes
      expect(arr(s.read(bytes(1, 0, 150)))).toEqual([0xbb]);
      expect(all(s.scan(bytes(1)))).toHaveLength(n);
      // reverse + limit snapshot
      const r = s.scan(bytes(1), { reverse: true, limit: 5 });
      const first = r.next();
      s.batch([{ op: 'del', key: bytes(1, 0xff) }]);
      expect([first.value, ...r].map((e) => hex((e as [Key, Value])[0]))).toEqual([
        '01ff',
        '01012b',
        '01012a',
        '010129',
        '010128',
      ]);
      // an unstarted scan is a snapshot from scan() time
      const later = s.scan(bytes(1), { limit: 2 });
      s.delete(bytes(1, 0, 0));
      expect(all(later).map(([k]) => k)).toEqual(['010000', '010001']);
      // abandoning an iterator early is fine
      for (const _ of s.scan(bytes(1))) break;
      s.write(bytes(2), bytes(2));
      s.close();
    });

    it('throws StorageError(closed) after close; close is idempotent', () => {
      const s = backend.open();
      s.write(bytes(1), bytes(1));
      s.write(bytes(2), bytes(2));
      const it = s.scan(bytes());
      expect(it.next().done).toBe(false);
      s.close();
      s.close();
      expectCode(() => s.read(bytes(1)), 'closed');
      expectCode(() => s.write(bytes(1), bytes(1)), 'closed');
      expectCode(() => s.delete(bytes(1)), 'closed');
      expectCode(() => s.batch([]), 'closed');
      expectCode(() => s.scan(bytes()), 'closed');
      expectCode(() => it.next(), 'closed');
    });

    it('persists across reopen', () => {
      let s = backend.open();
      s.batch([
        { op: 'put', key: bytes(1), value: bytes(1) },
        { op: 'put', key: bytes(), value: bytes() },
      ]);
      s.write(bytes(0xff, 0), bytes(2));
      s = backend.reopen(s);
      expect(all(s.scan(bytes()))).toEqual([
        ['', ''],
        ['01', '01'],
        ['ff00', '02'],
      ]);
      s.close();
    });

    it('model-based: random command sequences agree with a Map model', () => {
      fc.assert(
        fc.property(commandsArb(backend), (cmds) => {
          const real: Real = { s: backend.open() as Real['s'] };
          try {
            fc.modelRun(() => ({ model: { data: new Map<string, string>() }, real }), cmds);
          } finally {
            if (!real.s.closed) real.s.close();
            if (real.s instanceof SqliteStorage) {
              for (const suffix of ['', '-wal', '-shm']) rmSync(real.s.path + suffix, { force: true });
            }
          }
        }),
        propParams(`storage.contract-model.${backend.name}`, backend.runs, shrinkBudget()),
      );
    });
  });
}

// ---- model-based test ----

type Model = { data: Map<string, string> };
type Real = { s: Storage & { readonly closed: boolean } };

function applyModel(m: Model, ops: readonly BatchOp[]): void {
  for (const op of ops) {
    if (op.op === 'put') m.data.set(hex(op.key), hex(op.value));
    else m.data.delete(hex(op.key));
  }
}

function describeOps(ops: readonly BatchOp[]): string {
  return ops
    .map((o) => (o.op === 'put' ? `put ${hex(o.key)}=${hex(o.value)}` : `del ${hex(o.key)}`))
    .join(', ');
}

class WriteCmd implements fc.Command<Model, Real> {
  constructor(
    readonly key: Key,
    readonly value: Value,
  ) {}
  check = () => true;
  run(m: Model, r: Real): void {
    r.s.write(this.key, this.value);
    m.data.set(hex(this.key), hex(this.value));
  }
  toString = () => `write(${hex(this.key)}, ${hex(this.value)})`;
}

class DeleteCmd implements fc.Command<Model, Real> {
  constructor(readonly key: Key) {}
  check = () => true;
  run(m: Model, r: Real): void {
    r.s.delete(this.key);
    m.data.delete(hex(this.key));
  }
  toString = () => `delete(${hex(this.key)})`;
}

class ReadCmd implements fc.Command<Model, Real> {
  constructor(readonly key: Key) {}
  check = () => true;
  run(m: Model, r: Real): void {
    const v = r.s.read(this.key);
    expect(v === undefined ? undefined : hex(v)).toBe(m.data.get(hex(this.key)));
  }
  toString = () => `read(${hex(this.key)})`;
}

class BatchCmd implements fc.Command<Model, Real> {
  constructor(readonly ops: BatchOp[]) {}
  check = () => true;
  run(m: Model, r: Real): void {
    r.s.batch(this.ops);
    applyModel(m, this.ops);
  }
  toString = () => `batch([${describeOps(this.ops)}])`;
}

/** A batch with one invalid op: must throw invalid-argument and change nothing. */
class BadBatchCmd implements fc.Command<Model, Real> {
  constructor(
    readonly ops: BatchOp[],
    readonly at: number,
  ) {}
  check = () => true;
  run(m: Model, r: Real): void {
    const ops: unknown[] = [...this.ops];
    ops.splice(Math.min(this.at, ops.length), 0, { op: 'put', key: 'bad', value: bytes() });
    expect(() => r.s.batch(ops as BatchOp[])).toThrow(StorageError);
    expect(all(r.s.scan(bytes()))).toEqual(modelScan(m.data, { prefix: bytes() }));
  }
  toString = () => `badBatch([${describeOps(this.ops)}] + invalid at ${this.at})`;
}

class ScanCmd implements fc.Command<Model, Real> {
  constructor(readonly args: ScanArgs) {}
  check = () => true;
  run(m: Model, r: Real): void {
    expect(all(r.s.scan(this.args.prefix, scanOpts(this.args)))).toEqual(modelScan(m.data, this.args));
  }
  toString = () => `scan(${describeScan(this.args)})`;
}

/** Take `take` entries, write a batch, finish the iteration: the scan must be the pre-write snapshot. */
class ScanWhileWritingCmd implements fc.Command<Model, Real> {
  constructor(
    readonly args: ScanArgs,
    readonly take: number,
    readonly ops: BatchOp[],
  ) {}
  check = () => true;
  run(m: Model, r: Real): void {
    const expected = modelScan(m.data, this.args);
    const it = r.s.scan(this.args.prefix, scanOpts(this.args));
    const got: [string, string][] = [];
    for (let i = 0; i < this.take; i++) {
      const n = it.next();
      if (n.done) break;
      got.push([hex(n.value[0]), hex(n.value[1])]);
    }
    r.s.batch(this.ops);
    applyModel(m, this.ops);
    got.push(...all(it));
    expect(got).toEqual(expected);
  }
  toString = () =>
    `scanWhileWriting(${describeScan(this.args)}, take ${this.take}, [${describeOps(this.ops)}])`;
}

class ReopenCmd implements fc.Command<Model, Real> {
  constructor(readonly backend: Backend) {}
  check = () => true;
  run(_m: Model, r: Real): void {
    r.s = this.backend.reopen(r.s) as Real['s'];
  }
  toString = () => 'reopen';
}

const opArb: fc.Arbitrary<BatchOp> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ op: fc.constant('put' as const), key: keyArb, value: valueArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('del' as const), key: keyArb }) },
);
const opsArb = fc.array(opArb, { maxLength: 12 });

function commandsArb(backend: Backend): fc.Arbitrary<Iterable<fc.Command<Model, Real>>> {
  return fc.commands(
    [
      fc.tuple(keyArb, valueArb).map(([k, v]) => new WriteCmd(k, v)),
      keyArb.map((k) => new DeleteCmd(k)),
      keyArb.map((k) => new ReadCmd(k)),
      opsArb.map((ops) => new BatchCmd(ops)),
      fc.tuple(opsArb, fc.nat(12)).map(([ops, at]) => new BadBatchCmd(ops, at)),
      scanArgsArb.map((a) => new ScanCmd(a)),
      fc.tuple(scanArgsArb, fc.nat(4), opsArb).map(([a, t, ops]) => new ScanWhileWritingCmd(a, t, ops)),
      fc.constant(new ReopenCmd(backend)),
    ],
    { size: 'medium' },
  );
}

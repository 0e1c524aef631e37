/**
 * Height-versioned view: unit cases, key-encoding properties, and a model-based test over both
 * backends against a map of key -> (height -> value | tombstone).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { propParams } from '../props/config.ts';
import { MemoryStorage } from './memory.ts';
import { compareBytes, hasPrefix } from './prefix.ts';
import { SqliteStorage } from './sqlite.ts';
import {
  arr,
  bytes,
  describeScan,
  hex,
  keyArb,
  modelScan,
  prefixArb,
  type ScanArgs,
  scanArgsArb,
  scanOpts,
  shrinkBudget,
  utf8,
  valueArb,
} from './testing/gen.ts';
import { type BatchOp, type Key, type Storage, StorageError, type Value } from './types.ts';
import {
  decodeVersionKey,
  encodeKeyPrefix,
  encodeVersionKey,
  MAX_HEIGHT,
  VersionedStore,
} from './versioned.ts';

const dir = mkdtempSync(join(tmpdir(), 'fractal-storage-versioned-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let fileNo = 0;

const backends: { name: string; open: () => Storage; runs: number }[] = [
  { name: 'memory', open: () => new MemoryStorage(), runs: 200 },
  { name: 'sqlite', open: () => SqliteStorage.open(join(dir, `v${fileNo++}.sqlite`)), runs: 40 },
];

function entries(it: Iterable<[Key, Value]>): [string, string][] {
  return [...it].map(([k, v]) => [hex(k), hex(v)]);
}

function codeOf(f: () => unknown): string {
  try {
    f();
    return 'no error';
  } catch (e) {
    return e instanceof StorageError ? e.code : 'not a StorageError';
  }
}

const heightArb = fc.oneof(
  fc.integer({ min: 0, max: 300 }),
  fc.constantFrom(255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 7, MAX_HEIGHT - 1, MAX_HEIGHT),
);

describe('versioned key encoding', () => {
  it('round-trips key and height', () => {
    fc.assert(
      fc.property(prefixArb, keyArb, heightArb, (ns, k, h) => {
        const d = decodeVersionKey(ns, encodeVersionKey(ns, k, h));
        return hex(d.key) === hex(k) && d.height === h;
      }),
      propParams('storage.versioned-key-roundtrip', 1000),
    );
  });

  it('orders by (key, height) even when keys are prefixes of each other', () => {
    fc.assert(
      fc.property(keyArb, heightArb, keyArb, heightArb, (a, ha, b, hb) => {
        const expected = Math.sign(compareBytes(a, b)) || Math.sign(ha - hb);
        const ns = bytes(7);
        return Math.sign(compareBytes(encodeVersionKey(ns, a, ha), encodeVersionKey(ns, b, hb))) === expected;
      }),
      propParams('storage.versioned-key-order', 2000),
    );
    // the hand-picked dangerous cases: a vs a||0x00 vs a||0x00||0x00 vs a||0x01, at extreme heights
    const keys = [
      bytes(),
      bytes(0),
      bytes(0, 0),
      bytes(0, 1),
      bytes(0, 0xff),
      bytes(1),
      bytes(0xff),
      bytes(0xff, 0),
    ];
    const encoded = keys.flatMap((k) => [0, MAX_HEIGHT].map((h) => encodeVersionKey(bytes(), k, h)));
    const sorted = [...encoded].sort(compareBytes);
    expect(sorted.map(hex)).toEqual(encoded.map(hex));
  });

  it('escaped prefixes select exactly the keys with that prefix', () => {
    fc.assert(
      fc.property(prefixArb, keyArb, heightArb, (p, k, h) => {
        const ns = bytes(0xff);
        return (
          hasPrefix(encodeVersionKey(ns, k, h), encodeKeyPrefix(ns, p, true)) === hex(k).startsWith(hex(p)) &&
          hasPrefix(encodeVersionKey(ns, k, h), encodeKeyPrefix(ns, k))
        );
      }),
      propParams('storage.versioned-key-prefix', 1000),
    );
  });

  it('rejects bytes it could not have produced', () => {
    expect(codeOf(() => decodeVersionKey(bytes(1), bytes(2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0)))).toBe('corrupt');
    expect(codeOf(() => decodeVersionKey(bytes(), bytes(5, 0, 1, 0, 0)))).toBe('corrupt');
    expect(codeOf(() => decodeVersionKey(bytes(), bytes(5, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0)))).toBe('corrupt');
  });
});

for (const backend of backends) {
  describe(`VersionedStore over ${backend.name}`, () => {
    it('reads the latest version at or below a height; deletes are tombstones', () => {
      const s = backend.open();
      const v = new VersionedStore(s);
      const k = utf8('note');
      v.put(k, utf8('v1'), 5);
      v.put(k, utf8('v2'), 10);
      v.del(k, 15);
      const at = (h?: number) => {
        const r = v.get(k, h);
        return r === undefined ? undefined : new TextDecoder().decode(r);
      };
      expect(at(0)).toBeUndefined();
      expect(at(4)).toBeUndefined();
      expect(at(5)).toBe('v1');
      expect(at(9)).toBe('v1');
      expect(at(10)).toBe('v2');
      expect(at(14)).toBe('v2');
      expect(at(15)).toBeUndefined();
      expect(at(1000)).toBeUndefined();
      expect(at()).toBeUndefined();
      v.put(k, utf8('v3'), 20);
      expect(at()).toBe('v3');
      expect(at(17)).toBeUndefined();
      v.put(k, utf8('v2b'), 10); // same height: replaces that version
      expect(at(12)).toBe('v2b');
      expect([...v.history(k)].map((e) => [e.height, e.value === undefined ? null : hex(e.value)])).toEqual([
        [5, hex(utf8('v1'))],
        [10, hex(utf8('v2b'))],
        [15, null],
        [20, hex(utf8('v3'))],
      ]);
      s.close();
    });

    it('keeps keys that are prefixes of each other apart', () => {
      const s = backend.open();
      const v = new VersionedStore(s);
      const keys = [
        bytes(),
        bytes(0),
        bytes(0, 0),
        bytes(0, 1),
        bytes(0, 0xff),
        bytes(1),
        bytes(0xff),
        bytes(0xff, 0xff),
      ];
      keys.forEach((k, i) => {
        v.put(k, bytes(i, 1), 1);
        v.put(k, bytes(i, 2), 100 + i);
        v.put(k, bytes(i, 3), 2 ** 40);
      });
      v.del(bytes(0, 0), 50);
      keys.forEach((k, i) => {
        expect(arr(v.get(k, 1))).toEqual([i, 1]);
        expect(arr(v.get(k, 99))).toEqual(hex(k) === '0000' ? undefined : [i, 1]);
        expect(arr(v.get(k, 100 + i))).toEqual([i, 2]);
        expect(arr(v.get(k))).toEqual([i, 3]);
      });
      expect(entries(v.scanAt(bytes(), 60)).map(([k]) => k)).toEqual([
        '',
        '00',
        '0001',
        '00ff',
        '01',
        'ff',
        'ffff',
      ]);
      expect(entries(v.scanAt(bytes(0), 104)).map(([k, val]) => [k, val])).toEqual([
        ['00', '0102'],
        ['0000', '0202'],
        ['0001', '0302'],
        ['00ff', '0402'],
      ]);
      expect(entries(v.scanAt(bytes(0), 104, { reverse: true, limit: 2 })).map(([k]) => k)).toEqual([
        '00ff',
        '0001',
      ]);
      expect(entries(v.scanAt(bytes(0xff), 0))).toEqual([]);
      s.close();
    });

    it('commit is atomic; namespaces isolate views sharing one store', () => {
      const s = backend.open();
      const a = new VersionedStore(s, { namespace: utf8('a/') });
      const b = new VersionedStore(s, { namespace: utf8('b/') });
      s.write(utf8('a'), utf8('raw')); // unrelated data next to the namespaces
      a.commit(3, [
        { op: 'put', key: bytes(1), value: bytes(1) },
        { op: 'put', key: bytes(2), value: bytes(2) },
      ]);
      b.put(bytes(1), bytes(9), 3);
      const bad = [
        { op: 'put', key: bytes(3), value: bytes(3) },
        { op: 'put', key: bytes(4) },
      ] as unknown as BatchOp[];
      expect(codeOf(() => a.commit(4, bad))).toBe('invalid-argument');
      expect(a.get(bytes(3))).toBeUndefined();
      expect(entries(a.scanAt(bytes(), 10))).toEqual([
        ['01', '01'],
        ['02', '02'],
      ]);
      expect(entries(b.scanAt(bytes(), 10))).toEqual([['01', '09']]);
      expect(arr(s.read(utf8('a')))).toEqual(arr(utf8('raw')));
      s.close();
    });

    it('validates heights and arguments', () => {
      const s = backend.open();
      const v = new VersionedStore(s);
      for (const h of [-1, 1.5, Number.NaN, MAX_HEIGHT + 1, '3' as unknown as number]) {
        expect(codeOf(() => v.put(bytes(1), bytes(1), h))).toBe('invalid-argument');
        expect(codeOf(() => v.get(bytes(1), h))).toBe('invalid-argument');
        expect(codeOf(() => [...v.scanAt(bytes(), h)])).toBe('invalid-argument');
      }
      expect(codeOf(() => v.get('k' as unknown as Uint8Array))).toBe('invalid-argument');
      expect(codeOf(() => new VersionedStore(s, { namespace: 'x' as unknown as Uint8Array }))).toBe(
        'invalid-argument',
      );
      v.put(bytes(1), bytes(1), MAX_HEIGHT);
      expect(arr(v.get(bytes(1)))).toEqual([1]);
      expect(v.get(bytes(1), MAX_HEIGHT - 1)).toBeUndefined();
      s.close();
    });

    it('reports damaged records as corrupt', () => {
      const s = backend.open();
      const v = new VersionedStore(s);
      s.write(encodeVersionKey(bytes(), bytes(1), 1), bytes(7, 7));
      expect(codeOf(() => v.get(bytes(1)))).toBe('corrupt');
      s.close();
    });

    it('prune keeps what heights >= the bound see and drops the rest', () => {
      const s = backend.open();
      const v = new VersionedStore(s);
      for (let k = 0; k < 30; k++) {
        for (let h = 0; h < 10; h++) v.put(bytes(k), bytes(k, h), h * 10);
        if (k % 3 === 0) v.del(bytes(k), 45);
      }
      const before = [50, 60, 95, MAX_HEIGHT].map((h) => entries(v.scanAt(bytes(), h)));
      const removed = v.prune(50, 7); // small chunks to exercise paging
      expect(removed).toBe(30 * 4 + 10 * 2); // per key: heights 0..30 (+ the tombstone at 45 and 40 for k%3==0)
      expect([50, 60, 95, MAX_HEIGHT].map((h) => entries(v.scanAt(bytes(), h)))).toEqual(before);
      expect([...v.history(bytes(1))].map((e) => e.height)).toEqual([40, 50, 60, 70, 80, 90]);
      expect([...v.history(bytes(3))].map((e) => e.height)).toEqual([50, 60, 70, 80, 90]);
      expect(v.prune(50)).toBe(0);
      // the floor: history below 50 is gone, so reads and writes there are refused, also after a restart
      expect(v.prunedBelow).toBe(50);
      expect(codeOf(() => v.get(bytes(1), 49))).toBe('pruned');
      expect(codeOf(() => [...v.scanAt(bytes(), 0)])).toBe('pruned');
      expect(codeOf(() => v.put(bytes(1), bytes(1), 49))).toBe('pruned');
      expect(codeOf(() => v.del(bytes(1), 0))).toBe('pruned');
      const again = new VersionedStore(s);
      expect(again.prunedBelow).toBe(50);
      expect(codeOf(() => again.get(bytes(1), 10))).toBe('pruned');
      expect(arr(again.get(bytes(1), 50))).toEqual([1, 5]);
      expect(new VersionedStore(s, { namespace: bytes(1) }).prunedBelow).toBe(0);
      s.close();
    });

    it('model-based: random puts, deletes, commits and prunes agree with a version map', () => {
      fc.assert(
        fc.property(commandsArb, (cmds) => {
          const s = backend.open();
          try {
            fc.modelRun(
              () => ({ model: newModel(), real: { v: new VersionedStore(s, { namespace: bytes(0x76) }) } }),
              cmds,
            );
          } finally {
            s.close();
            if (s instanceof SqliteStorage)
              for (const x of ['', '-wal', '-shm']) rmSync(s.path + x, { force: true });
          }
        }),
        propParams(`storage.versioned-model.${backend.name}`, backend.runs, shrinkBudget()),
      );
    });
  });
}

// ---- model ----

type VModel = { versions: Map<string, Map<number, string | null>>; prunedBelow: number };
type VReal = { v: VersionedStore };

function newModel(): VModel {
  return { versions: new Map(), prunedBelow: 0 };
}

function modelSet(m: VModel, key: Key, height: number, value: Value | undefined): void {
  const k = hex(key);
  let vs = m.versions.get(k);
  if (vs === undefined) {
    vs = new Map();
    m.versions.set(k, vs);
  }
  vs.set(height, value === undefined ? null : hex(value));
}

function modelGet(m: VModel, key: string, height: number): string | undefined {
  const vs = m.versions.get(key);
  if (vs === undefined) return undefined;
  let best = -1;
  for (const h of vs.keys()) {
    if (h <= height && h > best) best = h;
  }
  return best < 0 ? undefined : (vs.get(best) ?? undefined);
}

function visible(m: VModel, height: number): Map<string, string> {
  const out = new Map<string, string>();
  for (const k of m.versions.keys()) {
    const v = modelGet(m, k, height);
    if (v !== undefined) out.set(k, v);
  }
  return out;
}

function expectPruned(f: () => unknown): void {
  expect(codeOf(f)).toBe('pruned');
}

/** Re-create the view over the same storage (a restart): the prune floor must persist. */
class RestartCmd implements fc.Command<VModel, VReal> {
  check = () => true;
  run(m: VModel, r: VReal): void {
    r.v = new VersionedStore(r.v.storage, { namespace: r.v.namespace });
    expect(r.v.prunedBelow).toBe(m.prunedBelow);
  }
  toString = () => 'restart';
}

const smallHeight = fc.integer({ min: 0, max: 20 });

class PutCmd implements fc.Command<VModel, VReal> {
  constructor(
    readonly key: Key,
    readonly value: Value | undefined,
    readonly height: number,
  ) {}
  check = () => true;
  run(m: VModel, r: VReal): void {
    const f = () => {
      if (this.value === undefined) r.v.del(this.key, this.height);
      else r.v.put(this.key, this.value, this.height);
    };
    if (this.height < m.prunedBelow) {
      expectPruned(f);
      return;
    }
    f();
    modelSet(m, this.key, this.height, this.value);
  }
  toString = () =>
    this.value === undefined
      ? `del(${hex(this.key)} @${this.height})`
      : `put(${hex(this.key)}=${hex(this.value)} @${this.height})`;
}

class CommitCmd implements fc.Command<VModel, VReal> {
  constructor(
    readonly height: number,
    readonly ops: BatchOp[],
  ) {}
  check = () => true;
  run(m: VModel, r: VReal): void {
    if (this.height < m.prunedBelow) {
      expectPruned(() => r.v.commit(this.height, this.ops));
      return;
    }
    r.v.commit(this.height, this.ops);
    for (const op of this.ops) modelSet(m, op.key, this.height, op.op === 'put' ? op.value : undefined);
  }
  toString = () =>
    `commit(@${this.height}, [${this.ops.map((o) => (o.op === 'put' ? `put ${hex(o.key)}=${hex(o.value)}` : `del ${hex(o.key)}`)).join(', ')}])`;
}

class GetCmd implements fc.Command<VModel, VReal> {
  constructor(
    readonly key: Key,
    readonly height: number | undefined,
  ) {}
  check = () => true;
  run(m: VModel, r: VReal): void {
    if ((this.height ?? MAX_HEIGHT) < m.prunedBelow) {
      expectPruned(() => r.v.get(this.key, this.height));
      return;
    }
    const got = r.v.get(this.key, this.height);
    expect(got === undefined ? undefined : hex(got)).toBe(
      modelGet(m, hex(this.key), this.height ?? MAX_HEIGHT),
    );
  }
  toString = () => `get(${hex(this.key)} @${this.height ?? 'latest'})`;
}

class ScanAtCmd implements fc.Command<VModel, VReal> {
  constructor(
    readonly args: ScanArgs,
    readonly height: number,
  ) {}
  check = () => true;
  run(m: VModel, r: VReal): void {
    if (this.height < m.prunedBelow) {
      expectPruned(() => [...r.v.scanAt(this.args.prefix, this.height)]);
      return;
    }
    const got = entries(r.v.scanAt(this.args.prefix, this.height, scanOpts(this.args)));
    expect(got).toEqual(modelScan(visible(m, this.height), this.args));
  }
  toString = () => `scanAt(${describeScan(this.args)} @${this.height})`;
}

class PruneCmd implements fc.Command<VModel, VReal> {
  constructor(
    readonly below: number,
    readonly chunk: number,
  ) {}
  check = () => true;
  run(m: VModel, r: VReal): void {
    r.v.prune(this.below, this.chunk);
    m.prunedBelow = Math.max(m.prunedBelow, this.below);
    expect(r.v.prunedBelow).toBe(m.prunedBelow);
    // what remains below the bound: at most one version per key, and never a tombstone
    for (const k of m.versions.keys()) {
      const below = [...r.v.history(Uint8Array.from(Buffer.from(k, 'hex')))].filter(
        (e) => e.height < this.below,
      );
      expect(below.length).toBeLessThanOrEqual(1);
      if (below.length === 1) expect(below[0]!.value).toBeDefined();
    }
  }
  toString = () => `prune(below ${this.below}, chunk ${this.chunk})`;
}

const vOpArb: fc.Arbitrary<BatchOp> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ op: fc.constant('put' as const), key: keyArb, value: valueArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('del' as const), key: keyArb }) },
);

const commandsArb = fc.commands<VModel, VReal>(
  [
    fc
      .tuple(keyArb, fc.option(valueArb, { nil: undefined, freq: 4 }), smallHeight)
      .map(([k, v, h]) => new PutCmd(k, v, h)),
    fc.tuple(smallHeight, fc.array(vOpArb, { maxLength: 8 })).map(([h, ops]) => new CommitCmd(h, ops)),
    fc
      .tuple(keyArb, fc.option(fc.integer({ min: 0, max: 24 }), { nil: undefined }))
      .map(([k, h]) => new GetCmd(k, h)),
    fc.tuple(scanArgsArb, fc.integer({ min: 0, max: 24 })).map(([a, h]) => new ScanAtCmd(a, h)),
    fc
      .tuple(fc.integer({ min: 0, max: 12 }), fc.integer({ min: 1, max: 5 }))
      .map(([below, chunk]) => new PruneCmd(below, chunk)),
    fc.constant(new RestartCmd()),
  ],
  { size: 'medium' },
);

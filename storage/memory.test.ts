/**
 * MemoryStorage's merged batch (sort, last op per key, one linear merge) against a Map model,
 * with batches large enough to take the merge path, duplicate keys, sorted and unsorted batches,
 * and a scan opened before the batch that must keep its snapshot.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { propParams } from '../props/config.ts';
import { MemoryStorage } from './memory.ts';
import { compareBytes } from './prefix.ts';
import { hex, keyArb, valueArb } from './testing/gen.ts';
import type { BatchOp } from './types.ts';

const opArb: fc.Arbitrary<BatchOp> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ op: fc.constant('put' as const), key: keyArb, value: valueArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('del' as const), key: keyArb }) },
);

function contents(s: MemoryStorage): [string, string][] {
  return [...s.scan(new Uint8Array(0))].map(([k, v]) => [hex(k), hex(v)]);
}

function model(m: Map<string, string>): [string, string][] {
  return [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

describe('MemoryStorage batch merge', () => {
  it('large batches equal applying their ops one by one (model), sorted or not', () => {
    fc.assert(
      fc.property(
        fc.array(opArb, { maxLength: 80 }),
        fc.array(fc.array(opArb, { maxLength: 120 }), { minLength: 1, maxLength: 4 }),
        fc.boolean(),
        (initial, batches, sortFirst) => {
          const s = new MemoryStorage();
          const m = new Map<string, string>();
          const apply = (ops: readonly BatchOp[]) => {
            for (const op of ops) {
              if (op.op === 'put') m.set(hex(op.key), hex(op.value));
              else m.delete(hex(op.key));
            }
          };
          s.batch(initial);
          apply(initial);
          for (const raw of batches) {
            // a strictly ascending batch takes the no-sort path
            const ops = sortFirst
              ? [...new Map(raw.map((o) => [hex(o.key), o])).values()].sort((a, b) =>
                  compareBytes(a.key, b.key),
                )
              : raw;
            const before = contents(s);
            const scan = s.scan(new Uint8Array(0));
            s.batch(ops);
            apply(ops);
            expect([...scan].map(([k, v]) => [hex(k), hex(v)])).toEqual(before);
            expect(contents(s)).toEqual(model(m));
            expect(s.size).toBe(m.size);
            for (const op of ops) {
              const v = s.read(op.key);
              expect(v === undefined ? undefined : hex(v)).toEqual(m.get(hex(op.key)));
            }
          }
        },
      ),
      propParams('storage.memory-batch-merge', 200),
    );
  });

  it('keeps private copies of the batch keys and values', () => {
    const s = new MemoryStorage();
    const ops: BatchOp[] = Array.from({ length: 10 }, (_, i) => ({
      op: 'put',
      key: Uint8Array.of(9 - i),
      value: Uint8Array.of(i),
    }));
    s.batch(ops);
    for (const op of ops) {
      op.key[0] = 0xee;
      if (op.op === 'put') op.value[0] = 0xee;
    }
    expect(contents(s)).toEqual(
      Array.from({ length: 10 }, (_, i) => [hex(Uint8Array.of(i)), hex(Uint8Array.of(9 - i))]),
    );
  });

  it('compacts an arena that is mostly overwritten bytes, keeping contents, clones and open scans', () => {
    const s = new MemoryStorage();
    const key = (i: number) => Uint8Array.of(i >> 8, i & 0xff);
    const value = (i: number, round: number) => new Uint8Array(1000).fill((i + round) & 0xff);
    const keys = 64;
    for (let i = 0; i < keys; i++) s.write(key(i), value(i, 0));
    const early = s.scan(new Uint8Array(0));
    const first = early.next().value as [Uint8Array, Uint8Array];
    const snapshot = s.clone();
    // 64 keys x 1000 bytes rewritten 40 times: megabytes of garbage, so the value arena compacts
    // (every round by batch, delete and single writes, so each path runs over a compacted arena)
    for (let round = 1; round <= 40; round++) {
      s.batch(
        Array.from({ length: keys }, (_, i) => ({ op: 'put' as const, key: key(i), value: value(i, round) })),
      );
      s.delete(key(round));
      s.write(key(round), value(round, round));
    }
    expect(s.size).toBe(keys);
    for (let i = 0; i < keys; i++) expect(s.read(key(i))).toEqual(value(i, 40));
    expect(contents(s)).toEqual(Array.from({ length: keys }, (_, i) => [hex(key(i)), hex(value(i, 40))]));
    // what was read or opened before still shows the contents as they were
    expect(first).toEqual([key(0), value(0, 0)]);
    expect([...early].map(([k, v]) => [hex(k), hex(v)])).toEqual(
      Array.from({ length: keys - 1 }, (_, i) => [hex(key(i + 1)), hex(value(i + 1, 0))]),
    );
    for (let i = 0; i < keys; i++) expect(snapshot.read(key(i))).toEqual(value(i, 0));
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { propParams } from '../../props/config.ts';
import {
  emptyMap,
  emptyOrdered,
  emptySeq,
  type HashMap,
  mapDelete,
  mapForEach,
  mapGet,
  mapSet,
  omDelete,
  omEntries,
  omFirst,
  omSet,
  omSize,
  omTouch,
  omTrimOldest,
  seqDropFirst,
  seqInsert,
  seqRemove,
  seqReversed,
  seqToArray,
} from './persistent.ts';
import { deepFreeze } from './testing.ts';

const key = fc.oneof(
  fc.string({ maxLength: 3 }),
  fc.integer({ min: 0, max: 40 }).map((i) => `k${i}`),
);

describe('persistent collections', () => {
  it('property: HashMap behaves as a Map, and never changes an older version', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), key, value: fc.integer() }),
      fc.record({ kind: fc.constant('delete' as const), key }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        let m: HashMap<number> = emptyMap();
        const model = new Map<string, number>();
        const versions: [HashMap<number>, Map<string, number>][] = [];
        for (const o of ops) {
          m = deepFreeze(o.kind === 'set' ? mapSet(m, o.key, o.value) : mapDelete(m, o.key));
          if (o.kind === 'set') model.set(o.key, o.value);
          else model.delete(o.key);
          versions.push([m, new Map(model)]);
        }
        for (const [v, want] of versions) {
          expect(v.size).toBe(want.size);
          const got = new Map<string, number>();
          mapForEach(v, (k, x) => got.set(k, x));
          expect(got).toEqual(want);
          for (const [k, x] of want) expect(mapGet(v, k)).toBe(x);
        }
      }),
      propParams('mempool.persistent-map', 50),
    );
  });

  it('HashMap: colliding hashes and deep paths', () => {
    let m = emptyMap<number>();
    for (let i = 0; i < 5000; i++) m = mapSet(m, `key-${i}`, i);
    expect(m.size).toBe(5000);
    for (let i = 0; i < 5000; i += 2) m = mapDelete(m, `key-${i}`);
    expect(m.size).toBe(2500);
    for (let i = 0; i < 5000; i++) expect(mapGet(m, `key-${i}`)).toBe(i % 2 === 0 ? undefined : i);
  });

  it('property: Seq keeps order under inserts and removes (of elements no two of which compare equal)', () => {
    const cmp = (a: { v: number }, b: { v: number }) => a.v - b.v;
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 0, max: 5000 }), { maxLength: 400 }),
        fc.nat(),
        (values, pick) => {
          let s = emptySeq<{ v: number }>();
          const items = values.map((v) => ({ v }));
          for (const x of items) s = seqInsert(s, x, cmp);
          const sorted = seqToArray(s);
          expect(sorted.map((x) => x.v)).toEqual([...values].sort((a, b) => a - b));
          expect([...seqReversed(s)]).toEqual([...sorted].reverse());
          const gone = items.filter((_, i) => (i + pick) % 3 === 0);
          for (const x of gone) s = seqRemove(s, x, cmp);
          expect(seqToArray(s)).toEqual(sorted.filter((x) => !gone.includes(x)));
          expect(s.size).toBe(items.length - gone.length);
          if (s.size > 0) expect(seqToArray(seqDropFirst(s))).toEqual(seqToArray(s).slice(1));
        },
      ),
      propParams('mempool.persistent-seq', 50),
    );
  });

  it('property: OrderedMap keeps Map insertion order; touch moves to the end; trim drops the oldest', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), key, value: fc.integer() }),
      fc.record({ kind: fc.constant('touch' as const), key, value: fc.integer() }),
      fc.record({ kind: fc.constant('delete' as const), key }),
      fc.record({ kind: fc.constant('trim' as const), max: fc.integer({ min: 0, max: 20 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        let m = emptyOrdered<number>();
        const model = new Map<string, number>();
        for (const o of ops) {
          if (o.kind === 'set') {
            m = omSet(m, o.key, o.value);
            model.set(o.key, o.value);
          } else if (o.kind === 'touch') {
            m = omTouch(m, o.key, o.value);
            model.delete(o.key);
            model.set(o.key, o.value);
          } else if (o.kind === 'delete') {
            m = omDelete(m, o.key);
            model.delete(o.key);
          } else {
            m = omTrimOldest(m, o.max);
            while (model.size > o.max) model.delete(model.keys().next().value!);
          }
          m = deepFreeze(m);
          expect(omSize(m)).toBe(model.size);
          expect([...omEntries(m)]).toEqual([...model.entries()]);
          expect(omFirst(m)).toEqual(model.size === 0 ? undefined : [...model.entries()][0]);
        }
      }),
      propParams('mempool.persistent-ordered', 50),
    );
  });
});

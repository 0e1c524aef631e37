/**
 * Sparse Merkle tree: the persisted tree against an in-memory model (`computeRoot` of a Map),
 * order independence, membership / non-membership proofs, tampering, historical roots, the
 * proof codec on hostile bytes, prune, and the SQLite backend.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { propParams } from '../props/config.ts';
import { sha256 } from '../wire/commit.ts';
import { DecodeError } from '../wire/errors.ts';
import { MemoryStorage } from './memory.ts';
import {
  computeRoot,
  decodeProof,
  emptyRoot,
  encodeProof,
  HASH_BYTES,
  innerHash,
  leafHash,
  type MerkleChange,
  type MerkleEntry,
  type MerkleProof,
  SparseMerkleTree,
  verifyProof,
} from './merkle.ts';
import { bytesEqual } from './prefix.ts';
import { SqliteStorage } from './sqlite.ts';
import { hex, keyArb, unhex, valueArb } from './testing/gen.ts';
import { isStorageError } from './types.ts';

const enc = (t: string) => new TextEncoder().encode(t);
const bit = (path: Uint8Array, d: number) => (path[d >> 3]! >> (7 - (d & 7))) & 1;

type Model = Map<string, Uint8Array>;

function entriesOf(m: Model): MerkleEntry[] {
  return [...m].map(([k, value]) => ({ key: unhex(k), value }));
}

function applyModel(m: Model, changes: readonly MerkleChange[]): void {
  for (const c of changes) {
    if (c.value === null) m.delete(hex(c.key));
    else m.set(hex(c.key), c.value);
  }
}

/** A change: mostly keys from a small pool (so overwrites and deletes hit), deletes ~1/4. */
const changeArb: fc.Arbitrary<MerkleChange> = fc.record({
  key: keyArb,
  value: fc.oneof({ weight: 3, arbitrary: valueArb }, { weight: 1, arbitrary: fc.constant(null) }),
});
const batchesArb = fc.array(fc.array(changeArb, { maxLength: 12 }), { minLength: 1, maxLength: 6 });
const entriesArb = fc
  .uniqueArray(fc.record({ key: keyArb, value: valueArb }), { selector: (e) => hex(e.key), maxLength: 24 })
  .map((es) => es as MerkleEntry[]);

function flipBit(b: Uint8Array, i: number): Uint8Array {
  const c = b.slice();
  c[(i >> 3) % c.length]! ^= 1 << (i & 7);
  return c;
}

/** Verifies, and encodes/decodes first, so every proof check also crosses the wire. */
function check(root: Uint8Array, key: Uint8Array, value: Uint8Array | null, proof: MerkleProof): boolean {
  return verifyProof(root, key, value, decodeProof(encodeProof(proof)));
}

describe('hashing scheme', () => {
  it('empty tree, one leaf, two leaves by hand', () => {
    const t = new SparseMerkleTree(new MemoryStorage());
    expect(hex(t.root())).toBe('00'.repeat(32));
    expect(hex(computeRoot([]))).toBe('00'.repeat(32));

    const [a, b] = [enc('a'), enc('b')];
    const [va, vb] = [enc('1'), enc('2')];
    const la = leafHash(sha256(a), sha256(va));
    expect(hex(la)).toBe(hex(sha256(Uint8Array.from([0, ...sha256(a), ...sha256(va)]))));
    expect(hex(t.update([{ key: a, value: va }]))).toBe(hex(la));

    // two leaves: joined at the first bit where their paths differ, empty siblings above
    const lb = leafHash(sha256(b), sha256(vb));
    const [pa, pb] = [sha256(a), sha256(b)];
    let d = 0;
    while (bit(pa, d) === bit(pb, d)) d++;
    let h = bit(pa, d) === 0 ? innerHash(la, lb) : innerHash(lb, la);
    for (let i = d - 1; i >= 0; i--)
      h = bit(pa, i) === 0 ? innerHash(h, emptyRoot()) : innerHash(emptyRoot(), h);
    expect(hex(innerHash(la, lb))).toBe(hex(sha256(Uint8Array.from([1, ...la, ...lb]))));
    expect(hex(t.update([{ key: b, value: vb }]))).toBe(hex(h));
    expect(
      hex(
        computeRoot([
          { key: b, value: vb },
          { key: a, value: va },
        ]),
      ),
    ).toBe(hex(h));

    // deleting back collapses to the lone leaf, then to empty
    expect(hex(t.update([{ key: b, value: null }]))).toBe(hex(la));
    expect(hex(t.update([{ key: a, value: null }]))).toBe('00'.repeat(32));
    expect(t.storage.read(enc('smt/r'))).toBeUndefined();
  });

  it('an empty value is a value, distinct from absence', () => {
    const t = new SparseMerkleTree(new MemoryStorage());
    const root = t.update([{ key: enc('k'), value: new Uint8Array(0) }]);
    expect(isZeroRoot(root)).toBe(false);
    expect(t.get(enc('k'))).toEqual(new Uint8Array(0));
    expect(check(root, enc('k'), new Uint8Array(0), t.prove(enc('k')))).toBe(true);
    expect(check(root, enc('k'), null, t.prove(enc('k')))).toBe(false);
  });
});

function isZeroRoot(r: Uint8Array): boolean {
  return r.every((x) => x === 0);
}

describe('persisted tree against the model', () => {
  it('update sequences: root == computeRoot(model), get, proofs, old roots keep working', () => {
    fc.assert(
      fc.property(batchesArb, fc.array(keyArb, { maxLength: 4 }), (batches, probes) => {
        const t = new SparseMerkleTree(new MemoryStorage(), { namespace: enc('state/') });
        const model: Model = new Map();
        const history: { root: Uint8Array; model: Model }[] = [];
        for (const batch of batches) {
          const root = t.update(batch);
          applyModel(model, batch);
          expect(hex(root)).toBe(hex(computeRoot(entriesOf(model))));
          expect(hex(t.root())).toBe(hex(root));
          history.push({ root, model: new Map(model) });
        }
        // every root ever returned still answers reads and proofs as its model did
        for (const { root, model: m } of history) {
          const keys = [...[...m.keys()].map(unhex), ...probes, ...batches.flat().map((c) => c.key)];
          for (const key of keys) {
            const want = m.get(hex(key)) ?? null;
            expect(t.get(key, root) ?? null).toEqual(want);
            const proof = t.prove(key, root);
            expect(proof.kind).toBe(want === null ? 'absent' : 'member');
            expect(check(root, key, want, proof)).toBe(true);
            if (want === null) {
              expect(check(root, key, enc('x'), proof)).toBe(false);
            } else {
              expect(check(root, key, null, proof)).toBe(false);
              expect(check(root, key, Uint8Array.from([...want, 0]), proof)).toBe(false);
              if (want.length > 0) expect(check(root, key, want.subarray(1), proof)).toBe(false);
            }
          }
        }
      }),
      propParams('merkle: update sequences vs model', 120),
    );
  });

  it('the root does not depend on insertion order or batching', () => {
    fc.assert(
      fc.property(
        entriesArb.chain((es) =>
          fc.tuple(fc.constant(es), fc.shuffledSubarray(es, { minLength: es.length }), fc.nat({ max: 5 })),
        ),
        ([es, shuffled, chunk]) => {
          const want = computeRoot(es);
          expect(hex(computeRoot(shuffled))).toBe(hex(want));
          const t = new SparseMerkleTree(new MemoryStorage());
          const size = chunk + 1;
          for (let i = 0; i < shuffled.length; i += size) t.update(shuffled.slice(i, i + size));
          expect(hex(t.root())).toBe(hex(want));
          // with a detour: insert junk, delete it again
          const junk = shuffled.map((e) => ({
            key: Uint8Array.from([...e.key, 0xaa, 0x55]),
            value: e.value,
          }));
          const u = new SparseMerkleTree(new MemoryStorage());
          u.update([...junk, ...es]);
          expect(hex(u.update(junk.map((j) => ({ key: j.key, value: null }))))).toBe(hex(want));
        },
      ),
      propParams('merkle: order independence', 100),
    );
  });

  it('the last change of a key in one batch wins', () => {
    const t = new SparseMerkleTree(new MemoryStorage());
    const k = enc('k');
    t.update([
      { key: k, value: enc('1') },
      { key: k, value: null },
      { key: k, value: enc('3') },
    ]);
    expect(t.get(k)).toEqual(enc('3'));
    t.update([
      { key: k, value: enc('4') },
      { key: k, value: null },
    ]);
    expect(t.get(k)).toBeUndefined();
    expect(isZeroRoot(t.root())).toBe(true);
  });
});

describe('proofs', () => {
  /** A tree of `es` and a probe key that is present (index into es) or absent. */
  const scenarioArb = entriesArb.chain((es) =>
    fc.tuple(
      fc.constant(es),
      es.length === 0
        ? keyArb.map((k) => ({ key: k, present: false }))
        : fc.oneof(
            fc.nat({ max: es.length - 1 }).map((i) => ({ key: es[i]!.key, present: true })),
            keyArb.map((k) => ({ key: k, present: es.some((e) => bytesEqual(e.key, k)) })),
          ),
    ),
  );

  function setup(es: MerkleEntry[]) {
    const t = new SparseMerkleTree(new MemoryStorage());
    const root = t.update(es);
    const model: Model = new Map(es.map((e) => [hex(e.key), e.value]));
    return { t, root, model };
  }

  it('membership verifies only with the value, non-membership only for absent keys', () => {
    fc.assert(
      fc.property(scenarioArb, valueArb, ([es, probe], other) => {
        const { t, root, model } = setup(es);
        const value = model.get(hex(probe.key)) ?? null;
        const proof = t.prove(probe.key);
        expect(check(root, probe.key, value, proof)).toBe(true);
        if (value !== null) {
          expect(check(root, probe.key, null, proof)).toBe(false);
          if (!bytesEqual(other, value)) expect(check(root, probe.key, other, proof)).toBe(false);
          // forge non-membership of a present key: "the leaf on its path is someone else's"
          const forged: MerkleProof = {
            kind: 'absent',
            siblings: proof.siblings,
            leaf: { keyHash: sha256(probe.key), valueHash: sha256(value) },
          };
          expect(check(root, probe.key, null, forged)).toBe(false);
          expect(check(root, probe.key, null, { kind: 'absent', siblings: proof.siblings, leaf: null })).toBe(
            false,
          );
          // every other key's non-membership proof fails for this key
          for (const e of es) {
            const absentKey = Uint8Array.from([...e.key, 0x42, 0x42, 0x42]);
            if (model.has(hex(absentKey))) continue;
            const p = t.prove(absentKey);
            expect(check(root, absentKey, null, p)).toBe(true);
            expect(check(root, probe.key, null, p)).toBe(false);
          }
        } else {
          expect(check(root, probe.key, other, proof)).toBe(false);
          // a membership claim built from the non-membership path fails too
          expect(check(root, probe.key, other, { kind: 'member', siblings: proof.siblings })).toBe(false);
        }
      }),
      propParams('merkle: membership and non-membership', 150),
    );
  });

  it('any single-bit tamper of proof bytes, root, key or value fails', () => {
    fc.assert(
      fc.property(scenarioArb, fc.nat(), fc.nat(), fc.nat(), fc.nat(), ([es, probe], pi, ri, ki, vi) => {
        const { t, root, model } = setup(es);
        const value = model.get(hex(probe.key)) ?? null;
        const proof = t.prove(probe.key);
        const bytes = encodeProof(proof);
        expect(verifyProof(root, probe.key, value, decodeProof(bytes))).toBe(true);

        const tampered = flipBit(bytes, pi % (bytes.length * 8));
        let decoded: MerkleProof | undefined;
        try {
          decoded = decodeProof(tampered);
        } catch (e) {
          expect(e).toBeInstanceOf(DecodeError);
        }
        if (decoded !== undefined) expect(verifyProof(root, probe.key, value, decoded)).toBe(false);

        expect(verifyProof(flipBit(root, ri % 256), probe.key, value, proof)).toBe(false);

        if (probe.key.length > 0) {
          const k2 = flipBit(probe.key, ki % (probe.key.length * 8));
          // a non-membership proof may legitimately also prove another absent key
          const stillFine = value === null && !model.has(hex(k2));
          if (!stillFine) expect(verifyProof(root, k2, value, proof)).toBe(false);
        }
        if (value !== null && value.length > 0) {
          expect(verifyProof(root, probe.key, flipBit(value, vi % (value.length * 8)), proof)).toBe(false);
        }
      }),
      propParams('merkle: single-bit tamper', 200),
    );
  });

  it('a proof against an older root still verifies after later updates', () => {
    fc.assert(
      fc.property(entriesArb, batchesArb, (es, later) => {
        const { t, root, model } = setup(es);
        for (const b of later) t.update(b);
        for (const e of [...es, ...later.flat()]) {
          const want = model.get(hex(e.key)) ?? null;
          const proof = t.prove(e.key, root);
          expect(check(root, e.key, want, proof)).toBe(true);
          // and the proof from the current root checks against the current root only
          const now = t.prove(e.key);
          const cur = t.get(e.key) ?? null;
          expect(check(t.root(), e.key, cur, now)).toBe(true);
        }
      }),
      propParams('merkle: historical roots', 60),
    );
  });

  it('decoding random or mutated bytes gives a DecodeError or a proof that fails', () => {
    const t = new SparseMerkleTree(new MemoryStorage());
    const keys = Array.from({ length: 40 }, (_, i) => enc(`key${i}`));
    const root = t.update(keys.map((key) => ({ key, value: key })));
    const valid = keys.map((k) => encodeProof(t.prove(k)));
    const bytesArb = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      fc
        .tuple(fc.constantFrom(...valid), fc.nat(), fc.integer({ min: 0, max: 255 }), fc.nat({ max: 3 }))
        .map(([b, i, x, mode]) => {
          const c = b.slice();
          if (mode === 0) c[i % c.length] = x; // overwrite a byte
          if (mode === 1) return c.subarray(0, i % c.length); // truncate
          if (mode === 2) return Uint8Array.from([...c, x]); // append
          if (mode === 3) c[1] = x; // siblings list length byte
          return c;
        }),
    );
    fc.assert(
      fc.property(bytesArb, fc.nat({ max: keys.length - 1 }), fc.boolean(), (bytes, ki, absent) => {
        let p: MerkleProof;
        try {
          p = decodeProof(bytes);
        } catch (e) {
          expect(e).toBeInstanceOf(DecodeError);
          return;
        }
        // a decoded proof is in canonical form: re-encoding gives the same bytes
        expect(hex(encodeProof(p))).toBe(hex(bytes));
        const key = keys[ki]!;
        if (valid.some((v) => hex(v) === hex(bytes))) return; // an untouched valid proof
        expect(verifyProof(root, key, absent ? null : key, p)).toBe(false);
      }),
      propParams('merkle: decode hostile bytes', 300),
    );
  });

  it('verifyProof never throws on malformed proof objects', () => {
    const root = emptyRoot();
    const k = enc('k');
    const junk: unknown[] = [
      null,
      undefined,
      {},
      { kind: 'member' },
      { kind: 'member', siblings: [1, 2] },
      { kind: 'absent', siblings: [new Uint8Array(31)], leaf: null },
      { kind: 'absent', siblings: [], leaf: { keyHash: 3 } },
      { kind: 'absent', siblings: new Array(257).fill(new Uint8Array(32)), leaf: null },
      { kind: 'other', siblings: [] },
    ];
    for (const j of junk) expect(verifyProof(root, k, null, j as MerkleProof)).toBe(false);
    expect(verifyProof(root, k, null, { kind: 'absent', siblings: [], leaf: null })).toBe(true);
    expect(verifyProof(new Uint8Array(31), k, null, { kind: 'absent', siblings: [], leaf: null })).toBe(
      false,
    );
  });

  it('the wire encoding of a proof is the documented schema', () => {
    const sib = new Uint8Array(HASH_BYTES).fill(7);
    const m = encodeProof({ kind: 'member', siblings: [sib] });
    // variant index 0, list blob: varint(34) varint(1) then varint(32) ++ 32 bytes
    expect(hex(m)).toBe(`00220120${'07'.repeat(32)}`);
    const a = encodeProof({ kind: 'absent', siblings: [], leaf: null });
    expect(hex(a)).toBe('01010000');
    expect(() => encodeProof({ kind: 'nope' } as unknown as MerkleProof)).toThrow();
  });
});

describe('storage integration', () => {
  it('rejects bad input without writing anything', () => {
    const st = new MemoryStorage();
    const t = new SparseMerkleTree(st);
    t.update([{ key: enc('a'), value: enc('1') }]);
    const before = [...st.scan(new Uint8Array(0))].length;
    const bad = [
      { key: enc('b'), value: enc('2') },
      { key: 'x', value: enc('3') },
    ] as unknown as MerkleChange[];
    expect(() => t.update(bad)).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
    expect(() => t.update([{ key: enc('b'), value: undefined } as unknown as MerkleChange])).toThrow();
    expect([...st.scan(new Uint8Array(0))].length).toBe(before);
    let err: unknown;
    try {
      t.get(enc('a'), new Uint8Array(32).fill(9));
    } catch (e) {
      err = e;
    }
    expect(isStorageError(err, 'invalid-argument')).toBe(true);
  });

  it('namespaces keep trees apart in one store', () => {
    const st = new MemoryStorage();
    const a = new SparseMerkleTree(st, { namespace: enc('a/') });
    const b = new SparseMerkleTree(st, { namespace: enc('b/') });
    a.update([{ key: enc('x'), value: enc('1') }]);
    expect(isZeroRoot(b.root())).toBe(true);
    expect(b.get(enc('x'))).toBeUndefined();
    for (const [k] of st.scan(new Uint8Array(0))) expect(k[0]).toBe('a'.charCodeAt(0));
  });

  it('stage writes nothing; its ops written with others in one batch give the root update gives', () => {
    const st = new MemoryStorage();
    const t = new SparseMerkleTree(st);
    const model = new SparseMerkleTree(new MemoryStorage());
    const first = Array.from({ length: 40 }, (_, i) => ({ key: enc(`k${i}`), value: enc(`v${i}`) }));
    const second = [
      ...Array.from({ length: 10 }, (_, i) => ({ key: enc(`k${i}`), value: null })),
      ...Array.from({ length: 10 }, (_, i) => ({ key: enc(`n${i}`), value: enc('new') })),
    ];
    for (const changes of [first, second]) {
      const before = [...st.scan(new Uint8Array())].length;
      const staged = t.stage(changes);
      expect([...st.scan(new Uint8Array())].length).toBe(before);
      st.batch([...staged.ops, { op: 'put', key: enc('other'), value: enc('x') }]);
      t.applied(staged);
      expect(hex(staged.root)).toBe(hex(model.update(changes)));
      expect(hex(t.root())).toBe(hex(staged.root));
    }
    expect(t.get(enc('k3'))).toBeUndefined();
    expect(t.get(enc('k30'))).toEqual(enc('v30'));
    expect(t.get(enc('n4'))).toEqual(enc('new'));
    expect(() => t.stage([{ key: 'k' as unknown as Uint8Array, value: null }])).toThrow(
      expect.objectContaining({ code: 'invalid-argument' }),
    );
  });

  it('a staged batch is in key order, root pointer last, one put per new node, its records intact', () => {
    fc.assert(
      fc.property(batchesArb, (batches) => {
        const st = new MemoryStorage();
        const t = new SparseMerkleTree(st);
        for (const changes of batches) {
          const staged = t.stage(changes);
          const keys = staged.ops.map((op) => hex(op.key));
          expect(keys).toEqual([...keys].sort());
          expect(staged.ops.length).toBe(staged.nodes.length + 1);
          expect(staged.ops.at(-1)!.key).toEqual(enc('smt/r'));
          // each record is its hash's preimage (leaves: the first 65 bytes), whatever else shares its memory
          for (const [hash, record] of staged.nodes) {
            expect(hex(sha256(record.subarray(0, 65)))).toBe(hex(hash));
          }
          st.batch(staged.ops);
          t.applied(staged);
        }
        const model: Model = new Map();
        for (const changes of batches) applyModel(model, changes);
        expect(hex(t.root())).toBe(hex(computeRoot(entriesOf(model))));
        // values read back are the caller's: changing one changes nothing stored
        for (const [k, v] of model) {
          const got = t.get(unhex(k))!;
          expect(hex(got)).toBe(hex(v));
          got.fill(0xee);
          expect(hex(t.get(unhex(k))!)).toBe(hex(v));
        }
      }),
      propParams('merkle: staged batch order and records', 100),
    );
  });

  it('prune keeps the current and the kept roots, drops the others', () => {
    const t = new SparseMerkleTree(new MemoryStorage());
    const r1 = t.update(Array.from({ length: 30 }, (_, i) => ({ key: enc(`k${i}`), value: enc('v1') })));
    const r2 = t.update(Array.from({ length: 10 }, (_, i) => ({ key: enc(`k${i}`), value: enc('v2') })));
    const r3 = t.update([{ key: enc('k0'), value: null }]);
    const deleted = t.prune([r2]);
    expect(deleted).toBeGreaterThan(0);
    expect(t.prune([r2])).toBe(0);
    expect(t.get(enc('k1'), r2)).toEqual(enc('v2'));
    expect(t.get(enc('k0'), r2)).toEqual(enc('v2'));
    expect(t.get(enc('k0'), r3)).toBeUndefined();
    expect(check(r2, enc('k5'), enc('v2'), t.prove(enc('k5'), r2))).toBe(true);
    expect(check(r3, enc('k20'), enc('v1'), t.prove(enc('k20')))).toBe(true);
    expect(() => t.get(enc('k1'), r1)).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
    // nothing unreachable left: a full prune to the current root leaves exactly its nodes
    t.prune();
    expect(t.stats.reads).toBeGreaterThan(0);
  });

  const dir = mkdtempSync(join(tmpdir(), 'fractal-merkle-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('works on SQLite and survives a reopen', () => {
    const path = join(dir, 'smt.sqlite');
    let st = SqliteStorage.open(path, { synchronous: 'normal' });
    let t = new SparseMerkleTree(st);
    const es = Array.from({ length: 200 }, (_, i) => ({ key: enc(`key-${i}`), value: enc(`value-${i}`) }));
    const r1 = t.update(es);
    const r2 = t.update(es.slice(0, 50).map((e) => ({ key: e.key, value: null })));
    expect(hex(r1)).toBe(hex(computeRoot(es)));
    expect(hex(r2)).toBe(hex(computeRoot(es.slice(50))));
    st.close();
    st = SqliteStorage.open(path);
    t = new SparseMerkleTree(st);
    expect(hex(t.root())).toBe(hex(r2));
    expect(t.get(enc('key-7'), r1)).toEqual(enc('value-7'));
    expect(t.get(enc('key-7'))).toBeUndefined();
    expect(check(r2, enc('key-7'), null, t.prove(enc('key-7')))).toBe(true);
    expect(check(r1, enc('key-7'), enc('value-7'), t.prove(enc('key-7'), r1))).toBe(true);
    st.close();
  });
});

/**
 * fast-check arbitraries for the wire tests (test support only; not part of the public API):
 * seed-003 types of bounded depth and values of a given type, typed schemas with values, byte
 * mutations, and a structural equality for typed values.
 */
import fc from 'fast-check';
import type { Schema } from './schema.ts';
import { s } from './schema.ts';
import { type DataType, type DataValue, T, V } from './types.ts';

const ORDERS: readonly bigint[] = [
  1n,
  2n,
  3n,
  7n,
  255n,
  256n,
  257n,
  65_535n,
  65_536n,
  65_537n,
  2n ** 32n,
  2n ** 53n,
  2n ** 64n,
  2n ** 64n + 1n,
  2n ** 127n - 1n,
  2n ** 255n - 19n,
];

/** Orders n >= min for RingT / FiniteFieldT: byte-width edges and random sizes up to 130 bits. */
export function orderArb(min: bigint): fc.Arbitrary<bigint> {
  return fc.oneof(
    fc.constantFrom(...ORDERS.filter((n) => n >= min)),
    fc.bigInt({ min, max: 1n << 20n }),
    fc.bigInt({ min, max: 1n << 130n }),
  );
}

export const basicTypeArb: fc.Arbitrary<DataType> = fc.oneof(
  fc.constant(T.bool),
  orderArb(1n).map((n) => T.ring(n)),
  orderArb(2n).map((n) => T.field(n)),
  fc.constant(T.binary),
);

/**
 * DataTypes of nesting depth at most `depth`. With `allowEmpty`, coproducts may have no options
 * (uninhabited types), which only the random-bytes property uses.
 */
export function dataTypeArb(depth: number, allowEmpty = false): fc.Arbitrary<DataType> {
  if (depth <= 0) return basicTypeArb;
  const inner = dataTypeArb(depth - 1, allowEmpty);
  return fc.oneof(
    { weight: 3, arbitrary: basicTypeArb },
    { weight: 2, arbitrary: fc.array(inner, { maxLength: 4 }).map((items) => T.product(items)) },
    {
      weight: 2,
      arbitrary: fc.array(inner, { minLength: allowEmpty ? 0 : 1, maxLength: 4 }).map((o) => T.coproduct(o)),
    },
    { weight: 1, arbitrary: fc.tuple(inner, inner).map(([a, b]) => T.fn(a, b)) },
  );
}

export const bytesArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 4, arbitrary: fc.uint8Array({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 120, maxLength: 300 }) },
);

function belowArb(n: bigint): fc.Arbitrary<bigint> {
  if (n <= 1n) return fc.constant(0n);
  return fc.oneof(fc.constantFrom(0n, n - 1n), fc.bigInt({ min: 0n, max: n - 1n }));
}

const vmArb = fc.oneof(fc.bigInt({ min: 0n, max: 5n }), fc.bigInt({ min: 0n, max: (1n << 63n) - 1n }));

/** Values of an inhabited `type`. */
export function valueArb(type: DataType): fc.Arbitrary<DataValue> {
  switch (type.kind) {
    case 'basic': {
      const b = type.basic;
      switch (b.kind) {
        case 'boolean':
          return fc.boolean().map(V.bool);
        case 'ring':
          return belowArb(b.n).map(V.ring);
        case 'field':
          return belowArb(b.n).map(V.field);
        case 'binary':
          return bytesArb.map(V.binary);
      }
      break;
    }
    case 'function':
      return fc.tuple(vmArb, bytesArb).map(([vm, code]) => V.fn(vm, code));
    case 'product':
      return fc.tuple(...type.items.map(valueArb)).map((items) => V.tuple(items));
    case 'coproduct':
      return fc.oneof(...type.options.map((o, i) => valueArb(o).map((v) => V.option(i, v))));
  }
}

/** A type together with a value of it. */
export function typedValueArb(depth: number): fc.Arbitrary<{ type: DataType; value: DataValue }> {
  return dataTypeArb(depth).chain((type) => valueArb(type).map((value) => ({ type, value })));
}

/** Arbitrary DataValues with no type in mind (ring values may be huge, indices out of range, …). */
export function anyValueArb(depth: number): fc.Arbitrary<DataValue> {
  const basic = fc.oneof(
    fc.boolean().map(V.bool),
    fc.bigInt({ min: 0n, max: 1n << 70n }).map(V.ring),
    fc.bigInt({ min: 0n, max: 300n }).map(V.ring),
    fc.bigInt({ min: 0n, max: 300n }).map(V.field),
    bytesArb.map(V.binary),
    fc.tuple(vmArb, bytesArb).map(([vm, code]) => V.fn(vm, code)),
  );
  if (depth <= 0) return basic;
  const inner = anyValueArb(depth - 1);
  return fc.oneof(
    { weight: 3, arbitrary: basic },
    { weight: 2, arbitrary: fc.array(inner, { maxLength: 4 }).map((items) => V.tuple(items)) },
    { weight: 2, arbitrary: fc.tuple(fc.nat(4), inner).map(([i, v]) => V.option(i, v)) },
  );
}

/** Replaces one sub-value of `value` (chosen by `pick`) with `replacement`. */
export function replaceSubvalue(value: DataValue, pick: number, replacement: DataValue): DataValue {
  const nodes: DataValue[] = [];
  const walk = (v: DataValue) => {
    nodes.push(v);
    if (v.kind === 'tuple') v.items.forEach(walk);
    else if (v.kind === 'option') walk(v.value);
  };
  walk(value);
  const target = nodes[pick % nodes.length];
  const rebuild = (v: DataValue): DataValue => {
    if (v === target) return replacement;
    if (v.kind === 'tuple') return V.tuple(v.items.map(rebuild));
    if (v.kind === 'option') return V.option(v.index, rebuild(v.value));
    return v;
  };
  return rebuild(value);
}

/** A mutation of a byte string: flip, delete, insert, truncate, append or overwrite. */
export type Mutation =
  | { op: 'flip'; at: number; mask: number }
  | { op: 'delete'; at: number }
  | { op: 'insert'; at: number; byte: number }
  | { op: 'truncate'; at: number }
  | { op: 'append'; bytes: Uint8Array }
  | { op: 'set'; at: number; byte: number }
  /** widens a one-byte varint at `at` into a redundant two-byte one (b | 0x80, 0x00) */
  | { op: 'pad'; at: number };

export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('append' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 4 }) }),
  fc.record({
    op: fc.constant('set' as const),
    at: fc.nat(),
    byte: fc.constantFrom(0x00, 0x01, 0x02, 0x7f, 0x80, 0x81, 0xff),
  }),
  fc.record({ op: fc.constant('pad' as const), at: fc.nat() }),
);

export function mutate(bytes: Uint8Array, m: Mutation): Uint8Array {
  const a = [...bytes];
  const at = a.length === 0 ? 0 : m.op === 'append' ? 0 : (m as { at: number }).at % (a.length + 1);
  switch (m.op) {
    case 'flip':
      if (at < a.length) a[at] = a[at]! ^ m.mask;
      break;
    case 'delete':
      if (at < a.length) a.splice(at, 1);
      break;
    case 'insert':
      a.splice(at, 0, m.byte);
      break;
    case 'truncate':
      a.length = Math.min(a.length, at);
      break;
    case 'append':
      a.push(...m.bytes);
      break;
    case 'set':
      if (at < a.length) a[at] = m.byte;
      break;
    case 'pad':
      if (at < a.length) {
        a[at] = a[at]! | 0x80;
        a.splice(at + 1, 0, 0x00);
      }
      break;
  }
  return Uint8Array.from(a);
}

// --- typed schemas ----------------------------------------------------------------------------

export interface SchemaCase {
  readonly schema: Schema<unknown>;
  readonly values: fc.Arbitrary<unknown>;
}

const u = (schema: Schema<unknown>, values: fc.Arbitrary<unknown>): SchemaCase => ({ schema, values });

const stringArb = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.string({ unit: 'binary', minLength: 70, maxLength: 120 }),
  fc.constantFrom('', '\uFEFFbom', 'é', '😀'),
);

const leafCases: fc.Arbitrary<SchemaCase> = fc.oneof(
  fc.constant(u(s.bool(), fc.boolean())),
  fc.constant(u(s.u8(), fc.integer({ min: 0, max: 255 }))),
  fc.constant(u(s.u16(), fc.integer({ min: 0, max: 0xffff }))),
  fc.constant(
    u(s.u32(), fc.oneof(fc.constantFrom(0, 0xffff_ffff), fc.integer({ min: 0, max: 0xffff_ffff }))),
  ),
  fc.constant(
    u(s.u64(), fc.oneof(fc.constantFrom(0n, 2n ** 64n - 1n), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }))),
  ),
  orderArb(1n).map((n) => u(s.ring(n), belowArb(n))),
  orderArb(2n).map((n) => u(s.field(n), belowArb(n))),
  fc.constant(u(s.bytes(), bytesArb)),
  fc.nat(40).map((length) => u(s.bytes({ length }), fc.uint8Array({ minLength: length, maxLength: length }))),
  fc.nat(40).map((max) => u(s.bytes({ max }), fc.uint8Array({ maxLength: max }))),
  fc.constant(u(s.string(), stringArb)),
  fc.constant(u(s.string({ max: 12 }), fc.string({ maxLength: 12, unit: 'binary-ascii' }))),
  fc.constant(u(s.unit(), fc.constant(null))),
  fc.constant(u(s.nat(), fc.oneof(fc.constantFrom(0n, 255n, 256n), fc.bigInt({ min: 0n, max: 1n << 100n })))),
  fc.constant(u(s.func(T.binary, T.bool), fc.record({ vm: vmArb, code: bytesArb }))),
);

const FIELD_NAMES = ['a', 'b', 'height', 'round', 'hash', 'sig', 'x_1', 'value'];

const keyCases: readonly SchemaCase[] = [
  u(s.u8(), fc.integer({ min: 0, max: 255 })),
  u(s.u32(), fc.integer({ min: 0, max: 0xffff_ffff })),
  u(s.u64(), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })),
  u(s.string(), fc.string({ maxLength: 6 })),
];

/** Typed schemas of nesting depth at most `depth`, each with an arbitrary of its values. */
export function schemaCaseArb(depth: number): fc.Arbitrary<SchemaCase> {
  if (depth <= 0) return leafCases;
  const inner = schemaCaseArb(depth - 1);
  const nonNull = inner.filter((c) => !c.schema.nullable);
  return fc.oneof(
    { weight: 4, arbitrary: leafCases },
    {
      weight: 2,
      arbitrary: fc
        .uniqueArray(fc.tuple(fc.constantFrom(...FIELD_NAMES), inner), {
          maxLength: 4,
          selector: ([k]) => k,
        })
        .map((fields) => {
          const schemas = Object.fromEntries(fields.map(([k, c]) => [k, c.schema]));
          const values = fc.record(Object.fromEntries(fields.map(([k, c]) => [k, c.values])));
          return u(s.struct(schemas), values);
        }),
    },
    {
      weight: 1,
      arbitrary: fc
        .array(inner, { maxLength: 4 })
        .map((items) => u(s.tuple(items.map((c) => c.schema)), fc.tuple(...items.map((c) => c.values)))),
    },
    {
      weight: 2,
      arbitrary: fc
        .uniqueArray(fc.tuple(fc.constantFrom(...FIELD_NAMES), inner), {
          minLength: 1,
          maxLength: 4,
          selector: ([k]) => k,
        })
        .map((options) => {
          const schemas = Object.fromEntries(options.map(([k, c]) => [k, c.schema]));
          const values = fc.oneof(...options.map(([k, c]) => c.values.map((value) => ({ tag: k, value }))));
          return u(s.variant(schemas), values);
        }),
    },
    {
      weight: 1,
      arbitrary: nonNull.map((c) => u(s.option(c.schema), fc.option(c.values, { nil: null }))),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(inner, fc.option(fc.nat(6), { nil: undefined }))
        .map(([c, max]) =>
          u(
            max === undefined ? s.list(c.schema) : s.list(c.schema, { max }),
            fc.array(c.values, { maxLength: max ?? 5 }),
          ),
        ),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(fc.constantFrom(...keyCases), inner).map(([k, v]) =>
        u(
          s.map(k.schema, v.schema),
          fc.array(fc.tuple(k.values, v.values), { maxLength: 5 }).map((entries) => new Map(entries)),
        ),
      ),
    },
    { weight: 1, arbitrary: inner.map((c) => u(s.embed(c.schema), c.values)) },
  );
}

/** A schema with one of its values. */
export function schemaValueArb(depth: number): fc.Arbitrary<{ schema: Schema<unknown>; value: unknown }> {
  return schemaCaseArb(depth).chain((c) => c.values.map((value) => ({ schema: c.schema, value })));
}

/** Structural equality of typed values (bytes by content, Maps entry by entry in order). */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || typeof a !== 'object' || a === null || b === null) return false;
  if (a instanceof Uint8Array) {
    if (!(b instanceof Uint8Array) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  if (a instanceof Map) {
    if (!(b instanceof Map) || a.size !== b.size) return false;
    const ea = [...a.entries()].sort(entryOrder);
    const eb = [...b.entries()].sort(entryOrder);
    return ea.every(([k, v], i) => deepEqual(k, eb[i]![0]) && deepEqual(v, eb[i]![1]));
  }
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  }
  if (typeof b !== 'object' || Array.isArray(b) || b instanceof Uint8Array || b instanceof Map) return false;
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  const ka = Object.keys(ra);
  if (ka.length !== Object.keys(rb).length) return false;
  return ka.every((k) => Object.hasOwn(rb, k) && deepEqual(ra[k], rb[k]));
}

function entryOrder(x: [unknown, unknown], y: [unknown, unknown]): number {
  const a = String(x[0]);
  const b = String(y[0]);
  return a < b ? -1 : a > b ? 1 : 0;
}

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { propParams } from '../props/config.ts';
import { deserialise, serialise, tryDeserialise } from './codec.ts';
import { fromHex, toHex } from './commit.ts';
import {
  DecodeError,
  type DecodeErrorCode,
  type DecodeLimits,
  EncodeError,
  InvalidTypeError,
} from './errors.ts';
import { decode, encode, type Infer, type Schema, s, tryDecode } from './schema.ts';
import {
  dataTypeArb,
  deepEqual,
  mutate,
  mutationArb,
  schemaCaseArb,
  schemaValueArb,
} from './test-arbitraries.ts';
import { type DataType, showType, T, typecheck, typeEquals, V, valueEquals } from './types.ts';
import { decodeVarint, encodeVarint } from './varint.ts';

function hex<X>(schema: Schema<X>, v: X): string {
  return toHex(encode(schema, v));
}

/** `v` encodes to exactly `h`, decodes back, and the DataValue path gives the same bytes. */
function vector<X>(schema: Schema<X>, v: X, h: string): void {
  expect(hex(schema, v)).toBe(h);
  expect(deepEqual(decode(schema, fromHex(h)), v)).toBe(true);
  expect(toHex(serialise(schema.type, schema.toValue(v)))).toBe(h);
}

function rejects<X>(
  schema: Schema<X>,
  h: string,
  code: DecodeErrorCode,
  limits?: Partial<DecodeLimits>,
): DecodeError {
  const r = tryDecode(schema, fromHex(h), limits);
  if (r.ok) throw new Error(`expected ${code}, decoded a value`);
  expect(r.error).toBeInstanceOf(DecodeError);
  expect(r.error.code).toBe(code);
  return r.error;
}

function refuses<X>(schema: Schema<X>, v: unknown): void {
  expect(() => encode(schema, v as X)).toThrow(EncodeError);
  expect(() => schema.toValue(v as X)).toThrow(EncodeError);
}

describe('schemas: types they denote', () => {
  it('maps to seed-003 types', () => {
    expect(showType(s.u8().type)).toBe('RingT 256');
    expect(showType(s.u16().type)).toBe('RingT 65536');
    expect(showType(s.u32().type)).toBe('RingT 4294967296');
    expect(showType(s.u64().type)).toBe('RingT 18446744073709551616');
    expect(showType(s.field(7n).type)).toBe('FiniteFieldT 7');
    expect(showType(s.string().type)).toBe('BinaryT');
    expect(showType(s.list(s.u8()).type)).toBe('BinaryT');
    expect(showType(s.option(s.bool()).type)).toBe('CoproductT [ProductT [], BooleanT]');
    expect(showType(s.struct({ a: s.u8(), b: s.bytes() }).type)).toBe('ProductT [RingT 256, BinaryT]');
    expect(showType(s.variant({ x: s.unit(), y: s.bool() }).type)).toBe('CoproductT [ProductT [], BooleanT]');
    expect(showType(s.func(T.binary, T.bool).type)).toBe('FunctionT (BinaryT) (BooleanT)');
  });
});

describe('schemas: byte vectors', () => {
  it('fixed-width integers are little-endian', () => {
    vector(s.u8(), 0xab, 'ab');
    vector(s.u16(), 0x1234, '3412');
    vector(s.u32(), 0x01020304, '04030201');
    vector(s.u32(), 0xffffffff, 'ffffffff');
    vector(s.u64(), 0x0102030405060708n, '0807060504030201');
    vector(s.u64(), 2n ** 64n - 1n, 'ffffffffffffffff');
    vector(s.ring(300n), 299n, '2b01');
    vector(s.ring(1n), 0n, '');
    rejects(s.ring(300n), '2c01', 'out-of-range');
    rejects(s.u16(), '34', 'truncated');
    rejects(s.u64(), '01020304050607', 'truncated');
  });

  it('encodes the typed example of wire/README.md', () => {
    const Note = s.struct({
      kind: s.u8(),
      height: s.u64(),
      tags: s.list(s.u16()),
      memo: s.option(s.string()),
    });
    vector(
      Note,
      { kind: 1, height: 258n, tags: [1, 513], memo: 'hi' },
      '01' + '0201000000000000' + '050201000102' + '01026869',
    );
    expect(showType(Note.type)).toBe(
      'ProductT [RingT 256, RingT 18446744073709551616, BinaryT, CoproductT [ProductT [], BinaryT]]',
    );
  });

  it('refuses out-of-range integers with EncodeError', () => {
    for (const v of [256, -1, 1.5, Number.NaN, '1', undefined, null]) refuses(s.u8(), v);
    for (const v of [65_536, -1, 0.5]) refuses(s.u16(), v);
    for (const v of [2 ** 32, -1, 2.5]) refuses(s.u32(), v);
    for (const v of [2n ** 64n, -1n, 5]) refuses(s.u64(), v);
    refuses(s.ring(10n), 10n);
    refuses(s.field(7n), 7n);
    expect(() => s.ring(0n)).toThrow(InvalidTypeError);
    expect(() => s.field(1n)).toThrow(InvalidTypeError);
  });

  it('bool, bytes, strings', () => {
    vector(s.bool(), true, '01');
    rejects(s.bool(), '02', 'out-of-range');
    vector(s.bytes(), fromHex('cafe'), '02cafe');
    vector(s.bytes({ length: 2 }), fromHex('cafe'), '02cafe');
    rejects(s.bytes({ length: 2 }), '03cafeba', 'bad-length');
    rejects(s.bytes({ max: 2 }), '03cafeba', 'too-long');
    refuses(s.bytes({ length: 2 }), fromHex('ca'));
    refuses(s.bytes({ max: 1 }), fromHex('cafe'));
    refuses(s.bytes(), [1, 2]);
    vector(s.string(), 'hi', '026869');
    vector(s.string(), 'é', '02c3a9');
    vector(s.string(), '😀', '04f09f9880');
    vector(s.string(), '\uFEFF', '03efbbbf'); // a BOM is data, not dropped
    vector(s.string(), 'x'.repeat(130), `8201${'78'.repeat(130)}`);
    vector(s.string(), 'é'.repeat(70), `8c01${'c3a9'.repeat(70)}`);
    vector(s.string(), '😀'.repeat(32), `8001${'f09f9880'.repeat(32)}`); // short path, 2-byte length
    rejects(s.string(), '02c328', 'bad-utf8');
    rejects(s.string(), '02c080', 'bad-utf8'); // overlong NUL
    rejects(s.string(), '03eda080', 'bad-utf8'); // encoded surrogate
    rejects(s.string(), '04f4908080', 'bad-utf8'); // past U+10FFFF
    rejects(s.string({ max: 1 }), '026869', 'too-long');
    refuses(s.string(), '\uD800');
    refuses(s.string(), `${'a'.repeat(100)}\uDC00`);
    refuses(s.string({ max: 1 }), 'hi');
  });

  it('unit, option and variant', () => {
    vector(s.unit(), null, '');
    vector(s.option(s.u8()), null, '00');
    vector(s.option(s.u8()), 5, '0105');
    rejects(s.option(s.u8()), '02', 'bad-tag');
    rejects(s.option(s.u8()), '8000', 'non-canonical');
    const V3 = s.variant({ ping: s.unit(), pong: s.u16(), text: s.string() });
    vector(V3, { tag: 'ping', value: null }, '00');
    vector(V3, { tag: 'pong', value: 513 }, '010102');
    vector(V3, { tag: 'text', value: 'ok' }, '02026f6b');
    rejects(V3, '03', 'bad-tag');
    refuses(V3, { tag: 'nope', value: null });
    refuses(V3, { tag: 'pong', value: 'x' });
    expect(() => s.option(s.option(s.u8()))).toThrow(InvalidTypeError);
    expect(() => s.option(s.unit())).toThrow(InvalidTypeError);
  });

  it('structs and tuples concatenate in declaration order', () => {
    const P = s.struct({ b: s.u8(), a: s.u16() });
    vector(P, { b: 1, a: 2 }, '010200');
    vector(s.tuple([s.u8(), s.bool()]), [7, true], '0701');
    refuses(s.tuple([s.u8(), s.bool()]), [7]);
    refuses(P, null);
    expect(() => s.struct({ 1: s.u8() })).toThrow(InvalidTypeError);
  });

  it('lists are BinaryT holding varint(count) ++ items', () => {
    const L = s.list(s.u16());
    vector(L, [], '0100');
    vector(L, [1, 513], '0502' + '0100' + '0102');
    expect(toHex(serialise(L.type, L.toValue([1, 513])))).toBe('050201000102');
    const bv = L.toValue([1, 513]);
    expect(valueEquals(bv, V.binary(fromHex('0201000102')))).toBe(true);
    rejects(L, '0403010001', 'truncated'); // 3 items claimed in 3 bytes of 2-byte items
    rejects(L, '06020100010200', 'trailing-bytes'); // blob longer than its items
    rejects(L, '050301000102', 'truncated');
    rejects(L, '0502010001', 'truncated'); // blob length beyond input
    rejects(s.list(s.u8(), { max: 1 }), '03020102', 'too-long');
    rejects(s.list(s.unit()), '05ffffffff0f', 'too-long'); // 4 billion zero-size items
    rejects(s.list(s.unit()), '03a18d06', 'too-long', { maxLength: 100_000 }); // 100 000 + 1 items
    expect(decode(s.list(s.unit()), fromHex('0103'))).toEqual([null, null, null]);
    refuses(s.list(s.u8(), { max: 1 }), [1, 2]);
    refuses(s.list(s.u8()), [1, 300]);
    // a long list needs a multi-byte blob length: the content is shifted into place
    const many = Array.from({ length: 100 }, (_, i) => i);
    const bytes = encode(L, many);
    expect(toHex(bytes.subarray(0, 3))).toBe('c90164');
    expect(decode(L, bytes)).toEqual(many);
  });

  it('maps are sorted by key bytes and reject any other order', () => {
    const M = s.map(s.u8(), s.bool());
    vector(
      M,
      new Map([
        [3, true],
        [1, false],
      ]),
      '050201000301',
    );
    rejects(M, '050203010100', 'non-canonical'); // descending
    rejects(M, '050201000101', 'non-canonical'); // repeated key
    const S = s.map(s.string(), s.u8());
    // 'b' < 'ab'? no: bytes 01 62 vs 02 61 62 compare by the length prefix first
    vector(
      S,
      new Map([
        ['ab', 2],
        ['b', 1],
      ]),
      '0802' + '016201' + '02616202',
    );
  });

  it('nat, embed and func', () => {
    vector(s.nat(), 0n, '00');
    vector(s.nat(), 256n, '020001');
    rejects(s.nat(), '020100', 'non-canonical');
    vector(s.embed(s.u16()), 0x0102, '020201');
    rejects(s.embed(s.u16()), '03020100', 'trailing-bytes');
    vector(s.func(T.binary, T.bool), { vm: 2n, code: fromHex('aa') }, '0201aa');
  });

  it('reports the field path of a problem', () => {
    const Vote = s.struct({ height: s.u64(), votes: s.list(s.struct({ sig: s.bytes({ max: 2 }) })) });
    const e = rejects(Vote, `0000000000000000 08 02 02aaaa 03bbbbbb`.replace(/ /g, ''), 'too-long');
    expect(e.path).toBe('.votes[1].sig');
    try {
      encode(Vote, { height: 1n, votes: [{ sig: new Uint8Array(3) }] });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(EncodeError);
      expect((err as EncodeError).path).toBe('.votes[0].sig');
    }
  });

  it('bounds recursion through lazy schemas by maxDepth, never the stack', () => {
    type Tree = { label: number; kids: Tree[] };
    const Tree: Schema<Tree> = s.struct({ label: s.u8(), kids: s.list(s.lazy(() => Tree)) });
    const t: Tree = {
      label: 1,
      kids: [
        { label: 2, kids: [] },
        { label: 3, kids: [{ label: 4, kids: [] }] },
      ],
    };
    expect(decode(Tree, encode(Tree, t))).toEqual(t);
    // hand-built nesting 2000 levels deep: each level is label ++ blob(count 1 ++ next)
    let inner = fromHex('0000'); // label 0, empty blob? no: a list blob must hold a count
    inner = fromHex('000100'); // label 0, blob of 1 byte: count 0
    for (let i = 0; i < 2000; i++) {
      const body = new Uint8Array([1, ...inner]);
      const len = body.length;
      const lenBytes = len < 128 ? [len] : [(len & 0x7f) | 0x80, len >> 7];
      inner = new Uint8Array([0, ...lenBytes, ...body]);
    }
    const err = rejects(Tree, toHex(inner), 'too-deep', { maxLength: 1 << 20 });
    expect(err.path.startsWith('.kids[0]')).toBe(true);
  });

  it('bounds zero-size items across the whole input (no allocation bomb)', () => {
    // each inner list claims 100 000 units in 4 bytes; 50 of them would be 5 million array slots
    const inner = '03a08d06';
    const content = `32${inner.repeat(50)}`; // count 50
    const len = content.length / 2; // 201 bytes: varint c9 01
    const bomb = `c901${content}`;
    expect(len).toBe(201);
    const e = rejects(s.list(s.list(s.unit())), bomb, 'too-long');
    expect(e.path).toBe('[1]');
    // one of them is within the budget
    expect(decode(s.list(s.unit()), fromHex(inner)).length).toBe(100_000);
  });

  it('lets schemas refer to ones defined later through lazy', () => {
    const Outer = s.struct({ inner: s.lazy(() => Inner), n: s.u8() });
    const Inner = s.struct({ x: s.u16() });
    expect(Outer.minSize).toBe(3);
    vector(Outer, { inner: { x: 1 }, n: 2 }, '010002');
    expect(showType(Outer.type)).toBe('ProductT [ProductT [RingT 65536], RingT 256]');
  });

  it('never throws anything but DecodeError', () => {
    expect(tryDecode(s.u8(), null as unknown as Uint8Array).ok).toBe(false);
    const r = tryDecode(s.u8(), fromHex('0102'));
    expect(!r.ok && r.error.code).toBe('trailing-bytes');
    rejects(s.bytes(), `05${'00'.repeat(5)}`, 'too-large', { maxBytes: 4 });
  });

  it('round-trips DataTypes through s.dataType()', () => {
    const DT = s.dataType();
    vector(DT, T.bool, '00');
    vector(DT, T.ring(256), '01020001');
    vector(DT, T.product([T.bool, T.binary]), '04' + '03' + '02' + '00' + '03');
    fc.assert(
      fc.property(dataTypeArb(4, true), (t) => {
        const back = decode(DT, encode(DT, t));
        expect(typeEquals(back, t)).toBe(true);
      }),
      propParams('wire.schema.datatype-roundtrip', 200),
    );
    rejects(DT, '0100', 'out-of-range'); // RingT 0
    rejects(DT, '020101', 'out-of-range'); // FiniteFieldT 1
  });
});

describe('schemas: properties', () => {
  it('round-trip and agree with the DataValue path', () => {
    fc.assert(
      fc.property(schemaValueArb(3), ({ schema, value }) => {
        const bytes = encode(schema, value);
        expect(deepEqual(decode(schema, bytes), value)).toBe(true);
        const dv = schema.toValue(value);
        expect(typecheck(dv, schema.type)).toBe(true);
        expect(toHex(serialise(schema.type, dv))).toBe(toHex(bytes));
        expect(deepEqual(schema.fromValue(dv), value)).toBe(true);
        expect(valueEquals(deserialise(schema.type, bytes), dv)).toBe(true);
      }),
      propParams('wire.schema.roundtrip', 300),
    );
  });

  it('decode agrees with deserialise + fromValue on mutated bytes, and is bijective', () => {
    fc.assert(
      fc.property(
        schemaValueArb(3),
        fc.array(mutationArb, { minLength: 1, maxLength: 3 }),
        ({ schema, value }, ms) => {
          let bytes = encode(schema, value);
          for (const m of ms) bytes = mutate(bytes, m);
          const typed = tryDecode(schema, bytes);
          const generic = tryDeserialise(schema.type, bytes);
          let viaValue: { ok: true; value: unknown } | { ok: false } = { ok: false };
          if (generic.ok) {
            try {
              viaValue = { ok: true, value: schema.fromValue(generic.value) };
            } catch (e) {
              expect(e).toBeInstanceOf(DecodeError);
            }
          }
          expect(typed.ok).toBe(viaValue.ok);
          if (typed.ok && viaValue.ok) {
            expect(deepEqual(typed.value, viaValue.value)).toBe(true);
            expect(toHex(encode(schema, typed.value))).toBe(toHex(bytes));
          }
          if (!typed.ok) expect(typed.error.code).not.toBe('internal');
        },
      ),
      propParams('wire.schema.bijective', 400),
    );
  });

  it('decodes random bytes against random schemas to a value or a DecodeError', () => {
    fc.assert(
      fc.property(schemaCaseArb(3), fc.uint8Array({ maxLength: 40 }), (c, bytes) => {
        let v: unknown;
        try {
          v = decode(c.schema, bytes);
        } catch (e) {
          expect(e).toBeInstanceOf(DecodeError);
          expect((e as DecodeError).code).not.toBe('internal');
          return;
        }
        expect(toHex(encode(c.schema, v))).toBe(toHex(bytes));
      }),
      propParams('wire.schema.fuzz', 500),
    );
  });
});

describe('schemas: framing of length-prefixed values', () => {
  const framed = fc.oneof(
    schemaCaseArb(2).map((c) => ({
      schema: s.list(c.schema) as Schema<unknown>,
      values: fc.array(c.values, { maxLength: 4 }),
    })),
    schemaCaseArb(2).map((c) => ({ schema: s.embed(c.schema), values: c.values })),
    schemaCaseArb(1).map((c) => ({
      schema: s.map(s.u16(), c.schema) as Schema<unknown>,
      values: fc
        .array(fc.tuple(fc.integer({ min: 0, max: 0xffff }), c.values), { maxLength: 4 })
        .map((e) => new Map(e)),
    })),
  );

  it('rejects extra bytes inside a list / map / embed blob', () => {
    fc.assert(
      fc.property(
        framed.chain((c) => c.values.map((value) => ({ schema: c.schema, value }))),
        fc.uint8Array({ minLength: 1, maxLength: 3 }),
        ({ schema, value }, extra) => {
          const bytes = encode(schema, value);
          const { value: len, length: prefix } = decodeVarint(bytes);
          const content = bytes.subarray(prefix);
          expect(content.length).toBe(len);
          const tampered = new Uint8Array([...encodeVarint(len + extra.length), ...content, ...extra]);
          const r = tryDecode(schema, tampered);
          expect(r.ok).toBe(false);
          expect(!r.ok && r.error.code).toBe('trailing-bytes');
        },
      ),
      propParams('wire.schema.blob-trailing', 200),
    );
  });

  it('rejects map entries out of order or repeated', () => {
    const M = s.map(s.u16(), s.string());
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.tuple(fc.integer({ min: 0, max: 0xffff }), fc.string({ maxLength: 3 })), {
          minLength: 2,
          maxLength: 5,
          selector: ([k]) => k,
        }),
        fc.boolean(),
        (entries, repeat) => {
          // entries in ascending key-byte order, then broken: reversed, or the first one repeated
          const sorted = [...entries].sort((a, b) => cmp(encode(s.u16(), a[0]), encode(s.u16(), b[0])));
          const order = repeat ? [sorted[0]!, ...sorted] : [...sorted].reverse();
          const content: number[] = [...encodeVarint(order.length)];
          for (const [k, v] of order) content.push(...encode(s.u16(), k), ...encode(s.string(), v));
          const bytes = new Uint8Array([...encodeVarint(content.length), ...content]);
          const r = tryDecode(M, bytes);
          expect(!r.ok && r.error.code).toBe('non-canonical');
          // the same entries in canonical order decode, and re-encode to the same bytes
          const good: number[] = [...encodeVarint(sorted.length)];
          for (const [k, v] of sorted) good.push(...encode(s.u16(), k), ...encode(s.string(), v));
          const goodBytes = new Uint8Array([...encodeVarint(good.length), ...good]);
          expect(toHex(encode(M, decode(M, goodBytes)))).toBe(toHex(goodBytes));
        },
      ),
      propParams('wire.schema.map-order', 200),
    );
  });
});

function cmp(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

describe('schemas: static types', () => {
  it('infers value types', () => {
    const Msg = s.struct({
      id: s.u32(),
      tag: s.option(s.string()),
      kind: s.variant({ a: s.unit(), b: s.u64() }),
    });
    const m: Infer<typeof Msg> = { id: 1, tag: null, kind: { tag: 'b', value: 3n } };
    const back = decode(Msg, encode(Msg, m));
    const id: number = back.id;
    const tag: string | null = back.tag;
    expect([id, tag]).toEqual([1, null]);
    if (back.kind.tag === 'b') {
      const n: bigint = back.kind.value;
      expect(n).toBe(3n);
    } else expect.unreachable();
    const Tup = s.tuple([s.u8(), s.bytes()]);
    const t: Infer<typeof Tup> = [1, new Uint8Array([2])];
    expect(decode(Tup, encode(Tup, t))).toEqual(t);
    const dt: DataType = s.dataType().type;
    expect(dt.kind).toBe('coproduct');
  });
});

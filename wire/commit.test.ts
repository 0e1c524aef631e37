import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { propParams } from '../props/config.ts';
import { commitment, commitTyped, fromHex, sha256, toHex } from './commit.ts';
import { DecodeError, EncodeError } from './errors.ts';
import { multiencode } from './multiformat.ts';
import { s } from './schema.ts';
import { dataTypeArb, schemaValueArb, valueArb } from './test-arbitraries.ts';
import { T, V, valueEquals } from './types.ts';

const utf8 = (x: string) => new TextEncoder().encode(x);

describe('sha256', () => {
  it('matches the FIPS 180-2 vectors', () => {
    expect(toHex(sha256(utf8('')))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(toHex(sha256(utf8('abc')))).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
    expect(toHex(sha256(utf8('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')))).toBe(
      '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
    );
  });

  it('agrees with @noble/hashes on random inputs', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
        expect(toHex(sha256(b))).toBe(toHex(nobleSha256(b)));
      }),
      propParams('wire.commit.sha256-noble', 200),
    );
  });

  it('hashes a view, not its whole backing buffer', () => {
    const whole = utf8('xxabcxx');
    expect(toHex(sha256(whole.subarray(2, 5)))).toBe(toHex(sha256(utf8('abc'))));
  });
});

describe('commitments', () => {
  it('are sha256 of the multiencoding', () => {
    expect(toHex(commitment(T.bool, V.bool(true)))).toBe(toHex(sha256(fromHex('0101'))));
    expect(() => commitment(T.bool, V.ring(1))).toThrow(EncodeError);
  });

  it('agree between the typed and the DataValue path', () => {
    fc.assert(
      fc.property(schemaValueArb(2), ({ schema, value }) => {
        expect(toHex(commitTyped(schema, value))).toBe(toHex(commitment(schema.type, schema.toValue(value))));
      }),
      propParams('wire.commit.typed', 200),
    );
  });

  it('are equal exactly when the values are (for one type)', () => {
    const pairs = dataTypeArb(2).chain((type) =>
      fc.tuple(valueArb(type), valueArb(type)).map(([a, b]) => ({ type, a, b })),
    );
    fc.assert(
      fc.property(pairs, ({ type, a, b }) => {
        const ca = toHex(commitment(type, a));
        expect(ca).toBe(toHex(sha256(multiencode(type, a))));
        expect(ca === toHex(commitment(type, b))).toBe(valueEquals(a, b));
      }),
      propParams('wire.commit.injective', 200),
    );
    const U = s.struct({ a: s.u8(), b: s.string() });
    const seen = new Set<string>();
    for (let a = 0; a < 20; a++) for (const b of ['', 'x', 'xy']) seen.add(toHex(commitTyped(U, { a, b })));
    expect(seen.size).toBe(60);
  });
});

describe('hex', () => {
  it('round-trips and accepts either case', () => {
    expect(toHex(fromHex('00ffAB10'))).toBe('00ffab10');
    expect(fromHex('')).toEqual(new Uint8Array());
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
        expect(fromHex(toHex(b))).toEqual(b);
      }),
      propParams('wire.commit.hex', 100),
    );
  });

  it('is lowercase hex of exactly the viewed bytes, short (through the scratch) and long (by a Buffer view)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat({ max: 8 }), (b, skip) => {
        const view = b.subarray(Math.min(skip, b.length));
        expect(toHex(view)).toBe(Buffer.from(view).toString('hex'));
      }),
      propParams('wire.commit.to-hex', 200),
    );
  });

  it('refuses bad hex with a typed error', () => {
    for (const bad of ['abc', 'zz', '0x00', ' 00', '0g']) {
      try {
        fromHex(bad);
        expect.unreachable();
      } catch (e) {
        expect(e).toBeInstanceOf(DecodeError);
        expect((e as DecodeError).code).toBe('bad-hex');
      }
    }
  });
});

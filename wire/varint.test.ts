import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { propParams } from '../props/config.ts';
import { fromHex, toHex } from './commit.ts';
import { DecodeError, EncodeError } from './errors.ts';
import { decodeVarint, decodeVarintBig, encodeVarint, encodeVarintBig, varintLength } from './varint.ts';

function decodeError(fn: () => unknown): DecodeError {
  try {
    fn();
  } catch (e) {
    if (e instanceof DecodeError) return e;
    throw e;
  }
  throw new Error('expected a DecodeError');
}

describe('varint', () => {
  const vectors: [number, string][] = [
    [0, '00'],
    [1, '01'],
    [127, '7f'],
    [128, '8001'],
    [255, 'ff01'],
    [300, 'ac02'],
    [16_383, 'ff7f'],
    [16_384, '808001'],
    [2 ** 32, '8080808010'],
    [Number.MAX_SAFE_INTEGER, 'ffffffffffffff0f'],
  ];

  it('encodes the LEB128 vectors', () => {
    for (const [n, hex] of vectors) {
      expect(toHex(encodeVarint(n))).toBe(hex);
      expect(varintLength(n)).toBe(hex.length / 2);
      expect(decodeVarint(fromHex(hex))).toEqual({ value: n, length: hex.length / 2 });
      expect(decodeVarintBig(fromHex(hex))).toEqual({ value: BigInt(n), length: hex.length / 2 });
    }
  });

  it('reads at an offset and ignores what follows', () => {
    expect(decodeVarint(fromHex('ffac02ff'), 1)).toEqual({ value: 300, length: 2 });
  });

  it('handles the bigint range up to 2^63 - 1 in 9 bytes', () => {
    expect(toHex(encodeVarintBig((1n << 63n) - 1n))).toBe('ffffffffffffffff7f');
    expect(decodeVarintBig(fromHex('ffffffffffffffff7f')).value).toBe((1n << 63n) - 1n);
    expect(toHex(encodeVarintBig(300n))).toBe('ac02');
    expect(() => encodeVarintBig(1n << 63n)).toThrow(EncodeError);
    expect(() => encodeVarintBig(-1n)).toThrow(EncodeError);
    expect(decodeError(() => decodeVarintBig(fromHex('ffffffffffffffffff01'))).code).toBe('out-of-range');
  });

  it('rejects non-minimal encodings', () => {
    for (const hex of ['8000', 'ff00', '818000', '80808000']) {
      expect(decodeError(() => decodeVarint(fromHex(hex))).code).toBe('non-canonical');
      expect(decodeError(() => decodeVarintBig(fromHex(hex))).code).toBe('non-canonical');
    }
  });

  it('rejects truncated varints', () => {
    for (const hex of ['', '80', 'ffff']) {
      expect(decodeError(() => decodeVarint(fromHex(hex))).code).toBe('truncated');
      expect(decodeError(() => decodeVarintBig(fromHex(hex))).code).toBe('truncated');
    }
  });

  it('rejects numbers past 2^53 - 1', () => {
    expect(decodeError(() => decodeVarint(fromHex('8080808080808010'))).code).toBe('out-of-range'); // 2^53
    expect(decodeError(() => decodeVarint(fromHex('ffffffffffffffff7f'))).code).toBe('out-of-range');
    expect(decodeVarintBig(fromHex('8080808080808010')).value).toBe(2n ** 53n);
  });

  it('refuses to encode what it cannot represent', () => {
    for (const n of [-1, 1.5, Number.NaN, 2 ** 53, Number.POSITIVE_INFINITY]) {
      expect(() => encodeVarint(n)).toThrow(EncodeError);
    }
  });

  it('round-trips safe integers and bigints', () => {
    fc.assert(
      fc.property(fc.oneof(fc.nat(300), fc.maxSafeNat()), (n) => {
        const b = encodeVarint(n);
        expect(b.length).toBe(varintLength(n));
        expect(decodeVarint(b)).toEqual({ value: n, length: b.length });
      }),
      propParams('wire.varint.roundtrip', 300),
    );
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 63n) - 1n }), (n) => {
        const b = encodeVarintBig(n);
        expect(decodeVarintBig(b)).toEqual({ value: n, length: b.length });
      }),
      propParams('wire.varint.roundtrip-big', 300),
    );
  });

  it('decodes arbitrary bytes to a canonical prefix or a DecodeError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 12 }), (bytes) => {
        let r: { value: number; length: number };
        try {
          r = decodeVarint(bytes);
        } catch (e) {
          expect(e).toBeInstanceOf(DecodeError);
          return;
        }
        expect(toHex(encodeVarint(r.value))).toBe(toHex(bytes.subarray(0, r.length)));
      }),
      propParams('wire.varint.fuzz', 500),
    );
  });
});

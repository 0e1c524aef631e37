import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { propParams } from '../props/config.ts';
import {
  hashToScalar,
  IDENTITY,
  invert,
  mod,
  nobleGroup,
  ORDER,
  scalarFromCanonicalBytes,
  scalarToBytes,
  sodiumGroup,
} from './group.ts';

const scalar = fc.bigInt({ min: 0n, max: ORDER - 1n });
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('ristretto255 group: libsodium agrees with @noble/curves', () => {
  it('same generator, and RFC 9496 A.1 multiples of it', () => {
    expect(hex(sodiumGroup.generator)).toBe(hex(nobleGroup.generator));
    // RFC 9496 Appendix A.1: encodings of B, 2B.
    expect(hex(sodiumGroup.mulBase(1n))).toBe(
      'e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76',
    );
    expect(hex(sodiumGroup.mulBase(2n))).toBe(
      '6a493210f7499cd17fecb510ae0cea23a110e8d5b901f8acadd3095c73a3b919',
    );
    expect(hex(nobleGroup.mulBase(2n))).toBe(
      '6a493210f7499cd17fecb510ae0cea23a110e8d5b901f8acadd3095c73a3b919',
    );
  });

  it('mulBase, mul, add, sub and msm agree', () => {
    fc.assert(
      fc.property(scalar, scalar, scalar, (a, b, c) => {
        const A = sodiumGroup.mulBase(a);
        expect(hex(A)).toBe(hex(nobleGroup.mulBase(a)));
        const bA = sodiumGroup.mul(A, b);
        expect(hex(bA)).toBe(hex(nobleGroup.mul(A, b)));
        expect(hex(bA)).toBe(hex(sodiumGroup.mulBase(mod(a * b))));
        const C = sodiumGroup.mulBase(c);
        expect(hex(sodiumGroup.add(A, C))).toBe(hex(nobleGroup.add(A, C)));
        expect(hex(sodiumGroup.sub(A, C))).toBe(hex(nobleGroup.sub(A, C)));
        expect(hex(sodiumGroup.msm([A, C], [b, c]))).toBe(hex(nobleGroup.msm([A, C], [b, c])));
      }),
      propParams('group.cross-check', 30),
    );
  });

  it('edge cases: zero scalar, identity, order, P - P', () => {
    for (const g of [sodiumGroup, nobleGroup]) {
      const P = g.mulBase(7n);
      expect(hex(g.mul(P, 0n))).toBe(hex(IDENTITY));
      expect(hex(g.mul(P, ORDER))).toBe(hex(IDENTITY));
      expect(hex(g.mul(IDENTITY, 5n))).toBe(hex(IDENTITY));
      expect(hex(g.sub(P, P))).toBe(hex(IDENTITY));
      expect(hex(g.add(P, IDENTITY))).toBe(hex(P));
      expect(hex(g.msm([], []))).toBe(hex(IDENTITY));
      expect(g.isPoint(IDENTITY)).toBe(true);
    }
  });

  it('isPoint rejects non-canonical and off-group encodings in both', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (bytes) => {
        expect(sodiumGroup.isPoint(bytes)).toBe(nobleGroup.isPoint(bytes));
      }),
      propParams('group.isPoint', 300),
    );
    // RFC 9496 A.2: non-canonical field encoding (p itself) and a negative one.
    const bad = [
      'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
      '0100000000000000000000000000000000000000000000000000000000000000',
    ];
    for (const b of bad) {
      expect(sodiumGroup.isPoint(Buffer.from(b, 'hex'))).toBe(false);
      expect(nobleGroup.isPoint(Buffer.from(b, 'hex'))).toBe(false);
    }
    expect(sodiumGroup.isPoint(new Uint8Array(31))).toBe(false);
  });

  it('fromUniform agrees (RFC 9496 element derivation)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 64, maxLength: 64 }), (bytes) => {
        expect(hex(sodiumGroup.fromUniform(bytes))).toBe(hex(nobleGroup.fromUniform(bytes)));
      }),
      propParams('group.fromUniform', 50),
    );
  });

  it('scalar helpers: encoding round trip, inverse, domain-separated hashing', () => {
    fc.assert(
      fc.property(scalar, (k) => {
        expect(scalarFromCanonicalBytes(scalarToBytes(k))).toBe(k);
        if (k !== 0n) expect(mod(k * invert(k))).toBe(1n);
      }),
      propParams('group.scalars', 100),
    );
    expect(
      scalarFromCanonicalBytes(scalarToBytes(ORDER - 1n).map((b, i) => (i === 31 ? 0xff : b))),
    ).toBeUndefined();
    const a = new Uint8Array([1, 2]);
    const b = new Uint8Array([3]);
    expect(hashToScalar('x', a, b)).not.toBe(hashToScalar('x', new Uint8Array([1]), new Uint8Array([2, 3])));
    expect(hashToScalar('x', a)).not.toBe(hashToScalar('y', a));
    expect(() => invert(0n)).toThrow(RangeError);
  });
});

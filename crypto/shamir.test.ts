import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { propParams } from '../props/config.ts';
import { mod, ORDER } from './group.ts';
import { evaluatePolynomial, lagrangeAtZero } from './shamir.ts';

const scalar = fc.bigInt({ min: 0n, max: ORDER - 1n });

describe('shamir', () => {
  it('any t points of a degree t-1 polynomial interpolate f(0); t-1 points do not', () => {
    fc.assert(
      fc.property(
        fc.array(scalar, { minLength: 2, maxLength: 6 }),
        fc.uniqueArray(fc.integer({ min: 1, max: 20 }), { minLength: 6, maxLength: 6 }),
        (coefficients, xs) => {
          const t = coefficients.length;
          const idx = xs.slice(0, t).map(BigInt);
          const lambdas = lagrangeAtZero(idx);
          const at0 = idx.reduce(
            (acc, i, k) => mod(acc + (lambdas[k] as bigint) * evaluatePolynomial(coefficients, i)),
            0n,
          );
          expect(at0).toBe(coefficients[0]);
          // with t-1 points the result is f(0) only by accident; the top coefficient decides it
          if ((coefficients[t - 1] as bigint) !== 0n) {
            const few = idx.slice(0, t - 1);
            const l2 = lagrangeAtZero(few);
            const guess = few.reduce(
              (acc, i, k) => mod(acc + (l2[k] as bigint) * evaluatePolynomial(coefficients, i)),
              0n,
            );
            expect(guess).not.toBe(coefficients[0]);
          }
        },
      ),
      propParams('shamir.interpolate', 100),
    );
  });

  it('rejects zero and duplicate indices', () => {
    expect(() => lagrangeAtZero([1n, 0n])).toThrow(RangeError);
    expect(() => lagrangeAtZero([2n, 2n])).toThrow(RangeError);
    expect(evaluatePolynomial([5n, 0n, 1n], 3n)).toBe(14n);
  });
});

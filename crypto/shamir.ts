/**
 * Shamir polynomials over the ristretto255 scalar field: evaluation and Lagrange coefficients.
 * Share indices are 1..n (0 is the secret's point), as in Shoup–Gennaro and Pedersen.
 */
import { invert, mod } from './group.ts';

/** f(x) = Σ coefficients[k]·x^k by Horner's rule. */
export function evaluatePolynomial(coefficients: readonly bigint[], x: bigint): bigint {
  let acc = 0n;
  for (let k = coefficients.length - 1; k >= 0; k--) acc = mod(acc * x + (coefficients[k] as bigint));
  return acc;
}

/**
 * λᵢ(0) for each index in `indices` (distinct, nonzero): Σ λᵢ·f(i) = f(0) for any f of degree
 * below indices.length. Throws on duplicate or zero indices, which would divide by zero.
 */
export function lagrangeAtZero(indices: readonly bigint[]): bigint[] {
  const seen = new Set<bigint>();
  for (const i of indices) {
    if (mod(i) === 0n) throw new RangeError('share index 0 is the secret');
    if (seen.has(mod(i))) throw new RangeError(`duplicate share index ${i}`);
    seen.add(mod(i));
  }
  return indices.map((i) => {
    let num = 1n;
    let den = 1n;
    for (const j of indices) {
      if (j === i) continue;
      num = mod(num * j);
      den = mod(den * (j - i));
    }
    return mod(num * invert(den));
  });
}

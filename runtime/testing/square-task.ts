/** A worker task for the pool's tests: squares a non-negative number. */
export default function square(n: number): number {
  if (n < 0) throw new Error('negative input');
  return n * n;
}

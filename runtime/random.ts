/**
 * Seeded randomness for engines and the simulator.
 *
 * The generator is xoshiro128** (Blackman & Vigna) over four uint32 words. Its state is plain
 * data (`PrngState`), so an engine can keep it in its XState context: it survives snapshots and
 * restarts, and a seed fixes every draw.
 */
import { createHash } from 'node:crypto';

export type PrngState = readonly [number, number, number, number];

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** Pure step: returns the next uint32 and the successor state. */
export function nextU32(state: PrngState): [number, PrngState] {
  const [s0, s1, s2, s3] = state;
  const result = (rotl(Math.imul(s1, 5) >>> 0, 7) * 9) >>> 0;
  const t = (s1 << 9) >>> 0;
  let n2 = (s2 ^ s0) >>> 0;
  let n3 = (s3 ^ s1) >>> 0;
  const n1 = (s1 ^ n2) >>> 0;
  const n0 = (s0 ^ n3) >>> 0;
  n2 = (n2 ^ t) >>> 0;
  n3 = rotl(n3, 11);
  return [result, [n0, n1, n2, n3]];
}

/** Expands any label (a seed number, or seed plus a path such as "node-1/consensus") into a state. */
export function seedState(...parts: readonly (string | number | bigint)[]): PrngState {
  const digest = createHash('sha256').update(parts.map(String).join('\u0000')).digest();
  const w = [0, 1, 2, 3].map((i) => digest.readUInt32LE(i * 4));
  // xoshiro must not start from the all-zero state
  const zero = w.every((x) => x === 0);
  return [zero ? 1 : w[0]!, w[1]!, w[2]!, w[3]!];
}

/** Mutable convenience wrapper for code outside machines (scheduler, simulator, fault plans). */
export class Random {
  // the state as four words in place: the scheduler draws one per task, and nextU32's two arrays
  // per draw cost more than the draw (the same arithmetic, so the same stream)
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: PrngState | number | string) {
    const state = typeof seed === 'object' ? seed : seedState(seed);
    this.s0 = state[0];
    this.s1 = state[1];
    this.s2 = state[2];
    this.s3 = state[3];
  }

  u32(): number {
    const s0 = this.s0;
    const s1 = this.s1;
    const result = (rotl(Math.imul(s1, 5) >>> 0, 7) * 9) >>> 0;
    const t = (s1 << 9) >>> 0;
    let n2 = (this.s2 ^ s0) >>> 0;
    let n3 = (this.s3 ^ s1) >>> 0;
    this.s1 = (s1 ^ n2) >>> 0;
    this.s0 = (s0 ^ n3) >>> 0;
    n2 = (n2 ^ t) >>> 0;
    n3 = rotl(n3, 11);
    this.s2 = n2;
    this.s3 = n3;
    return result;
  }

  /** Uniform float in [0, 1) with 32 bits of precision. */
  float(): number {
    return this.u32() / 0x1_0000_0000;
  }

  /** Uniform integer in [0, n) without modulo bias. */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 0x1_0000_0000)
      throw new RangeError(`Random.int: bad bound ${n}`);
    const limit = 0x1_0000_0000 - (0x1_0000_0000 % n);
    for (;;) {
      const v = this.u32();
      if (v < limit) return v % n;
    }
  }

  bool(p = 0.5): boolean {
    return this.float() < p;
  }

  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i += 4) {
      const v = this.u32();
      for (let j = 0; j < 4 && i + j < n; j++) out[i + j] = (v >>> (8 * j)) & 0xff;
    }
    return out;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('Random.pick: empty list');
    return items[this.int(items.length)]!;
  }

  /** A uniformly shuffled copy (Fisher-Yates). */
  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  }

  /** A child generator whose stream does not overlap with this one in practice. */
  fork(label: string): Random {
    return new Random(seedState(this.u32(), this.u32(), label));
  }

  snapshot(): PrngState {
    return [this.s0, this.s1, this.s2, this.s3];
  }
}

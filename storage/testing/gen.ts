/**
 * Test helpers shared by the storage test suites: generators biased towards the interesting
 * cases (empty keys, 0x00/0xff bytes, keys that are prefixes of each other) and an independent
 * ordering oracle (lowercase hex strings compare exactly like the bytes they encode).
 */
import fc from 'fast-check';

/** A small alphabet so keys collide and are often prefixes of each other. */
export const byteArb: fc.Arbitrary<number> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) },
);

export const keyArb: fc.Arbitrary<Uint8Array> = fc
  .array(byteArb, { maxLength: 4 })
  .map((a) => Uint8Array.from(a));

export const valueArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.constant(new Uint8Array(0)),
  fc.uint8Array({ minLength: 1, maxLength: 12 }),
);

/** Prefixes are short so that they match something. */
export const prefixArb: fc.Arbitrary<Uint8Array> = fc
  .array(byteArb, { maxLength: 2 })
  .map((a) => Uint8Array.from(a));

export function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

export function unhex(s: string): Uint8Array {
  return Uint8Array.from(Buffer.from(s, 'hex'));
}

/** Plain byte arrays as number[] for readable equality failures. */
export function arr(b: Uint8Array | undefined): number[] | undefined {
  return b === undefined ? undefined : Array.from(b);
}

export function bytes(...xs: number[]): Uint8Array {
  return Uint8Array.from(xs);
}

export function utf8(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

export interface ScanArgs {
  prefix: Uint8Array;
  start?: Uint8Array;
  end?: Uint8Array;
  limit?: number;
  reverse?: boolean;
}

export const scanArgsArb: fc.Arbitrary<ScanArgs> = fc.record(
  {
    prefix: prefixArb,
    start: keyArb,
    end: keyArb,
    limit: fc.integer({ min: 0, max: 6 }),
    reverse: fc.boolean(),
  },
  { requiredKeys: ['prefix'] },
);

/** The model answer of a scan over hex-keyed entries (independent of compareBytes/prefixEnd). */
export function modelScan<V>(entries: Map<string, V>, a: ScanArgs): [string, V][] {
  const p = hex(a.prefix);
  const s = a.start === undefined ? undefined : hex(a.start);
  const e = a.end === undefined ? undefined : hex(a.end);
  const keys = [...entries.keys()]
    .filter((k) => k.startsWith(p) && (s === undefined || k >= s) && (e === undefined || k < e))
    .sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
  if (a.reverse) keys.reverse();
  const limited = a.limit === undefined ? keys : keys.slice(0, a.limit);
  return limited.map((k) => [k, entries.get(k)!]);
}

export function describeScan(a: ScanArgs): string {
  const parts = [`prefix=${hex(a.prefix)}`];
  if (a.start !== undefined) parts.push(`start=${hex(a.start)}`);
  if (a.end !== undefined) parts.push(`end=${hex(a.end)}`);
  if (a.limit !== undefined) parts.push(`limit=${a.limit}`);
  if (a.reverse) parts.push('reverse');
  return parts.join(' ');
}

export function scanOpts(a: ScanArgs): {
  start?: Uint8Array;
  end?: Uint8Array;
  limit?: number;
  reverse?: boolean;
} {
  const { prefix: _prefix, ...opts } = a;
  return opts;
}

/**
 * Extra fast-check parameters for model tests over SQLite, where shrinking a failure re-runs many
 * database sessions: in CI, stop after 20 s and report the smallest counterexample found so far.
 * When FRACTAL_PROPS_RUNS asks for a long run, no time limit (it would silently cut runs short).
 */
export function shrinkBudget(): { interruptAfterTimeLimit?: number } {
  const raw = process.env.FRACTAL_PROPS_RUNS;
  return raw === undefined || raw === '' ? { interruptAfterTimeLimit: 20_000 } : {};
}

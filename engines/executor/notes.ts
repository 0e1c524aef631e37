/**
 * Seed 002's notes and transactions.
 *
 * A note is immutable: `{ provenance, application, owner, key, value }`, where `application` and
 * `owner` are binding commitments (sha256 of the multiencoded `FunctionV`) to the validity
 * predicates' code, and `provenance` lists the fractal instances the note came through,
 * most recent first (empty for locally originated state).
 *
 * It is stored at `{provenance}/{application}/{owner}/{key}`. Each path segment is written as
 * varint(length) ++ bytes (the provenance as varint(count) then its ids), so the layout is
 * prefix-friendly: every note of one application under one provenance shares a byte prefix, and
 * no segment can bleed into the next.
 *
 * Constraints are sets of key prefixes: a transaction may read (write) a key iff one of its read
 * (write) prefixes is a prefix of that key. Touching anything else fails the transaction at once.
 */

import { hasPrefix } from '../../storage/prefix.ts';
import { type Infer, s } from '../../wire/schema.ts';

export const Commitment = s.bytes({ length: 32 });

export const Note = s.struct({
  provenance: s.list(s.bytes({ max: 64 }), { max: 32 }),
  application: Commitment,
  owner: Commitment,
  key: s.bytes({ max: 1024 }),
  value: s.bytes({ max: 64 * 1024 }),
});
export type Note = Infer<typeof Note>;

export const FunctionV = s.func(
  { kind: 'product', items: [] },
  { kind: 'basic', basic: { kind: 'boolean' } },
);

export const Transaction = s.struct({
  stateReadConstraints: s.list(s.bytes({ max: 2048 }), { max: 256 }),
  stateWriteConstraints: s.list(s.bytes({ max: 2048 }), { max: 256 }),
  lookupCode: FunctionV,
  calculationCode: FunctionV,
  extradata: s.bytes({ max: 256 * 1024 }),
});
export type Transaction = Infer<typeof Transaction>;

/** Bytes of the LEB128 varint of a safe non-negative integer. */
function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    size++;
  }
  return size;
}

/** Writes the varint of `n` at `o`; returns the offset after it (same bytes as encodeVarint). */
function putVarint(out: Uint8Array, o: number, n: number): number {
  while (n >= 0x80) {
    out[o++] = (n % 0x80) | 0x80;
    n = Math.floor(n / 0x80);
  }
  out[o++] = n;
  return o;
}

/**
 * The path segments as one array: `varint(count) ++ segments of the provenance` (when given), then
 * each of `parts` as `varint(length) ++ bytes`. One allocation: keys are built for every note a
 * transaction touches, several times over.
 */
function path(provenance: readonly Uint8Array[] | undefined, parts: readonly Uint8Array[]): Uint8Array {
  let size = 0;
  if (provenance !== undefined) {
    size += varintSize(provenance.length);
    for (const p of provenance) size += varintSize(p.length) + p.length;
  }
  for (const p of parts) size += varintSize(p.length) + p.length;
  const out = new Uint8Array(size);
  let o = 0;
  if (provenance !== undefined) {
    o = putVarint(out, o, provenance.length);
    for (const p of provenance) {
      o = putVarint(out, o, p.length);
      out.set(p, o);
      o += p.length;
    }
  }
  for (const p of parts) {
    o = putVarint(out, o, p.length);
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** The encoded `{provenance}` segment. */
export function provenancePrefix(provenance: readonly Uint8Array[]): Uint8Array {
  return path(provenance, []);
}

/** `{provenance}/{application}/` — every note of one application under one provenance. */
export function applicationPrefix(provenance: readonly Uint8Array[], application: Uint8Array): Uint8Array {
  return path(provenance, [application]);
}

/** `{provenance}/{application}/{owner}/` — every note one owner holds in one application. */
export function ownerPrefix(
  provenance: readonly Uint8Array[],
  application: Uint8Array,
  owner: Uint8Array,
): Uint8Array {
  return path(provenance, [application, owner]);
}

/** The state key of a note: `{provenance}/{application}/{owner}/{key}`. */
export function noteKey(note: Pick<Note, 'provenance' | 'application' | 'owner' | 'key'>): Uint8Array {
  return path(note.provenance, [note.application, note.owner, note.key]);
}

/** Whether a constraint set (prefixes) allows `key`. */
export function allowed(constraints: readonly Uint8Array[], key: Uint8Array): boolean {
  return constraints.some((p) => hasPrefix(key, p));
}

/** Two constraint sets overlap iff some prefix of one is a prefix of (or equal to) one of the other. */
export function overlap(a: readonly Uint8Array[], b: readonly Uint8Array[]): boolean {
  return a.some((p) => b.some((q) => hasPrefix(p, q) || hasPrefix(q, p)));
}

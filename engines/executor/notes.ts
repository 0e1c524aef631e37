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

import { concatBytes, hasPrefix } from '../../storage/prefix.ts';
import { type Infer, s } from '../../wire/schema.ts';
import { encodeVarint } from '../../wire/varint.ts';

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

function segment(bytes: Uint8Array): Uint8Array {
  const len = encodeVarint(bytes.length);
  const out = new Uint8Array(len.length + bytes.length);
  out.set(len, 0);
  out.set(bytes, len.length);
  return out;
}

/** The encoded `{provenance}` segment. */
export function provenancePrefix(provenance: readonly Uint8Array[]): Uint8Array {
  return concatBytes(...[encodeVarint(provenance.length), ...provenance.map(segment)]);
}

/** `{provenance}/{application}/` — every note of one application under one provenance. */
export function applicationPrefix(provenance: readonly Uint8Array[], application: Uint8Array): Uint8Array {
  return concatBytes(...[provenancePrefix(provenance), segment(application)]);
}

/** `{provenance}/{application}/{owner}/` — every note one owner holds in one application. */
export function ownerPrefix(
  provenance: readonly Uint8Array[],
  application: Uint8Array,
  owner: Uint8Array,
): Uint8Array {
  return concatBytes(...[applicationPrefix(provenance, application), segment(owner)]);
}

/** The state key of a note: `{provenance}/{application}/{owner}/{key}`. */
export function noteKey(note: Pick<Note, 'provenance' | 'application' | 'owner' | 'key'>): Uint8Array {
  return concatBytes(...[ownerPrefix(note.provenance, note.application, note.owner), segment(note.key)]);
}

/** Whether a constraint set (prefixes) allows `key`. */
export function allowed(constraints: readonly Uint8Array[], key: Uint8Array): boolean {
  return constraints.some((p) => hasPrefix(key, p));
}

/** Two constraint sets overlap iff some prefix of one is a prefix of (or equal to) one of the other. */
export function overlap(a: readonly Uint8Array[], b: readonly Uint8Array[]): boolean {
  return a.some((p) => b.some((q) => hasPrefix(p, q) || hasPrefix(q, p)));
}

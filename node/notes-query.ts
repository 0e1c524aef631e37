/**
 * Notes by owner, read from what the executor sealed: its unspent notes live at
 * `x/n/<note key>` (engines/executor/state.ts) and a note's key is
 * `{provenance}/{application}/{owner}/{key}` (engines/executor/notes.ts `noteKey`), so the notes one
 * owner holds in one application are one contiguous key range: the state layout is the index, and
 * a query reads only the rows it returns (no scan over every note, no second copy to keep in step).
 * node/notes-query.test.ts checks this against a full scan, so a change of layout breaks a test.
 */
import { Note, ownerPrefix } from '../engines/executor/notes.ts';
import { concatBytes, keySuccessor } from '../storage/prefix.ts';
import type { Storage } from '../storage/types.ts';
import { decode } from '../wire/schema.ts';

/** The executor's unspent-note prefix (engines/executor/state.ts `NOTE`). */
const NOTES = new TextEncoder().encode('x/n/');

export interface OwnerNotesQuery {
  /** the application the notes belong to */
  application: Uint8Array;
  /** the owner as notes carry it (for the token: `ownerCommitment(public key)`) */
  owner: Uint8Array;
  /** continue after this note key (the last key of the previous page) */
  after?: Uint8Array;
  /** read at most this many rows */
  maxRows: number;
}

/**
 * The unspent notes of one owner in one application, local provenance (notes minted or created
 * on this instance), in key order, lazily: at most `maxRows` rows are read from storage.
 */
export function* ownerNotes(
  storage: Storage,
  q: OwnerNotesQuery,
): Generator<{ key: Uint8Array; note: Note }> {
  if (q.maxRows <= 0) return;
  const prefix = concatBytes(NOTES, ownerPrefix([], q.application, q.owner));
  const start = q.after === undefined ? undefined : keySuccessor(concatBytes(NOTES, q.after));
  const rows = storage.scan(prefix, start === undefined ? { limit: q.maxRows } : { start, limit: q.maxRows });
  for (const [k, v] of rows) yield { key: k.slice(NOTES.length), note: decode(Note, v) };
}

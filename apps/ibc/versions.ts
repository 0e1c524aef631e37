/**
 * Reads and writes of IBC paths as consumed and created notes (notes.ts has the key layout).
 *
 * A transaction consumes the current note of every path its messages read and creates the next
 * version of each: the written value, or the same value when the path was only read (a note that
 * is read is spent, so it is handed on unchanged). A deleted path's note is consumed and nothing
 * replaces it. A path read as absent gets version 0 when written, which the executor refuses if
 * that key exists or ever existed: so "absent" cannot be claimed of a path that is there.
 *
 * The host predicate checks a transaction's IBC notes against `expectedOutputs`; a builder (the
 * relay, a CLI) finds the inputs by running the same messages over the whole state while
 * recording what they read (`recordingView`).
 */
import type { Note } from '../../engines/executor/notes.ts';
import { toHex } from '../../wire/commit.ts';
import { bytesEqual } from '../../wire/types.ts';
import type { HostView, Write } from './handlers.ts';
import { ibcNote, parseObjectKey } from './notes.ts';

/**
 * Paths written once and never consumed (README.md, "State as notes"): they stay at version 0, so
 * a proof that version 0 is absent proves the path was never written.
 */
const WRITE_ONCE = ['receipts/', 'acks/'];

export function isWriteOnce(path: string): boolean {
  return WRITE_ONCE.some((p) => path.startsWith(p));
}

export interface Version {
  readonly version: bigint;
  readonly value: Uint8Array;
}

/** Path -> the version read (the consumed note's). */
export type Reads = ReadonlyMap<string, Version>;

/**
 * The paths a transaction's consumed host notes hold, or why they are not host notes: each must
 * be of this host (application and owner), local (no provenance), keyed by a path and version, and
 * no path may appear twice.
 */
export function readsOf(host: Uint8Array, inputs: readonly Note[]): Reads | string {
  const reads = new Map<string, Version>();
  for (const n of inputs) {
    if (!bytesEqual(n.application, host) || !bytesEqual(n.owner, host))
      return 'an IBC note must be owned by the IBC host application';
    if (n.provenance.length !== 0) return 'IBC host notes are local (no provenance)';
    const at = parseObjectKey(n.key);
    if (at === undefined) return 'an IBC note key is not a path and version';
    if (reads.has(at.path)) return `path ${at.path} is consumed twice`;
    if (isWriteOnce(at.path)) return `path ${at.path} is written once and never consumed`;
    reads.set(at.path, { version: at.version, value: n.value });
  }
  return reads;
}

/** A view of the host's paths as the transaction's consumed notes show them. */
export function viewOf(reads: Reads, block: { height: bigint; time: bigint; prefix: Uint8Array }): HostView {
  return { ...block, get: (path) => reads.get(path)?.value };
}

/**
 * The host notes a transaction must create: each written path's next version (none for a
 * deletion), and each path read but not written handed on unchanged at its next version.
 */
export function expectedOutputs(host: Uint8Array, reads: Reads, writes: readonly Write[]): Note[] {
  const written = new Map<string, Uint8Array | null>();
  for (const w of writes) written.set(w.path, w.value);
  const out: Note[] = [];
  for (const [path, value] of written) {
    if (value === null) continue;
    const read = reads.get(path);
    out.push(ibcNote(host, path, read === undefined ? 0n : read.version + 1n, value));
  }
  for (const [path, read] of reads) {
    if (!written.has(path)) out.push(ibcNote(host, path, read.version + 1n, read.value));
  }
  return out;
}

/** Whether two lists hold the same notes (key and value), in any order. */
export function sameNotes(a: readonly Note[], b: readonly Note[]): boolean {
  if (a.length !== b.length) return false;
  const key = (n: Note) => `${toHex(n.key)}:${toHex(n.value)}`;
  const count = new Map<string, number>();
  for (const n of a) count.set(key(n), (count.get(key(n)) ?? 0) + 1);
  for (const n of b) {
    const k = key(n);
    const c = count.get(k);
    if (c === undefined || c === 0) return false;
    count.set(k, c - 1);
  }
  return true;
}

/**
 * A view over the whole host state that records every path read and the version found, for a
 * transaction builder: the recorded reads are the notes the transaction must consume.
 */
export function recordingView(
  current: (path: string) => Version | undefined,
  block: { height: bigint; time: bigint; prefix: Uint8Array },
): { view: HostView; reads: Map<string, Version> } {
  const reads = new Map<string, Version>();
  const view: HostView = {
    ...block,
    get: (path) => {
      // never consumed: a builder must not name them, and a redundant write fails at commit
      if (isWriteOnce(path)) return undefined;
      const found = current(path);
      if (found !== undefined) reads.set(path, found);
      return found?.value;
    },
  };
  return { view, reads };
}

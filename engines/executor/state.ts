/**
 * Executor state over the node's `Storage` (handed in by the runtime):
 *
 *   x/n/<note key>      the note (canonical encoding), while unspent
 *   x/s/<note key>      present once the note was consumed: the spent set, kept forever
 *   x/c/<commitment>    the predicate code a commitment binds to (the code registry)
 *
 * A block runs against an `Overlay`: its transactions see each other's effects in block order,
 * and the block's writes reach storage as one atomic batch.
 */
import { concatBytes } from '../../storage/prefix.ts';
import type { BatchOp, Storage } from '../../storage/types.ts';
import { commitTyped, toHex } from '../../wire/commit.ts';
import { decode, encode, type FunctionValue } from '../../wire/schema.ts';
import { FunctionV, Note } from './notes.ts';
import type { StateView, WriteSet } from './phases.ts';

const enc = new TextEncoder();
const NOTE = enc.encode('x/n/');
const SPENT = enc.encode('x/s/');
const CODE = enc.encode('x/c/');
const ONE = Uint8Array.of(1);

const hex = toHex;

/** Code registry entries kept in memory per store (a commitment binds its code forever). */
const CODE_CACHE_MAX = 4096;

export class NoteStore {
  /** commitment (hex) -> its code, for commitments found in the registry */
  private readonly codeCache = new Map<string, FunctionValue>();

  constructor(readonly storage: Storage) {}

  note(key: Uint8Array): Note | undefined {
    const raw = this.storage.read(concatBytes(NOTE, key));
    return raw === undefined ? undefined : decode(Note, raw);
  }

  spent(key: Uint8Array): boolean {
    return this.storage.read(concatBytes(SPENT, key)) !== undefined;
  }

  /**
   * The code a commitment binds to. The registry is content-addressed (a commitment is the hash of
   * its code) and entries are never removed, so a found entry is remembered; a missing one is
   * looked up again next time (it may be registered meanwhile).
   */
  code(commitment: Uint8Array): FunctionValue | undefined {
    const id = hex(commitment);
    const hit = this.codeCache.get(id);
    if (hit !== undefined) return hit;
    const raw = this.storage.read(concatBytes(CODE, commitment));
    if (raw === undefined) return undefined;
    const fn = decode(FunctionV, raw);
    if (this.codeCache.size >= CODE_CACHE_MAX) this.codeCache.clear();
    this.codeCache.set(id, fn);
    return fn;
  }

  /** Publishes predicate code; returns its commitment (sha256 of the multiencoded FunctionV), so the binding holds by construction. */
  registerCode(fn: FunctionValue): Uint8Array {
    const commitment = commitTyped(FunctionV, fn);
    this.storage.write(concatBytes(CODE, commitment), encode(FunctionV, fn));
    return commitment;
  }

  /** Genesis or test setup: puts notes directly. */
  putNotes(notes: readonly { key: Uint8Array; note: Note }[]): void {
    this.storage.batch(
      notes.map((n) => ({ op: 'put', key: concatBytes(NOTE, n.key), value: encode(Note, n.note) })),
    );
  }

  /** Every unspent note, in key order (for state roots and comparisons). */
  *notes(): IterableIterator<[Uint8Array, Note]> {
    for (const [k, v] of this.storage.scan(NOTE)) yield [k.slice(NOTE.length), decode(Note, v)];
  }

  /** Storage operations for a set of write sets, in order (extra ops, e.g. receipts, may be appended). */
  static ops(writes: readonly WriteSet[]): BatchOp[] {
    const ops: BatchOp[] = [];
    for (const w of writes) {
      for (const key of w.consume) {
        ops.push({ op: 'del', key: concatBytes(NOTE, key) });
        ops.push({ op: 'put', key: concatBytes(SPENT, key), value: ONE });
      }
      for (const c of w.create)
        ops.push({ op: 'put', key: concatBytes(NOTE, c.key), value: encode(Note, c.note) });
    }
    return ops;
  }
}

/**
 * Storage's answers for one block, each key read once: while a block executes nothing writes the
 * notes it reads (its writes reach storage in the seal, after its last read), so an answer holds
 * for the rest of the block. An executor shard reads a key when a wave looks it up, and again
 * when the wave's writes are checked before it applies them. `firstSeen` is called once per key.
 */
export class BlockReads implements StateView {
  /** per key (hex): its note (null: none), and whether it is spent (undefined: not read yet) */
  private readonly entries = new Map<string, { note: Note | null; spent: boolean | undefined }>();

  constructor(
    private readonly base: NoteStore,
    private readonly firstSeen: (key: Uint8Array) => void = () => {},
  ) {}

  private entry(key: Uint8Array): { note: Note | null; spent: boolean | undefined } {
    const id = hex(key);
    let e = this.entries.get(id);
    if (e === undefined) {
      this.firstSeen(key);
      e = { note: this.base.note(key) ?? null, spent: undefined };
      this.entries.set(id, e);
    }
    return e;
  }

  /** Makes sure `key` was seen (and so `firstSeen` called for it). */
  see(key: Uint8Array): void {
    this.entry(key);
  }

  note(key: Uint8Array): Note | undefined {
    return this.entry(key).note ?? undefined;
  }

  spent(key: Uint8Array): boolean {
    const e = this.entry(key);
    e.spent ??= this.base.spent(key);
    return e.spent;
  }

  code(commitment: Uint8Array): FunctionValue | undefined {
    return this.base.code(commitment);
  }
}

/** A block's view: storage plus the writes of the block's earlier transactions. */
export class Overlay implements StateView {
  private readonly notes = new Map<string, Note | null>();
  private readonly spentKeys = new Set<string>();

  constructor(private readonly base: StateView) {}

  // an empty overlay (a block's first wave) answers from storage without naming the key in hex
  note(key: Uint8Array): Note | undefined {
    if (this.notes.size > 0) {
      const mine = this.notes.get(hex(key));
      if (mine !== undefined) return mine ?? undefined;
    }
    return this.base.note(key);
  }

  spent(key: Uint8Array): boolean {
    return (this.spentKeys.size > 0 && this.spentKeys.has(hex(key))) || this.base.spent(key);
  }

  code(commitment: Uint8Array): FunctionValue | undefined {
    return this.base.code(commitment);
  }

  apply(w: WriteSet): void {
    for (const key of w.consume) {
      const k = hex(key);
      this.notes.set(k, null);
      this.spentKeys.add(k);
    }
    for (const c of w.create) this.notes.set(hex(c.key), c.note);
  }
}

/**
 * In-memory storage that a simulated `kill -9` can land inside: the simulator decides, write by
 * write, whether the process dies before a write lands or just after it, and from that moment
 * nothing more is written (the rest of the dying step runs, as code does until the signal lands,
 * but none of its writes reach the disk and none of its messages leave: the cluster drops them).
 *
 * Writes are atomic one by one, like SQLite's autocommit: a write either landed whole or not at all.
 *
 * Beyond a clean kill it models the storage faults of TigerBeetle's test storage, each chosen by
 * the simulator (from its seed):
 *
 * - **Torn batches** (fate `{ tear: k }`): a batch lands only its first k ops, then the process
 *   dies. This is a storage WITHOUT atomic batches; our real backends are atomic (a batch is one
 *   SQLite transaction, `MemoryStorage` validates before applying), so a torn batch shows which
 *   guarantees the engines give on their own and which ones they owe to the backend.
 * - **Lost unsynced writes** (`durability = 'write-back'`): a write lands in a volatile cache
 *   and is durable only once `sync()` is called (the sync point is the caller's: the cluster syncs
 *   before a message leaves the node, or every few writes). `loseUnsynced` rolls the store back
 *   to what was synced plus the unsynced writes the random source keeps: a suffix of them lost (a
 *   journal losing its tail, as SQLite's `synchronous=NORMAL` after a power loss) or any subset (a
 *   disk cache that reorders). With the default `'synced'` every write is durable when it returns
 *   (SQLite's `synchronous=FULL`).
 * - **Corruption** (`corrupt`, `corruptRandom`): a bit of a stored value flips at rest, so every
 *   later read returns the flipped bytes; with `checksums` (what `SqliteStorage`'s per-record
 *   CRC gives) a read or scan of the damaged record throws StorageError('corrupt') instead.
 *   Rewriting or deleting the record repairs it.
 */

import type { Random } from '../runtime/random.ts';
import { MemoryStorage } from '../storage/memory.ts';
import { copyBytes } from '../storage/prefix.ts';
import { type BatchOp, type Key, type ScanOptions, StorageError, type Value } from '../storage/types.ts';

/**
 * What happens around one write: it lands, the process dies first, it dies right after, or (a
 * batch on a storage without atomic batches) only its first `tear` ops land, then it dies.
 */
export type WriteFate = 'lands' | 'die-before' | 'die-after' | { readonly tear: number };

/** When a write becomes durable: when it returns, or once `sync()` is called. */
export type Durability = 'synced' | 'write-back';

/** Which unsynced writes a power loss drops: the newest ones (from a random point on), or any of them. */
export type LossOrder = 'suffix' | 'any';

/** One write, delete or (part of a) batch not yet synced: what it did, and what its keys held before. */
interface Unsynced {
  readonly ops: readonly BatchOp[];
  readonly before: readonly (readonly [Key, Value | undefined])[];
}

const hexOf = (b: Uint8Array): string => {
  let s = '';
  for (let i = 0; i < b.length; i++) s += (b[i]! < 16 ? '0' : '') + b[i]!.toString(16);
  return s;
};

const copyOp = (o: BatchOp): BatchOp =>
  o.op === 'put'
    ? { op: 'put', key: copyBytes(o.key), value: copyBytes(o.value) }
    : { op: 'del', key: copyBytes(o.key) };

export class KillableStorage extends MemoryStorage {
  #dead = false;
  /**
   * Consulted before each write, delete and batch while alive (a batch by its first op, with the
   * whole batch as `ops`); undefined = every write lands.
   */
  fateOf: ((key: Key, op: 'put' | 'del', ops?: readonly BatchOp[]) => WriteFate) | undefined;
  /** Called once, at the moment the process dies (from inside the write that killed it). */
  onDeath: (() => void) | undefined;
  /** 'synced' (default): durable on return; 'write-back': durable at the next `sync()`. */
  durability: Durability = 'synced';
  /** Reads of a corrupted record throw StorageError('corrupt') (a per-record checksum, as SqliteStorage has). */
  checksums = false;
  #unsynced: Unsynced[] = [];
  /** Keys (hex) whose stored value was corrupted and not rewritten since. */
  readonly #damaged = new Set<string>();

  /** Whether the process using this storage was killed (and has not been restarted since). */
  get dead(): boolean {
    return this.#dead;
  }

  /** Writes (a batch counts once) since the last sync, in write-back mode. */
  get unsynced(): number {
    return this.#unsynced.length;
  }

  /** Keys (hex) of the records corrupted and not rewritten since. */
  get damaged(): readonly string[] {
    return [...this.#damaged];
  }

  /** The process restarts: its storage is whatever landed before the kill. */
  revive(): void {
    this.#dead = false;
  }

  /** The process dies now (a kill between writes); nothing written from here on lands. */
  die(): void {
    if (this.#dead) return;
    this.#dead = true;
    this.onDeath?.();
  }

  /** Everything written so far is durable (an fsync). */
  sync(): void {
    this.#unsynced = [];
  }

  /**
   * A power loss: unsynced writes are lost, which ones as `random` picks (`order`), and the rest
   * become durable. Returns how many of the unsynced writes were lost. The process's death is the
   * caller's (`die`): a power loss kills it too.
   */
  loseUnsynced(random: Random, order: LossOrder = 'suffix'): number {
    const pending = this.#unsynced;
    this.#unsynced = [];
    if (pending.length === 0) return 0;
    let keep: boolean[];
    if (order === 'suffix') {
      const cut = random.int(pending.length + 1);
      keep = pending.map((_, i) => i < cut);
    } else keep = pending.map(() => random.bool());
    const lost = keep.filter((k) => !k).length;
    if (lost === 0) return 0;
    // back to the synced state (newest first), then the kept writes again, in their order
    for (let i = pending.length - 1; i >= 0; i--) {
      const u = pending[i]!;
      for (let j = u.before.length - 1; j >= 0; j--) {
        const [key, value] = u.before[j]!;
        if (value === undefined) super.delete(key);
        else super.write(key, value);
      }
    }
    for (let i = 0; i < pending.length; i++) if (keep[i]) this.#apply(pending[i]!.ops);
    return lost;
  }

  /**
   * Flips bit `bit` (0 = the lowest bit of the first byte; taken modulo the value's bits) of the
   * value stored at `key`, at rest; false if there is no such value (or it is empty).
   */
  corrupt(key: Key, bit: number): boolean {
    const value = super.read(key);
    if (value === undefined || value.length === 0) return false;
    const at = bit % (value.length * 8);
    value[at >> 3]! ^= 1 << (at & 7);
    super.write(key, value);
    this.#damaged.add(hexOf(key));
    return true;
  }

  /**
   * Corrupts one bit of one stored record, both chosen by `random`, among the records whose key
   * starts with `prefix` (every record by default) and that `filter` accepts; the key, or undefined
   * when there is none.
   */
  corruptRandom(
    random: Random,
    prefix: Key = new Uint8Array(0),
    filter?: (key: Key) => boolean,
  ): Key | undefined {
    const keys: Key[] = [];
    for (const [key, value] of super.scan(prefix))
      if (value.length > 0 && (filter === undefined || filter(key))) keys.push(key);
    if (keys.length === 0) return undefined;
    const key = keys[random.int(keys.length)]!;
    this.corrupt(key, random.int(2 ** 30));
    return key;
  }

  override read(key: Key): Value | undefined {
    if (this.#damaged.size > 0) this.#check(key);
    return super.read(key);
  }

  override scan(prefix: Key, opts?: ScanOptions): IterableIterator<[Key, Value]> {
    const inner = super.scan(prefix, opts);
    if (this.#damaged.size === 0 || !this.checksums) return inner;
    const check = (key: Key) => this.#check(key);
    const it: IterableIterator<[Key, Value]> = {
      next() {
        const r = inner.next();
        if (!r.done) check(r.value[0]);
        return r;
      },
      return() {
        return inner.return?.() ?? { done: true, value: undefined };
      },
      [Symbol.iterator]() {
        return it;
      },
    };
    return it;
  }

  override write(key: Key, value: Value): void {
    this.#guarded({ key, op: 'put' }, undefined, () => this.#record([{ op: 'put', key, value }]));
  }

  override delete(key: Key): void {
    this.#guarded({ key, op: 'del' }, undefined, () => this.#record([{ op: 'del', key }]));
  }

  /**
   * A batch is one write for the fate: its first key decides (the batch lands whole or not at
   * all), unless the fate tears it.
   */
  override batch(ops: readonly BatchOp[]): void {
    this.#guarded(ops[0], ops, (n) => this.#record(n === ops.length ? ops : ops.slice(0, n)));
  }

  #check(key: Key): void {
    if (this.checksums && this.#damaged.has(hexOf(key)))
      throw new StorageError('corrupt', `the record at key ${hexOf(key)} fails its checksum`);
  }

  /**
   * Runs `apply` unless dead; asks the fate of `first` first and dies before or after as told. A
   * tear applies only the first ops (`apply(k)`), then dies; otherwise `apply` gets every op.
   */
  #guarded(
    first: { key: Key; op: 'put' | 'del' } | undefined,
    batch: readonly BatchOp[] | undefined,
    apply: (count: number) => void,
  ): void {
    if (this.#dead) return;
    const count = batch === undefined ? 1 : batch.length;
    const fate =
      first === undefined || this.fateOf === undefined ? 'lands' : this.fateOf(first.key, first.op, batch);
    if (fate === 'die-before') {
      this.die();
      return;
    }
    if (typeof fate === 'object') {
      const k = Math.max(0, Math.min(count, fate.tear));
      if (k > 0) apply(k);
      this.die();
      return;
    }
    apply(count);
    if (fate === 'die-after') this.die();
  }

  /** Applies `ops` (validated whole first, as the backend would), logging them while write-back. */
  #record(ops: readonly BatchOp[]): void {
    if (this.durability === 'write-back') {
      const before: [Key, Value | undefined][] = [];
      const seen = new Set<string>();
      for (const op of ops) {
        const id = hexOf(op.key);
        if (seen.has(id)) continue;
        seen.add(id);
        before.push([copyBytes(op.key), super.read(op.key)]);
      }
      this.#apply(ops);
      this.#unsynced.push({ ops: ops.map(copyOp), before });
      return;
    }
    this.#apply(ops);
  }

  /** The ops on the underlying store: a rewritten or deleted record is whole again. */
  #apply(ops: readonly BatchOp[]): void {
    if (this.#damaged.size > 0) for (const op of ops) this.#damaged.delete(hexOf(op.key));
    if (ops.length === 1) {
      const op = ops[0]!;
      if (op.op === 'put') super.write(op.key, op.value);
      else super.delete(op.key);
    } else super.batch(ops);
  }
}

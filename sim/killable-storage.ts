/**
 * In-memory storage that a simulated `kill -9` can land inside: the simulator decides, write by
 * write, whether the process dies before a write lands or just after it, and from that moment
 * nothing more is written (the rest of the dying step runs, as code does until the signal lands,
 * but none of its writes reach the disk and none of its messages leave: the cluster drops them).
 *
 * Writes are atomic one by one, like SQLite's autocommit: a write either landed whole or not at all.
 */
import { MemoryStorage } from '../storage/memory.ts';
import type { BatchOp, Key, Value } from '../storage/types.ts';

/** What happens around one write: it lands, the process dies first, or it dies right after. */
export type WriteFate = 'lands' | 'die-before' | 'die-after';

export class KillableStorage extends MemoryStorage {
  #dead = false;
  /**
   * Consulted before each write, delete and batch while alive (a batch by its first op);
   * undefined = every write lands.
   */
  fateOf: ((key: Key, op: 'put' | 'del') => WriteFate) | undefined;
  /** Called once, at the moment the process dies (from inside the write that killed it). */
  onDeath: (() => void) | undefined;

  /** Whether the process using this storage was killed (and has not been restarted since). */
  get dead(): boolean {
    return this.#dead;
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

  /** Runs `apply` unless dead; asks the fate of `key` first and dies before or after as told. */
  #guarded(first: { key: Key; op: 'put' | 'del' } | undefined, apply: () => void): void {
    if (this.#dead) return;
    const fate =
      first === undefined || this.fateOf === undefined ? 'lands' : this.fateOf(first.key, first.op);
    if (fate === 'die-before') {
      this.die();
      return;
    }
    apply();
    if (fate === 'die-after') this.die();
  }

  override write(key: Key, value: Value): void {
    this.#guarded({ key, op: 'put' }, () => super.write(key, value));
  }

  override delete(key: Key): void {
    this.#guarded({ key, op: 'del' }, () => super.delete(key));
  }

  /** A batch is one write for the fate: its first key decides (the batch lands whole or not at all). */
  override batch(ops: readonly BatchOp[]): void {
    this.#guarded(ops[0], () => super.batch(ops));
  }
}

/**
 * Bounded insertion-ordered collections: caches of facts already checked (verified signatures,
 * Merkle node records) and an engine's bounded memories (gossip), where the oldest entry leaves
 * first.
 *
 * Finding the oldest entry uses one long-lived iterator per Map. A Map iterator skips entries
 * deleted (or re-inserted at the end) after it was made, so it always yields the oldest live key;
 * a fresh `keys().next()` per eviction would step over every hole left by earlier deletions (V8
 * keeps them until it rehashes), making each eviction cost as much as the map is large.
 */
const cursors = new WeakMap<Map<unknown, unknown>, Iterator<unknown>>();

/** Deletes the oldest entries of `m` (insertion order) until it holds at most `max`. */
export function trimOldest<K, V>(m: Map<K, V>, max: number): void {
  const map = m as Map<unknown, unknown>;
  while (map.size > max) {
    let it = cursors.get(map);
    let next = it?.next();
    if (it === undefined || next === undefined || next.done) {
      it = map.keys();
      cursors.set(map, it);
      next = it.next();
      if (next.done) return;
    }
    map.delete(next.value);
  }
}

/** A set that forgets its oldest entries beyond a capacity. */
export class BoundedSet<K> {
  private readonly entries = new Map<K, true>();

  constructor(readonly capacity: number) {}

  has(key: K): boolean {
    return this.entries.has(key);
  }

  add(key: K): void {
    if (this.entries.has(key)) return;
    this.entries.set(key, true);
    trimOldest(this.entries, this.capacity);
  }

  get size(): number {
    return this.entries.size;
  }
}

/**
 * A set that forgets its oldest entries beyond a capacity (for caches of facts already checked,
 * such as verified signatures). Eviction keeps one long-lived iterator over the Map: a fresh
 * `keys()` per eviction would step over every deleted slot, which V8 makes O(holes).
 */
export class BoundedSet<K> {
  private readonly entries = new Map<K, true>();
  private oldest: Iterator<K> | undefined;

  constructor(readonly capacity: number) {}

  has(key: K): boolean {
    return this.entries.has(key);
  }

  add(key: K): void {
    if (this.entries.has(key)) return;
    if (this.entries.size >= this.capacity) {
      this.oldest ??= this.entries.keys();
      let next = this.oldest.next();
      if (next.done) {
        this.oldest = this.entries.keys();
        next = this.oldest.next();
      }
      if (!next.done) this.entries.delete(next.value);
    }
    this.entries.set(key, true);
  }

  get size(): number {
    return this.entries.size;
  }
}

/**
 * The sparse Merkle tree's in-memory node records, by hash, without a JS object per node.
 *
 * A tree of n keys has about 2n node records. Held as a Map of [hash, record] pairs, each record
 * costs the collector several objects (the pair, two typed arrays, their buffers) that live as
 * long as the cache does, and every scavenge copies or scans them: in the benchmark that was more
 * time than the hashing itself. Here a generation keeps its records in 4 MiB byte chunks (`hash ||
 * record`, appended, never changed once written) and finds them through an open-addressing table
 * of integers, so a cached node costs no object at all.
 *
 * Bounded: when the young generation is full it becomes the old one and the previous old one is
 * dropped; a hit in the old generation is copied into the young one, so the nodes every update
 * walks (the top of the tree) stay. Records handed out are views of a chunk: they stay valid (and
 * unchanged) for as long as the caller holds them, whatever the table does meanwhile.
 */

const HASH = 32;
const CHUNK_BYTES = 1 << 22;

/** The first 32 bits of a hash (SHA-256 output: uniformly spread). */
function slotHash(h: Uint8Array): number {
  return (h[0]! | (h[1]! << 8) | (h[2]! << 16) | (h[3]! << 24)) >>> 0;
}

/** Slots for `room` entries: a power of two (a mask picks the slot), at least twice the room. */
function slotsFor(room: number): number {
  let n = 2;
  while (n < room * 2) n *= 2;
  return n;
}

/** Entries a generation starts with room for; it doubles up to its capacity. */
const INITIAL_ROOM = 1024;

class Generation {
  /** entry index + 1 per slot, 0 for a free slot; at least twice the room, so at most half full */
  #slots: Int32Array;
  #mask: number;
  #chunkOf: Int32Array;
  #pos: Int32Array;
  #len: Int32Array;
  readonly #chunks: Uint8Array[] = [];
  #chunk: Uint8Array = new Uint8Array(0);
  #used = 0;
  count = 0;

  constructor(readonly capacity: number) {
    const room = Math.min(INITIAL_ROOM, capacity);
    this.#slots = new Int32Array(slotsFor(room));
    this.#mask = this.#slots.length - 1;
    this.#chunkOf = new Int32Array(room);
    this.#pos = new Int32Array(room);
    this.#len = new Int32Array(room);
  }

  get full(): boolean {
    return this.count >= this.capacity;
  }

  /** The record stored under `hash`, or undefined. */
  get(hash: Uint8Array): Uint8Array | undefined {
    const slots = this.#slots;
    for (let s = slotHash(hash) & this.#mask; ; s = (s + 1) & this.#mask) {
      const e = slots[s]! - 1;
      if (e < 0) return undefined;
      const chunk = this.#chunks[this.#chunkOf[e]!]!;
      const at = this.#pos[e]!;
      if (sameHash(chunk, at, hash)) return chunk.subarray(at + HASH, at + HASH + this.#len[e]!);
    }
  }

  /** Stores `record` under `hash` unless present (content-addressed: same hash, same record). */
  add(hash: Uint8Array, record: Uint8Array): void {
    let s = slotHash(hash) & this.#mask;
    for (; ; s = (s + 1) & this.#mask) {
      const e = this.#slots[s]! - 1;
      if (e < 0) break;
      if (sameHash(this.#chunks[this.#chunkOf[e]!]!, this.#pos[e]!, hash)) return;
    }
    if (this.count === this.#pos.length) {
      this.#grow();
      s = this.#freeSlot(slotHash(hash));
    }
    const need = HASH + record.length;
    if (this.#used + need > this.#chunk.length) {
      this.#chunk = new Uint8Array(Math.max(CHUNK_BYTES, need));
      this.#chunks.push(this.#chunk);
      this.#used = 0;
    }
    const at = this.#used;
    this.#chunk.set(hash, at);
    this.#chunk.set(record, at + HASH);
    this.#used = (at + need + 7) & ~7;
    const e = this.count++;
    this.#chunkOf[e] = this.#chunks.length - 1;
    this.#pos[e] = at;
    this.#len[e] = record.length;
    this.#slots[s] = e + 1;
  }

  #freeSlot(h: number): number {
    let s = h & this.#mask;
    while (this.#slots[s] !== 0) s = (s + 1) & this.#mask;
    return s;
  }

  /** Doubles the room (up to the capacity) and re-slots every entry. */
  #grow(): void {
    const room = Math.min(this.capacity, this.#pos.length * 2);
    const widen = (a: Int32Array) => {
      const b = new Int32Array(room);
      b.set(a);
      return b;
    };
    this.#chunkOf = widen(this.#chunkOf);
    this.#pos = widen(this.#pos);
    this.#len = widen(this.#len);
    this.#slots = new Int32Array(slotsFor(room));
    this.#mask = this.#slots.length - 1;
    for (let e = 0; e < this.count; e++) {
      const chunk = this.#chunks[this.#chunkOf[e]!]!;
      const at = this.#pos[e]!;
      this.#slots[this.#freeSlot(slotHash(chunk.subarray(at, at + 4)))] = e + 1;
    }
  }
}

function sameHash(chunk: Uint8Array, at: number, hash: Uint8Array): boolean {
  for (let i = 0; i < HASH; i++) if (chunk[at + i] !== hash[i]) return false;
  return true;
}

/** Node records by hash, at most about `2 * capacity` of them in memory. */
export class NodeTable {
  #young: Generation;
  #old: Generation | undefined;

  constructor(readonly capacity: number) {
    this.#young = new Generation(capacity);
  }

  get(hash: Uint8Array): Uint8Array | undefined {
    const hit = this.#young.get(hash);
    if (hit !== undefined || this.#old === undefined) return hit;
    const old = this.#old.get(hash);
    if (old !== undefined) this.add(hash, old);
    return old;
  }

  add(hash: Uint8Array, record: Uint8Array): void {
    if (this.#young.full) {
      this.#old = this.#young;
      this.#young = new Generation(this.capacity);
    }
    this.#young.add(hash, record);
  }

  clear(): void {
    this.#young = new Generation(this.capacity);
    this.#old = undefined;
  }
}

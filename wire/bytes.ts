/** Byte-string helpers for building keys and fixed-width records (shared by storage and wire). */

/** The concatenation of byte strings (for building keys). */
export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** A big-endian u64: heights in keys sort numerically. */
export function u64be(v: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v);
  return b;
}

/** A big-endian u32. */
export function u32be(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v);
  return b;
}

/** The big-endian u64 at `at`; a RangeError when fewer than 8 bytes are there. */
export function readU64be(b: Uint8Array, at = 0): bigint {
  if (b.length < at + 8) throw new RangeError(`a u64 needs 8 bytes at ${at}, there are ${b.length - at}`);
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(at);
}

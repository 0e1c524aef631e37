/** JSON helpers: strict serialisation of results, and a converter for node values (bytes, bigints). */

/** A JSON value. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function strictReplacer(_key: string, v: unknown): unknown {
  if (ArrayBuffer.isView(v)) throw new TypeError('typed array in JSON output (convert bytes to hex)');
  if (v instanceof Map || v instanceof Set) throw new TypeError('Map/Set in JSON output (convert first)');
  return v;
}

/**
 * `JSON.stringify` that refuses what would silently serialise wrongly: bigints (TypeError from
 * JSON itself), typed arrays (`{"0":1,…}`), Maps and Sets (`{}`). Also throws on cycles.
 */
export function stringifyStrict(v: unknown): string {
  const s = JSON.stringify(v, strictReplacer);
  // JSON.stringify(undefined) and of a function is undefined, not a string.
  return s === undefined ? 'null' : s;
}

/** `0x`-prefixed lowercase hex. */
export function bytesToHex(bytes: Uint8Array): string {
  return `0x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')}`;
}

/**
 * A JSON-safe copy of a node value: `Uint8Array` → `0x` hex, `bigint` → decimal string, `Map` →
 * object (string keys) or array of `[k, v]` pairs, `Set` → array, `undefined` fields dropped
 * (`undefined` in arrays → null). Throws on cycles and on non-finite numbers.
 */
export function toJsonSafe(v: unknown, seen: Set<object> = new Set()): Json {
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return v;
    case 'number':
      if (!Number.isFinite(v)) throw new TypeError(`non-finite number ${v} is not JSON`);
      return v;
    case 'bigint':
      return v.toString(10);
    case 'undefined':
      return null;
    case 'object':
      break;
    default:
      throw new TypeError(`${typeof v} is not JSON`);
  }
  if (v === null) return null;
  if (v instanceof Uint8Array) return bytesToHex(v);
  if (seen.has(v)) throw new TypeError('cycle in value');
  seen.add(v);
  try {
    if (Array.isArray(v)) return v.map((x) => toJsonSafe(x, seen));
    if (v instanceof Set) return [...v].map((x) => toJsonSafe(x, seen));
    if (v instanceof Map) {
      const entries = [...v.entries()];
      if (entries.every(([k]) => typeof k === 'string')) {
        const out: { [key: string]: Json } = Object.create(null);
        for (const [k, x] of entries) if (x !== undefined) out[k as string] = toJsonSafe(x, seen);
        return out;
      }
      return entries.map(([k, x]) => [toJsonSafe(k, seen), toJsonSafe(x, seen)]);
    }
    // A null-prototype object, so an own "__proto__" key stays an ordinary key.
    const out: { [key: string]: Json } = Object.create(null);
    for (const [k, x] of Object.entries(v)) {
      if (x !== undefined && typeof x !== 'function') out[k] = toJsonSafe(x, seen);
    }
    return out;
  } finally {
    seen.delete(v);
  }
}

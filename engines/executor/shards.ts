/**
 * The sharded executor's partition of the note keyspace.
 *
 * A note key is `{provenance}/{application}/{owner}/{key}` (notes.ts). Its shard is
 *
 *   shardOf(key, n) = u32be(sha256(ownerLevel(key))[0..4]) mod n
 *
 * where `ownerLevel(key)` is the key's `{provenance}/{application}/{owner}/` prefix: every note
 * one owner holds in one application lives on one shard (a transfer touches its sender's shard
 * and its receivers'), while the owners of one application spread over all shards (a token is
 * not a hot spot). Bytes that do not parse as a note key (a lookup code may name anything) are
 * hashed whole. The rule is stable: it depends only on the key's bytes and the shard count, never
 * on what else is stored; and a key's shard only decides which engine serves it during a block —
 * the stored layout, and so the state root, do not depend on the shard count.
 */
import { sha256 } from '../../wire/commit.ts';
import { decodeVarint } from '../../wire/varint.ts';

/** Reads one `varint(length) ++ bytes` segment at `at`; the offset after it, or -1. */
function skipSegment(key: Uint8Array, at: number): number {
  const len = decodeVarint(key, at);
  const end = at + len.length + len.value;
  return end <= key.length ? end : -1;
}

/** The `{provenance}/{application}/{owner}/` prefix of a note key, or undefined if `key` is not one. */
export function ownerLevel(key: Uint8Array): Uint8Array | undefined {
  try {
    const count = decodeVarint(key, 0);
    let at = count.length;
    // provenance ids, then the application and owner segments
    for (let i = 0; i < count.value + 2; i++) {
      if (at >= key.length) return undefined;
      at = skipSegment(key, at);
      if (at < 0) return undefined;
    }
    return key.subarray(0, at);
  } catch {
    return undefined; // a truncated or non-canonical varint: not a note key
  }
}

/** The shard (0 .. shards-1) that owns `key`. */
export function shardOf(key: Uint8Array, shards: number): number {
  if (!Number.isInteger(shards) || shards < 1 || shards > 0xffff)
    throw new RangeError(`shard count must be an integer in 1..65535, got ${shards}`);
  if (shards === 1) return 0;
  const h = sha256(ownerLevel(key) ?? key);
  return (((h[0]! << 24) | (h[1]! << 16) | (h[2]! << 8) | h[3]!) >>> 0) % shards;
}

/** Groups keys by owning shard, keeping their order; duplicates are sent once. */
export function byShard(
  keys: Iterable<Uint8Array>,
  shards: number,
  hex: (k: Uint8Array) => string,
): Uint8Array[][] {
  const out: Uint8Array[][] = Array.from({ length: shards }, () => []);
  const seen = new Set<string>();
  for (const key of keys) {
    const h = hex(key);
    if (seen.has(h)) continue;
    seen.add(h);
    out[shardOf(key, shards)]!.push(key);
  }
  return out;
}

/**
 * Sparse Merkle tree update throughput: keys per second through `SparseMerkleTree.update` on
 * MemoryStorage, batches of 1000 random keys (32-byte keys, 32-byte values, all new) into a tree
 * that starts with 100k keys.
 *
 * Physical limit, measured in the same run: SHA-256 hashes per second of 65-byte inputs (node's
 * one-shot `crypto.hash`, the hash the tree uses) divided by the hashes one key update needs:
 * H(key) + H(value) + the leaf hash + its share of the inner nodes the batch recomputes (nodes
 * shared by several keys of the batch are counted once), as counted by the tree during the timed
 * updates. ratio = ours / that limit, i.e. the fraction of the time spent hashing.
 */
import { hash } from 'node:crypto';
import { MemoryStorage } from '../storage/memory.ts';
import { type MerkleChange, SparseMerkleTree } from '../storage/merkle.ts';
import type { Storage } from '../storage/types.ts';
import { measure, report } from './report.ts';

const INITIAL = 100_000;
const BATCH = 1000;
const MIN_MS = Number(process.env.FRACTAL_BENCH_MERKLE_MS ?? 3000);

/** Deterministic pseudo-random bytes (xorshift32). */
function rng(seed: number): (n: number) => Uint8Array {
  let x = seed >>> 0 || 1;
  return (n) => {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      b[i] = x & 0xff;
    }
    return b;
  };
}

export default async function merkleBench(): Promise<void> {
  const fill = rng(0x5eed);
  const batch = (n: number): MerkleChange[] =>
    Array.from({ length: n }, () => ({ key: fill(32), value: fill(32) }));

  // time spent inside storage.batch, to split the figure into tree work and storage work
  const mem = new MemoryStorage();
  let storageMs = 0;
  const timed: Storage = {
    read: (k) => mem.read(k),
    write: (k, v) => mem.write(k, v),
    delete: (k) => mem.delete(k),
    scan: (p, o) => mem.scan(p, o),
    close: () => mem.close(),
    batch(ops) {
      const t0 = performance.now();
      mem.batch(ops);
      storageMs += performance.now() - t0;
    },
  };
  const tree = new SparseMerkleTree(timed);
  tree.update(batch(INITIAL)); // one sorted batch into an empty store: appends only

  // pre-generate the batches so that random generation is not timed
  const pending = Array.from({ length: 64 }, () => batch(BATCH));
  let next = 0;
  let keys = 0; // every key through update since t0 (the warm-up included), as are hashes and storageMs
  let hashes = 0;
  storageMs = 0;
  const t0 = performance.now();
  const keysPerSec = measure(() => {
    const b = pending[next++ % pending.length]!;
    // reuse of a batch overwrites its keys with the same values: fresh values keep it real work
    if (next > pending.length) for (const c of b) c.value = fill(32);
    const before = tree.stats.hashes;
    tree.update(b);
    hashes += tree.stats.hashes - before;
    keys += b.length;
    return b.length;
  }, MIN_MS);
  const totalMs = performance.now() - t0;
  const hashesPerKey = hashes / keys;

  const input = fill(65 * 1024);
  const hashesPerSec = measure(() => {
    for (let i = 0; i < 1024; i++) hash('sha256', input.subarray(i * 65, i * 65 + 65), 'buffer');
    return 1024;
  }, 1000);
  const limit = hashesPerSec / hashesPerKey;

  console.error(
    `merkle: ${keysPerSec.toFixed(0)} keys/s; ${hashesPerKey.toFixed(2)} hashes/key; ` +
      `sha256(65 B) ${hashesPerSec.toFixed(0)}/s -> limit ${limit.toFixed(0)} keys/s; ` +
      `${((100 * storageMs) / totalMs).toFixed(0)}% of update time in MemoryStorage.batch ` +
      `(${((keys * 1000) / (totalMs - storageMs)).toFixed(0)} keys/s without it)`,
  );
  report({
    name: 'merkle.update',
    value: keysPerSec,
    unit: 'keys/s',
    ratio: keysPerSec / limit,
    vs: `sha256-limit-${hashesPerKey.toFixed(1)}-hashes-per-key`,
  });
}

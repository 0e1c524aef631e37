/**
 * State commitment: a compact sparse Merkle tree over a 256-bit key space, persisted in a
 * `Storage` under a namespace, with membership and non-membership proofs.
 *
 * Hashing (H = SHA-256; every hash is 32 bytes; see storage/README.md, "Merkle state commitment"):
 *   path(key) = H(key);  leaf = H(0x00 || H(key) || H(value));  inner = H(0x01 || left || right)
 *   empty subtree = 32 zero bytes; a subtree holding exactly one leaf IS that leaf (at any depth),
 *   so the tree has inner nodes only where two or more leaves share a path prefix.
 * The root is a function of the set of (key, value) pairs alone (not of insertion order).
 *
 * Nodes are content-addressed (`namespace ++ 'n' ++ hash`) and never deleted by `update`, so
 * every root the tree ever had stays readable and provable until `prune` drops it.
 */
import { createHash, hash as nodeHash } from 'node:crypto';
import { pooledBytes } from '../wire/buffer.ts';
import { EncodeError } from '../wire/errors.ts';
import { decode, encode, type Schema, s } from '../wire/schema.ts';
import { NodeTable } from './merkle-nodes.ts';
import { bytesEqual, compareBytes, copyBytes } from './prefix.ts';
import { type BatchOp, type Key, type Storage, StorageError, type Value } from './types.ts';

/** Length of every hash, path and root. */
export const HASH_BYTES = 32;
/** Maximum depth of a leaf, hence maximum number of siblings in a proof. */
export const MAX_DEPTH = 256;

const TAG_LEAF = 0x00;
const TAG_INNER = 0x01;
const NODE_LEN = 1 + 2 * HASH_BYTES;
const ZERO = new Uint8Array(HASH_BYTES);

/** The root of the empty tree (32 zero bytes); a fresh copy. */
export function emptyRoot(): Uint8Array {
  return new Uint8Array(HASH_BYTES);
}

// ---------------------------------------------------------------------------------------------
// hashing

const hasOneShot = typeof nodeHash === 'function';

/** SHA-256 (node:crypto one-shot `hash` where available; same result as wire's `sha256`). */
function H(bytes: Uint8Array): Uint8Array {
  const b = hasOneShot ? nodeHash('sha256', bytes, 'buffer') : createHash('sha256').update(bytes).digest();
  return new Uint8Array(b.buffer, b.byteOffset, b.length);
}

function isZero(h: Uint8Array): boolean {
  for (let i = 0; i < h.length; i++) if (h[i] !== 0) return false;
  return true;
}

/** Bit `d` of a path, most significant bit of byte 0 first; 0 = left, 1 = right. */
function bit(path: Uint8Array, d: number): number {
  return (path[d >> 3]! >> (7 - (d & 7))) & 1;
}

// Node records are 65 bytes and up, past what V8 keeps inside a typed array object (64): each
// would allocate (and the collector later free) a backing store of its own, about ten per key
// updated. A record never changes once built, and storage copies what it is given, so records
// come from the codec's shared slabs (wire/buffer.ts `pooledBytes`).

/** `0x00 || keyHash || valueHash`: a leaf's hash preimage. */
function leafPreimage(keyHash: Uint8Array, valueHash: Uint8Array): Uint8Array {
  const b = pooledBytes(NODE_LEN);
  b[0] = TAG_LEAF;
  b.set(keyHash, 1);
  b.set(valueHash, 1 + HASH_BYTES);
  return b;
}

/** `0x01 || left || right`: an inner node's hash preimage (and its stored record). */
function innerPreimage(left: Uint8Array, right: Uint8Array): Uint8Array {
  const b = pooledBytes(NODE_LEN);
  b[0] = TAG_INNER;
  b.set(left, 1);
  b.set(right, 1 + HASH_BYTES);
  return b;
}

/** H(0x00 || keyHash || valueHash). */
export function leafHash(keyHash: Uint8Array, valueHash: Uint8Array): Uint8Array {
  return H(leafPreimage(keyHash, valueHash));
}

/** H(0x01 || left || right). */
export function innerHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  return H(innerPreimage(left, right));
}

/** The path of a key: H(key). */
export function keyPath(key: Uint8Array): Uint8Array {
  return H(key);
}

// ---------------------------------------------------------------------------------------------
// building subtrees (shared by the persisted tree and `computeRoot`)

/** A subtree: its hash and whether it is a single leaf (undefined: not known without a read). */
interface Ref {
  hash: Uint8Array;
  leaf: boolean | undefined;
}

const EMPTY_REF: Ref = { hash: ZERO, leaf: false };

/** One leaf to place: a path and a value (null = delete); `hash` set for a leaf already stored. */
interface Item {
  kh: Uint8Array;
  value: Uint8Array | null;
  hash?: Uint8Array;
}

/** Sink for new node records (null: compute only). */
type Emit = ((hash: Uint8Array, record: Uint8Array) => void) | null;

/** Counters, for the benchmark and for curiosity. */
export interface MerkleStats {
  /** SHA-256 invocations for leaves and inner nodes (H(key) and H(value) included). */
  hashes: number;
  /** node records read from storage */
  reads: number;
  /** node records written */
  writes: number;
}

/** First index in [lo, hi) whose path has bit d set (items sorted by path, sharing d bits). */
function splitAt(items: readonly Item[], lo: number, hi: number, d: number): number {
  let a = lo;
  let b = hi;
  while (a < b) {
    const m = (a + b) >>> 1;
    if (bit(items[m]!.kh, d) === 0) a = m + 1;
    else b = m;
  }
  return a;
}

class Builder {
  constructor(
    readonly stats: MerkleStats,
    readonly emit: Emit,
    readonly isLeaf: (hash: Uint8Array) => boolean,
  ) {}

  /** Joins two subtrees at one level, keeping the tree compact. */
  combine(l: Ref, r: Ref): Ref {
    const lz = isZero(l.hash);
    const rz = isZero(r.hash);
    if (lz && rz) return EMPTY_REF;
    if (lz || rz) {
      const other = lz ? r : l;
      if (other.leaf === undefined) other.leaf = this.isLeaf(other.hash);
      if (other.leaf) return other; // a lone leaf moves up: a one-leaf subtree is that leaf
    }
    const rec = innerPreimage(l.hash, r.hash);
    const hash = H(rec);
    this.stats.hashes++;
    if (this.emit !== null) this.emit(hash, rec);
    return { hash, leaf: false };
  }

  /** A leaf for `it` (a put). */
  leaf(it: Item): Ref {
    if (it.hash !== undefined) return { hash: it.hash, leaf: true };
    const value = it.value!;
    const vh = H(value);
    // the record is the preimage followed by the value: build it once, hash its first 65 bytes
    const rec = pooledBytes(NODE_LEN + (this.emit === null ? 0 : value.length));
    rec[0] = TAG_LEAF;
    rec.set(it.kh, 1);
    rec.set(vh, 1 + HASH_BYTES);
    const hash = H(rec.length === NODE_LEN ? rec : rec.subarray(0, NODE_LEN));
    this.stats.hashes += 2;
    if (this.emit !== null) {
      rec.set(value, NODE_LEN);
      this.emit(hash, rec);
    }
    return { hash, leaf: true };
  }

  /** The subtree at depth d holding exactly the puts of items[lo, hi) (sorted, distinct paths). */
  build(items: readonly Item[], lo: number, hi: number, d: number): Ref {
    if (lo >= hi) return EMPTY_REF;
    if (hi - lo === 1) return this.leaf(items[lo]!);
    const mid = splitAt(items, lo, hi, d);
    return this.combine(this.build(items, lo, mid, d + 1), this.build(items, mid, hi, d + 1));
  }
}

/** Sorts by path and keeps the last change of each path (the sort is stable). */
function sortDedup(items: Item[]): Item[] {
  items.sort((a, b) => compareBytes(a.kh, b.kh));
  const out: Item[] = [];
  for (let i = 0; i < items.length; i++) {
    const next = items[i + 1];
    if (next !== undefined && bytesEqual(next.kh, items[i]!.kh)) continue;
    out.push(items[i]!);
  }
  return out;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'object';
  return typeof v;
}

/** One entry of an update: `value: null` deletes the key. */
export interface MerkleChange {
  key: Key;
  value: Value | null;
}

/** One key/value pair (for `computeRoot`). */
export interface MerkleEntry {
  key: Key;
  value: Value;
}

function checkChange(c: unknown, i: number, allowNull: boolean): asserts c is MerkleChange {
  if (typeof c !== 'object' || c === null) {
    throw new StorageError('invalid-argument', `change ${i} must be an object, got ${describe(c)}`);
  }
  const o = c as { key?: unknown; value?: unknown };
  if (!(o.key instanceof Uint8Array)) {
    throw new StorageError(
      'invalid-argument',
      `change ${i} key must be a Uint8Array, got ${describe(o.key)}`,
    );
  }
  if (!(o.value instanceof Uint8Array) && !(allowNull && o.value === null)) {
    throw new StorageError(
      'invalid-argument',
      `change ${i} value must be a Uint8Array${allowNull ? ' or null' : ''}, got ${describe(o.value)}`,
    );
  }
}

/**
 * The root of a set of key/value pairs, computed in memory (no storage). A key given twice
 * counts with its last value. Equals the root a `SparseMerkleTree` holding the same pairs has.
 */
export function computeRoot(entries: Iterable<MerkleEntry>): Uint8Array {
  const items: Item[] = [];
  let i = 0;
  for (const e of entries) {
    checkChange(e, i++, false);
    items.push({ kh: H(e.key), value: e.value });
  }
  const sorted = sortDedup(items);
  const b = new Builder({ hashes: 0, reads: 0, writes: 0 }, null, () => true);
  return copyBytes(b.build(sorted, 0, sorted.length, 0).hash);
}

// ---------------------------------------------------------------------------------------------
// the persisted tree

export interface SparseMerkleTreeOptions {
  /** key prefix of everything the tree stores (default `smt/`) */
  namespace?: Key;
}

type Node =
  | { kind: 'leaf'; kh: Uint8Array; vh: Uint8Array; record: Uint8Array }
  | { kind: 'inner'; left: Uint8Array; right: Uint8Array };

const SUFFIX_NODE = 0x6e; // 'n'
const SUFFIX_ROOT = 0x72; // 'r'

/** An update computed but not yet written: see `SparseMerkleTree.stage`. */
export interface StagedUpdate {
  /** the root after the update (32 bytes; all zero for the empty tree) */
  readonly root: Uint8Array;
  /** the writes that persist it: the new node records and the root pointer, sorted by key */
  readonly ops: readonly BatchOp[];
  /** the new node records by hash (what `applied` caches) */
  readonly nodes: readonly (readonly [Uint8Array, Uint8Array])[];
}

/** Node records kept in memory per tree (content-addressed, so a cached record never goes stale). */
const NODE_CACHE_MAX = 1 << 18;

/**
 * Node caches by storage object and namespace (hex). A record cached is one its storage holds
 * (read from it, or written by a batch that went through), so every tree over that storage may
 * use it: a tree made afresh over a store another tree already walked (an engine restarted from
 * its context, a second ledger over the node's store) starts with the nodes in memory instead of
 * reading each from storage again.
 */
const nodeTables = new WeakMap<Storage, Map<string, NodeTable>>();

function nodeTableOf(storage: Storage, namespace: Uint8Array): NodeTable {
  let byNamespace = nodeTables.get(storage);
  if (byNamespace === undefined) {
    byNamespace = new Map();
    nodeTables.set(storage, byNamespace);
  }
  const ns = hex(namespace);
  let table = byNamespace.get(ns);
  if (table === undefined) {
    table = new NodeTable(NODE_CACHE_MAX);
    byNamespace.set(ns, table);
  }
  return table;
}

/**
 * A sparse Merkle tree persisted in `storage`. Layout under the namespace `ns`:
 *
 *   ns ++ 'r'          -> the current root (32 bytes; absent = empty tree)
 *   ns ++ 'n' ++ hash  -> 0x01 || left || right                 (inner node)
 *                       | 0x00 || H(key) || H(value) || value   (leaf; its hash covers the first 65 bytes)
 *
 * Reads and proofs take an optional `root`: any root this tree has had (and not pruned).
 */
export class SparseMerkleTree {
  readonly storage: Storage;
  readonly namespace: Uint8Array;
  readonly stats: MerkleStats = { hashes: 0, reads: 0, writes: 0 };
  readonly #rootKey: Uint8Array;
  readonly #nodePrefix: Uint8Array;
  /**
   * Node records by hash: read from storage, or written by an update whose batch went through
   * (content-addressed, and `update` never deletes, so a record kept never goes stale; `prune`,
   * the only thing that deletes nodes, clears it). Shared by every tree over the same storage
   * object and namespace (see `nodeTableOf`).
   */
  readonly #nodes: NodeTable;

  constructor(storage: Storage, opts: SparseMerkleTreeOptions = {}) {
    const ns = opts.namespace ?? new TextEncoder().encode('smt/');
    if (!(ns instanceof Uint8Array)) {
      throw new StorageError('invalid-argument', `namespace must be a Uint8Array, got ${describe(ns)}`);
    }
    this.storage = storage;
    this.namespace = copyBytes(ns);
    this.#rootKey = concat(this.namespace, Uint8Array.of(SUFFIX_ROOT));
    this.#nodePrefix = concat(this.namespace, Uint8Array.of(SUFFIX_NODE));
    this.#nodes = nodeTableOf(storage, this.namespace);
  }

  /** The current root (32 zero bytes for the empty tree). */
  root(): Uint8Array {
    const r = this.storage.read(this.#rootKey);
    if (r === undefined) return emptyRoot();
    if (r.length !== HASH_BYTES)
      throw new StorageError('corrupt', `merkle root record has ${r.length} bytes`);
    return r;
  }

  /** The value of `key` in the tree with root `root` (default: the current one), or undefined. */
  get(key: Key, root?: Uint8Array): Value | undefined {
    checkKey(key);
    const kh = H(key);
    let h = this.#start(root);
    for (let d = 0; d <= MAX_DEPTH; d++) {
      if (isZero(h)) return undefined;
      const n = this.#node(h, d === 0);
      if (n.kind === 'leaf') return bytesEqual(n.kh, kh) ? n.record.slice(NODE_LEN) : undefined;
      h = bit(kh, d) === 0 ? n.left : n.right;
    }
    throw new StorageError('corrupt', 'merkle path longer than 256');
  }

  /**
   * Applies `changes` (in order; the last change of a key wins; `value: null` deletes, deleting
   * an absent key is a no-op) to the current root, writes the new nodes and the new root in one
   * atomic `storage.batch`, and returns the new root. Older roots stay readable.
   */
  update(changes: readonly MerkleChange[]): Uint8Array {
    const staged = this.stage(changes);
    this.storage.batch(staged.ops);
    this.applied(staged);
    return copyBytes(staged.root);
  }

  /**
   * `update` without the write: the new root and the batch operations that persist it (nothing is
   * written; `changes` are checked as by `update`). The caller writes `ops` with `storage.batch`,
   * alone or together with other operations of its own (one atomic batch), then calls
   * `applied(staged)`. Stage the next update only after writing this one: it starts from the
   * stored root.
   */
  stage(changes: readonly MerkleChange[]): StagedUpdate {
    if (!Array.isArray(changes)) throw new StorageError('invalid-argument', 'changes must be an array');
    const items: Item[] = new Array(changes.length);
    for (let i = 0; i < changes.length; i++) {
      const c: unknown = changes[i];
      checkChange(c, i, true);
      items[i] = { kh: H(c.key), value: c.value };
    }
    this.stats.hashes += changes.length;
    const sorted = sortDedup(items);
    const old = this.root();
    const nodes: [Uint8Array, Uint8Array][] = [];
    const emit = (hash: Uint8Array, record: Uint8Array) => {
      nodes.push([hash, record]);
    };
    const b = new Builder(this.stats, emit, (h) => this.#node(h, false).kind === 'leaf');
    const next = this.#apply(b, old, 0, sorted, 0, sorted.length).hash;
    this.stats.writes += nodes.length;
    // Key order: the same writes (node keys are content hashes, so a repeated key carries the same
    // record; the root key occurs once), but a sorted batch is kinder to ordered backends. Node
    // keys share their prefix, so they sort by hash.
    sortByHash(nodes);
    const ops: BatchOp[] = new Array(nodes.length);
    for (let i = 0; i < nodes.length; i++) {
      const [hash, record] = nodes[i]!;
      ops[i] = { op: 'put', key: this.#nodeKey(hash), value: record };
    }
    const rootOp: BatchOp = isZero(next)
      ? { op: 'del', key: this.#rootKey }
      : { op: 'put', key: this.#rootKey, value: next };
    // the root key ('r') sorts after every node key ('n')
    ops.push(rootOp);
    return { root: copyBytes(next), ops, nodes };
  }

  /** After the batch of a staged update was written: keeps its new nodes in memory for later updates and reads. */
  applied(staged: StagedUpdate): void {
    for (const node of staged.nodes) this.#remember(node);
  }

  /**
   * A proof that `key` is in the tree with root `root` (default: current) — a MembershipProof —
   * or that it is not — a NonMembershipProof. Check it with `verifyProof`.
   */
  prove(key: Key, root?: Uint8Array): MerkleProof {
    checkKey(key);
    const kh = H(key);
    let h = this.#start(root);
    const siblings: Uint8Array[] = [];
    for (let d = 0; d <= MAX_DEPTH; d++) {
      if (isZero(h)) return { kind: 'absent', siblings, leaf: null };
      const n = this.#node(h, d === 0);
      if (n.kind === 'leaf') {
        if (bytesEqual(n.kh, kh)) return { kind: 'member', siblings };
        return { kind: 'absent', siblings, leaf: { keyHash: copyBytes(n.kh), valueHash: copyBytes(n.vh) } };
      }
      if (bit(kh, d) === 0) {
        siblings.push(copyBytes(n.right));
        h = n.left;
      } else {
        siblings.push(copyBytes(n.left));
        h = n.right;
      }
    }
    throw new StorageError('corrupt', 'merkle path longer than 256');
  }

  /**
   * Deletes every node not reachable from the current root or from one of `keep`; reads and
   * proofs against any other old root fail afterwards. Not atomic, but only ever deletes
   * unreachable nodes, so an interrupted prune loses nothing a kept root needs. Returns the
   * number of node records deleted.
   */
  prune(keep: readonly Uint8Array[] = []): number {
    this.#clearCache();
    const live = new Set<string>();
    const stack: Uint8Array[] = [this.root(), ...keep.map((r) => this.#start(r))];
    while (stack.length > 0) {
      const h = stack.pop()!;
      if (isZero(h)) continue;
      const k = hex(h);
      if (live.has(k)) continue;
      live.add(k);
      const n = this.#node(h, false);
      if (n.kind === 'inner') stack.push(n.left, n.right);
    }
    const dead: Uint8Array[] = [];
    const plen = this.#nodePrefix.length;
    for (const [k] of this.storage.scan(this.#nodePrefix)) {
      if (k.length !== plen + HASH_BYTES || !live.has(hex(k.subarray(plen)))) dead.push(k);
    }
    // marking read (and cached) only live nodes, but be plain about it: nothing deleted stays cached
    this.#clearCache();
    for (let i = 0; i < dead.length; i += 1000) {
      this.storage.batch(dead.slice(i, i + 1000).map((key) => ({ op: 'del' as const, key })));
    }
    return dead.length;
  }

  #apply(b: Builder, h: Uint8Array, d: number, items: Item[], lo: number, hi: number): Ref {
    if (lo >= hi) return { hash: h, leaf: undefined };
    if (isZero(h)) return this.#rebuild(b, items, lo, hi, d, null);
    if (d >= MAX_DEPTH) throw new StorageError('corrupt', 'merkle path longer than 256');
    const n = this.#node(h, d === 0);
    if (n.kind === 'leaf') return this.#rebuild(b, items, lo, hi, d, { kh: n.kh, value: null, hash: h });
    const mid = splitAt(items, lo, hi, d);
    return b.combine(
      this.#apply(b, n.left, d + 1, items, lo, mid),
      this.#apply(b, n.right, d + 1, items, mid, hi),
    );
  }

  /** The subtree at depth d with the puts of items[lo, hi) plus `existing` unless a change replaces it. */
  #rebuild(b: Builder, items: Item[], lo: number, hi: number, d: number, existing: Item | null): Ref {
    const leaves: Item[] = [];
    let placed = existing === null;
    for (let i = lo; i < hi; i++) {
      const it = items[i]!;
      if (!placed) {
        const c = compareBytes(existing!.kh, it.kh);
        if (c < 0) {
          leaves.push(existing!);
          placed = true;
        } else if (c === 0) placed = true; // replaced or deleted by this change
      }
      if (it.value !== null) leaves.push(it);
    }
    if (!placed) leaves.push(existing!);
    return b.build(leaves, 0, leaves.length, d);
  }

  #start(root: Uint8Array | undefined): Uint8Array {
    if (root === undefined) return this.root();
    if (!(root instanceof Uint8Array) || root.length !== HASH_BYTES) {
      throw new StorageError('invalid-argument', `root must be a ${HASH_BYTES}-byte Uint8Array`);
    }
    return root;
  }

  #nodeKey(hash: Uint8Array): Uint8Array {
    const k = new Uint8Array(this.#nodePrefix.length + HASH_BYTES);
    k.set(this.#nodePrefix, 0);
    k.set(hash, this.#nodePrefix.length);
    return k;
  }

  #remember(node: readonly [Uint8Array, Uint8Array]): void {
    this.#nodes.add(node[0], node[1]);
  }

  #clearCache(): void {
    this.#nodes.clear();
  }

  #node(hash: Uint8Array, isRoot: boolean): Node {
    let rec = this.#nodes.get(hash);
    if (rec === undefined) {
      this.stats.reads++;
      rec = this.storage.read(this.#nodeKey(hash));
      if (rec === undefined) {
        if (isRoot) throw new StorageError('invalid-argument', `unknown or pruned merkle root ${hex(hash)}`);
        throw new StorageError('corrupt', `merkle node ${hex(hash)} is missing`);
      }
      if (isWellFormed(rec)) this.#nodes.add(hash, rec);
    }
    if (rec[0] === TAG_INNER && rec.length === NODE_LEN) {
      return { kind: 'inner', left: rec.subarray(1, 33), right: rec.subarray(33, 65) };
    }
    if (rec[0] === TAG_LEAF && rec.length >= NODE_LEN) {
      return { kind: 'leaf', kh: rec.subarray(1, 33), vh: rec.subarray(33, 65), record: rec };
    }
    throw new StorageError('corrupt', `merkle node ${hex(hash)} is malformed`);
  }
}

function isWellFormed(rec: Uint8Array): boolean {
  return (rec[0] === TAG_INNER && rec.length === NODE_LEN) || (rec[0] === TAG_LEAF && rec.length >= NODE_LEN);
}

/** The first 32 bits of a hash as a number, big-endian: numbers order as the bytes do. */
function hashPrefix(h: Uint8Array): number {
  return ((h[0]! << 24) | (h[1]! << 16) | (h[2]! << 8) | h[3]!) >>> 0;
}

/** Up to this many nodes sort as packed numbers (32 bits of hash, 21 of index: 53, exact in a double). */
const PACKED_SORT_MAX = 1 << 21;

/**
 * Sorts [hash, record] pairs by hash, in place. A comparator reading bytes is the slow way to sort
 * thousands of random hashes: they sort as numbers (the hash's first 32 bits, then the index)
 * in a Float64Array, natively; pairs sharing their first 32 bits (rare) are ordered whole after.
 */
function sortByHash(nodes: [Uint8Array, Uint8Array][]): void {
  const n = nodes.length;
  const byHash = (x: readonly [Uint8Array, Uint8Array], y: readonly [Uint8Array, Uint8Array]) =>
    compareBytes(x[0], y[0]);
  if (n > PACKED_SORT_MAX) {
    nodes.sort(byHash);
    return;
  }
  const packed = new Float64Array(n);
  for (let i = 0; i < n; i++) packed[i] = hashPrefix(nodes[i]![0]) * PACKED_SORT_MAX + i;
  packed.sort();
  const was = nodes.slice();
  for (let i = 0; i < n; i++) nodes[i] = was[packed[i]! % PACKED_SORT_MAX]!;
  for (let i = 0; i < n; ) {
    let j = i + 1;
    const p = Math.floor(packed[i]! / PACKED_SORT_MAX);
    while (j < n && Math.floor(packed[j]! / PACKED_SORT_MAX) === p) j++;
    if (j - i > 1) {
      const run = nodes.slice(i, j).sort(byHash);
      for (let k = 0; k < run.length; k++) nodes[i + k] = run[k]!;
    }
    i = j;
  }
}

function checkKey(key: unknown): asserts key is Key {
  if (!(key instanceof Uint8Array)) {
    throw new StorageError('invalid-argument', `key must be a Uint8Array, got ${describe(key)}`);
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex');
}

// ---------------------------------------------------------------------------------------------
// proofs

/** The leaf found on a key's path in place of the key (non-membership by a different leaf). */
export interface ProofLeaf {
  keyHash: Uint8Array;
  valueHash: Uint8Array;
}

/**
 * The key's leaf sits at depth `siblings.length`; `siblings[i]` is the hash of the sibling of
 * the path node at depth i + 1 (root first).
 */
export interface MembershipProof {
  kind: 'member';
  siblings: Uint8Array[];
}

/**
 * Following the key's path for `siblings.length` levels reaches an empty subtree (`leaf: null`)
 * or a leaf of another key sharing those path bits.
 */
export interface NonMembershipProof {
  kind: 'absent';
  siblings: Uint8Array[];
  leaf: ProofLeaf | null;
}

export type MerkleProof = MembershipProof | NonMembershipProof;

/**
 * Checks `proof` that `key` has `value` (or, with `value === null`, is absent) in the tree with
 * root `root`. Pure (no storage); never throws: anything malformed is simply `false`.
 */
export function verifyProof(root: Uint8Array, key: Key, value: Value | null, proof: MerkleProof): boolean {
  try {
    if (!(root instanceof Uint8Array) || root.length !== HASH_BYTES) return false;
    if (!(key instanceof Uint8Array)) return false;
    if (value !== null && !(value instanceof Uint8Array)) return false;
    if (typeof proof !== 'object' || proof === null) return false;
    const siblings: unknown = proof.siblings;
    if (!Array.isArray(siblings) || siblings.length > MAX_DEPTH) return false;
    for (const sib of siblings) if (!(sib instanceof Uint8Array) || sib.length !== HASH_BYTES) return false;
    const kh = H(key);
    const depth = siblings.length;
    let h: Uint8Array;
    if (value !== null) {
      if (proof.kind !== 'member') return false;
      h = leafHash(kh, H(value));
    } else {
      if (proof.kind !== 'absent') return false;
      const leaf: unknown = proof.leaf;
      if (leaf === null) h = ZERO;
      else {
        if (typeof leaf !== 'object' || leaf === undefined) return false;
        const { keyHash, valueHash } = leaf as Partial<ProofLeaf>;
        if (!(keyHash instanceof Uint8Array) || keyHash.length !== HASH_BYTES) return false;
        if (!(valueHash instanceof Uint8Array) || valueHash.length !== HASH_BYTES) return false;
        if (bytesEqual(keyHash, kh)) return false; // that leaf is the key itself: not absent
        for (let d = 0; d < depth; d++) if (bit(keyHash, d) !== bit(kh, d)) return false;
        h = leafHash(keyHash, valueHash);
      }
    }
    for (let d = depth - 1; d >= 0; d--) {
      const sib = siblings[d] as Uint8Array;
      h = bit(kh, d) === 0 ? innerHash(h, sib) : innerHash(sib, h);
    }
    return bytesEqual(h, root);
  } catch {
    return false;
  }
}

const Hash32 = s.bytes({ length: HASH_BYTES });
const Siblings = s.list(Hash32, { max: MAX_DEPTH });
const ProofWire = s.variant({
  member: s.struct({ siblings: Siblings }),
  absent: s.struct({
    siblings: Siblings,
    leaf: s.option(s.struct({ keyHash: Hash32, valueHash: Hash32 })),
  }),
});

/**
 * Wire schema of a proof: `<member: {siblings: list(bytes[32], max 256)} | absent: {siblings:
 * list(bytes[32], max 256), leaf: option({keyHash: bytes[32], valueHash: bytes[32]})}>`.
 */
export const MerkleProofSchema: Schema<MerkleProof> = s.transform(ProofWire, {
  name: 'MerkleProof',
  to: (p: MerkleProof) => {
    if (p?.kind === 'member') return { tag: 'member' as const, value: { siblings: p.siblings } };
    if (p?.kind === 'absent')
      return { tag: 'absent' as const, value: { siblings: p.siblings, leaf: p.leaf } };
    throw new EncodeError(`MerkleProof needs kind 'member' or 'absent'`);
  },
  from: (w) =>
    w.tag === 'member'
      ? { kind: 'member', siblings: w.value.siblings }
      : { kind: 'absent', siblings: w.value.siblings, leaf: w.value.leaf },
});

/** The canonical bytes of a proof (EncodeError for a value that is not a proof). */
export function encodeProof(proof: MerkleProof): Uint8Array {
  return encode(MerkleProofSchema, proof);
}

/**
 * A proof from bytes; throws `DecodeError` (and nothing else) on bad bytes. A proof that decodes
 * is only well-formed: whether it proves anything is `verifyProof`'s call.
 */
export function decodeProof(bytes: Uint8Array): MerkleProof {
  return decode(MerkleProofSchema, bytes);
}

/**
 * Small persistent (immutable, structurally shared) collections for the mempool's state, so that
 * its engine context holds no mutable object and an update copies only what it touches:
 *
 *   HashMap<V>     string keys; a hash array mapped trie (32-way, FNV-1a): get / set / delete copy
 *                  one path of at most 7 small nodes. Iteration order is hash order (deterministic,
 *                  not insertion order).
 *   Seq<T>         a sorted sequence in chunks of at most 128: insert / remove copy one chunk and the
 *                  list of chunks (n / 64 references or fewer). In-order and reverse iteration. Its order
 *                  must be strict: no two elements compare equal (the pool's priority never ties).
 *   OrderedMap<V>  a HashMap with insertion order (a Seq of sequence numbers): Map's semantics
 *                  (`set` of an existing key keeps its place), plus `touch` (move to the end) and
 *                  `trimOldest`, for the bounded LRU memories of gossip.
 *
 * Every value is a plain record or array that is never written after it is built, so a state can
 * be deep-frozen, compared with a deep equality, and kept as the "last good" snapshot of a step
 * while the next step builds its successor. Functions here never mutate their arguments.
 */

// --- HashMap ------------------------------------------------------------------------------------

/**
 * Every node has the same fields (one object shape, so lookups stay monomorphic): a leaf (t 0)
 * uses hash, key and value; a branch (t 1) bitmap and children; a collision (t 2) hash and
 * leaves (entries of equal hashes).
 */
interface Node<V> {
  readonly t: 0 | 1 | 2;
  readonly hash: number;
  readonly key: string;
  readonly value: V | undefined;
  readonly bitmap: number;
  readonly children: readonly Node<V>[];
}

type Leaf<V> = Node<V> & { readonly t: 0; readonly value: V };
type Branch<V> = Node<V> & { readonly t: 1 };
type Collision<V> = Node<V> & { readonly t: 2 };
type Child<V> = Node<V>;

const NONE: readonly never[] = Object.freeze([]);

const leafOf = <V>(hash: number, key: string, value: V): Leaf<V> =>
  ({ t: 0, hash, key, value, bitmap: 0, children: NONE }) as Leaf<V>;
const branchOf = <V>(bitmap: number, children: readonly Node<V>[]): Branch<V> =>
  ({ t: 1, hash: 0, key: '', value: undefined, bitmap, children }) as Branch<V>;
const collisionOf = <V>(hash: number, leaves: readonly Node<V>[]): Collision<V> =>
  ({ t: 2, hash, key: '', value: undefined, bitmap: 0, children: leaves }) as Collision<V>;

export interface HashMap<V> {
  readonly root: Branch<V>;
  readonly size: number;
}

const EMPTY_BRANCH: Branch<never> = Object.freeze(branchOf<never>(0, NONE));
const EMPTY_MAP: HashMap<never> = Object.freeze({ root: EMPTY_BRANCH, size: 0 });

/**
 * FNV-1a over the UTF-16 code units; of a long key, over its length and its first and last 16
 * (the keys are hex hashes and keys, `payer:nonce` pairs and peer ids: spread at both ends).
 */
function hashOf(key: string): number {
  let h = 0x811c9dc5;
  const n = key.length;
  if (n <= 32) {
    for (let i = 0; i < n; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  } else {
    h = Math.imul(h ^ n, 0x01000193);
    for (let i = 0; i < 16; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
    for (let i = n - 16; i < n; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  }
  return h >>> 0;
}

function popcount(x: number): number {
  let v = x - ((x >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) & 0xff;
}

const slot = (hash: number, shift: number): number => 1 << ((hash >>> shift) & 31);

export function emptyMap<V>(): HashMap<V> {
  return EMPTY_MAP as HashMap<V>;
}

export function mapGet<V>(m: HashMap<V>, key: string): V | undefined {
  const hash = hashOf(key);
  let node: Child<V> = m.root;
  let shift = 0;
  for (;;) {
    if (node.t === 0) return node.key === key ? node.value : undefined;
    if (node.t === 2) {
      if (node.hash !== hash) return undefined;
      for (const l of node.children) if (l.key === key) return l.value;
      return undefined;
    }
    const bit = slot(hash, shift);
    if ((node.bitmap & bit) === 0) return undefined;
    node = node.children[popcount(node.bitmap & (bit - 1))]!;
    shift += 5;
  }
}

export function mapHas<V>(m: HashMap<V>, key: string): boolean {
  return mapGet(m, key) !== undefined;
}

/** Two leaves of different keys under one new node at `shift`. */
function merge<V>(a: Leaf<V> | Collision<V>, b: Leaf<V>, shift: number): Child<V> {
  if (a.hash === b.hash) return collisionOf(b.hash, a.t === 2 ? [...a.children, b] : [a, b]);
  const sa = (a.hash >>> shift) & 31;
  const sb = (b.hash >>> shift) & 31;
  if (sa === sb) return branchOf(1 << sa, [merge(a, b, shift + 5)]);
  return branchOf((1 << sa) | (1 << sb), sa < sb ? [a, b] : [b, a]);
}

/** Set by `insert` when it added a key (rather than replacing one's value). */
let grew = false;

function insert<V>(node: Child<V>, leaf: Leaf<V>, shift: number): Child<V> {
  if (node.t === 0) {
    if (node.key === leaf.key) return node.value === leaf.value ? node : leaf;
    grew = true;
    return merge(node as Leaf<V>, leaf, shift);
  }
  if (node.t === 2) {
    if (node.hash !== leaf.hash) {
      grew = true;
      return merge(node as Collision<V>, leaf, shift);
    }
    const i = node.children.findIndex((l) => l.key === leaf.key);
    if (i < 0) {
      grew = true;
      return collisionOf(node.hash, [...node.children, leaf]);
    }
    const leaves = node.children.slice();
    leaves[i] = leaf;
    return collisionOf(node.hash, leaves);
  }
  const bit = slot(leaf.hash, shift);
  const i = popcount(node.bitmap & (bit - 1));
  if ((node.bitmap & bit) === 0) {
    grew = true;
    const children = node.children.slice();
    children.splice(i, 0, leaf);
    return branchOf(node.bitmap | bit, children);
  }
  const before = node.children[i]!;
  const after = insert(before, leaf, shift + 5);
  if (after === before) return node;
  const children = node.children.slice();
  children[i] = after;
  return branchOf(node.bitmap, children);
}

export function mapSet<V>(m: HashMap<V>, key: string, value: V): HashMap<V> {
  grew = false;
  const root = insert(m.root, leafOf(hashOf(key), key, value), 0) as Branch<V>;
  if (root === m.root) return m;
  return { root, size: grew ? m.size + 1 : m.size };
}

const GONE = null;

/** The node without `key` (the same node when absent; null when nothing is left). */
function without<V>(node: Child<V>, hash: number, key: string, shift: number): Child<V> | null {
  if (node.t === 0) return node.key === key ? GONE : node;
  if (node.t === 2) {
    if (node.hash !== hash) return node;
    const leaves = node.children.filter((l) => l.key !== key);
    if (leaves.length === node.children.length) return node;
    return leaves.length === 1 ? leaves[0]! : collisionOf(hash, leaves);
  }
  const bit = slot(hash, shift);
  if ((node.bitmap & bit) === 0) return node;
  const i = popcount(node.bitmap & (bit - 1));
  const before = node.children[i]!;
  const after = without(before, hash, key, shift + 5);
  if (after === before) return node;
  if (after === GONE) {
    if (node.children.length === 1) return GONE;
    const children = node.children.slice();
    children.splice(i, 1);
    const rest = branchOf(node.bitmap & ~bit, children);
    // a branch left with one leaf collapses into it (below the root)
    return shift > 0 && children.length === 1 && children[0]!.t !== 1 ? children[0]! : rest;
  }
  const children = node.children.slice();
  children[i] = after;
  if (shift > 0 && children.length === 1 && after.t !== 1) return after;
  return branchOf(node.bitmap, children);
}

export function mapDelete<V>(m: HashMap<V>, key: string): HashMap<V> {
  const root = without(m.root, hashOf(key), key, 0);
  if (root === m.root) return m;
  if (root === GONE) return emptyMap();
  return { root: root as Branch<V>, size: m.size - 1 };
}

function visit<V>(node: Child<V>, f: (key: string, value: V) => void): void {
  if (node.t === 0) f(node.key, node.value as V);
  else if (node.t === 2) for (const l of node.children) f(l.key, l.value as V);
  else for (const c of node.children) visit(c, f);
}

/** Calls `f` on every entry, in hash order. */
export function mapForEach<V>(m: HashMap<V>, f: (key: string, value: V) => void): void {
  visit(m.root, f);
}

export function mapFromEntries<V>(entries: Iterable<readonly [string, V]>): HashMap<V> {
  let m = emptyMap<V>();
  for (const [k, v] of entries) m = mapSet(m, k, v);
  return m;
}

// --- Seq ----------------------------------------------------------------------------------------

export interface Seq<T> {
  readonly chunks: readonly (readonly T[])[];
  readonly size: number;
}

const CHUNK = 128;
const EMPTY_SEQ: Seq<never> = Object.freeze({ chunks: Object.freeze([]), size: 0 });

export function emptySeq<T>(): Seq<T> {
  return EMPTY_SEQ as Seq<T>;
}

export type Compare<T> = (a: T, b: T) => number;

/** The chunk `x` belongs in: the first whose last element does not go before `x` (else the last). */
function chunkFor<T>(chunks: readonly (readonly T[])[], x: T, cmp: Compare<T>): number {
  let lo = 0;
  let hi = chunks.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const c = chunks[mid]!;
    if (cmp(c[c.length - 1]!, x) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo === chunks.length ? Math.max(0, lo - 1) : lo;
}

/** First index of `chunk` whose element does not go before `x`. */
function indexIn<T>(chunk: readonly T[], x: T, cmp: Compare<T>): number {
  let lo = 0;
  let hi = chunk.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cmp(chunk[mid]!, x) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** `s` with `x` inserted in order (before any element that compares equal). */
export function seqInsert<T>(s: Seq<T>, x: T, cmp: Compare<T>): Seq<T> {
  if (s.chunks.length === 0) return { chunks: [[x]], size: 1 };
  const ci = chunkFor(s.chunks, x, cmp);
  const chunk = s.chunks[ci]!;
  const next = chunk.slice();
  next.splice(indexIn(chunk, x, cmp), 0, x);
  const chunks = s.chunks.slice();
  if (next.length > CHUNK)
    chunks.splice(ci, 1, next.slice(0, next.length >> 1), next.slice(next.length >> 1));
  else chunks[ci] = next;
  return { chunks, size: s.size + 1 };
}

/** `s` without the element `x` (by identity, found by its order); throws when it is not there. */
export function seqRemove<T>(s: Seq<T>, x: T, cmp: Compare<T>): Seq<T> {
  const ci = chunkFor(s.chunks, x, cmp);
  const chunk = s.chunks[ci];
  const i = chunk === undefined ? -1 : indexIn(chunk, x, cmp);
  if (chunk === undefined || chunk[i] !== x) throw new Error('seq: element is not where its order says');
  const chunks = s.chunks.slice();
  if (chunk.length === 1) chunks.splice(ci, 1);
  else {
    const next = chunk.slice();
    next.splice(i, 1);
    chunks[ci] = next;
  }
  return { chunks, size: s.size - 1 };
}

export function seqFirst<T>(s: Seq<T>): T | undefined {
  return s.chunks[0]?.[0];
}

/** `s` without its first element. */
export function seqDropFirst<T>(s: Seq<T>): Seq<T> {
  const first = s.chunks[0];
  if (first === undefined) return s;
  const chunks = s.chunks.slice();
  if (first.length === 1) chunks.shift();
  else chunks[0] = first.slice(1);
  return { chunks, size: s.size - 1 };
}

export function* seqValues<T>(s: Seq<T>): Generator<T, void, undefined> {
  for (const c of s.chunks) yield* c;
}

export function* seqReversed<T>(s: Seq<T>): Generator<T, void, undefined> {
  for (let ci = s.chunks.length - 1; ci >= 0; ci--) {
    const c = s.chunks[ci]!;
    for (let i = c.length - 1; i >= 0; i--) yield c[i]!;
  }
}

export function seqToArray<T>(s: Seq<T>): T[] {
  return s.chunks.flat() as T[];
}

// --- OrderedMap ---------------------------------------------------------------------------------

interface Slot<V> {
  readonly seq: number;
  readonly value: V;
}

interface OrderKey {
  readonly seq: number;
  readonly key: string;
}

export interface OrderedMap<V> {
  readonly index: HashMap<Slot<V>>;
  readonly order: Seq<OrderKey>;
  /** the sequence number of the next insertion */
  readonly next: number;
}

const bySeq: Compare<OrderKey> = (a, b) => a.seq - b.seq;
const EMPTY_ORDERED: OrderedMap<never> = Object.freeze({ index: EMPTY_MAP, order: EMPTY_SEQ, next: 0 });

export function emptyOrdered<V>(): OrderedMap<V> {
  return EMPTY_ORDERED as OrderedMap<V>;
}

export const omSize = (m: OrderedMap<unknown>): number => m.index.size;

export function omGet<V>(m: OrderedMap<V>, key: string): V | undefined {
  return mapGet(m.index, key)?.value;
}

export function omHas<V>(m: OrderedMap<V>, key: string): boolean {
  return mapGet(m.index, key) !== undefined;
}

/** Sets `key`; an existing key keeps its place in the order (as Map does). */
export function omSet<V>(m: OrderedMap<V>, key: string, value: V): OrderedMap<V> {
  const at = mapGet(m.index, key);
  if (at !== undefined) {
    if (at.value === value) return m;
    return { index: mapSet(m.index, key, { seq: at.seq, value }), order: m.order, next: m.next };
  }
  const seq = m.next;
  return {
    index: mapSet(m.index, key, { seq, value }),
    order: seqInsert(m.order, { seq, key }, bySeq),
    next: seq + 1,
  };
}

export function omDelete<V>(m: OrderedMap<V>, key: string): OrderedMap<V> {
  const at = mapGet(m.index, key);
  if (at === undefined) return m;
  const ci = chunkFor(m.order.chunks, { seq: at.seq, key }, bySeq);
  const chunk = m.order.chunks[ci]!;
  const entry = chunk[indexIn(chunk, { seq: at.seq, key }, bySeq)]!;
  return { index: mapDelete(m.index, key), order: seqRemove(m.order, entry, bySeq), next: m.next };
}

/** Sets `key` and moves it to the end of the order (the most recent). */
export function omTouch<V>(m: OrderedMap<V>, key: string, value: V): OrderedMap<V> {
  const at = mapGet(m.index, key);
  if (at !== undefined && at.seq === m.next - 1 && at.value === value) return m;
  return omSet(omDelete(m, key), key, value);
}

/** The oldest entry. */
export function omFirst<V>(m: OrderedMap<V>): [string, V] | undefined {
  const first = seqFirst(m.order);
  return first === undefined ? undefined : [first.key, mapGet(m.index, first.key)!.value];
}

/** Deletes the oldest entries until at most `max` are left. */
export function omTrimOldest<V>(m: OrderedMap<V>, max: number): OrderedMap<V> {
  let out = m;
  while (out.index.size > max) {
    const first = seqFirst(out.order)!;
    out = { index: mapDelete(out.index, first.key), order: seqDropFirst(out.order), next: out.next };
  }
  return out;
}

/** Entries oldest first. */
export function* omEntries<V>(m: OrderedMap<V>): Generator<[string, V], void, undefined> {
  for (const k of seqValues(m.order)) yield [k.key, mapGet(m.index, k.key)!.value];
}

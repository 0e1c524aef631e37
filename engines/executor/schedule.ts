/**
 * Scheduling a block from declared constraints: transaction j depends on an earlier i when i may
 * write what j reads or writes, or j may write what i reads. Each transaction goes in the first
 * wave after every transaction it depends on, so the transactions of one wave touch disjoint state
 * and can run concurrently against the state the earlier waves left: the result equals serial
 * execution in block order. (A transaction cannot touch state outside its constraints: it fails.)
 *
 * Two constraint prefixes overlap iff one is a prefix of the other. `waves` finds, for each
 * transaction, the latest wave among the earlier transactions it conflicts with through a byte
 * trie of every prefix declared so far: on the path to one of its prefixes lie the earlier
 * prefixes that are prefixes of it; below its node, those it is a prefix of. Each node keeps the
 * latest wave of a read and of a write ending there, and of any ending in its subtree, so a block
 * is scheduled in time linear in the total length of its constraints (`conflicts`, pairwise, is
 * the definition the trie is tested against).
 */
import { overlap, type Transaction } from './notes.ts';

export function conflicts(a: Transaction, b: Transaction): boolean {
  return (
    overlap(a.stateWriteConstraints, b.stateReadConstraints) ||
    overlap(a.stateWriteConstraints, b.stateWriteConstraints) ||
    overlap(a.stateReadConstraints, b.stateWriteConstraints)
  );
}

/**
 * A node of the trie, path-compressed: `label` is the bytes of the edge from its parent (a chain of
 * one-child nodes with nothing ending on them is one edge, so a 100-byte note key adds at most two
 * nodes, not a hundred). It keeps the latest wave (-1: none) of reads and writes ending exactly here
 * and anywhere in its subtree; a position inside an edge has nothing ending on it, and its subtree
 * is the edge's child's.
 */
interface Node {
  label: Uint8Array;
  /** made on the first child: most nodes are leaves (a note key ends on each) */
  children: Map<number, Node> | undefined;
  read: number;
  write: number;
  subRead: number;
  subWrite: number;
}

const node = (label: Uint8Array): Node => ({
  label,
  children: undefined,
  read: -1,
  write: -1,
  subRead: -1,
  subWrite: -1,
});

/** How many bytes of `label` match `prefix` from `at` on. */
function common(label: Uint8Array, prefix: Uint8Array, at: number): number {
  const n = Math.min(label.length, prefix.length - at);
  let k = 0;
  while (k < n && label[k] === prefix[at + k]) k++;
  return k;
}

/** The latest wave of an earlier read or write overlapping `prefix` (-1 if none). */
function latest(root: Node, prefix: Uint8Array, reads: boolean): number {
  let n = root;
  let i = 0;
  let w = -1;
  for (;;) {
    // earlier prefixes of which `prefix` is an extension end on its path
    w = Math.max(w, n.write, reads ? n.read : -1);
    if (i === prefix.length) break;
    const child = n.children?.get(prefix[i]!);
    if (child === undefined) return w;
    const k = common(child.label, prefix, i);
    if (k < child.label.length) {
      // `prefix` ends inside the edge: what extends it is the child's subtree; or it leaves the edge
      if (i + k === prefix.length) return Math.max(w, child.subWrite, reads ? child.subRead : -1);
      return w;
    }
    i += k;
    n = child;
  }
  // earlier prefixes that extend `prefix` end in its subtree
  return Math.max(w, n.subWrite, reads ? n.subRead : -1);
}

function insert(root: Node, prefix: Uint8Array, wave: number, write: boolean): void {
  let n = root;
  let i = 0;
  for (;;) {
    if (write) n.subWrite = Math.max(n.subWrite, wave);
    else n.subRead = Math.max(n.subRead, wave);
    if (i === prefix.length) break;
    const child = n.children?.get(prefix[i]!);
    if (child === undefined) {
      const leaf = node(prefix.slice(i));
      n.children ??= new Map();
      n.children.set(prefix[i]!, leaf);
      n = leaf;
      i = prefix.length;
      continue;
    }
    const k = common(child.label, prefix, i);
    if (k < child.label.length) {
      // split the edge where `prefix` leaves it (or ends): the new node's subtree is the child's
      const mid = node(child.label.subarray(0, k));
      mid.subRead = child.subRead;
      mid.subWrite = child.subWrite;
      child.label = child.label.subarray(k);
      mid.children = new Map([[child.label[0]!, child]]);
      n.children!.set(prefix[i]!, mid);
      n = mid;
    } else n = child;
    i += k;
  }
  if (write) n.write = Math.max(n.write, wave);
  else n.read = Math.max(n.read, wave);
}

/** Waves of transaction indices; within a wave, indices stay in block order. */
export function waves(txs: readonly Transaction[]): number[][] {
  const root = node(new Uint8Array(0));
  const out: number[][] = [];
  for (let j = 0; j < txs.length; j++) {
    const tx = txs[j]!;
    let after = -1;
    // its reads conflict with earlier writes; its writes with earlier reads and writes
    for (const p of tx.stateReadConstraints) after = Math.max(after, latest(root, p, false));
    for (const p of tx.stateWriteConstraints) after = Math.max(after, latest(root, p, true));
    const w = after + 1;
    for (const p of tx.stateReadConstraints) insert(root, p, w, false);
    for (const p of tx.stateWriteConstraints) insert(root, p, w, true);
    const wave = out[w] ?? [];
    wave.push(j);
    out[w] = wave;
  }
  return out;
}

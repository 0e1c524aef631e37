import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { NodeTable } from './merkle-nodes.ts';

const hashOf = (i: number) => new Uint8Array(createHash('sha256').update(`node ${i}`).digest());
const recordOf = (i: number) => new Uint8Array(65 + (i % 40)).fill(i & 0xff);

describe('NodeTable', () => {
  it('finds what it holds as given, across growth and generations, and forgets only the oldest', () => {
    const capacity = 3000; // past the initial room: the young generation grows, then rotates
    const t = new NodeTable(capacity);
    const n = 2 * capacity + 500;
    const early = [];
    for (let i = 0; i < n; i++) {
      t.add(hashOf(i), recordOf(i));
      if (i < 5) early.push(t.get(hashOf(i))!);
    }
    // the last capacity - 1 are held (reading an old one copies it into the young generation, so
    // reading more than that would itself rotate the generations)
    for (let i = n - capacity + 1; i < n; i++) expect(t.get(hashOf(i))).toEqual(recordOf(i));
    // the first generation was dropped
    expect(t.get(hashOf(0))).toBeUndefined();
    // records handed out earlier stay as they were
    for (let i = 0; i < early.length; i++) expect(early[i]).toEqual(recordOf(i));
    expect(t.get(hashOf(n + 1))).toBeUndefined();
    // adding a hash again keeps one entry; clear forgets everything
    t.add(hashOf(n - 1), recordOf(n - 1));
    expect(t.get(hashOf(n - 1))).toEqual(recordOf(n - 1));
    t.clear();
    expect(t.get(hashOf(n - 1))).toBeUndefined();
  });

  it('a hit in the old generation moves the node to the young one, so it outlives a rotation', () => {
    const capacity = 100;
    const t = new NodeTable(capacity);
    for (let i = 0; i < capacity; i++) t.add(hashOf(i), recordOf(i));
    t.add(hashOf(capacity), recordOf(capacity)); // rotates: 0..99 are old now
    expect(t.get(hashOf(7))).toEqual(recordOf(7)); // promoted
    for (let i = capacity + 1; i < 2 * capacity + 1; i++) t.add(hashOf(i), recordOf(i)); // rotates again
    expect(t.get(hashOf(7))).toEqual(recordOf(7));
    expect(t.get(hashOf(8))).toBeUndefined();
  });
});

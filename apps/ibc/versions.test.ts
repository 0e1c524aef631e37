import { describe, expect, it } from 'vitest';
import { ibcNote } from './notes.ts';
import { expectedOutputs, readsOf, recordingView, sameNotes } from './versions.ts';

const HOST = new Uint8Array(32).fill(3);
const OTHER = new Uint8Array(32).fill(4);
const v = (...b: number[]) => Uint8Array.from(b);

describe('IBC paths as versioned notes', () => {
  it('hands on what was read, advances what was written, drops what was deleted', () => {
    const inputs = [ibcNote(HOST, 'a', 0n, v(1)), ibcNote(HOST, 'b', 4n, v(2)), ibcNote(HOST, 'c', 1n, v(3))];
    const reads = readsOf(HOST, inputs);
    if (typeof reads === 'string') throw new Error(reads);
    const out = expectedOutputs(HOST, reads, [
      { path: 'b', value: v(9) },
      { path: 'c', value: null },
      { path: 'new', value: v(5) },
    ]);
    expect(
      sameNotes(out, [
        ibcNote(HOST, 'b', 5n, v(9)),
        ibcNote(HOST, 'new', 0n, v(5)),
        ibcNote(HOST, 'a', 1n, v(1)),
      ]),
    ).toBe(true);
    expect(
      sameNotes(out, [
        ibcNote(HOST, 'b', 5n, v(9)),
        ibcNote(HOST, 'new', 0n, v(5)),
        ibcNote(HOST, 'a', 1n, v(2)),
      ]),
    ).toBe(false);
  });

  it('refuses notes of another application, with provenance, twice the same path, or a bad key', () => {
    expect(readsOf(HOST, [ibcNote(OTHER, 'a', 0n, v(1))])).toMatch(/owned by the IBC host/);
    expect(readsOf(HOST, [{ ...ibcNote(HOST, 'a', 0n, v(1)), provenance: [v(1)] }])).toMatch(/provenance/);
    expect(readsOf(HOST, [ibcNote(HOST, 'a', 0n, v(1)), ibcNote(HOST, 'a', 1n, v(1))])).toMatch(/twice/);
    expect(readsOf(HOST, [{ ...ibcNote(HOST, 'a', 0n, v(1)), key: v(1, 2) }])).toMatch(/path and version/);
    expect(
      readsOf(HOST, [ibcNote(HOST, 'receipts/ports/transfer/channels/channel-0/sequences/1', 0n, v(1))]),
    ).toMatch(/never consumed/);
  });

  it('a recording view names exactly the present paths read', () => {
    const state = new Map([['x', { version: 2n, value: v(1) }]]);
    const { view, reads } = recordingView((p) => state.get(p), { height: 1n, time: 1n, prefix: v() });
    expect(view.get('x')).toEqual(v(1));
    expect(view.get('y')).toBeUndefined();
    expect([...reads.keys()]).toEqual(['x']);
  });
});

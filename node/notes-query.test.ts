/**
 * Notes by owner: the query reads the owner's key range of the executor's state and nothing else
 * (property: paging through it gives exactly what a full scan filtered by owner gives), and over
 * RPC a batch of 100 `notes` calls against a node holding many notes does bounded work.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ownerCommitment, tokenNote } from '../apps/token/index.ts';
import { type Note, noteKey } from '../engines/executor/notes.ts';
import { NoteStore } from '../engines/executor/state.ts';
import { propParams } from '../props/config.ts';
import { MemoryStorage } from '../storage/memory.ts';
import { compareBytes } from '../storage/prefix.ts';
import type { Storage } from '../storage/types.ts';
import { toHex } from '../wire/commit.ts';
import { nodeApi } from './api.ts';
import { DEMO_ASSET, type NoteJson, notesOf, tokenOf } from './client.ts';
import { Indexer } from './indexer.ts';
import type { LiveNode } from './node.ts';
import { ownerNotes } from './notes-query.ts';
import { ERR, RpcClient, RpcError, RpcServer } from './rpc/index.ts';

const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill);

/** Counts the rows every scan of `storage` yields (what a query really reads). */
function countRows(storage: Storage): { rows: number } {
  const counter = { rows: 0 };
  const scan = storage.scan.bind(storage);
  storage.scan = function* (prefix, opts) {
    for (const entry of scan(prefix, opts)) {
      counter.rows++;
      yield entry;
    }
  };
  return counter;
}

describe('ownerNotes', () => {
  it('property: pages through exactly the local notes of one owner in one application, in key order', () => {
    const apps = [bytes(32, 1), bytes(32, 2)];
    const owners = [bytes(32, 10), bytes(32, 11), bytes(32, 12)];
    const note = fc.record({
      app: fc.integer({ min: 0, max: 1 }),
      owner: fc.integer({ min: 0, max: 2 }),
      foreign: fc.boolean(),
      key: fc.uint8Array({ minLength: 1, maxLength: 6 }),
    });
    fc.assert(
      fc.property(
        fc.array(note, { maxLength: 60 }),
        fc.integer({ min: 0, max: 1 }),
        fc.integer({ min: 0, max: 2 }),
        fc.integer({ min: 1, max: 7 }),
        (specs, app, owner, page) => {
          const storage = new MemoryStorage();
          const store = new NoteStore(storage);
          const notes: Note[] = specs.map((x) => ({
            provenance: x.foreign ? [bytes(4, 9)] : [],
            application: apps[x.app]!,
            owner: owners[x.owner]!,
            key: x.key,
            value: bytes(3, 7),
          }));
          store.putNotes(notes.map((n) => ({ key: noteKey(n), note: n })));
          // what a full scan filtered by owner finds
          const expected = [...store.notes()]
            .filter(
              ([, n]) =>
                n.provenance.length === 0 &&
                toHex(n.application) === toHex(apps[app]!) &&
                toHex(n.owner) === toHex(owners[owner]!),
            )
            .map(([k]) => toHex(k));
          const counter = countRows(storage);
          const got: string[] = [];
          let after: Uint8Array | undefined;
          for (;;) {
            const rows = [
              ...ownerNotes(storage, {
                application: apps[app]!,
                owner: owners[owner]!,
                maxRows: page,
                ...(after === undefined ? {} : { after }),
              }),
            ];
            got.push(...rows.map((r) => toHex(r.key)));
            if (rows.length < page) break;
            after = rows.at(-1)!.key;
          }
          expect(got).toEqual(expected);
          // nothing but the owner's rows was read (plus nothing for the last, short page)
          expect(counter.rows).toBe(expected.length);
          const sorted = [...got].sort((a, b) => compareBytes(Buffer.from(a, 'hex'), Buffer.from(b, 'hex')));
          expect(got).toEqual(sorted);
        },
      ),
      propParams('node.owner-notes', 100),
    );
  });
});

describe('notes and balance over RPC on a node with many notes', () => {
  const OWNERS = 100;
  const PER_OWNER = 200;
  const mintAuthority = bytes(32, 5);
  const token = tokenOf(mintAuthority);
  const ownerKey = (i: number) => Uint8Array.from({ length: 32 }, (_, j) => (i * 7 + j) & 0xff);
  const target = ownerKey(42);
  const storage = new MemoryStorage();
  let server: RpcServer;
  let counter: { rows: number };

  beforeAll(async () => {
    const store = new NoteStore(storage);
    const notes: { key: Uint8Array; note: Note }[] = [];
    for (let i = 0; i < OWNERS; i++) {
      const owner = ownerKey(i);
      for (let k = 0; k < PER_OWNER; k++) {
        const key = Uint8Array.from([k >> 8, k & 0xff, i]);
        const n = tokenNote(token, { owner, asset: DEMO_ASSET, amount: BigInt(k + 1), key });
        notes.push({ key: noteKey(n), note: n });
      }
    }
    store.putNotes(notes);
    // the query methods read only these fields of the node
    const node = {
      genesis: { mintAuthority },
      storage,
      indexer: new Indexer(storage),
    } as unknown as LiveNode;
    server = new RpcServer({ port: 0, topics: [], methods: nodeApi(node) });
    await server.start();
    counter = countRows(storage);
  });
  afterAll(() => server.close());

  it('a batch of 100 notes calls (10 KB) does bounded work: pages of at most the limit, rows read bounded', async () => {
    const owner = toHex(target);
    const batch = JSON.stringify(
      Array.from({ length: 100 }, (_, id) => ({ jsonrpc: '2.0', id, method: 'notes', params: { owner } })),
    );
    expect(batch.length).toBeGreaterThan(10_000);
    counter.rows = 0;
    const workBefore = server.stats().work;
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: batch,
    });
    const out = (await res.json()) as { result?: NoteJson[] }[];
    expect(out).toHaveLength(100);
    for (const r of out) expect(r.result).toHaveLength(100); // the default page
    // each call read its page and nothing else: 100 x 100 rows, not 100 x 20 000
    expect(counter.rows).toBe(100 * 100);
    expect(server.stats().work - workBefore).toBeLessThanOrEqual(20_000);
  });

  it('paging with after and limit lists every note of the owner once; balance sums them', async () => {
    const rpc = new RpcClient(server.url);
    const owner = toHex(target);
    const all = await notesOf(rpc, owner, undefined, 64);
    expect(all).toHaveLength(PER_OWNER);
    expect(new Set(all.map((n) => n.key)).size).toBe(PER_OWNER);
    const commitment = toHex(ownerCommitment(target));
    expect(all.every((n) => n.key.includes(commitment))).toBe(true);
    const sum = all.reduce((s, n) => s + BigInt(n.amount), 0n);
    expect(sum).toBe(BigInt((PER_OWNER * (PER_OWNER + 1)) / 2));
    counter.rows = 0;
    expect(await rpc.call('balance', { owner })).toEqual({
      owner,
      asset: toHex(DEMO_ASSET),
      amount: sum.toString(),
    });
    expect(counter.rows).toBe(PER_OWNER);
    // an owner with no notes: an empty page
    expect(await rpc.call('notes', { owner: '00'.repeat(32) })).toEqual([]);
  });

  it('a call that would need more than its work allows is refused, not cut short', async () => {
    const small = new RpcServer({
      port: 0,
      topics: [],
      maxWorkPerCall: 150,
      methods: nodeApi({
        genesis: { mintAuthority },
        storage,
        indexer: new Indexer(storage),
      } as unknown as LiveNode),
    });
    await small.start();
    try {
      const rpc = new RpcClient(small.url);
      const owner = toHex(target);
      const code = (p: Promise<unknown>) =>
        p.then(
          () => 'ok',
          (e: unknown) => (e instanceof RpcError ? e.code : String(e)),
        );
      expect(await code(rpc.call('notes', { owner, limit: 1000 }))).toBe(ERR.LIMIT);
      expect(await rpc.call<NoteJson[]>('notes', { owner, limit: 100 })).toHaveLength(100);
      // 200 notes to sum, 149 rows allowed
      expect(await code(rpc.call('balance', { owner }))).toBe(ERR.LIMIT);
      expect(await code(rpc.call('notes', { owner, limit: 1001 }))).toBe(ERR.INVALID_PARAMS);
    } finally {
      await small.close();
    }
  });
});
